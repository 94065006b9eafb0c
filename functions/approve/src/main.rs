//! The `approve` Lambda: approve, deny, cancel, extend and review a request, behind API
//! Gateway's JWT authorizer, and the console's forms that do the same. Granting follows from the `AccessApproved` event on the bus.

use lambda_runtime::Error;
use stint_aws::runtime;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let stint = runtime::stint_from_env(
        &sdk,
        runtime::withheld_access,
        runtime::scheduler,
        runtime::no_accounts,
    )
    .await?;
    let secret = runtime::console_secret(&sdk).await;
    let api = stint_http::apigw::api_with_console(stint, secret).await;
    stint_http::apigw::run(stint_http::decisions_router(api)).await
}
