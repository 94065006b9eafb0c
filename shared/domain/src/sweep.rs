//! What the periodic sweep remembers between runs: how far it has read the event log and which
//! requests were still open, so a run reads only what is new, with a full read once a day.

use crate::request::Status;
use crate::{PrincipalArn, RequestId};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The stored cursor's shape; a cursor of any other version is ignored (the run reads fully).
pub const CURSOR_VERSION: u32 = 1;

/// The sweep's memory between runs. Losing or corrupting it costs one full read, never a
/// missed request: every doubtful case plans a full read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepCursor {
    pub version: u32,
    /// The run that saved this read every event stamped before this instant.
    pub read_to: DateTime<Utc>,
    /// When the whole look-back window was last read.
    pub full_read_at: DateTime<Utc>,
    /// Requests not yet settled (revoked, denied, cancelled, lapsed, failed) when last seen.
    pub open: BTreeSet<RequestId>,
    /// Principals of requests made within the look-back window, with when each was last
    /// requested: the roles the orphan check lists, as a full read would find them.
    pub principals: BTreeMap<PrincipalArn, DateTime<Utc>>,
}

/// How the sweep reads: its look-back window, how often it reads all of it, and how far each
/// incremental read reaches back before the last one's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSchedule {
    pub lookback: TimeDelta,
    pub full_read_every: TimeDelta,
    /// Covers appends stamped before a run's end but stored after it (a slow writer, clock skew
    /// between functions). An event read twice costs a read; one never read costs a request.
    pub overlap: TimeDelta,
}

impl SweepSchedule {
    pub const DEFAULT_FULL_READ_EVERY: TimeDelta = TimeDelta::hours(24);
    pub const DEFAULT_OVERLAP: TimeDelta = TimeDelta::minutes(5);

    pub fn new(lookback: TimeDelta) -> Self {
        SweepSchedule {
            lookback,
            full_read_every: Self::DEFAULT_FULL_READ_EVERY,
            overlap: Self::DEFAULT_OVERLAP,
        }
    }
}

/// Which part of the log a run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadPlan {
    /// The whole look-back window; the cursor, if any, is not trusted.
    Full {
        from: DateTime<Utc>,
        why: FullReadWhy,
    },
    /// Only from shortly before where the last run stopped, plus the requests it left open.
    Since { from: DateTime<Utc> },
}

impl ReadPlan {
    pub fn from(&self) -> DateTime<Utc> {
        match self {
            ReadPlan::Full { from, .. } | ReadPlan::Since { from } => *from,
        }
    }

    pub fn is_full(&self) -> bool {
        matches!(self, ReadPlan::Full { .. })
    }
}

/// Why a run reads the whole window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FullReadWhy {
    NoCursor,
    OtherVersion,
    /// The cursor claims a read or a full read after now: a clock gone back, or a forged cursor.
    FromTheFuture,
    Due,
    /// The last run is older than the window: reading everything costs no more.
    Stale,
}

pub fn plan_read(cursor: Option<&SweepCursor>, now: DateTime<Utc>, s: &SweepSchedule) -> ReadPlan {
    let full = |why| ReadPlan::Full {
        from: now - s.lookback,
        why,
    };
    let Some(c) = cursor else {
        return full(FullReadWhy::NoCursor);
    };
    if c.version != CURSOR_VERSION {
        full(FullReadWhy::OtherVersion)
    } else if c.read_to > now + s.overlap || c.full_read_at > now + s.overlap {
        full(FullReadWhy::FromTheFuture)
    } else if now - c.full_read_at >= s.full_read_every {
        full(FullReadWhy::Due)
    } else if c.read_to - s.overlap <= now - s.lookback {
        full(FullReadWhy::Stale)
    } else {
        ReadPlan::Since {
            from: c.read_to - s.overlap,
        }
    }
}

/// Whether a request needs nothing more from the sweep (a stream with no request in it
/// included). A policy left behind is the orphan check's, which goes by principal.
pub fn settled(status: Status) -> bool {
    !matches!(status, Status::Pending | Status::Approved | Status::Active)
}

/// The cursor a run saves: it read up to `now`, and left `open` unsettled. A full read forgets
/// what the old cursor held; an incremental one keeps its principals still in the window.
pub fn next_cursor(
    prev: Option<&SweepCursor>,
    plan: &ReadPlan,
    now: DateTime<Utc>,
    s: &SweepSchedule,
    open: BTreeSet<RequestId>,
    requested: BTreeMap<PrincipalArn, DateTime<Utc>>,
) -> SweepCursor {
    let (full_read_at, mut principals) = match (plan, prev) {
        (ReadPlan::Since { .. }, Some(p)) => (p.full_read_at, p.principals.clone()),
        _ => (now, BTreeMap::new()),
    };
    for (principal, at) in requested {
        let last = principals.entry(principal).or_insert(at);
        *last = (*last).max(at);
    }
    principals.retain(|_, at| *at > now - s.lookback);
    SweepCursor {
        version: CURSOR_VERSION,
        read_to: now,
        full_read_at,
        open,
        principals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap() + TimeDelta::minutes(min)
    }

    fn schedule() -> SweepSchedule {
        SweepSchedule::new(TimeDelta::days(3))
    }

    fn cursor(read_to: i64, full_read_at: i64) -> SweepCursor {
        SweepCursor {
            version: CURSOR_VERSION,
            read_to: t(read_to),
            full_read_at: t(full_read_at),
            open: BTreeSet::new(),
            principals: BTreeMap::new(),
        }
    }

    fn principal(name: &str) -> PrincipalArn {
        PrincipalArn::parse(&format!("arn:aws:iam::111122223333:role/stint/{name}")).unwrap()
    }

    #[test]
    fn without_a_cursor_the_whole_window_is_read() {
        let plan = plan_read(None, t(0), &schedule());
        assert_eq!(
            plan,
            ReadPlan::Full {
                from: t(0) - TimeDelta::days(3),
                why: FullReadWhy::NoCursor
            }
        );
    }

    #[test]
    fn a_recent_cursor_reads_from_its_end_less_the_overlap() {
        let plan = plan_read(Some(&cursor(-5, -60)), t(0), &schedule());
        assert_eq!(plan, ReadPlan::Since { from: t(-10) });
    }

    #[test]
    fn a_full_read_is_due_once_a_day() {
        let c = cursor(-5, -24 * 60);
        assert!(matches!(
            plan_read(Some(&c), t(0), &schedule()),
            ReadPlan::Full {
                why: FullReadWhy::Due,
                ..
            }
        ));
        let c = cursor(-5, -24 * 60 + 1);
        assert!(!plan_read(Some(&c), t(0), &schedule()).is_full());
    }

    #[test]
    fn a_cursor_from_the_future_or_of_another_version_is_not_trusted() {
        // A forged cursor that claims to have read ahead would hide what is appended meanwhile.
        let ahead = cursor(60, -60);
        assert!(matches!(
            plan_read(Some(&ahead), t(0), &schedule()),
            ReadPlan::Full {
                why: FullReadWhy::FromTheFuture,
                ..
            }
        ));
        let full_ahead = cursor(-5, 24 * 60);
        assert!(plan_read(Some(&full_ahead), t(0), &schedule()).is_full());
        let other = SweepCursor {
            version: CURSOR_VERSION + 1,
            ..cursor(-5, -60)
        };
        assert!(matches!(
            plan_read(Some(&other), t(0), &schedule()),
            ReadPlan::Full {
                why: FullReadWhy::OtherVersion,
                ..
            }
        ));
    }

    #[test]
    fn a_cursor_older_than_the_window_reads_everything() {
        let s = SweepSchedule {
            full_read_every: TimeDelta::days(30),
            ..schedule()
        };
        let c = cursor(-3 * 24 * 60, -3 * 24 * 60);
        assert!(matches!(
            plan_read(Some(&c), t(0), &s),
            ReadPlan::Full {
                why: FullReadWhy::Stale,
                ..
            }
        ));
    }

    #[test]
    fn an_incremental_run_keeps_principals_until_they_leave_the_window() {
        let s = schedule();
        let mut prev = cursor(-5, -60);
        prev.principals.insert(principal("old"), t(-3 * 24 * 60));
        prev.principals.insert(principal("recent"), t(-100));
        let plan = plan_read(Some(&prev), t(0), &s);
        let requested = BTreeMap::from([(principal("new"), t(-1))]);
        let open = BTreeSet::from([RequestId::new()]);
        let next = next_cursor(Some(&prev), &plan, t(0), &s, open.clone(), requested);
        assert_eq!(next.read_to, t(0));
        assert_eq!(next.full_read_at, t(-60));
        assert_eq!(next.open, open);
        assert_eq!(
            next.principals.keys().cloned().collect::<Vec<_>>(),
            vec![principal("new"), principal("recent")]
        );
    }

    #[test]
    fn a_full_read_starts_the_memory_afresh() {
        let s = schedule();
        let mut prev = cursor(-5, -24 * 60);
        prev.principals.insert(principal("recent"), t(-100));
        prev.open.insert(RequestId::new());
        let plan = plan_read(Some(&prev), t(0), &s);
        assert!(plan.is_full());
        let next = next_cursor(
            Some(&prev),
            &plan,
            t(0),
            &s,
            BTreeSet::new(),
            BTreeMap::new(),
        );
        assert_eq!(next.full_read_at, t(0));
        assert!(next.open.is_empty());
        assert!(next.principals.is_empty());
    }

    #[test]
    fn settled_requests_are_those_the_sweep_has_nothing_left_to_do_for() {
        for s in [
            Status::Revoked,
            Status::Denied,
            Status::Cancelled,
            Status::Lapsed,
            Status::GrantFailed,
            Status::New,
        ] {
            assert!(settled(s), "{s:?}");
        }
        for s in [Status::Pending, Status::Approved, Status::Active] {
            assert!(!settled(s), "{s:?}");
        }
    }
}
