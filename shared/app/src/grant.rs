//! Granting: attach the time-bounded policy, arm the expiry timer, record `AccessGranted`; for
//! a request naming several accounts, each account on its own. Triggered by `AccessApproved`
//! on the bus and by a start timer; safe to run twice.

use super::service::{AppError, Ran, Stint};
use crate::ports::ProviderError;
use chrono::{DateTime, Utc};
use stint_domain::effects::{plan_grant, GrantPlan, Plan};
use stint_domain::org::AccountId;
use stint_domain::{AccountStatus, Command, RequestId, RequestState, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantOutcome {
    Granted {
        expires_at: DateTime<Utc>,
    },
    /// A request naming several accounts: granted in some, failed (and recorded) in others.
    PartlyGranted {
        expires_at: DateTime<Utc>,
        failed: Vec<(AccountId, String)>,
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

impl GrantOutcome {
    /// Whether access was granted somewhere by this run.
    pub fn granted(&self) -> bool {
        matches!(
            self,
            GrantOutcome::Granted { .. } | GrantOutcome::PartlyGranted { .. }
        )
    }
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
            GrantPlan::GrantEach {
                expires_at,
                accounts,
                timers,
            } => self.grant_each(id, &st, expires_at, accounts, timers).await,
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
                                account: None,
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

    /// A request naming several accounts: each account checked against the organisation again
    /// and granted on its own, so one missing member role or one account moved out fails that
    /// account alone; then the request's timers, once some account holds the grant.
    async fn grant_each(
        &self,
        id: RequestId,
        st: &RequestState,
        expires_at: DateTime<Utc>,
        accounts: Vec<Plan>,
        timers: Plan,
    ) -> Result<GrantOutcome, AppError> {
        let Some(req) = st.request.as_ref() else {
            return Ok(GrantOutcome::AlreadyDone(st.status));
        };
        let mut failed = Vec::new();
        for plan in accounts {
            let Some(account) = plan.account.clone() else {
                continue;
            };
            let principal = req.principal_in(Some(&account));
            let puts = !plan.steps.is_empty();
            let plan = match self.check_account(&req.role, &principal).await {
                Ok(()) => plan,
                Err(AppError::Rejected(why)) => Plan {
                    steps: vec![],
                    then: Some(Command::RecordGrantFailure {
                        error: format!("{why}; nothing attached"),
                        attempts: 0,
                        account: Some(account.clone()),
                    }),
                    account: Some(account.clone()),
                },
                Err(e) => return Err(e),
            };
            let name = match &plan.then {
                Some(Command::RecordGrant { policy_name, .. }) => Some(policy_name.clone()),
                _ => None,
            };
            let state = match self.run(id, plan).await? {
                Ran::Done(out) => out.state,
                Ran::Failed(error) => {
                    failed.push((account, error));
                    continue;
                }
            };
            match state.accounts.get(&account).map(|g| (g.status, &g.error)) {
                Some((AccountStatus::Active, _)) => {}
                Some((AccountStatus::GrantFailed, error)) => {
                    let error = error.clone().unwrap_or_default();
                    tracing::error!(request_id = %id, account = %account, %error, "grant failed in account");
                    failed.push((account, error));
                }
                // Revoked or cancelled while the policy was being put: take it off again.
                _ => {
                    if let Some(name) = name.filter(|_| puts) {
                        let access = self.access_for(id);
                        self.with_retry("delete overtaken grant", || {
                            access.delete_policy(&principal, &name)
                        })
                        .await?;
                    }
                }
            }
        }
        let st = self.load(id).await?.state;
        if st.status == Status::Active {
            self.run(id, timers).await?;
        }
        Ok(match st.status {
            Status::Active if failed.is_empty() => GrantOutcome::Granted { expires_at },
            Status::Active => GrantOutcome::PartlyGranted { expires_at, failed },
            Status::GrantFailed => GrantOutcome::Failed(
                failed
                    .iter()
                    .map(|(a, e)| format!("{a}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => GrantOutcome::AlreadyDone(other),
        })
    }
}

impl From<(ProviderError, u32)> for AppError {
    fn from((e, _): (ProviderError, u32)) -> Self {
        AppError::Provider(e)
    }
}
