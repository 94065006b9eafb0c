//! The access-provider port: put and delete the inline policies that carry grants.

use async_trait::async_trait;
use stint_domain::budget::InlinePolicy;
use stint_domain::PrincipalArn;

/// Failures of the systems that hold access (IAM, the scheduler, the bus).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The provider said no for good (no such principal, malformed policy, access denied).
    #[error("refused: {0}")]
    Refused(String),
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ProviderError::Refused(_))
    }
}

#[async_trait]
pub trait AccessProvider: Send + Sync {
    /// Puts or replaces the inline policy `name` on `principal`. Doing it twice is harmless.
    async fn put_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
        document: &serde_json::Value,
    ) -> Result<(), ProviderError>;

    /// Deletes the inline policy; `Ok(false)` when it was already gone.
    async fn delete_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
    ) -> Result<bool, ProviderError>;

    /// The full ARN, path included, of the role IAM finds under the principal's name (the last
    /// segment, which is all `PutRolePolicy` takes); `None` when there is no such role.
    async fn resolve(&self, principal: &PrincipalArn) -> Result<Option<String>, ProviderError>;

    /// The principal's inline policies, with the size IAM counts against its quota.
    async fn inline_policies(
        &self,
        principal: &PrincipalArn,
    ) -> Result<Vec<InlinePolicy>, ProviderError>;

    /// The same provider acting under `session` (the request id), for providers that name
    /// their calls, such as the member-account role's session name CloudTrail shows; `None`
    /// when this provider names nothing.
    fn with_session(&self, _session: &str) -> Option<std::sync::Arc<dyn AccessProvider>> {
        None
    }

    /// Whether this provider can act on `principal` at all (a function whose role may not
    /// assume member roles cannot reach their accounts), known without a call.
    fn reaches(&self, _principal: &PrincipalArn) -> bool {
        true
    }
}
