//! The Identity Center port: find a user in the identity store, and create, delete and list
//! account assignments of permission sets (each an asynchronous request whose status is polled).

use super::ProviderError;
use async_trait::async_trait;
use std::time::Duration;
use stint_domain::identity_center::{PermissionSetArn, UserMatch};

/// An Identity Center user, as the identity store holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub user_id: String,
    pub user_name: String,
    pub emails: Vec<String>,
}

/// One account assignment of a permission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRow {
    /// `USER` or `GROUP`.
    pub principal_type: String,
    pub principal_id: String,
}

/// Where an asynchronous assignment request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentStatus {
    InProgress {
        request_id: String,
    },
    Succeeded,
    /// With AWS's `FailureReason`.
    Failed {
        reason: String,
    },
}

#[async_trait]
pub trait IdentityCenter: Send + Sync {
    /// The instance every call acts on (`arn:aws:sso:::instance/ssoins-...`).
    fn instance_arn(&self) -> &str;

    /// Whether [`IdentityCenter::find_user`] can answer here, and so whether this process can
    /// assign. The revoke function cannot (no Identity Store client, no such rights): its sweep
    /// hands an overdue grant to the grant function instead.
    fn looks_up_users(&self) -> bool {
        true
    }

    /// The user whose one configured attribute (`UserName`, or an email) is `value`;
    /// `None` when there is none.
    async fn find_user(
        &self,
        by: UserMatch,
        value: &str,
    ) -> Result<Option<DirectoryUser>, ProviderError>;

    /// The permission set's `SessionDuration` (ISO 8601), when it has one.
    async fn session_duration(
        &self,
        permission_set: &PermissionSetArn,
    ) -> Result<Option<String>, ProviderError>;

    /// The assignments of `permission_set` in `account`.
    async fn assignments(
        &self,
        account: &str,
        permission_set: &PermissionSetArn,
    ) -> Result<Vec<AssignmentRow>, ProviderError>;

    /// The accounts `permission_set` is provisioned to (where it can have assignments).
    async fn provisioned_accounts(
        &self,
        permission_set: &PermissionSetArn,
    ) -> Result<Vec<String>, ProviderError>;

    /// `CreateAccountAssignment`; a `ConflictException` (another change to the same
    /// assignment under way) is a retryable `Unavailable`.
    async fn create_assignment(
        &self,
        account: &str,
        permission_set: &PermissionSetArn,
        principal: &AssignmentRow,
    ) -> Result<AssignmentStatus, ProviderError>;

    async fn creation_status(&self, request_id: &str) -> Result<AssignmentStatus, ProviderError>;

    /// `DeleteAccountAssignment`, with the same conflict rule.
    async fn delete_assignment(
        &self,
        account: &str,
        permission_set: &PermissionSetArn,
        principal: &AssignmentRow,
    ) -> Result<AssignmentStatus, ProviderError>;

    async fn deletion_status(&self, request_id: &str) -> Result<AssignmentStatus, ProviderError>;
}

/// Waits between status polls; injected so tests never sleep.
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, d: Duration);
}

/// The real wait, on tokio's timer.
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}
