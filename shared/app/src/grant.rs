//! Granting: attach the time-bounded policy, arm the expiry timer, record `AccessGranted`.
//! Triggered by `AccessApproved` on the bus and by a start timer; safe to run twice.

use super::service::{AppError, Ran, Stint};
use crate::ports::ProviderError;
use chrono::{DateTime, Utc};
use stint_domain::effects::{plan_grant, GrantPlan};
use stint_domain::{Command, RequestId, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantOutcome {
    Granted {
        expires_at: DateTime<Utc>,
    },
    /// Already granted (or past it): a duplicate delivery.
    AlreadyDone(Status),
    /// A scheduled start: a start timer will come back.
    Scheduled {
        starts_at: DateTime<Utc>,
    },
    /// The provider refused or stayed down; `GrantFailed` is recorded.
    Failed(String),
}

impl Stint {
    /// Plans the grant in the domain, then runs it: duplicates and refusals touch nothing.
    pub async fn grant(&self, id: RequestId) -> Result<GrantOutcome, AppError> {
        let st = self.load(id).await?.state;
        match plan_grant(id, &st, &self.catalog, self.clock.now())? {
            GrantPlan::AlreadyDone(status) => Ok(GrantOutcome::AlreadyDone(status)),
            GrantPlan::Scheduled { starts_at, plan } => {
                self.run(id, plan).await?;
                Ok(GrantOutcome::Scheduled { starts_at })
            }
            GrantPlan::Fail { reason, plan } => {
                tracing::error!(request_id = %id, error = %reason, "grant failed");
                self.run(id, plan).await?;
                Ok(GrantOutcome::Failed(reason))
            }
            GrantPlan::Grant { expires_at, plan } => {
                // The organisation may have moved since the request: the account must still be
                // one of the role's (and never the management account) when the policy lands.
                if let Some(req) = st.request.as_ref() {
                    match self.check_account(&req.role, &req.principal).await {
                        Ok(()) => {}
                        Err(AppError::Rejected(why)) => {
                            let error = format!("{why}; nothing attached");
                            tracing::error!(request_id = %id, %error, "grant failed");
                            let command = Command::RecordGrantFailure {
                                error: error.clone(),
                                attempts: 0,
                            };
                            self.execute(id, &command).await?;
                            return Ok(GrantOutcome::Failed(error));
                        }
                        Err(e) => return Err(e),
                    }
                }
                let name = match plan.then {
                    Some(Command::RecordGrant {
                        ref policy_name, ..
                    }) => policy_name.clone(),
                    _ => String::new(),
                };
                match self.run(id, plan).await? {
                    Ran::Done(out) if out.state.status == Status::Active => {
                        Ok(GrantOutcome::Granted { expires_at })
                    }
                    // Revoked or cancelled while the policy was being put: take it off again.
                    Ran::Done(out) => {
                        let assigned = |r: &stint_domain::event::AccessRequested| {
                            self.catalog
                                .role(&r.role)
                                .is_some_and(|role| role.identity_center().is_some())
                        };
                        if out.state.request.as_ref().is_some_and(assigned) {
                            // Nothing records the assignment: the sweep removes it, as it
                            // removes every assignment no active grant holds.
                            tracing::warn!(request_id = %id, "assignment overtaken by a revoke; the sweep removes it");
                        } else if let Some(req) = out.state.request.as_ref() {
                            let access = self.access_for(id);
                            self.with_retry("delete overtaken grant", || {
                                access.delete_policy(&req.principal, &name)
                            })
                            .await?;
                        }
                        Ok(GrantOutcome::AlreadyDone(out.state.status))
                    }
                    Ran::Failed(error) => Ok(GrantOutcome::Failed(error)),
                }
            }
        }
    }
}

impl From<(ProviderError, u32)> for AppError {
    fn from((e, _): (ProviderError, u32)) -> Self {
        AppError::Provider(e)
    }
}
