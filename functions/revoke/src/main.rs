//! The `revoke` Lambda: expiry timers, the periodic sweep, and `POST /requests/{id}/revoke`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stint_aws::{lambda, runtime};
use stint_http::apigw;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let mut stint =
        runtime::stint_from_env(&sdk, runtime::iam, runtime::scheduler, runtime::accounts).await?;
    // Only grant and revoke link the Identity Center clients.
    stint.identity_center = stint_aws::identity_center::from_env(&sdk, false)?;
    let secret = runtime::console_secret(&sdk).await;
    let api = apigw::api_with_console(stint.clone(), secret).await;
    let router = stint_http::revoke_router(api);
    let memory = runtime::sweep_memory(&sdk);
    let (stint, memory) = (&stint, memory.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        lambda::handle_revoke(
            stint,
            memory.map(|m| m as _),
            apigw::edge(router.clone()),
            event,
        )
    }))
    .await
}
