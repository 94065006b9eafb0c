//! Service levels from the log: p50, p90 and p99 of time to approve, approved-to-granted and
//! revoke lag over a window, overall, per role, per source and per role and source. Pure:
//! requests' events (or their folded states) in, figures out.
//!
//! Percentiles are nearest-rank: pN of n sorted values is the ⌈N/100 · n⌉-th smallest, a value
//! that was measured (never interpolated), with at least N% of the values at or below it.

use crate::event::{AccessRequested, Event, RevokeReason, Source};
use crate::request::RequestState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// What is measured, each from two events of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Requested to approved (by people or a rule).
    TimeToApprove,
    /// The grant's start (the approval, or a later scheduled start) to the grant in IAM.
    ApprovedToGranted,
    /// The scheduled expiry to the revoke, for grants that ran to their expiry (revoked by the
    /// expiry timer or the sweep); early revokes have no lag.
    RevokeLag,
}

impl Measure {
    pub const ALL: [Measure; 3] = [
        Measure::TimeToApprove,
        Measure::ApprovedToGranted,
        Measure::RevokeLag,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::TimeToApprove => "time_to_approve",
            Measure::ApprovedToGranted => "approved_to_granted",
            Measure::RevokeLag => "revoke_lag",
        }
    }
}

/// Every role or every source, in a row's `role` or `source`.
pub const ALL: &str = "*";

/// Where a request came from: person, alert, pipeline, or break_glass (whatever its origin).
pub fn source_of(req: &AccessRequested) -> &'static str {
    match &req.source {
        _ if req.break_glass => "break_glass",
        Source::Person => "person",
        Source::Alert { .. } => "alert",
        Source::Pipeline { .. } => "pipeline",
    }
}

/// One measurement: which, of what, when it ended, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub measure: Measure,
    pub role: String,
    pub source: &'static str,
    /// When the measured interval ended: it counts in the window holding this instant.
    pub at: DateTime<Utc>,
    pub millis: i64,
}

/// The measurements one request's history gives (up to one of each measure).
pub fn samples(st: &RequestState) -> Vec<Sample> {
    let Some(req) = st.request.as_ref() else {
        return vec![];
    };
    let sample = |measure, from: DateTime<Utc>, to: DateTime<Utc>| Sample {
        measure,
        role: req.role.to_string(),
        source: source_of(req),
        at: to,
        millis: (to - from).num_milliseconds().max(0),
    };
    let mut out = Vec::new();
    if let (Some(asked), Some(approved)) = (st.requested_at, st.approved_at) {
        out.push(sample(Measure::TimeToApprove, asked, approved));
    }
    if let Some(g) = &st.grant {
        out.push(sample(
            Measure::ApprovedToGranted,
            g.starts_at,
            g.granted_at,
        ));
        if let Some(r) = st
            .revocation
            .as_ref()
            .filter(|r| matches!(r.reason, RevokeReason::Expired | RevokeReason::Sweep))
        {
            out.push(sample(Measure::RevokeLag, g.expires_at, r.at));
        }
    }
    out
}

/// The nearest-rank `p`th percentile (0 < p ≤ 100) of `sorted` (ascending); none when empty.
pub fn nearest_rank(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() || p == 0 || p > 100 {
        return None;
    }
    let n = sorted.len();
    // ⌈p·n/100⌉ in integers, at least 1.
    let rank = (p as usize * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The figures of one group of measurements, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Levels {
    pub count: usize,
    pub p50_ms: i64,
    pub p90_ms: i64,
    pub p99_ms: i64,
    pub max_ms: i64,
}

impl Levels {
    /// None for no values.
    pub fn of(values: &mut [i64]) -> Option<Levels> {
        values.sort_unstable();
        Some(Levels {
            count: values.len(),
            p50_ms: nearest_rank(values, 50)?,
            p90_ms: nearest_rank(values, 90)?,
            p99_ms: nearest_rank(values, 99)?,
            max_ms: *values.last()?,
        })
    }
}

/// One row: a measure for one role (or [`ALL`]) and one source (or [`ALL`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub measure: Measure,
    pub role: String,
    pub source: String,
    #[serde(flatten)]
    pub levels: Levels,
}

/// The service levels of a window: for each measure, the overall row (role and source `*`),
/// then per source (role `*`), then per role (source `*`), then per role and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLevels {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// How the percentiles are taken.
    pub percentile: &'static str,
    pub rows: Vec<Row>,
}

impl ServiceLevels {
    /// The overall figures of one measure, if it has any.
    pub fn overall(&self, measure: Measure) -> Option<&Levels> {
        self.rows
            .iter()
            .find(|r| r.measure == measure && r.role == ALL && r.source == ALL)
            .map(|r| &r.levels)
    }

    /// The figures of one measure for one role and source ([`ALL`] for every one).
    pub fn get(&self, measure: Measure, role: &str, source: &str) -> Option<&Levels> {
        self.rows
            .iter()
            .find(|r| r.measure == measure && r.role == role && r.source == source)
            .map(|r| &r.levels)
    }
}

/// Gathers measurements request by request; each counts in `from..to` by when it ended.
#[derive(Debug, Clone)]
pub struct StatsBuilder {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    values: BTreeMap<(Measure, String, String), Vec<i64>>,
}

impl StatsBuilder {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        StatsBuilder {
            from,
            to,
            values: BTreeMap::new(),
        }
    }

    /// Adds one request's measurements that ended in the window.
    pub fn add(&mut self, st: &RequestState) {
        for s in samples(st) {
            if s.at < self.from || s.at >= self.to {
                continue;
            }
            for (role, source) in [
                (ALL, ALL),
                (ALL, s.source),
                (s.role.as_str(), ALL),
                (s.role.as_str(), s.source),
            ] {
                self.values
                    .entry((s.measure, role.to_owned(), source.to_owned()))
                    .or_default()
                    .push(s.millis);
            }
        }
    }

    pub fn finish(self) -> ServiceLevels {
        let group = |role: &str, source: &str| match (role == ALL, source == ALL) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        let mut rows: Vec<Row> = self
            .values
            .into_iter()
            .filter_map(|((measure, role, source), mut v)| {
                Levels::of(&mut v).map(|levels| Row {
                    measure,
                    role,
                    source,
                    levels,
                })
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.measure, group(&a.role, &a.source), &a.role, &a.source).cmp(&(
                b.measure,
                group(&b.role, &b.source),
                &b.role,
                &b.source,
            ))
        });
        ServiceLevels {
            from: self.from,
            to: self.to,
            percentile: "nearest-rank",
            rows,
        }
    }
}

/// The service levels of `from..to` from each request's events, in order.
pub fn service_levels<'a>(
    requests: impl IntoIterator<Item = &'a [Event]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ServiceLevels {
    let mut b = StatsBuilder::new(from, to);
    for events in requests {
        b.add(&RequestState::fold(events));
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests_support::EXAMPLE;
    use crate::{
        decide, Catalog, Command, GroupName, Identity, Justification, PrincipalArn, RequestId,
        RoleName, Scope, Submit, UserId,
    };
    use chrono::{TimeDelta, TimeZone};
    use serde_json::json;

    #[test]
    fn nearest_rank_takes_the_ceiling_rank_and_never_interpolates() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 50), Some(5));
        assert_eq!(nearest_rank(&v, 90), Some(9));
        assert_eq!(nearest_rank(&v, 99), Some(10));
        assert_eq!(nearest_rank(&v, 100), Some(10));
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 99), Some(7));
        assert_eq!(nearest_rank(&[1, 2], 50), Some(1));
        assert_eq!(nearest_rank(&[1, 2], 51), Some(2));
        let hundred: Vec<i64> = (1..=100).collect();
        assert_eq!(nearest_rank(&hundred, 99), Some(99));
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&v, 0), None);
        assert_eq!(nearest_rank(&v, 101), None);
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
    }

    fn catalog() -> Catalog {
        let mut c = Catalog::from_toml(EXAMPLE).unwrap();
        for role in c.roles.values_mut() {
            role.approvers.required = 1;
            role.break_glass = true;
        }
        c
    }

    /// Given a request for `role` at `at`, approved `approve_after` later, granted
    /// `grant_after` after that, and (when `revoke`) revoked with `reason` `lag` after expiry.
    #[allow(clippy::too_many_arguments)]
    fn history(
        c: &Catalog,
        role: &str,
        break_glass: bool,
        at: DateTime<Utc>,
        approve_after: TimeDelta,
        grant_after: TimeDelta,
        revoke: Option<(RevokeReason, TimeDelta)>,
    ) -> Vec<Event> {
        let name = RoleName::parse(role).unwrap();
        let s = Submit {
            accounts: vec![],
            id: RequestId::new(),
            requester: Identity::new(
                UserId::parse("alice@example.com").unwrap(),
                [GroupName::parse("sre").unwrap()],
            ),
            role: name.clone(),
            scope: Some(Scope::parse("orders").unwrap()),
            principal: PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap(),
            duration: None,
            justification: Justification::parse("stats").unwrap(),
            ticket: None,
            starts_at: None,
            source: Source::Person,
            break_glass,
        };
        let approver = Identity::new(
            UserId::parse("bob@example.com").unwrap(),
            c.roles[&name].approvers.groups.clone(),
        );
        let mut events = Vec::new();
        let mut st = RequestState::default();
        let mut step = |cmd: Command, when: DateTime<Utc>, st: &mut RequestState| {
            let evs = decide(st, &cmd, c, when).unwrap();
            *st = RequestState::fold_from(std::mem::take(st), &evs);
            events.extend(evs);
        };
        step(Command::Submit(Box::new(s)), at, &mut st);
        let approved = at + approve_after;
        if !break_glass {
            step(
                Command::Approve {
                    approver,
                    comment: None,
                },
                approved,
                &mut st,
            );
        }
        let granted_at = approved + grant_after;
        step(
            Command::RecordGrant {
                account: None,
                policy_name: "stint-x".into(),
                policy: json!({}),
            },
            granted_at,
            &mut st,
        );
        if let Some((reason, lag)) = revoke {
            let expiry = st.grant.as_ref().unwrap().expires_at;
            let when = if reason == RevokeReason::Manual {
                granted_at + TimeDelta::minutes(1)
            } else {
                expiry + lag
            };
            let by = (reason == RevokeReason::Manual)
                .then(|| Identity::new(UserId::parse("alice@example.com").unwrap(), []));
            step(Command::Revoke { reason, by }, when, &mut st);
        }
        events
    }

    #[test]
    fn the_three_measures_come_per_role_and_source_from_the_events() {
        let c = catalog();
        let secs = TimeDelta::seconds;
        let mut requests = Vec::new();
        // Ten db-read requests by people: approved after 1..=10 minutes, granted 100..=1000 ms
        // later, revoked at expiry 1..=10 seconds late.
        for i in 1..=10 {
            requests.push(history(
                &c,
                "db-read",
                false,
                t0() + TimeDelta::minutes(i),
                TimeDelta::minutes(i),
                TimeDelta::milliseconds(100 * i),
                Some((RevokeReason::Expired, secs(i))),
            ));
        }
        // A break-glass db-write: approved as it is asked, revoked early (no lag).
        requests.push(history(
            &c,
            "db-write",
            true,
            t0(),
            TimeDelta::zero(),
            TimeDelta::milliseconds(40),
            Some((RevokeReason::Manual, TimeDelta::zero())),
        ));
        let refs: Vec<&[Event]> = requests.iter().map(Vec::as_slice).collect();
        let from = t0();
        let to = t0() + TimeDelta::days(1);
        let got = service_levels(refs.iter().copied(), from, to);
        assert_eq!(got.percentile, "nearest-rank");

        // Then: time to approve over all eleven (0 and 1..=10 minutes).
        let all = got.overall(Measure::TimeToApprove).unwrap();
        assert_eq!(all.count, 11);
        assert_eq!(all.p50_ms, 5 * 60_000);
        assert_eq!(all.p90_ms, 9 * 60_000);
        assert_eq!(all.p99_ms, 10 * 60_000);
        // Per role and source.
        let people = got
            .get(Measure::TimeToApprove, "db-read", "person")
            .unwrap();
        assert_eq!((people.count, people.p50_ms), (10, 5 * 60_000));
        let glass = got.get(Measure::TimeToApprove, ALL, "break_glass").unwrap();
        assert_eq!((glass.count, glass.p99_ms), (1, 0));
        let granted = got.get(Measure::ApprovedToGranted, "db-read", ALL).unwrap();
        assert_eq!(
            (granted.p50_ms, granted.p90_ms, granted.p99_ms),
            (500, 900, 1_000)
        );
        // Revoke lag only for grants that ran to their expiry.
        let lag = got.overall(Measure::RevokeLag).unwrap();
        assert_eq!((lag.count, lag.p50_ms, lag.max_ms), (10, 5_000, 10_000));
        assert_eq!(got.get(Measure::RevokeLag, "db-write", ALL), None);
        // Rows run overall, per source, per role, then per role and source.
        let first: Vec<(&str, &str)> = got
            .rows
            .iter()
            .filter(|r| r.measure == Measure::TimeToApprove)
            .map(|r| (r.role.as_str(), r.source.as_str()))
            .collect();
        assert_eq!(
            first,
            [
                (ALL, ALL),
                (ALL, "break_glass"),
                (ALL, "person"),
                ("db-read", ALL),
                ("db-write", ALL),
                ("db-read", "person"),
                ("db-write", "break_glass"),
            ]
        );

        // Given a window that ends before the approvals of the later half, when computed, then
        // only what ended inside it counts.
        let early = service_levels(refs.iter().copied(), from, t0() + TimeDelta::minutes(10));
        // Approved at 2i minutes after t0: i = 1..=4 end before minute 10, and break-glass.
        assert_eq!(early.overall(Measure::TimeToApprove).unwrap().count, 5);
        assert_eq!(early.overall(Measure::RevokeLag), None);
        // An empty window has no rows.
        assert!(
            service_levels(refs.iter().copied(), to, to + TimeDelta::hours(1))
                .rows
                .is_empty()
        );
    }

    #[test]
    fn a_sweep_revoke_after_expiry_is_lag_and_a_request_never_decided_gives_nothing() {
        let c = catalog();
        let ev = history(
            &c,
            "db-read",
            false,
            t0(),
            TimeDelta::minutes(1),
            TimeDelta::seconds(1),
            Some((RevokeReason::Sweep, TimeDelta::seconds(90))),
        );
        let st = RequestState::fold(&ev);
        let lag: Vec<i64> = samples(&st)
            .into_iter()
            .filter(|s| s.measure == Measure::RevokeLag)
            .map(|s| s.millis)
            .collect();
        assert_eq!(lag, [90_000]);
        assert!(samples(&RequestState::fold(&ev[..1]))
            .iter()
            .all(|s| s.measure != Measure::RevokeLag && s.measure != Measure::ApprovedToGranted));
        assert!(samples(&RequestState::default()).is_empty());
    }
}
