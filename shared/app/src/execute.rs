//! The one load-decide-append loop: any `Decider` over any stream, with optimistic
//! concurrency. A lost race reloads and decides again after a capped, jittered backoff.

use crate::ports::{Clock, EventStore, StoreError};
use chrono::{DateTime, Utc};
use std::time::Duration;
use stint_domain::event::DecodeError;
use stint_domain::{Decider, Envelope, StoredEvent, StreamId};

/// How often to retry a lost race, and how long to wait: full jitter under a doubling cap.
#[derive(Debug, Clone, Copy)]
pub struct ConflictPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for ConflictPolicy {
    fn default() -> Self {
        ConflictPolicy {
            attempts: 32,
            base: Duration::from_millis(2),
            cap: Duration::from_millis(100),
        }
    }
}

impl ConflictPolicy {
    /// A random wait in `[0, min(cap, base * 2^attempt))`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.cap);
        jitter(ceiling)
    }
}

/// A uniformly random duration below `ceiling`, so racing writers spread out.
pub fn jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut bytes = [0u8; 8];
    // Without entropy, waiting the whole ceiling is still a correct backoff.
    if getrandom::fill(&mut bytes).is_err() {
        return ceiling;
    }
    Duration::from_nanos(u64::from_le_bytes(bytes) % nanos)
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<R: std::error::Error + 'static> {
    #[error(transparent)]
    Rejected(R),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("stream {stream} stayed contended: lost {lost} races in a row")]
    Contended { stream: StreamId, lost: u32 },
}

/// A stream as loaded: its state and stored events.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    pub state: S,
    pub events: Vec<StoredEvent>,
}

/// What executing a command did.
#[derive(Debug, Clone)]
pub struct Executed<S> {
    pub state: S,
    /// Empty when the command was a no-op (a duplicate, or nothing left to do).
    pub appended: Vec<StoredEvent>,
    /// Races lost before this one was won.
    pub lost_races: u32,
}

pub async fn load<D: Decider>(
    store: &dyn EventStore,
    stream: &StreamId,
) -> Result<Loaded<D::State>, ExecuteError<D::Rejection>> {
    let events = store
        .read_stream(stream)
        .await
        .map_err(ExecuteError::Store)?;
    let decoded = events
        .iter()
        .map(|e| Envelope::<D::Body>::from_record(&e.record))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Loaded {
        state: D::fold(&decoded),
        events,
    })
}

/// Loads `stream`, decides `command`, appends the events after the version it read. When
/// another writer appended first, waits a jittered moment, reloads and decides again, so a
/// duplicate becomes a no-op.
pub async fn execute<'c, D: Decider>(
    store: &dyn EventStore,
    clock: &dyn Clock,
    policy: &ConflictPolicy,
    stream: &StreamId,
    command: &D::Command,
    context: impl Fn(DateTime<Utc>) -> D::Context<'c>,
) -> Result<Executed<D::State>, ExecuteError<D::Rejection>> {
    for lost in 0..policy.attempts {
        if lost > 0 {
            tokio::time::sleep(policy.backoff(lost - 1)).await;
        }
        let loaded = load::<D>(store, stream).await?;
        let now = clock.now();
        let events =
            D::decide(&loaded.state, command, &context(now)).map_err(ExecuteError::Rejected)?;
        if events.is_empty() {
            return Ok(Executed {
                state: loaded.state,
                appended: vec![],
                lost_races: lost,
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
        match store
            .append(stream, loaded.events.len() as u64, records)
            .await
        {
            Ok(appended) => {
                let state = events.iter().fold(loaded.state, D::evolve);
                tracing::info!(%stream, lost_races = lost, events = ?appended.iter().map(|e| e.record.event_type.as_str()).collect::<Vec<_>>(), "appended");
                return Ok(Executed {
                    state,
                    appended,
                    lost_races: lost,
                });
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(ExecuteError::Store(e)),
        }
    }
    Err(ExecuteError::Contended {
        stream: stream.clone(),
        lost: policy.attempts,
    })
}
