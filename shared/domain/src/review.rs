//! Periodic access reviews: every grant of a period (a calendar month, UTC, by the time the
//! grant was made) is judged `appropriate` or `inappropriate` by one of its role's approvers,
//! never its grantee. The period, the verdict, the deadline, the reminder steps and the
//! coverage a report shows. Pure; the decision itself is the request decider's `ReviewGrant`.

use super::duration::AccessDuration;
use super::event::{AccessRequested, Source};
use super::ids::{PrincipalArn, RequestId, RoleName, Scope, UserId};
use super::request::{RequestState, Status};
use super::text::ReviewComment;
use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A review period: one calendar month in UTC, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    year: i32,
    month: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a review period: write the month as YYYY-MM (e.g. 2026-11), a year from 2000 to 9999")]
pub struct InvalidPeriod(pub String);

impl Period {
    pub const MIN_YEAR: i32 = 2000;
    pub const MAX_YEAR: i32 = 9999;

    /// Exactly `YYYY-MM`: four digits, a dash, a month from 01 to 12. Nothing else is read as a
    /// period (no `2026-1`, no spaces, no `+2026-11`), so a period names one month only.
    pub fn parse(raw: &str) -> Result<Period, InvalidPeriod> {
        let bad = || InvalidPeriod(raw.chars().take(40).collect());
        let b = raw.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(bad());
        }
        let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        if !digits(&b[..4]) || !digits(&b[5..]) {
            return Err(bad());
        }
        let year: i32 = raw[..4].parse().map_err(|_| bad())?;
        let month: u32 = raw[5..].parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }

    /// The period holding `t`.
    pub fn of(t: DateTime<Utc>) -> Period {
        Period {
            year: t.year(),
            month: t.month(),
        }
    }

    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Midnight UTC on the first day of the month.
    pub fn start(self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The start of the next month: the period is `start() <= t < end()`.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    pub fn contains(self, t: DateTime<Utc>) -> bool {
        self.start() <= t && t < self.end()
    }

    /// When every grant of the period must have been reviewed: `within` after it ends.
    pub fn deadline(self, within: AccessDuration) -> DateTime<Utc> {
        self.end() + within.to_chrono()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}
impl FromStr for Period {
    type Err = InvalidPeriod;
    fn from_str(s: &str) -> Result<Self, InvalidPeriod> {
        Period::parse(s)
    }
}
impl TryFrom<String> for Period {
    type Error = InvalidPeriod;
    fn try_from(s: String) -> Result<Self, InvalidPeriod> {
        Period::parse(&s)
    }
}
impl From<Period> for String {
    fn from(p: Period) -> String {
        p.to_string()
    }
}

/// A reviewer's judgement of one grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Appropriate,
    Inappropriate,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Appropriate => "appropriate",
            Verdict::Inappropriate => "inappropriate",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "appropriate" => Ok(Verdict::Appropriate),
            "inappropriate" => Ok(Verdict::Inappropriate),
            other => Err(format!(
                "{:?} is not a verdict: appropriate or inappropriate",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// The review a grant received, folded from its `GrantReviewed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantReview {
    pub reviewer: UserId,
    pub verdict: Verdict,
    pub comment: Option<ReviewComment>,
    pub period: Period,
    pub reviewed_at: DateTime<Utc>,
}

/// The period a request's grant belongs to: the month it was granted in.
pub fn grant_period(state: &RequestState) -> Option<Period> {
    state.grant.as_ref().map(|g| Period::of(g.granted_at))
}

/// When reviewers are reminded of a period's unreviewed grants. Each step is sent once per
/// reviewer group (a role's approvers) and period: the notice ledger keys it so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStep {
    /// The period has ended: its review is open.
    Opened,
    /// The deadline is close (`DUE_SOON` ahead, or half the review window if that is shorter).
    DueSoon,
    /// The deadline has passed; unreviewed grants are now findings.
    Overdue,
}

impl ReminderStep {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderStep::Opened => "opened",
            ReminderStep::DueSoon => "due_soon",
            ReminderStep::Overdue => "overdue",
        }
    }
}

/// How long before the deadline the second reminder goes out.
pub const DUE_SOON: TimeDelta = TimeDelta::days(3);
/// How long after the deadline a period is still looked at for its overdue reminder, so a
/// reminder run that was down on the day still sends it, and old periods are not read forever.
pub const REMIND_OVERDUE_FOR: TimeDelta = TimeDelta::days(7);

/// The step a period's reminders have reached at `now`: none before the period ends.
pub fn reminder_step(
    period: Period,
    within: AccessDuration,
    now: DateTime<Utc>,
) -> Option<ReminderStep> {
    let deadline = period.deadline(within);
    if now < period.end() {
        return None;
    }
    if now >= deadline {
        return Some(ReminderStep::Overdue);
    }
    let soon = DUE_SOON.min(within.to_chrono() / 2);
    if now >= deadline - soon {
        Some(ReminderStep::DueSoon)
    } else {
        Some(ReminderStep::Opened)
    }
}

/// The periods a reminder run at `now` looks at: ended, and not past their deadline by more
/// than `REMIND_OVERDUE_FOR`. Newest first; at most a few, since the window is bounded.
pub fn periods_to_remind(now: DateTime<Utc>, within: AccessDuration) -> Vec<Period> {
    let mut out = Vec::new();
    let mut p = Period::of(now).previous();
    while p.deadline(within) + REMIND_OVERDUE_FOR > now && p.end() <= now {
        out.push(p);
        p = p.previous();
    }
    out
}

/// The review periods a report over `from..to` speaks for: those it overlaps, and those whose
/// deadline falls inside it (so an overdue review is a finding of the report that covers its
/// deadline, even when nothing else happened to the grant then). Oldest first.
pub fn periods_for_report(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    within: AccessDuration,
) -> Vec<Period> {
    if from >= to {
        return vec![];
    }
    let mut p = Period::of(from - within.to_chrono()).previous();
    let last = Period::of(to);
    let mut out = Vec::new();
    while p <= last {
        let overlaps = p.start() < to && p.end() > from;
        let deadline = p.deadline(within);
        if overlaps || (from <= deadline && deadline < to) {
            out.push(p);
        }
        p = p.next();
    }
    out
}

/// person, alert, pipeline or break_glass: how the access was asked for.
pub fn source_kind(r: &AccessRequested) -> &'static str {
    match &r.source {
        _ if r.break_glass => "break_glass",
        Source::Person => "person",
        Source::Alert { .. } => "alert",
        Source::Pipeline { .. } => "pipeline",
    }
}

/// One grant to review, as a reviewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewItem {
    pub request_id: RequestId,
    pub period: Period,
    pub role: RoleName,
    pub scope: Option<Scope>,
    pub principal: PrincipalArn,
    pub requester: UserId,
    pub source: &'static str,
    pub approved_by: Vec<UserId>,
    pub approved_by_rule: Option<String>,
    pub granted_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: Status,
    pub review: Option<GrantReview>,
}

impl ReviewItem {
    /// The grant of a request, if it was ever granted.
    pub fn from_state(id: RequestId, s: &RequestState) -> Option<ReviewItem> {
        let (r, g) = (s.request.as_ref()?, s.grant.as_ref()?);
        Some(ReviewItem {
            request_id: id,
            period: Period::of(g.granted_at),
            role: r.role.clone(),
            scope: r.scope.clone(),
            principal: r.principal.clone(),
            requester: r.requester.clone(),
            source: source_kind(r),
            approved_by: s.approvals.clone(),
            approved_by_rule: s.approved_by_rule.clone(),
            granted_at: g.granted_at,
            expires_at: g.expires_at,
            status: s.status,
            review: s.review.clone(),
        })
    }
}

/// How much of one role's grants in a period were reviewed, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub grants: u64,
    pub reviewed: u64,
    pub appropriate: u64,
    pub inappropriate: u64,
    pub unreviewed: u64,
}

impl Coverage {
    pub fn add(&mut self, review: Option<&GrantReview>) {
        self.grants += 1;
        match review.map(|r| r.verdict) {
            None => self.unreviewed += 1,
            Some(v) => {
                self.reviewed += 1;
                match v {
                    Verdict::Appropriate => self.appropriate += 1,
                    Verdict::Inappropriate => self.inappropriate += 1,
                }
            }
        }
    }

    /// Reviewed grants as a share of all, in percent (100 when there were none to review).
    pub fn percent(&self) -> f64 {
        if self.grants == 0 {
            100.0
        } else {
            self.reviewed as f64 * 100.0 / self.grants as f64
        }
    }
}

/// One period's review: its deadline, its grants and their coverage per role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodReview {
    pub period: Period,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// The deadline has passed: unreviewed grants are findings.
    pub overdue: bool,
    pub coverage: BTreeMap<RoleName, Coverage>,
    pub grants: Vec<ReviewItem>,
}

impl PeriodReview {
    pub fn new(period: Period, within: AccessDuration, now: DateTime<Utc>) -> PeriodReview {
        let deadline = period.deadline(within);
        PeriodReview {
            period,
            starts_at: period.start(),
            ends_at: period.end(),
            deadline,
            overdue: now > deadline,
            coverage: BTreeMap::new(),
            grants: Vec::new(),
        }
    }

    /// Adds a grant of this period; anything else (never granted, granted in another month)
    /// is left out.
    pub fn add(&mut self, item: ReviewItem) {
        if item.period != self.period {
            return;
        }
        self.coverage
            .entry(item.role.clone())
            .or_default()
            .add(item.review.as_ref());
        self.grants.push(item);
    }

    /// Oldest grant first, ties by id, so the listing is stable.
    pub fn sorted(mut self) -> PeriodReview {
        self.grants.sort_by_key(|g| (g.granted_at, g.request_id));
        self
    }

    /// Every role's grants still unreviewed.
    pub fn unreviewed_by_role(&self) -> BTreeMap<&RoleName, u64> {
        self.coverage
            .iter()
            .filter(|(_, c)| c.unreviewed > 0)
            .map(|(r, c)| (r, c.unreviewed))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }
    fn p(s: &str) -> Period {
        Period::parse(s).unwrap()
    }
    fn days(n: u64) -> AccessDuration {
        AccessDuration::from_secs(n * 86_400).unwrap()
    }

    #[test]
    fn a_period_is_exactly_yyyy_mm() {
        assert_eq!(p("2026-11").to_string(), "2026-11");
        assert_eq!(p("2000-01").start(), at(2000, 1, 1, 0));
        for bad in [
            "",
            "2026-1",
            "2026-13",
            "2026-00",
            "26-11",
            "2026/11",
            "2026-11-01",
            " 2026-11",
            "2026-11 ",
            "+026-11",
            "1999-12",
            "2026-1a",
            "２０２６-11",
            "2026-+1",
            "10000-01",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad:?} parsed");
        }
        let e = Period::parse("2026-13").unwrap_err().to_string();
        assert!(e.contains("YYYY-MM"), "{e}");
    }

    #[test]
    fn periods_run_from_the_first_to_the_first_of_the_next_month_across_years() {
        let dec = p("2026-12");
        assert_eq!(dec.end(), at(2027, 1, 1, 0));
        assert_eq!(dec.next(), p("2027-01"));
        assert_eq!(p("2027-01").previous(), dec);
        assert!(dec.contains(at(2026, 12, 31, 23)));
        assert!(!dec.contains(at(2027, 1, 1, 0)));
        assert_eq!(Period::of(at(2026, 2, 28, 23)), p("2026-02"));
        assert_eq!(dec.deadline(days(14)), at(2027, 1, 15, 0));
        let json = serde_json::to_value(dec).unwrap();
        assert_eq!(json, "2026-12");
        assert!(serde_json::from_value::<Period>(serde_json::json!("2026-1")).is_err());
    }

    #[test]
    fn reminders_step_from_opened_to_due_soon_to_overdue() {
        let nov = p("2026-11");
        let w = days(14);
        assert_eq!(reminder_step(nov, w, at(2026, 11, 30, 23)), None);
        assert_eq!(
            reminder_step(nov, w, at(2026, 12, 1, 0)),
            Some(ReminderStep::Opened)
        );
        assert_eq!(
            reminder_step(nov, w, at(2026, 12, 11, 23)),
            Some(ReminderStep::Opened)
        );
        assert_eq!(
            reminder_step(nov, w, at(2026, 12, 12, 0)),
            Some(ReminderStep::DueSoon)
        );
        assert_eq!(
            reminder_step(nov, w, at(2026, 12, 15, 0)),
            Some(ReminderStep::Overdue)
        );
        // A two-day window: due soon half way, not three days before (that is before the end).
        assert_eq!(
            reminder_step(nov, days(2), at(2026, 12, 1, 23)),
            Some(ReminderStep::Opened)
        );
        assert_eq!(
            reminder_step(nov, days(2), at(2026, 12, 2, 0)),
            Some(ReminderStep::DueSoon)
        );
    }

    #[test]
    fn a_reminder_run_looks_at_ended_periods_until_a_week_past_their_deadline() {
        let w = days(14);
        assert_eq!(
            periods_to_remind(at(2026, 11, 20, 0), w),
            vec![p("2026-10")]
        );
        assert_eq!(
            periods_to_remind(at(2026, 11, 21, 23), w),
            vec![p("2026-10")]
        );
        assert_eq!(periods_to_remind(at(2026, 11, 22, 0), w), vec![]);
        assert_eq!(periods_to_remind(at(2026, 12, 3, 0), w), vec![p("2026-11")]);
        // A 90-day window keeps three periods open at once.
        assert_eq!(
            periods_to_remind(at(2026, 12, 20, 0), days(90)),
            vec![p("2026-11"), p("2026-10"), p("2026-09")]
        );
    }

    #[test]
    fn a_report_speaks_for_the_periods_it_overlaps_and_the_deadlines_inside_it() {
        let w = days(14);
        // A week in the middle of November: November, and October's deadline (Nov 15).
        assert_eq!(
            periods_for_report(at(2026, 11, 10, 0), at(2026, 11, 17, 0), w),
            vec![p("2026-10"), p("2026-11")]
        );
        // The week after: November only.
        assert_eq!(
            periods_for_report(at(2026, 11, 17, 0), at(2026, 11, 24, 0), w),
            vec![p("2026-11")]
        );
        // December as a month: November (deadline Dec 15) and December.
        assert_eq!(
            periods_for_report(at(2026, 12, 1, 0), at(2027, 1, 1, 0), w),
            vec![p("2026-11"), p("2026-12")]
        );
        assert!(periods_for_report(at(2026, 12, 1, 0), at(2026, 12, 1, 0), w).is_empty());
    }

    #[test]
    fn coverage_counts_every_grant_once() {
        let mut c = Coverage::default();
        assert_eq!(c.percent(), 100.0);
        let review = |v| GrantReview {
            reviewer: UserId::parse("bob").unwrap(),
            verdict: v,
            comment: None,
            period: p("2026-11"),
            reviewed_at: at(2026, 12, 2, 0),
        };
        c.add(None);
        c.add(Some(&review(Verdict::Appropriate)));
        c.add(Some(&review(Verdict::Inappropriate)));
        c.add(None);
        assert_eq!(
            c,
            Coverage {
                grants: 4,
                reviewed: 2,
                appropriate: 1,
                inappropriate: 1,
                unreviewed: 2
            }
        );
        assert_eq!(c.percent(), 50.0);
    }

    #[test]
    fn verdicts_read_and_write_their_names() {
        for v in [Verdict::Appropriate, Verdict::Inappropriate] {
            assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
        assert!("fine".parse::<Verdict>().is_err());
    }
}
