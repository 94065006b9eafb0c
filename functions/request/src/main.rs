//! The `request` Lambda: `POST /requests`, `GET /requests[/{id}]`, the pipeline routes and
//! `POST /alerts` behind API Gateway, and CloudWatch alarm state changes from EventBridge.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stint_aws::{lambda, runtime};
use stint_http::apigw;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let stint =
        runtime::stint_from_env(&sdk, runtime::withheld_access, runtime::withheld_timers).await?;
    let mut api =
        apigw::api_from_env(stint.clone()).with_alert_secrets(runtime::alert_secrets(&sdk).await?);
    if let Some(key) = runtime::checkpoint_key_from_env(&sdk) {
        api = api.with_checkpoint_key(key);
    }
    let router = stint_http::requests_router(api);
    let stint = &stint;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        lambda::handle_request(stint, apigw::edge(router.clone()), event)
    }))
    .await
}
