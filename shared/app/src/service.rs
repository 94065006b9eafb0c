//! The core every service shares: its ports, loading a request, and running a command with
//! optimistic concurrency (reload and decide again when another writer got there first).

use crate::ports::{AccessProvider, Clock, EventStore, ProviderError, Scheduler, StoreError};
use std::sync::Arc;
use std::time::Duration;
use stint_domain::event::DecodeError;
use stint_domain::{
    decide, Catalog, Command, Event, Rejection, RequestId, RequestState, StoredEvent,
};

/// How often a service tries a provider call, and how long it waits between tries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl RetryPolicy {
    /// For tests: retries without waiting.
    pub const IMMEDIATE: RetryPolicy = RetryPolicy {
        attempts: 3,
        first_backoff: Duration::ZERO,
    };

    pub fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff
            .saturating_mul(2u32.saturating_pow(attempt))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(200),
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
    #[error("request {0} stayed contended after {1} attempts")]
    Contended(RequestId, u32),
}

impl AppError {
    /// Whether the trigger should redeliver: throttling, outages and contention pass; business
    /// rejections and refusals do not.
    pub fn is_transient(&self) -> bool {
        match self {
            AppError::Provider(p) => p.is_retryable(),
            AppError::Store(s) => s.is_retryable(),
            AppError::Contended(..) => true,
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

/// What running a command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: RequestState,
    /// Empty when the command was a no-op (a duplicate, or nothing left to do).
    pub appended: Vec<StoredEvent>,
}

const CONFLICT_ATTEMPTS: u32 = 32;

/// The ports every service uses.
#[derive(Clone)]
pub struct Stint {
    pub store: Arc<dyn EventStore>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub access: Arc<dyn AccessProvider>,
    pub timers: Arc<dyn Scheduler>,
    pub retry: RetryPolicy,
}

impl Stint {
    pub async fn load(&self, id: RequestId) -> Result<Loaded, AppError> {
        let events = self.store.read_stream(&id.stream()).await?;
        let decoded = events
            .iter()
            .map(|e| Event::from_record(&e.record))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Loaded {
            id,
            state: RequestState::fold(&decoded),
            events,
        })
    }

    /// Decides `command` against the current state and appends the result. When another writer
    /// appended first, reloads and decides again, so a duplicate becomes a no-op.
    pub async fn execute(&self, id: RequestId, command: &Command) -> Result<Outcome, AppError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let loaded = self.load(id).await?;
            let now = self.clock.now();
            let events = decide(&loaded.state, command, &self.catalog, now)?;
            if events.is_empty() {
                return Ok(Outcome {
                    state: loaded.state,
                    appended: vec![],
                });
            }
            // Monotonic ids keep one append's events in version order within an instant.
            let mut ids = ulid::Generator::new();
            let records = events
                .iter()
                .map(|e| {
                    e.to_record(
                        ids.generate()
                            .map(|u| u.to_string())
                            .unwrap_or_else(|_| ulid::Ulid::generate().to_string()),
                    )
                })
                .collect();
            match self
                .store
                .append(&id.stream(), loaded.state.version, records)
                .await
            {
                Ok(appended) => {
                    let state = events.iter().fold(loaded.state, stint_domain::apply);
                    tracing::info!(request_id = %id, events = ?events.iter().map(|e| e.body.type_name()).collect::<Vec<_>>(), "appended");
                    return Ok(Outcome { state, appended });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Contended(id, CONFLICT_ATTEMPTS))
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
