//! Given/when/then: the observations a request's lifecycle adds, step by step.

use super::*;
use crate::event::{Actor, Source};
use crate::ids::RequestId;
use crate::ledger::NoticeEvent;
use crate::request::{apply, decide, Command, RequestState};
use crate::testkit::*;
use chrono::Duration;

/// A request moved through commands at given times, collecting what each append observes.
struct Life {
    state: RequestState,
}

impl Life {
    fn new() -> Life {
        Life {
            state: RequestState::default(),
        }
    }

    /// When `cmd` is decided at `now`, then these observations.
    fn when(&mut self, cmd: Command, now: chrono::DateTime<Utc>) -> Vec<Observation> {
        let events = decide(&self.state, &cmd, &catalog(), now)
            .unwrap_or_else(|r| panic!("{cmd:?} was rejected: {r}"));
        self.state = events.iter().fold(self.state.clone(), apply);
        observe(&self.state, &events)
    }
}

fn db_person() -> Labels {
    Labels {
        role: "db".into(),
        source: "person",
    }
}

fn secs(figure: Figure, labels: &Labels, s: f64) -> Observation {
    Observation {
        figure,
        labels: labels.clone(),
        measure: Measure::Seconds(s),
    }
}

fn count(figure: Figure, labels: &Labels) -> Observation {
    Observation {
        figure,
        labels: labels.clone(),
        measure: Measure::Count(1),
    }
}

#[test]
fn a_full_lifecycle_observes_approval_grant_and_revoke_lag() {
    let l = db_person();
    let mut life = Life::new();
    // Given a request by a person...
    assert_eq!(life.when(submit_cmd(submit()), t0()), vec![]);
    // ...approved 5 minutes later,
    assert_eq!(
        life.when(approve(bob()), t0() + Duration::minutes(5)),
        vec![secs(Figure::TimeToApprove, &l, 300.0)]
    );
    // granted 1.25 s after the approval,
    let granted_at = t0() + Duration::minutes(5) + Duration::milliseconds(1_250);
    assert_eq!(
        life.when(granted(), granted_at),
        vec![secs(Figure::ApprovedToGranted, &l, 1.25)]
    );
    // and revoked on its timer 42.5 s after the expiry (1 h from the approval).
    let expiry = t0() + Duration::minutes(65);
    assert_eq!(
        life.when(
            Command::Revoke {
                reason: RevokeReason::Expired,
                by: None
            },
            expiry + Duration::milliseconds(42_500)
        ),
        vec![secs(Figure::RevokeLag, &l, 42.5)]
    );
    // A duplicate revoke appends nothing, so observes nothing.
    assert_eq!(
        life.when(
            Command::Revoke {
                reason: RevokeReason::Expired,
                by: None
            },
            expiry + Duration::minutes(1)
        ),
        vec![]
    );
}

#[test]
fn the_sweep_revoking_an_expired_grant_is_a_repair_with_its_lag() {
    let l = db_person();
    let mut life = Life::new();
    life.when(submit_cmd(submit()), t0());
    life.when(approve(bob()), t0());
    life.when(granted(), t0());
    let late = t0() + Duration::hours(1) + Duration::minutes(3);
    assert_eq!(
        life.when(
            Command::Revoke {
                reason: RevokeReason::Sweep,
                by: None
            },
            late
        ),
        vec![
            secs(Figure::RevokeLag, &l, 180.0),
            count(Figure::SweepRepairs, &l)
        ]
    );
}

#[test]
fn a_manual_revoke_before_the_expiry_has_no_lag() {
    let mut life = Life::new();
    life.when(submit_cmd(submit()), t0());
    life.when(approve(bob()), t0());
    life.when(granted(), t0());
    let revoke = Command::Revoke {
        reason: RevokeReason::Manual,
        by: Some(alice()),
    };
    assert_eq!(life.when(revoke, t0() + Duration::minutes(10)), vec![]);
}

#[test]
fn a_scheduled_start_counts_grant_latency_from_the_start_not_the_approval() {
    let l = db_person();
    let mut s = submit();
    let start = t0() + Duration::hours(2);
    s.starts_at = Some(start);
    let mut life = Life::new();
    life.when(submit_cmd(s), t0());
    assert_eq!(
        life.when(approve(bob()), t0() + Duration::seconds(30)),
        vec![secs(Figure::TimeToApprove, &l, 30.0)]
    );
    assert_eq!(
        life.when(granted(), start + Duration::milliseconds(800)),
        vec![secs(Figure::ApprovedToGranted, &l, 0.8)]
    );
}

#[test]
fn failures_are_counted_under_the_request_role_and_source() {
    let l = db_person();
    let mut life = Life::new();
    life.when(submit_cmd(submit()), t0());
    life.when(approve(bob()), t0());
    assert_eq!(
        life.when(
            Command::RecordGrantFailure {
                account: None,
                error: "AccessDenied".into(),
                attempts: 3
            },
            t0()
        ),
        vec![count(Figure::GrantFailures, &l)]
    );

    let mut life = Life::new();
    life.when(submit_cmd(submit()), t0());
    life.when(approve(bob()), t0());
    life.when(granted(), t0());
    assert_eq!(
        life.when(
            Command::RecordRevokeFailure {
                account: None,
                error: "Throttling".into(),
                attempts: 3
            },
            t0() + Duration::hours(1)
        ),
        vec![count(Figure::RevokeFailures, &l)]
    );
}

#[test]
fn break_glass_and_rules_approve_at_once_under_their_own_source() {
    let mut s = submit();
    s.break_glass = true;
    let mut life = Life::new();
    // The request and its approval are one append: time to approve is zero.
    assert_eq!(
        life.when(submit_cmd(s), t0()),
        vec![secs(
            Figure::TimeToApprove,
            &Labels {
                role: "db".into(),
                source: "break_glass"
            },
            0.0
        )]
    );

    let mut s = submit();
    s.source = Source::Alert {
        service: "orders".into(),
        alarm: "arn:alarm".into(),
        incident: "i-1".into(),
        authenticated: true,
    };
    let mut life = Life::new();
    assert_eq!(
        life.when(submit_cmd(s), t0()),
        vec![secs(
            Figure::TimeToApprove,
            &Labels {
                role: "db".into(),
                source: "alert"
            },
            0.0
        )]
    );
}

#[test]
fn lost_races_are_observed_only_when_some_were_lost() {
    assert_eq!(lost_races(db_person(), 0), None);
    assert_eq!(
        lost_races(db_person(), 3),
        Some(Observation {
            figure: Figure::LostRaces,
            labels: db_person(),
            measure: Measure::Count(3)
        })
    );
}

#[test]
fn only_a_recorded_notification_failure_counts() {
    let ev = |body| Envelope::new(t0(), Actor::System("notify".into()), body);
    let id = Some(RequestId::from_ulid(ulid::Ulid::from_parts(1, 1)));
    let appended = vec![
        ev(NoticeEvent::NotificationClaimed {
            key: "requester:email".into(),
            request_id: id,
        }),
        ev(NoticeEvent::NotificationFailed {
            key: "requester:email".into(),
            request_id: id,
            error: "SES refused".into(),
            attempts: 3,
        }),
    ];
    assert_eq!(
        observe_notices(&db_person(), &appended),
        vec![count(Figure::NotificationFailures, &db_person())]
    );
}

#[test]
fn an_orphan_without_a_request_is_a_repair_labelled_unknown() {
    let ev = Envelope::new(
        t0(),
        Actor::System("sweep".into()),
        DriftEvent::OrphanPolicyRemoved {
            principal: crate::ids::PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/x")
                .unwrap(),
            policy_name: "stint-hand-made".into(),
            request_id: None,
            request_status: None,
        },
    );
    assert_eq!(
        observe_drift(&Labels::unknown(), &[ev]),
        vec![count(Figure::SweepRepairs, &Labels::unknown())]
    );
}

#[test]
fn names_are_prometheus_names_durations_in_seconds_and_counters_totals() {
    for f in Figure::ALL {
        let name = f.name();
        assert!(name.starts_with("stint_"), "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
            "{name}"
        );
        let suffix = if f.is_duration() {
            "_seconds"
        } else {
            "_total"
        };
        assert!(name.ends_with(suffix), "{name}");
        assert!(!f.help().is_empty());
    }
}
