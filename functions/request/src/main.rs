//! The `request` Lambda: `POST /requests`, `GET /requests` and `GET /requests/{id}`, behind
//! API Gateway's JWT authorizer.

use lambda_http::Error;
use stint::{http, runtime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = runtime::sdk_config().await;
    let api = runtime::api_from_env(runtime::stint_from_env(&sdk).await?);
    lambda_http::run(http::requests_router(api)).await
}
