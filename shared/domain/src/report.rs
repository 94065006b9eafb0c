//! The compliance report's model: one row per request, a summary, the findings an auditor must
//! see, and access hours per role per day. Pure: built from folded request states.

use super::event::Source;
use super::log::{ChainBreak, Hash};
use super::request::{AccountStatus, RequestState, Status};
use super::review::{Coverage, Period, PeriodReview, Verdict};
use super::stats::{ServiceLevels, StatsBuilder};
use super::RequestId;
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Revoke lag above this is a finding.
pub const MAX_REVOKE_LAG_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    pub id: String,
    pub status: Status,
    pub requester: String,
    pub principal: String,
    pub role: String,
    pub scope: Option<String>,
    /// person, alert, pipeline or break_glass.
    pub source: &'static str,
    pub justification: String,
    /// Ticket, pull request, or incident.
    pub reference: Option<String>,
    /// The approvers, or `rule:<name>`.
    pub approved_by: Option<String>,
    pub requested_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub granted_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<String>,
    pub requested_secs: u64,
    /// From the grant's start to its revoke (or to now, while active).
    pub actual_secs: Option<i64>,
    pub revoke_lag_secs: Option<i64>,
    /// A request naming several accounts: each account and where its grant stands
    /// (`111111111111 active; 222222222222 grant_failed: why`); none for one account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<String>,
    /// For an Identity Center grant, the permission set's session duration when granted
    /// (ISO 8601): a session issued before the revoke lasts up to this long after it.
    pub session_duration: Option<String>,
}

/// Each account of a request naming several, and where its own grant stands, in one line.
pub fn accounts_line(s: &RequestState) -> Option<String> {
    if s.accounts.is_empty() {
        return None;
    }
    let each = s.accounts.iter().map(|(a, g)| {
        let status = serde_json::to_value(g.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match &g.error {
            Some(e) if g.status != AccountStatus::Revoked => format!("{a} {status}: {e}"),
            _ => format!("{a} {status}"),
        }
    });
    Some(each.collect::<Vec<_>>().join("; "))
}

impl ReportRow {
    pub fn from_state(id: RequestId, s: &RequestState, now: DateTime<Utc>) -> Option<ReportRow> {
        let r = s.request.as_ref()?;
        let (source, reference) = match &r.source {
            _ if r.break_glass => ("break_glass", r.ticket.as_ref().map(|t| t.to_string())),
            Source::Person => ("person", r.ticket.as_ref().map(|t| t.to_string())),
            Source::Alert { incident, .. } => (
                "alert",
                Some(
                    r.ticket
                        .as_ref()
                        .map_or_else(|| incident.clone(), |t| t.to_string()),
                ),
            ),
            Source::Pipeline {
                repository,
                git_ref,
                ..
            } => (
                "pipeline",
                Some(
                    r.ticket
                        .as_ref()
                        .map_or_else(|| format!("{repository}@{git_ref}"), |t| t.to_string()),
                ),
            ),
        };
        let approved_by = match (&s.approved_by_rule, s.approvals.is_empty()) {
            (Some(rule), _) if rule != "break-glass" => Some(format!("rule:{rule}")),
            (_, false) => Some(
                s.approvals
                    .iter()
                    .map(|u| u.to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            _ => None,
        };
        let end = s
            .revocation
            .as_ref()
            .map(|x| x.at)
            .or(s.grant.as_ref().map(|_| now));
        Some(ReportRow {
            id: id.to_string(),
            status: s.status,
            requester: r.requester.to_string(),
            principal: r.principal.to_string(),
            role: r.role.to_string(),
            scope: r.scope.as_ref().map(|x| x.to_string()),
            source,
            justification: r.justification.to_string(),
            reference,
            approved_by,
            requested_at: s.requested_at,
            approved_at: s.approved_at,
            granted_at: s.grant.as_ref().map(|g| g.granted_at),
            expires_at: s.grant.as_ref().map(|g| g.expires_at),
            revoked_at: s.revocation.as_ref().map(|x| x.at),
            revoke_reason: s.revocation.as_ref().map(|x| x.reason.to_string()),
            requested_secs: r.duration.secs(),
            actual_secs: s
                .grant
                .as_ref()
                .zip(end)
                .map(|(g, e)| (e - g.starts_at).num_seconds().max(0)),
            revoke_lag_secs: s.revocation.as_ref().map(|x| x.lag_seconds),
            accounts: accounts_line(s),
            session_duration: s
                .grant
                .as_ref()
                .and_then(|g| g.assignment.as_ref())
                .map(|a| {
                    a.session_duration
                        .clone()
                        .unwrap_or_else(|| "unknown".into())
                }),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    BreakGlassNotReviewed {
        id: String,
        review_by: DateTime<Utc>,
    },
    AutomaticApproval {
        id: String,
        rule: String,
    },
    RevokeLag {
        id: String,
        lag_seconds: i64,
    },
    ActivePastExpiry {
        id: String,
        expires_at: DateTime<Utc>,
    },
    GrantFailed {
        id: String,
        /// The account whose grant failed, for a request naming several.
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    RevokeFailed {
        id: String,
        failures: u32,
    },
    /// A `stint-*` policy the sweep found with no grant to hold it, and removed.
    OrphanPolicyRemoved {
        principal: String,
        policy_name: String,
        request: Option<String>,
    },
    /// An Identity Center assignment of a Stint-managed permission set the sweep found with
    /// no active grant to hold it, and removed.
    OrphanAssignmentRemoved {
        permission_set: String,
        account: String,
        principal: String,
    },
    ChainBroken {
        stream: String,
        version: u64,
        event_id: String,
        problem: String,
    },
    /// A grant still unreviewed after its period's review deadline.
    GrantNotReviewed {
        id: String,
        role: String,
        period: Period,
        deadline: DateTime<Utc>,
    },
    /// A reviewer judged a grant inappropriate.
    GrantInappropriate {
        id: String,
        role: String,
        period: Period,
        reviewer: String,
        comment: String,
    },
    /// What the whole-store audit against the signed checkpoints found.
    Tampered {
        tamper: crate::audit::FindingKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        stream: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        checkpoint: Option<u64>,
        detail: String,
    },
}

impl From<&crate::audit::Finding> for Finding {
    fn from(f: &crate::audit::Finding) -> Self {
        Finding::Tampered {
            tamper: f.kind,
            stream: f.stream.clone(),
            version: f.version,
            checkpoint: f.checkpoint,
            detail: f.detail.clone(),
        }
    }
}

/// The whole-store audit as the report states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anchoring {
    pub events: u64,
    pub streams: usize,
    pub checkpoints: usize,
    pub last_checkpoint: Option<u64>,
    pub last_checkpoint_at: Option<DateTime<Utc>>,
    pub events_after_last_checkpoint: u64,
    pub findings: usize,
}

/// The findings one request gives at `now`.
pub fn findings_for(id: RequestId, s: &RequestState, now: DateTime<Utc>) -> Vec<Finding> {
    let id = id.to_string();
    let mut out = Vec::new();
    if let Some(review_by) = s
        .break_glass_review_by
        .filter(|by| s.break_glass_reviewed_by.is_none() && now > *by)
    {
        out.push(Finding::BreakGlassNotReviewed {
            id: id.clone(),
            review_by,
        });
    }
    if let Some(rule) = s.approved_by_rule.as_ref().filter(|r| *r != "break-glass") {
        out.push(Finding::AutomaticApproval {
            id: id.clone(),
            rule: rule.clone(),
        });
    }
    if let Some(lag) = s
        .revocation
        .as_ref()
        .map(|r| r.lag_seconds)
        .filter(|l| *l > MAX_REVOKE_LAG_SECS)
    {
        out.push(Finding::RevokeLag {
            id: id.clone(),
            lag_seconds: lag,
        });
    }
    if let Some(g) = s
        .grant
        .as_ref()
        .filter(|g| s.status == Status::Active && now > g.expires_at)
    {
        out.push(Finding::ActivePastExpiry {
            id: id.clone(),
            expires_at: g.expires_at,
        });
    }
    if s.accounts.is_empty() && s.status == Status::GrantFailed {
        out.push(Finding::GrantFailed {
            id: id.clone(),
            account: None,
            error: None,
        });
    }
    // A request naming several accounts: each account that failed is a finding of its own,
    // whether or not the others were granted.
    for (account, g) in &s.accounts {
        if g.status == AccountStatus::GrantFailed {
            out.push(Finding::GrantFailed {
                id: id.clone(),
                account: Some(account.to_string()),
                error: g.error.clone(),
            });
        }
    }
    if s.revoke_failures > 0 {
        out.push(Finding::RevokeFailed {
            id,
            failures: s.revoke_failures,
        });
    }
    out
}

impl From<&ChainBreak> for Finding {
    fn from(b: &ChainBreak) -> Self {
        Finding::ChainBroken {
            stream: b.stream.clone(),
            version: b.version,
            event_id: b.event_id.clone(),
            problem: b.problem.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub by_role: BTreeMap<String, u64>,
    pub by_source: BTreeMap<String, u64>,
    pub by_outcome: BTreeMap<String, u64>,
    /// Granted hours per role inside the period.
    pub access_hours_by_role: BTreeMap<String, f64>,
    pub median_secs_to_approve: Option<i64>,
    /// The five who asked most, most first.
    pub top_requesters: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub verified: bool,
    pub period_digest: Hash,
    pub streams_checked: usize,
    pub events_in_period: u64,
    pub rows: Vec<ReportRow>,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    /// Hours of access per day (`YYYY-MM-DD`) per role, for the chart.
    pub hours_by_day: BTreeMap<String, BTreeMap<String, f64>>,
    /// The whole store checked against the signed checkpoints; `None` when the report was
    /// compiled without a checkpoint archive.
    pub anchoring: Option<Anchoring>,
    /// Access-review coverage per role of each review period the report speaks for.
    pub reviews: Vec<ReviewCoverage>,
    /// The catalog versions recorded in the period, oldest first.
    pub catalog_changes: Vec<CatalogChangeRow>,
    /// Time to approve, approved-to-granted and revoke lag percentiles, as `GET /stats` gives
    /// them for the same period.
    pub service_levels: ServiceLevels,
}

/// A catalog version first loaded in the period: who could request and approve what changed
/// then (issue 13, part 5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogChangeRow {
    pub at: DateTime<Utc>,
    pub hash: String,
    pub previous_hash: Option<String>,
    /// The parameter (and its version) or file it was read from.
    pub source: String,
    /// The process that loaded it first.
    pub loaded_by: String,
    /// One readable line per role, service or settings change.
    pub changes: Vec<String>,
}

impl CatalogChangeRow {
    pub fn from_event(e: &crate::Envelope<crate::catalog_history::CatalogEvent>) -> Self {
        let crate::catalog_history::CatalogEvent::CatalogChanged {
            hash,
            previous_hash,
            source,
            changes,
            ..
        } = &e.body;
        CatalogChangeRow {
            at: e.occurred_at,
            hash: hash.to_string(),
            previous_hash: previous_hash.as_ref().map(|h| h.to_string()),
            source: source.to_string(),
            loaded_by: e.actor.to_string(),
            changes: changes.iter().map(|c| c.to_string()).collect(),
        }
    }
}

/// One review period as the report shows it: its deadline and each role's coverage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewCoverage {
    pub period: Period,
    pub deadline: DateTime<Utc>,
    /// The deadline has passed: what is still unreviewed is a finding.
    pub overdue: bool,
    pub by_role: BTreeMap<String, Coverage>,
}

/// A period's coverage and its findings: each grant still unreviewed past the deadline, and
/// each judged inappropriate.
pub fn review_findings(review: &PeriodReview) -> (ReviewCoverage, Vec<Finding>) {
    let mut findings = Vec::new();
    for g in &review.grants {
        match &g.review {
            None if review.overdue => findings.push(Finding::GrantNotReviewed {
                id: g.request_id.to_string(),
                role: g.role.to_string(),
                period: review.period,
                deadline: review.deadline,
            }),
            Some(r) if r.verdict == Verdict::Inappropriate => {
                findings.push(Finding::GrantInappropriate {
                    id: g.request_id.to_string(),
                    role: g.role.to_string(),
                    period: review.period,
                    reviewer: r.reviewer.to_string(),
                    comment: r
                        .comment
                        .as_ref()
                        .map(|c| c.as_str().to_owned())
                        .unwrap_or_default(),
                })
            }
            _ => {}
        }
    }
    let coverage = ReviewCoverage {
        period: review.period,
        deadline: review.deadline,
        overdue: review.overdue,
        by_role: review
            .coverage
            .iter()
            .map(|(r, c)| (r.to_string(), *c))
            .collect(),
    };
    (coverage, findings)
}

/// Accumulates the report one request at a time, so memory follows requests, not events.
pub struct ReportBuilder {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    rows: Vec<ReportRow>,
    findings: Vec<Finding>,
    approve_secs: Vec<i64>,
    requesters: BTreeMap<String, u64>,
    summary: Summary,
    hours_by_day: BTreeMap<String, BTreeMap<String, f64>>,
    anchoring: Option<Anchoring>,
    tampered: Vec<Finding>,
    reviews: Vec<ReviewCoverage>,
    catalog_changes: Vec<CatalogChangeRow>,
    stats: StatsBuilder,
}

impl ReportBuilder {
    /// Adds the whole-store audit: each of its findings is a finding of the report.
    pub fn add_audit(&mut self, a: &crate::audit::AuditReport) {
        self.tampered.extend(a.findings.iter().map(Finding::from));
        self.anchoring = Some(Anchoring {
            events: a.events,
            streams: a.streams,
            checkpoints: a.checkpoints,
            last_checkpoint: a.last_checkpoint,
            last_checkpoint_at: a.last_checkpoint_at,
            events_after_last_checkpoint: a.events_after_last_checkpoint,
            findings: a.findings.len(),
        });
    }

    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        ReportBuilder {
            from,
            to,
            now,
            rows: Vec::new(),
            findings: Vec::new(),
            approve_secs: Vec::new(),
            requesters: BTreeMap::new(),
            summary: Summary::default(),
            hours_by_day: BTreeMap::new(),
            anchoring: None,
            tampered: Vec::new(),
            reviews: Vec::new(),
            catalog_changes: Vec::new(),
            stats: StatsBuilder::new(from, to),
        }
    }

    /// A review period the report speaks for: its coverage per role and its findings.
    pub fn add_review(&mut self, review: &PeriodReview) {
        let (coverage, findings) = review_findings(review);
        self.reviews.push(coverage);
        self.findings.extend(findings);
    }

    /// A catalog version recorded in the period.
    pub fn add_catalog_change(&mut self, row: CatalogChangeRow) {
        self.catalog_changes.push(row);
    }

    /// A drift event of the period: the sweep removed a policy no grant held.
    pub fn add_drift(&mut self, e: &crate::drift::DriftEvent) {
        use crate::drift::DriftEvent;
        self.findings.push(match e {
            DriftEvent::OrphanPolicyRemoved {
                principal,
                policy_name,
                request_id,
                ..
            } => Finding::OrphanPolicyRemoved {
                principal: principal.to_string(),
                policy_name: policy_name.clone(),
                request: request_id.map(|r| r.to_string()),
            },
            DriftEvent::OrphanAssignmentRemoved {
                permission_set,
                account,
                principal_type,
                principal_id,
            } => Finding::OrphanAssignmentRemoved {
                permission_set: permission_set.to_string(),
                account: account.clone(),
                principal: format!("{principal_type} {principal_id}"),
            },
        });
    }

    pub fn add(&mut self, id: RequestId, s: &RequestState) {
        let Some(row) = ReportRow::from_state(id, s, self.now) else {
            return;
        };
        self.stats.add(s);
        let sum = &mut self.summary;
        sum.requests += 1;
        *sum.by_role.entry(row.role.clone()).or_default() += 1;
        *sum.by_source.entry(row.source.to_owned()).or_default() += 1;
        *sum.by_outcome.entry(row.status.to_string()).or_default() += 1;
        *self.requesters.entry(row.requester.clone()).or_default() += 1;
        if let (Some(req), Some(app)) = (row.requested_at, row.approved_at) {
            self.approve_secs.push((app - req).num_seconds());
        }
        if let Some(g) = s.grant.as_ref() {
            // IAM's time condition ends access at the expiry even when the revoke comes later.
            let end = s
                .revocation
                .as_ref()
                .map_or(self.now, |r| r.at)
                .min(g.expires_at);
            self.add_hours(&row.role, g.starts_at.max(self.from), end.min(self.to));
        }
        self.findings.extend(findings_for(id, s, self.now));
        self.rows.push(row);
    }

    /// Splits `start..end` over the UTC days it covers.
    fn add_hours(&mut self, role: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
        let mut t = start;
        while t < end {
            let day: NaiveDate = t.date_naive();
            let next = day
                .checked_add_days(Days::new(1))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
                .unwrap_or(end);
            let stop = next.min(end);
            let hours = (stop - t).num_seconds() as f64 / 3_600.0;
            *self
                .hours_by_day
                .entry(day.format("%Y-%m-%d").to_string())
                .or_default()
                .entry(role.to_owned())
                .or_default() += hours;
            *self
                .summary
                .access_hours_by_role
                .entry(role.to_owned())
                .or_default() += hours;
            t = stop;
        }
    }

    pub fn finish(
        mut self,
        verified_breaks: &[ChainBreak],
        period_digest: Hash,
        streams_checked: usize,
        events_in_period: u64,
    ) -> Report {
        self.approve_secs.sort_unstable();
        self.summary.median_secs_to_approve = self
            .approve_secs
            .get(self.approve_secs.len() / 2)
            .copied()
            .filter(|_| !self.approve_secs.is_empty());
        let mut top: Vec<(String, u64)> = self.requesters.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(5);
        self.summary.top_requesters = top;
        self.rows
            .sort_by(|a, b| a.requested_at.cmp(&b.requested_at).then(a.id.cmp(&b.id)));
        let mut findings: Vec<Finding> = verified_breaks.iter().map(Finding::from).collect();
        let verified = verified_breaks.is_empty() && self.tampered.is_empty();
        findings.extend(self.tampered);
        findings.extend(self.findings);
        self.catalog_changes
            .sort_by(|a, b| a.at.cmp(&b.at).then(a.hash.cmp(&b.hash)));
        Report {
            from: self.from,
            to: self.to,
            generated_at: self.now,
            verified,
            period_digest,
            streams_checked,
            events_in_period,
            rows: self.rows,
            summary: self.summary,
            findings,
            hours_by_day: self.hours_by_day,
            anchoring: self.anchoring,
            reviews: self.reviews,
            catalog_changes: self.catalog_changes,
            service_levels: self.stats.finish(),
        }
    }
}

/// The default period for a scheduled run: the `days` whole UTC days before `now`.
pub fn last_days(now: DateTime<Utc>, days: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now);
    (end - TimeDelta::days(i64::from(days)), end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{apply, decide, Command};
    use crate::review::ReviewItem;
    use crate::testkit::*;
    use crate::text::ReviewComment;
    use chrono::TimeZone;

    /// A db grant made at `at`, reviewed by carol with `verdict` if given.
    fn grant(n: u64, at: DateTime<Utc>, verdict: Option<Verdict>) -> ReviewItem {
        let c = catalog();
        let mut s = submit();
        s.id = RequestId::from_ulid(ulid::Ulid::from_parts(n, 1));
        let mut st = RequestState::default();
        let mut cmds = vec![submit_cmd(s), approve(bob()), granted()];
        if let Some(v) = verdict {
            cmds.push(Command::ReviewGrant {
                reviewer: carol(),
                verdict: v,
                comment: Some(ReviewComment::parse("checked the ticket").unwrap()),
                period: None,
            });
        }
        for cmd in cmds {
            let evs = decide(&st, &cmd, &c, at).unwrap();
            st = evs.iter().fold(st, apply);
        }
        ReviewItem::from_state(RequestId::from_ulid(ulid::Ulid::from_parts(n, 1)), &st).unwrap()
    }

    #[test]
    fn unreviewed_grants_are_findings_only_past_the_deadline_and_inappropriate_ones_always() {
        let nov = Period::parse("2026-11").unwrap();
        let within = crate::AccessDuration::parse("14d").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        let october = Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap();
        let items = [
            grant(1, at, None),
            grant(2, at, Some(Verdict::Appropriate)),
            grant(3, at, Some(Verdict::Inappropriate)),
            grant(4, october, None),
        ];
        let review = |now| {
            let mut r = PeriodReview::new(nov, within, now);
            for i in &items {
                r.add(i.clone());
            }
            r
        };
        let kinds = |fs: &[Finding]| -> Vec<String> {
            fs.iter()
                .map(|f| crate::tag::tag_of(f).unwrap().into_owned())
                .collect()
        };

        let before = review(Utc.with_ymd_and_hms(2026, 12, 14, 23, 0, 0).unwrap());
        let (cov, findings) = review_findings(&before);
        assert!(!cov.overdue);
        assert_eq!(kinds(&findings), ["grant_inappropriate"]);
        assert_eq!(
            cov.by_role["db"],
            Coverage {
                grants: 3,
                reviewed: 2,
                appropriate: 1,
                inappropriate: 1,
                unreviewed: 1
            },
            "October's grant is not November's"
        );

        let after = review(Utc.with_ymd_and_hms(2026, 12, 15, 0, 0, 1).unwrap());
        let (cov, findings) = review_findings(&after);
        assert!(cov.overdue);
        assert_eq!(
            kinds(&findings),
            ["grant_not_reviewed", "grant_inappropriate"]
        );
        let Finding::GrantInappropriate {
            reviewer, comment, ..
        } = &findings[1]
        else {
            panic!("{findings:?}");
        };
        assert_eq!(
            (reviewer.as_str(), comment.as_str()),
            ("carol", "checked the ticket")
        );
        let mut b = ReportBuilder::new(at, at, at);
        b.add_review(&after);
        let r = b.finish(&[], crate::Hash::genesis(), 0, 0);
        assert_eq!(r.reviews.len(), 1);
        assert_eq!(r.findings.len(), 2);
    }
}
