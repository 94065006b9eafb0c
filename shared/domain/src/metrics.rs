//! Lifecycle metrics as data: which figure each appended event adds to, labelled with the
//! request's role and source. Pure; the app hands the observations to a recorder at the edge
//! (Embedded Metric Format in the functions, Prometheus in `stint serve`).

use crate::drift::DriftEvent;
use crate::event::{Envelope, Event, EventBody, RevokeReason};
use crate::ledger::NoticeEvent;
use crate::request::RequestState;
use chrono::{DateTime, Utc};

/// The label value when an observation has no request (a review reminder, an orphaned policy
/// Stint has no request for).
pub const UNKNOWN: &str = "unknown";

/// One published figure. The names are the same in CloudWatch and in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Figure {
    /// From `AccessRequested` to `AccessApproved`: zero for rules and break-glass.
    TimeToApprove,
    /// From the grant's start (the approval, or a scheduled start if later) to `AccessGranted`.
    ApprovedToGranted,
    /// From a grant's expiry to the `AccessRevoked` that removed it, for revokes at or after
    /// the expiry (a revoke before it has no lag).
    RevokeLag,
    GrantFailures,
    RevokeFailures,
    /// The sweep revoked an expired grant still attached, or removed an orphaned policy.
    SweepRepairs,
    /// Appends that lost the optimistic-concurrency race and decided again.
    LostRaces,
    NotificationFailures,
}

impl Figure {
    pub const ALL: [Figure; 8] = [
        Figure::TimeToApprove,
        Figure::ApprovedToGranted,
        Figure::RevokeLag,
        Figure::GrantFailures,
        Figure::RevokeFailures,
        Figure::SweepRepairs,
        Figure::LostRaces,
        Figure::NotificationFailures,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Figure::TimeToApprove => "stint_time_to_approve_seconds",
            Figure::ApprovedToGranted => "stint_approved_to_granted_seconds",
            Figure::RevokeLag => "stint_revoke_lag_seconds",
            Figure::GrantFailures => "stint_grant_failures_total",
            Figure::RevokeFailures => "stint_revoke_failures_total",
            Figure::SweepRepairs => "stint_sweep_repairs_total",
            Figure::LostRaces => "stint_lost_races_total",
            Figure::NotificationFailures => "stint_notification_failures_total",
        }
    }

    /// A duration in seconds (a histogram), or else a count (a counter).
    pub fn is_duration(self) -> bool {
        matches!(
            self,
            Figure::TimeToApprove | Figure::ApprovedToGranted | Figure::RevokeLag
        )
    }

    pub fn help(self) -> &'static str {
        match self {
            Figure::TimeToApprove => "Seconds from a request to its approval",
            Figure::ApprovedToGranted => {
                "Seconds from a grant's start (approval or scheduled start) to the policy attached"
            }
            Figure::RevokeLag => "Seconds from a grant's expiry to its policy removed",
            Figure::GrantFailures => "Grants that failed after retries (GrantFailed)",
            Figure::RevokeFailures => "Revokes that failed after retries (RevokeFailed)",
            Figure::SweepRepairs => {
                "Expired grants still attached that the sweep revoked, and orphaned policies it removed"
            }
            Figure::LostRaces => "Appends that lost an optimistic-concurrency race",
            Figure::NotificationFailures => "Notifications that failed after retries",
        }
    }
}

/// What a request is labelled with: its role, and how it was asked for (person, alert,
/// pipeline or break_glass).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels {
    pub role: String,
    pub source: &'static str,
}

impl Labels {
    pub fn of(state: &RequestState) -> Labels {
        match &state.request {
            Some(r) => Labels {
                role: r.role.to_string(),
                source: crate::review::source_kind(r),
            },
            None => Labels::unknown(),
        }
    }

    pub fn unknown() -> Labels {
        Labels {
            role: UNKNOWN.to_owned(),
            source: UNKNOWN,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    Seconds(f64),
    Count(u64),
}

/// One value for one figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub figure: Figure,
    pub labels: Labels,
    pub measure: Measure,
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    // Milliseconds, so a local grant's few milliseconds do not round to zero.
    ((to - from).num_milliseconds().max(0) as f64) / 1000.0
}

/// The figures `appended` adds to. `state` is the request's state with them folded in (the
/// role, source and request time never change after `AccessRequested`).
pub fn observe(state: &RequestState, appended: &[Event]) -> Vec<Observation> {
    let labels = Labels::of(state);
    let one = |figure: Figure, measure: Measure| Observation {
        figure,
        labels: labels.clone(),
        measure,
    };
    let mut out = Vec::new();
    for ev in appended {
        let at = ev.occurred_at;
        match &ev.body {
            EventBody::AccessApproved { .. } => {
                if let Some(asked) = state.requested_at {
                    out.push(one(
                        Figure::TimeToApprove,
                        Measure::Seconds(seconds(asked, at)),
                    ));
                }
            }
            EventBody::AccessGranted { starts_at, .. } => out.push(one(
                Figure::ApprovedToGranted,
                Measure::Seconds(seconds(*starts_at, at)),
            )),
            EventBody::GrantFailed { .. } => {
                out.push(one(Figure::GrantFailures, Measure::Count(1)))
            }
            EventBody::AccessRevoked {
                reason, expires_at, ..
            } => {
                if at >= *expires_at {
                    out.push(one(
                        Figure::RevokeLag,
                        Measure::Seconds(seconds(*expires_at, at)),
                    ));
                }
                if *reason == RevokeReason::Sweep {
                    out.push(one(Figure::SweepRepairs, Measure::Count(1)));
                }
            }
            EventBody::RevokeFailed { .. } => {
                out.push(one(Figure::RevokeFailures, Measure::Count(1)))
            }
            _ => {}
        }
    }
    out
}

/// The races an append lost before it was won (or before it gave up), if any.
pub fn lost_races(labels: Labels, lost: u32) -> Option<Observation> {
    (lost > 0).then(|| Observation {
        figure: Figure::LostRaces,
        labels,
        measure: Measure::Count(u64::from(lost)),
    })
}

/// The figures notice-ledger events add to: each recorded failure.
pub fn observe_notices(labels: &Labels, appended: &[Envelope<NoticeEvent>]) -> Vec<Observation> {
    appended
        .iter()
        .filter(|e| matches!(e.body, NoticeEvent::NotificationFailed { .. }))
        .map(|_| Observation {
            figure: Figure::NotificationFailures,
            labels: labels.clone(),
            measure: Measure::Count(1),
        })
        .collect()
}

/// The figures drift events add to: each orphaned policy the sweep removed is a repair.
pub fn observe_drift(labels: &Labels, appended: &[Envelope<DriftEvent>]) -> Vec<Observation> {
    appended
        .iter()
        .map(|e| match e.body {
            DriftEvent::OrphanPolicyRemoved { .. } | DriftEvent::OrphanAssignmentRemoved { .. } => {
                Observation {
                    figure: Figure::SweepRepairs,
                    labels: labels.clone(),
                    measure: Measure::Count(1),
                }
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
