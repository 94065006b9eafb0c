//! The `grant` Lambda: on `AccessApproved` from the bus, or a scheduled start, attaches the
//! time-bounded policy, arms the expiry timer and records `AccessGranted`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stint_aws::{lambda, runtime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::lambda_sdk_config();
    let mut stint =
        runtime::stint_from_env(&sdk, runtime::iam, runtime::scheduler, runtime::accounts).await?;
    // Only grant and revoke link the Identity Center clients.
    stint.identity_center = stint_aws::identity_center::from_env(&sdk, true)?;
    let stint = &stint;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<lambda::Payload>| {
        lambda::handle_grant(stint, event)
    }))
    .await
}
