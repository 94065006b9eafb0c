//! The AWS adapters: the ports implemented over DynamoDB, IAM, EventBridge Scheduler,
//! EventBridge, SES, S3 and SSM, the Lambda edges, and the wiring from the environment.

pub mod dynamodb;
pub mod eventbridge;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod runtime;
pub mod s3;
pub mod scheduler;
pub mod ses;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::error::SdkError;
use stint_app::ports::ProviderError;

/// Sorts an AWS SDK failure: throttling and transport trouble are worth retrying; a service
/// that answered with any other error has refused for good.
pub fn provider_err<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    op: &str,
    e: SdkError<E, R>,
) -> ProviderError {
    let code = e.code().unwrap_or_default().to_owned();
    let msg = format!("{op}: {code} {}", e.message().unwrap_or_default())
        .trim_end()
        .to_owned();
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
