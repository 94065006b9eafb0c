//! The `alerts` Lambda: signed webhooks at `POST /alerts` behind API Gateway, and CloudWatch
//! alarm state changes from EventBridge. Apart from the request API, so the one route without
//! a token has a role of its own, and only this binary carries the time-zone database.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stint_aws::{lambda, runtime};
use stint_http::apigw;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let stint = runtime::stint_from_env(
        &sdk,
        runtime::withheld_access,
        runtime::withheld_timers,
        runtime::accounts,
    )
    .await?;
    let api =
        apigw::api_from_env(stint.clone()).with_alert_secrets(runtime::alert_secrets(&sdk).await?);
    let router = stint_http::alerts_router(api);
    let stint = &stint;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        lambda::handle_alerts(stint, apigw::edge(router.clone()), event)
    }))
    .await
}
