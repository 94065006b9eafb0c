//! The `approve` Lambda: approve, deny, cancel, extend and review a request, behind API
//! Gateway's JWT authorizer. Granting follows from the `AccessApproved` event on the bus.

use lambda_http::Error;
use stint_aws::runtime;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let api = stint_http::apigw::api_from_env(
        runtime::stint_from_env(&sdk, runtime::withheld_access, runtime::scheduler).await?,
    );
    lambda_http::run(stint_http::decisions_router(api)).await
}
