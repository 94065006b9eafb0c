//! Access reviews: a period's grants read back from the log with their review decisions, for
//! reviewers (`GET /reviews`), the report, reminders and evidence; and the review itself.

use super::service::{AppError, Loaded, Stint};
use crate::ports::{EventStore, StoreError};
use futures::TryStreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use stint_domain::log::{verify_stream, ChainBreak};
use stint_domain::review::{Coverage, PeriodReview, ReviewItem};
use stint_domain::{
    AccessDuration, Command, Event, Identity, Period, RequestId, RequestState, ReviewComment,
    RoleName, Verdict,
};

/// A period's grants as read, with any stream that failed its chain or could not be read.
#[derive(Debug, Clone)]
pub struct PeriodGrants {
    pub review: PeriodReview,
    /// Broken or unreadable streams: a review read from them cannot be trusted, so they are
    /// named rather than dropped. An undecodable stream's grant is not in `review`.
    pub broken: Vec<ChainBreak>,
}

/// Every grant made in `period` (by its `AccessGranted` time), each stream read whole so the
/// review decided after the period is in it, verified, and kept when `keep` says so.
pub async fn period_grants(
    store: &dyn EventStore,
    period: Period,
    within: AccessDuration,
    now: chrono::DateTime<chrono::Utc>,
    keep: impl Fn(&RequestState) -> bool,
) -> Result<PeriodGrants, StoreError> {
    let mut ids = BTreeSet::new();
    let mut log = store.read_log(period.start(), period.end());
    while let Some(ev) = log.try_next().await? {
        if ev.record.event_type == "AccessGranted" {
            if let Some(id) = ev.stream.request_id() {
                ids.insert(id);
            }
        }
    }
    let mut review = PeriodReview::new(period, within, now);
    let mut broken = Vec::new();
    for id in ids {
        let events = store.read_stream(&id.stream()).await?;
        if let Err(b) = verify_stream(&events) {
            broken.push(b);
        }
        let mut state = RequestState::default();
        let mut readable = true;
        for e in &events {
            match Event::from_record(&e.record) {
                Ok(ev) => state = stint_domain::apply(state, &ev),
                Err(err) => {
                    if !broken.iter().any(|b| b.stream == e.stream.as_str()) {
                        broken.push(ChainBreak {
                            stream: e.stream.to_string(),
                            version: e.version,
                            event_id: e.record.event_id.clone(),
                            problem: format!("cannot be read: {}", err.reason),
                        });
                    }
                    readable = false;
                    break;
                }
            }
        }
        if !readable || !keep(&state) {
            continue;
        }
        if let Some(item) = ReviewItem::from_state(id, &state) {
            review.add(item);
        }
    }
    Ok(PeriodGrants {
        review: review.sorted(),
        broken,
    })
}

/// One grant as a caller sees it in the listing: whether they may review it is theirs alone.
#[derive(Debug, Clone, Serialize)]
pub struct ListedGrant {
    #[serde(flatten)]
    pub item: ReviewItem,
    /// The caller is an approver of the role and not the grantee, and it is not reviewed yet.
    pub may_review: bool,
}

/// `GET /reviews`: a period's grants the caller may see, their reviews, and coverage per role.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewListing {
    pub period: Period,
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    pub deadline: chrono::DateTime<chrono::Utc>,
    pub overdue: bool,
    pub coverage: BTreeMap<RoleName, Coverage>,
    pub grants: Vec<ListedGrant>,
    /// Streams whose chain is broken or unreadable; empty when everything verified.
    pub broken: Vec<ChainBreak>,
}

impl Stint {
    /// The grants of `period` that `who` may see (their own, their roles', or all for admins and
    /// auditors), with each one's review and whether `who` may review it.
    pub async fn reviews(&self, who: &Identity, period: Period) -> Result<ReviewListing, AppError> {
        let within = self.catalog.settings.review_within;
        let now = self.clock.now();
        let got = period_grants(self.store.as_ref(), period, within, now, |st| {
            self.may_see(who, st)
        })
        .await?;
        let r = got.review;
        let grants = r
            .grants
            .into_iter()
            .map(|item| {
                let approver = self
                    .catalog
                    .role(&item.role)
                    .is_some_and(|role| role.is_approver(who));
                let may_review = approver && item.requester != who.user && item.review.is_none();
                ListedGrant { item, may_review }
            })
            .collect();
        Ok(ReviewListing {
            period: r.period,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            deadline: r.deadline,
            overdue: r.overdue,
            coverage: r.coverage,
            grants,
            broken: got.broken,
        })
    }

    /// Records `who`'s review of the grant of request `id`. `period`, when the caller names
    /// one, must be the grant's; a repeat of the same review changes nothing.
    pub async fn review_grant(
        &self,
        id: RequestId,
        who: &Identity,
        verdict: Verdict,
        comment: Option<ReviewComment>,
        period: Option<Period>,
    ) -> Result<Loaded, AppError> {
        let command = Command::ReviewGrant {
            reviewer: who.clone(),
            verdict,
            comment,
            period,
        };
        let out = self.execute(id, &command).await?;
        if let Some(r) = out
            .state
            .review
            .as_ref()
            .filter(|_| !out.appended.is_empty())
        {
            tracing::info!(request_id = %id, reviewer = %r.reviewer, verdict = %r.verdict, period = %r.period, "grant reviewed");
        }
        self.load(id).await
    }
}
