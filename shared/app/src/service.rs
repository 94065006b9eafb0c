//! The core every service shares: its ports, loading a request, running a command through the
//! one `execute`, and interpreting the effects of a plan through the ports.

use crate::execute::{execute, ConflictPolicy, ExecuteError};
use crate::ports::{AccessProvider, Clock, EventStore, ProviderError, Scheduler, StoreError};
use crate::telemetry;
use std::sync::Arc;
use std::time::Duration;
use stint_domain::budget::check_budget;
use stint_domain::effects::{Effect, OnFailure, Plan};
use stint_domain::event::DecodeError;
use stint_domain::identity_center::Assignment;
use stint_domain::metrics::{self, Labels};
use stint_domain::{
    Catalog, Command, Rejection, RequestContext, RequestId, RequestState, Requests, StoredEvent,
    StreamId,
};

/// How often a service tries a provider call that failed in a way the SDK does not retry
/// itself (a refusal is never retried; throttling and outages are, after the SDK's own
/// attempts), how long it waits (full jitter under a doubling ceiling), and how it retries
/// lost optimistic-concurrency races.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub conflicts: ConflictPolicy,
}

impl RetryPolicy {
    /// For tests: retries without waiting.
    pub const IMMEDIATE: RetryPolicy = RetryPolicy {
        attempts: 3,
        first_backoff: Duration::ZERO,
        conflicts: ConflictPolicy {
            attempts: 32,
            base: Duration::ZERO,
            cap: Duration::ZERO,
        },
    };

    pub fn backoff(&self, attempt: u32) -> Duration {
        crate::execute::jitter(
            self.first_backoff
                .saturating_mul(2u32.saturating_pow(attempt.min(16))),
        )
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // The SDK already retried each call (standard mode, 3 attempts): two more rounds here.
        RetryPolicy {
            attempts: 2,
            first_backoff: Duration::from_millis(200),
            conflicts: ConflictPolicy::default(),
        }
    }
}

/// Everything that can go wrong in a service: a business rejection, or infrastructure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("stream {stream} stayed contended: lost {lost} races in a row")]
    Contended { stream: StreamId, lost: u32 },
}

impl From<stint_domain::claims::ClaimRejection> for AppError {
    fn from(r: stint_domain::claims::ClaimRejection) -> Self {
        AppError::Rejected(Rejection::Invalid(r.to_string()))
    }
}

impl From<std::convert::Infallible> for AppError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl<R: std::error::Error + Into<AppError> + 'static> From<ExecuteError<R>> for AppError {
    fn from(e: ExecuteError<R>) -> Self {
        match e {
            ExecuteError::Rejected(r) => r.into(),
            ExecuteError::Store(s) => AppError::Store(s),
            ExecuteError::Decode(d) => AppError::Decode(d),
            ExecuteError::Contended { stream, lost } => AppError::Contended { stream, lost },
        }
    }
}

impl AppError {
    /// Whether the trigger should redeliver: throttling, outages and contention pass; business
    /// rejections and refusals do not.
    pub fn is_transient(&self) -> bool {
        match self {
            AppError::Provider(p) => p.is_retryable(),
            AppError::Store(s) => s.is_retryable(),
            AppError::Contended { .. } => true,
            AppError::Rejected(_) | AppError::Decode(_) => false,
        }
    }
}

/// A request as loaded: its state and its stored events.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: RequestId,
    pub state: RequestState,
    pub events: Vec<StoredEvent>,
}

impl Loaded {
    pub fn exists(&self) -> bool {
        self.state.request.is_some()
    }
}

/// Why an effect failed: the provider (after its retries), or a check that read IAM and
/// refused what it found.
#[derive(Debug)]
enum EffectFailure {
    Provider(ProviderError, u32),
    Check(String),
}

impl From<EffectFailure> for AppError {
    fn from(f: EffectFailure) -> Self {
        match f {
            EffectFailure::Provider(e, _) => AppError::Provider(e),
            EffectFailure::Check(reason) => AppError::Provider(ProviderError::Refused(reason)),
        }
    }
}

/// What running a plan did: its command's outcome, or the failure it recorded.
#[derive(Debug, Clone)]
pub enum Ran {
    Done(Box<Outcome>),
    Failed(String),
}

/// What running a command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: RequestState,
    /// Empty when the command was a no-op (a duplicate, or nothing left to do).
    pub appended: Vec<StoredEvent>,
}

/// The ports every service uses.
#[derive(Clone)]
pub struct Stint {
    pub store: Arc<dyn EventStore>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub access: Arc<dyn AccessProvider>,
    pub timers: Arc<dyn Scheduler>,
    pub retry: RetryPolicy,
    /// Resolves roles' `accounts` through Organizations; `None` where the deployment has no
    /// organisation (roles that name accounts are then refused).
    pub accounts: Option<Arc<crate::accounts::AccountDirectory>>,
    /// Grants of `identity_center` roles; `None` where the deployment names no Identity Center
    /// instance (such grants then fail, saying so).
    pub identity_center: Option<Arc<crate::identity_center::IdentityCenterGrants>>,
}

impl Stint {
    pub async fn load(&self, id: RequestId) -> Result<Loaded, AppError> {
        let loaded = crate::execute::load::<Requests>(self.store.as_ref(), &id.stream()).await?;
        Ok(Loaded {
            id,
            state: loaded.state,
            events: loaded.events,
        })
    }

    /// Decides `command` against the current state and appends the result, through the one
    /// `execute`: a lost race reloads and decides again, so a duplicate becomes a no-op.
    pub async fn execute(&self, id: RequestId, command: &Command) -> Result<Outcome, AppError> {
        let catalog = self.catalog.as_ref();
        let done = match execute::<Requests>(
            self.store.as_ref(),
            self.clock.as_ref(),
            &self.retry.conflicts,
            &id.stream(),
            command,
            |now| RequestContext { catalog, now },
        )
        .await
        {
            Ok(done) => done,
            Err(ExecuteError::Contended { stream, lost }) => {
                // Labelled by the request when it can still be read; the race is counted either way.
                let labels = match self.load(id).await {
                    Ok(l) => Labels::of(&l.state),
                    Err(_) => Labels::unknown(),
                };
                telemetry::emit(metrics::lost_races(labels, lost));
                return Err(AppError::Contended { stream, lost });
            }
            Err(e) => return Err(e.into()),
        };
        // The figures come from the events just appended, so a duplicate (no append) adds none.
        let appended: Vec<_> = done
            .appended
            .iter()
            .filter_map(|e| stint_domain::Event::from_record(&e.record).ok())
            .collect();
        telemetry::emit(metrics::observe(&done.state, &appended));
        telemetry::emit(metrics::lost_races(
            Labels::of(&done.state),
            done.lost_races,
        ));
        Ok(Outcome {
            state: done.state,
            appended: done.appended,
        })
    }

    /// Runs a plan: each effect through its port (with retries), then its command. A failed
    /// effect does what its step says: record the failure, go on, or stop.
    pub async fn run(&self, id: RequestId, plan: Plan) -> Result<Ran, AppError> {
        let access = self.access_for(id);
        let mut assigned = None;
        for step in &plan.steps {
            let failure = match self.apply(access.as_ref(), &step.effect).await {
                Ok(made) => {
                    assigned = made.or(assigned);
                    continue;
                }
                Err(failure) => failure,
            };
            let (error, attempts) = match &failure {
                EffectFailure::Provider(e, n) => (e.to_string(), *n),
                EffectFailure::Check(reason) => (reason.clone(), 0),
            };
            match step.on_failure {
                OnFailure::Continue => {
                    tracing::warn!(request_id = %id, effect = ?step.effect, %error, "effect failed; the sweep and IAM's time condition cover it");
                }
                OnFailure::Stop => return Err(failure.into()),
                OnFailure::GrantFails => {
                    let account = plan.account.as_ref().map(|a| a.as_str());
                    tracing::error!(request_id = %id, ?account, %error, attempts, "grant failed");
                    let command = Command::RecordGrantFailure {
                        error: error.clone(),
                        attempts,
                        account: plan.account.clone(),
                    };
                    self.execute(id, &command).await?;
                    return Ok(Ran::Failed(error));
                }
                OnFailure::RevokeFails => {
                    let command = Command::RecordRevokeFailure {
                        error,
                        attempts,
                        account: plan.account.clone(),
                    };
                    self.execute(id, &command).await?;
                    return Err(failure.into());
                }
            }
        }
        // An Identity Center grant records the assignment it made: the user and the session
        // duration are known only now.
        let then = match (plan.then, assigned) {
            (
                Some(Command::RecordGrant {
                    policy_name,
                    account,
                    ..
                }),
                Some(a),
            ) => Some(Command::RecordGrant {
                policy_name,
                policy: a.to_grant_document(),
                account,
            }),
            (then, _) => then,
        };
        match &then {
            Some(command) => Ok(Ran::Done(Box::new(self.execute(id, command).await?))),
            None => Ok(Ran::Done(Box::new(Outcome {
                state: self.load(id).await?.state,
                appended: vec![],
            }))),
        }
    }

    /// One effect through its port, with the retry policy; checks judge what they read with
    /// the domain's rules. An Identity Center assignment gives back what it made.
    async fn apply(
        &self,
        access: &dyn AccessProvider,
        effect: &Effect,
    ) -> Result<Option<Assignment>, EffectFailure> {
        let io = |(e, n): (ProviderError, u32)| EffectFailure::Provider(e, n);
        let ic = || {
            self.identity_center.as_deref().ok_or_else(|| {
                EffectFailure::Check(
                    "this deployment names no Identity Center instance (the stack's IdentityCenterInstanceId and IdentityStoreId); nothing assigned"
                        .into(),
                )
            })
        };
        match effect {
            Effect::AssignPermissionSet {
                permission_set,
                account,
                user,
            } => {
                let ic = ic()?;
                self.with_retry("assign permission set", || {
                    ic.assign(permission_set, account, user)
                })
                .await
                .map(Some)
                .map_err(io)
            }
            Effect::UnassignPermissionSet { assignment } => {
                let ic = ic()?;
                self.with_retry("unassign permission set", || ic.unassign_grant(assignment))
                    .await
                    .map(|_| None)
                    .map_err(io)
            }
            _ => self.apply_iam(access, effect).await.map(|()| None),
        }
    }

    /// The effects on IAM and the scheduler.
    async fn apply_iam(
        &self,
        access: &dyn AccessProvider,
        effect: &Effect,
    ) -> Result<(), EffectFailure> {
        let io = |(e, n): (ProviderError, u32)| EffectFailure::Provider(e, n);
        match effect {
            // Identity Center effects never reach here: `apply` runs them.
            Effect::AssignPermissionSet { .. } | Effect::UnassignPermissionSet { .. } => Ok(()),
            Effect::CheckPrincipal { principal } => {
                let found = self
                    .with_retry("get role", || access.resolve(principal))
                    .await
                    .map_err(io)?;
                match found {
                    Some(arn) if arn == principal.as_str() => Ok(()),
                    Some(arn) => Err(EffectFailure::Check(format!(
                        "role name {} resolves to {arn}, not the approved {principal}; nothing attached",
                        principal.role_name()
                    ))),
                    None => Err(EffectFailure::Check(format!(
                        "role {principal} does not exist; nothing attached"
                    ))),
                }
            }
            Effect::CheckPolicyBudget {
                principal,
                name,
                document,
            } => {
                let existing = self
                    .with_retry("list role policies", || access.inline_policies(principal))
                    .await
                    .map_err(io)?;
                check_budget(&existing, name, &document.to_string()).map_err(EffectFailure::Check)
            }
            Effect::PutPolicy {
                principal,
                name,
                document,
            } => self
                .with_retry("put policy", || {
                    access.put_policy(principal, name, document)
                })
                .await
                .map_err(io),
            Effect::DeletePolicy { principal, name } => self
                .with_retry("delete policy", || access.delete_policy(principal, name))
                .await
                .map(|_| ())
                .map_err(io),
            Effect::SetTimer { request, kind, at } => self
                .with_retry("set timer", || self.timers.set(*request, *kind, *at))
                .await
                .map_err(io),
            Effect::CancelTimer { request, kind } => self
                .with_retry("clear timer", || self.timers.clear(*request, *kind))
                .await
                .map(|_| ())
                .map_err(io),
        }
    }

    /// The access provider acting for request `id`: calls in member accounts run under a
    /// session named after it, so their CloudTrail names the request.
    pub fn access_for(&self, id: RequestId) -> Arc<dyn AccessProvider> {
        self.access
            .with_session(&format!("stint-{id}"))
            .unwrap_or_else(|| Arc::clone(&self.access))
    }

    /// Runs a provider call with the retry policy; gives the last error when the budget runs out.
    pub async fn with_retry<T, F, Fut>(
        &self,
        what: &str,
        call: F,
    ) -> Result<T, (ProviderError, u32)>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        retry(&self.retry, what, call).await
    }
}

/// Calls until success, a refusal, or the budget runs out, backing off between tries; the error
/// comes with the number of attempts made.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut call: F,
) -> Result<T, (ProviderError, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt + 1 < policy.attempts => {
                tracing::warn!(call = what, attempt, error = %e, "retrying");
                tokio::time::sleep(policy.backoff(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err((e, attempt + 1)),
        }
    }
}
