//! The scheduler port: one-time timers that fire a grant at a scheduled start and a revoke at
//! expiry, and the message they deliver.

use super::ProviderError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stint_domain::RequestId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Grant at a scheduled start.
    Start,
    /// Revoke at expiry.
    Expiry,
}

impl TimerKind {
    pub fn schedule_name(self, id: RequestId) -> String {
        match self {
            TimerKind::Start => format!("stint-start-{id}"),
            TimerKind::Expiry => format!("stint-expiry-{id}"),
        }
    }
}

/// What a timer delivers to its target when it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerFired {
    pub request_id: RequestId,
    pub kind: TimerKind,
}

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
