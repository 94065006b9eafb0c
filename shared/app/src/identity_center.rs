//! Identity Center grants over the port: find the requester's user, create or delete the
//! account assignment, and poll its status to the end within a bounded wait.

use crate::ports::{
    AssignmentRow, AssignmentStatus, IdentityCenter, ProviderError, Sleeper, TokioSleeper,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use stint_domain::identity_center::{Assignment, PermissionSetArn, UserMatch};
use stint_domain::UserId;

/// How long a grant or revoke waits for Identity Center to finish an assignment request.
#[derive(Debug, Clone, Copy)]
pub struct PollPolicy {
    /// Status reads after the first answer; past them the call is `Unavailable` (retried).
    pub polls: u32,
    pub interval: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        // Assignments usually settle in seconds; two tries of 20 s fit the grant function's
        // 90 s timeout with time to record.
        PollPolicy {
            polls: 20,
            interval: Duration::from_secs(1),
        }
    }
}

/// The Identity Center side of a deployment: the port, which user attribute a Stint user id
/// is matched on, and how status is polled.
#[derive(Clone)]
pub struct IdentityCenterGrants {
    pub port: Arc<dyn IdentityCenter>,
    pub user_match: UserMatch,
    pub poll: PollPolicy,
    pub sleeper: Arc<dyn Sleeper>,
}

impl IdentityCenterGrants {
    pub fn new(port: Arc<dyn IdentityCenter>, user_match: UserMatch) -> Self {
        IdentityCenterGrants {
            port,
            user_match,
            poll: PollPolicy::default(),
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// Whether this process can assign (it can look users up); see
    /// [`IdentityCenter::looks_up_users`].
    pub fn can_assign(&self) -> bool {
        self.port.looks_up_users()
    }

    /// A permission set of another instance is never assigned, whatever the catalog says.
    fn check_instance(&self, permission_set: &PermissionSetArn) -> Result<(), ProviderError> {
        let instance = permission_set.instance_arn();
        if instance != self.port.instance_arn() {
            return Err(ProviderError::Refused(format!(
                "permission set {permission_set} belongs to {instance}, not Stint's Identity Center instance {}; nothing assigned",
                self.port.instance_arn()
            )));
        }
        Ok(())
    }

    /// The user whose configured attribute is exactly `user`, or a refusal naming the lookup.
    async fn user(&self, user: &UserId) -> Result<(AssignmentRow, String), ProviderError> {
        let (attribute, value) = (self.user_match.attribute_path(), user.as_str());
        let found = self.port.find_user(self.user_match, value).await?;
        // The store's answer is checked again on the attribute itself: no fallback, no other user.
        let exact = found.filter(|u| match self.user_match {
            UserMatch::UserName => u.user_name == value,
            UserMatch::Email => u.emails.iter().any(|e| e == value),
        });
        let Some(u) = exact else {
            return Err(ProviderError::Refused(format!(
                "no Identity Center user whose {attribute} is {value}; nothing assigned"
            )));
        };
        Ok((
            AssignmentRow {
                principal_type: "USER".into(),
                principal_id: u.user_id,
            },
            u.user_name,
        ))
    }

    /// Assigns `permission_set` in `account` to the requester's user and waits for it. An
    /// assignment already there (a duplicate delivery, a retry after a timeout) is not made twice.
    pub async fn assign(
        &self,
        permission_set: &PermissionSetArn,
        account: &str,
        user: &UserId,
    ) -> Result<Assignment, ProviderError> {
        self.check_instance(permission_set)?;
        let (principal, user_name) = self.user(user).await?;
        let session_duration = self.port.session_duration(permission_set).await?;
        let existing = self.port.assignments(account, permission_set).await?;
        if existing.contains(&principal) {
            tracing::info!(%permission_set, account, principal_id = %principal.principal_id, "assignment already there");
        } else {
            let first = self
                .port
                .create_assignment(account, permission_set, &principal)
                .await?;
            self.settle("CreateAccountAssignment", first, |id| {
                let port = Arc::clone(&self.port);
                async move { port.creation_status(&id).await }
            })
            .await?;
            tracing::info!(%permission_set, account, principal_id = %principal.principal_id, "assignment created");
        }
        Ok(Assignment {
            instance_arn: permission_set.instance_arn(),
            permission_set: permission_set.clone(),
            account: account.to_owned(),
            principal_id: principal.principal_id,
            user_name,
            session_duration,
        })
    }

    /// Deletes one assignment and waits for it; `Ok(false)` when it was already gone.
    pub async fn unassign(
        &self,
        permission_set: &PermissionSetArn,
        account: &str,
        principal: &AssignmentRow,
    ) -> Result<bool, ProviderError> {
        self.check_instance(permission_set)?;
        let existing = self.port.assignments(account, permission_set).await?;
        if !existing.contains(principal) {
            return Ok(false);
        }
        let first = self
            .port
            .delete_assignment(account, permission_set, principal)
            .await?;
        self.settle("DeleteAccountAssignment", first, |id| {
            let port = Arc::clone(&self.port);
            async move { port.deletion_status(&id).await }
        })
        .await?;
        tracing::info!(%permission_set, account, principal_id = %principal.principal_id, "assignment deleted");
        Ok(true)
    }

    /// Deletes the assignment a grant recorded.
    pub async fn unassign_grant(&self, a: &Assignment) -> Result<bool, ProviderError> {
        let principal = AssignmentRow {
            principal_type: "USER".into(),
            principal_id: a.principal_id.clone(),
        };
        self.unassign(&a.permission_set, &a.account, &principal)
            .await
    }

    /// Polls until SUCCEEDED or FAILED, at most `poll.polls` times.
    async fn settle<F, Fut>(
        &self,
        op: &str,
        first: AssignmentStatus,
        status: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<AssignmentStatus, ProviderError>>,
    {
        let mut now = first;
        for _ in 0..self.poll.polls {
            match now {
                AssignmentStatus::Succeeded => return Ok(()),
                AssignmentStatus::Failed { reason } => {
                    return Err(ProviderError::Refused(format!("{op} FAILED: {reason}")))
                }
                AssignmentStatus::InProgress { request_id } => {
                    self.sleeper.sleep(self.poll.interval).await;
                    now = status(request_id).await?;
                }
            }
        }
        match now {
            AssignmentStatus::Succeeded => Ok(()),
            AssignmentStatus::Failed { reason } => {
                Err(ProviderError::Refused(format!("{op} FAILED: {reason}")))
            }
            AssignmentStatus::InProgress { request_id } => {
                Err(ProviderError::Unavailable(format!(
                    "{op} request {request_id} still IN_PROGRESS after {} polls",
                    self.poll.polls
                )))
            }
        }
    }
}
