//! The `request` Lambda: `POST /requests`, `GET /requests[/{id}]`, reports, reviews, the
//! checkpoints' public key and the pipeline routes, behind API Gateway. Alerts are the alerts
//! function's.

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
    let mut api = apigw::api_with_console(stint, runtime::console_secret(&sdk).await).await;
    if let Some(key) = runtime::checkpoint_key_from_env(&sdk) {
        api = api.with_checkpoint_key(key);
    }
    let router = stint_http::requests_router(api);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        lambda::handle_request(apigw::edge(router.clone()), event)
    }))
    .await
}
