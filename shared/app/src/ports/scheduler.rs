//! The scheduler port: one-time timers that fire a grant at a scheduled start and a revoke at
//! expiry.

use super::ProviderError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stint_domain::RequestId;

pub use stint_domain::timer::{TimerFired, TimerKind};

#[async_trait]
pub trait Scheduler: Send + Sync {
    /// Sets the timer to fire at `at` (replacing an earlier time). Idempotent.
    async fn set(
        &self,
        request: RequestId,
        kind: TimerKind,
        at: DateTime<Utc>,
    ) -> Result<(), ProviderError>;

    /// Removes the timer; `Ok(false)` when there was none.
    async fn clear(&self, request: RequestId, kind: TimerKind) -> Result<bool, ProviderError>;
}
