//! The `request` Lambda: `POST /requests`, `GET /requests[/{id}]`, the pipeline routes and
//! `POST /alerts` behind API Gateway, and CloudWatch alarm state changes from EventBridge.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stint::{http, lambda, runtime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = runtime::sdk_config().await;
    let stint = runtime::stint_from_env(&sdk).await?;
    let api = runtime::api_from_env(stint.clone())
        .with_alert_secrets(runtime::alert_secrets(&sdk).await?);
    let router = http::requests_router(api);
    let stint = &stint;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        lambda::handle_request(stint, router.clone(), event)
    }))
    .await
}
