//! Timers: the one-time triggers that grant at a scheduled start and revoke at expiry, and
//! the message they deliver.

use crate::ids::RequestId;
use serde::{Deserialize, Serialize};

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
