//! The AWS adapters: the ports implemented over DynamoDB, IAM, EventBridge Scheduler,
//! EventBridge, SES, S3 and SSM, the Lambda edges, the metrics recorder (EMF), and the wiring
//! from the environment.

#[cfg(feature = "dynamodb")]
pub mod capacity;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "functions")]
pub mod emf;
#[cfg(feature = "functions")]
pub mod eventbridge;
#[cfg(feature = "iam")]
pub mod iam;
#[cfg(feature = "identity_center")]
pub mod identity_center;
#[cfg(feature = "kms")]
pub mod kms;
#[cfg(feature = "functions")]
pub mod lambda;
#[cfg(feature = "orgs")]
pub mod member;
#[cfg(feature = "orgs")]
pub mod orgs;
#[cfg(feature = "functions")]
pub mod runtime;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "functions")]
pub mod scheduler;
#[cfg(feature = "functions")]
pub mod ses;
#[cfg(feature = "dynamodb")]
pub mod sweep_memory;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stint_app::ports::ProviderError;

/// The SDK configuration outside Lambda (the CLI, local mode): `aws_config`'s whole chain of
/// profiles and instance roles; `AWS_ENDPOINT_URL` points it at an emulator. Three attempts,
/// as in the functions.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
}

/// Sorts an AWS SDK failure: throttling and transport trouble are worth retrying; a service
/// that answered with any other error has refused for good.
pub fn provider_err<E: ProvideErrorMetadata + std::fmt::Debug>(
    op: &str,
    e: SdkError<E, HttpResponse>,
) -> ProviderError {
    let code = e.code().unwrap_or_default().to_owned();
    let mut msg = format!("{op}: {code} {}", e.message().unwrap_or_default())
        .trim_end()
        .to_owned();
    // An answer the SDK could not read (no code, no message) still says how it failed.
    if let (true, Some(raw)) = (code.is_empty(), e.raw_response()) {
        msg = format!("{msg} HTTP {}", raw.status().as_u16());
    }
    let throttled = matches!(
        code.as_str(),
        "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "LimitExceededException"
            | "ServiceQuotaExceededException"
    ) && op != "PutRolePolicy";
    let server_side = matches!(
        code.as_str(),
        "ServiceFailure"
            | "ServiceFailureException"
            | "InternalServerException"
            | "InternalFailure"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
    );
    match &e {
        _ if throttled => ProviderError::Throttled(msg),
        SdkError::ServiceError(_) if server_side => ProviderError::Unavailable(msg),
        SdkError::ServiceError(_) => ProviderError::Refused(msg),
        _ => ProviderError::Unavailable(format!("{op}: {e:?}")),
    }
}
