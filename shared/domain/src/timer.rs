//! Timers: the one-time triggers that grant at a scheduled start, revoke at expiry and remind
//! the requester before it, and the message they deliver.

use crate::ids::RequestId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Grant at a scheduled start.
    Start,
    /// Revoke at expiry.
    Expiry,
    /// Remind the requester a day before expiry (grants longer than a day).
    RemindDay,
    /// Remind the requester shortly before expiry (`settings.expiry_reminder`, 10 minutes).
    RemindSoon,
}

impl TimerKind {
    pub fn schedule_name(self, id: RequestId) -> String {
        match self {
            TimerKind::Start => format!("stint-start-{id}"),
            TimerKind::Expiry => format!("stint-expiry-{id}"),
            TimerKind::RemindDay => format!("stint-remind-day-{id}"),
            TimerKind::RemindSoon => format!("stint-remind-{id}"),
        }
    }

    /// The expiry reminders, which the notify function handles.
    pub const REMINDERS: [TimerKind; 2] = [TimerKind::RemindDay, TimerKind::RemindSoon];

    pub fn is_reminder(self) -> bool {
        Self::REMINDERS.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Start => "start",
            TimerKind::Expiry => "expiry",
            TimerKind::RemindDay => "remind_day",
            TimerKind::RemindSoon => "remind_soon",
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
