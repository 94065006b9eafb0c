//! What people do through the API: ask, decide, extend, review, revoke, and look things up.

use super::service::{AppError, Loaded, Stint};
use super::view::RequestView;
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use std::collections::BTreeSet;
use stint_domain::effects::{plan_cancel, plan_extend};
use stint_domain::org::AccountId;
use stint_domain::request::check_account_list;
use stint_domain::Rejection;
use stint_domain::{
    AccessDuration, Command, Event, Identity, Justification, PrincipalArn, RequestId, RequestState,
    RevokeReason, RoleName, Scope, Source, Status, Submit, TicketRef,
};

/// A validated request for access, before it has an id.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub role: RoleName,
    pub scope: Option<Scope>,
    pub principal: PrincipalArn,
    pub duration: Option<AccessDuration>,
    pub justification: Justification,
    pub ticket: Option<TicketRef>,
    pub starts_at: Option<DateTime<Utc>>,
    pub break_glass: bool,
    pub source: Source,
    /// Several accounts, each granted `principal` with its account filled in; empty: the
    /// principal's own account only.
    pub accounts: Vec<AccountId>,
    /// Every account the role covers now (resolved here and recorded as the list asked for).
    pub all_accounts: bool,
}

/// Which requests to list, and which page.
#[derive(Debug, Clone)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub role: Option<RoleName>,
    /// Only the caller's own requests.
    pub mine: bool,
    /// Only pending requests the caller may approve and has not approved yet.
    pub awaiting_me: bool,
    /// How many days back to look.
    pub days: u32,
    /// At most this many requests on a page.
    pub limit: usize,
    /// Where the previous page ended; none: the first page.
    pub cursor: Option<ListCursor>,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            status: None,
            role: None,
            mine: false,
            awaiting_me: false,
            days: DEFAULT_LIST_DAYS,
            limit: DEFAULT_LIST_LIMIT,
            cursor: None,
        }
    }
}

pub const MAX_LIST_DAYS: u32 = 90;
pub const DEFAULT_LIST_DAYS: u32 = 14;
pub const DEFAULT_LIST_LIMIT: usize = 50;
pub const MAX_LIST_LIMIT: usize = 200;

/// Where a page of a list ended. Later pages keep the first page's time window, so a request
/// that shows up on one page never shows up on another (ids only go down from page to page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The last request of the previous page: this page starts below it.
    pub after: RequestId,
}

/// One page of a list, and where the next one starts if there is one.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub requests: Vec<RequestView>,
    pub next_cursor: Option<ListCursor>,
}

/// What [`Stint::act_on`] did: the request after it, and whether this call appended anything.
#[derive(Debug, Clone)]
pub struct Acted {
    pub loaded: Loaded,
    pub appended: bool,
}

impl Stint {
    pub async fn submit(&self, who: &Identity, new: NewRequest) -> Result<Loaded, AppError> {
        self.submit_with_id(RequestId::new(), who, new).await
    }

    /// Submits under a given id: alert handlers derive it from the incident, so a redelivered
    /// alert finds its request instead of making another.
    pub async fn submit_with_id(
        &self,
        id: RequestId,
        who: &Identity,
        new: NewRequest,
    ) -> Result<Loaded, AppError> {
        // Which accounts an OU holds is the organisation's answer, read here; the rule is the
        // domain's. A duplicate submit of an existing request is the decider's to answer.
        // Someone who may not request the role learns nothing about its accounts: the
        // decider refuses them first.
        let names_accounts = self.catalog.role(&new.role).is_some_and(|r| {
            !r.accounts.is_empty() && (r.may_request(who) || new.source != Source::Person)
        });
        let mut accounts = new.accounts;
        if new.all_accounts {
            if !accounts.is_empty() {
                return Err(Rejection::Invalid(
                    "name accounts or ask for all of the role's, not both".into(),
                )
                .into());
            }
            if new.source != Source::Person {
                return Err(Rejection::Invalid(
                    "only a person may ask for every account of a role".into(),
                )
                .into());
            }
            if names_accounts {
                accounts = self.covered_accounts(&new.role).await?;
            } else if self
                .catalog
                .role(&new.role)
                .is_some_and(|r| r.may_request(who))
            {
                return Err(Rejection::Invalid(format!(
                    "role {} names no accounts, so it has no \"every account\"",
                    new.role
                ))
                .into());
            }
        }
        if names_accounts && !self.load(id).await?.exists() {
            // The list's shape first (so a long list costs no lookups), then each account.
            check_account_list(&accounts)?;
            if accounts.is_empty() {
                self.check_account(&new.role, &new.principal).await?;
            }
            for a in &accounts {
                self.check_account(&new.role, &new.principal.in_account(a))
                    .await?;
            }
        }
        let submit = Submit {
            id,
            requester: who.clone(),
            role: new.role,
            scope: new.scope,
            principal: new.principal,
            duration: new.duration,
            justification: new.justification,
            ticket: new.ticket,
            starts_at: new.starts_at,
            source: new.source,
            break_glass: new.break_glass,
            accounts,
        };
        self.execute(id, &Command::Submit(Box::new(submit))).await?;
        self.load(id).await
    }

    pub async fn approve(
        &self,
        id: RequestId,
        who: &Identity,
        comment: Option<String>,
    ) -> Result<Loaded, AppError> {
        self.act(
            id,
            Command::Approve {
                approver: who.clone(),
                comment,
            },
        )
        .await
    }

    pub async fn deny(
        &self,
        id: RequestId,
        who: &Identity,
        reason: Option<String>,
    ) -> Result<Loaded, AppError> {
        self.act(
            id,
            Command::Deny {
                approver: who.clone(),
                reason,
            },
        )
        .await
    }

    pub async fn cancel(&self, id: RequestId, who: &Identity) -> Result<Loaded, AppError> {
        let command = Command::Cancel { by: who.clone() };
        let st = self.load(id).await?.state;
        // A scheduled grant called off before its start also loses its start timer.
        let plan = plan_cancel(id, &st, &command, &self.catalog, self.clock.now())?;
        self.run(id, plan).await?;
        self.load(id).await
    }

    pub async fn extend(
        &self,
        id: RequestId,
        who: &Identity,
        by: AccessDuration,
    ) -> Result<Loaded, AppError> {
        self.extend_from(id, who, by, None).await
    }

    /// [`Stint::extend`], only from the expiry `only_from` when given: asked twice from the
    /// same expiry (a Slack button clicked twice, on any instance), it extends once. The check
    /// is the decider's, so it holds under concurrent appends too.
    pub async fn extend_from(
        &self,
        id: RequestId,
        who: &Identity,
        by: AccessDuration,
        only_from: Option<DateTime<Utc>>,
    ) -> Result<Loaded, AppError> {
        // Recorded as approved; the grant function (the one with IAM rights to put policies)
        // takes it to IAM on `ExtensionApproved`, then records `AccessExtended`.
        let command = Command::Extend {
            by: who.clone(),
            by_duration: by,
            only_from,
        };
        self.act(id, command).await
    }

    /// Takes an approved extension to IAM: the policy with the new window, the expiry timer,
    /// then `AccessExtended`. A redelivery finds it applied and does nothing.
    ///
    /// Each account the grant holds is checked against the organisation again first: one that
    /// left the role (moved out of its OU) is revoked, not extended.
    pub async fn apply_extension(&self, id: RequestId) -> Result<Loaded, AppError> {
        let mut st = self.load(id).await?.state;
        let plan = plan_extend(id, &st, &self.catalog, self.clock.now())?;
        if plan.is_empty() {
            return self.load(id).await;
        }
        let left = self.accounts_left(&st).await?;
        if !left.is_empty() {
            tracing::warn!(request_id = %id, accounts = ?left, "accounts left the role: revoked, not extended");
            self.revoke_accounts(id, RevokeReason::AccountRemoved, None, Some(&left))
                .await?;
            st = self.load(id).await?.state;
        }
        let plan = plan_extend(id, &st, &self.catalog, self.clock.now())?;
        self.run(id, plan).await?;
        self.load(id).await
    }

    /// The accounts holding this request's grant that its role no longer covers.
    async fn accounts_left(&self, st: &RequestState) -> Result<Vec<AccountId>, AppError> {
        let Some(req) = st.request.as_ref() else {
            return Ok(vec![]);
        };
        let held: Vec<(Option<AccountId>, PrincipalArn)> = if req.is_multi() {
            st.active_accounts()
                .into_iter()
                .map(|(a, p)| (Some(a), p))
                .collect()
        } else {
            vec![(None, req.principal.clone())]
        };
        let mut left = Vec::new();
        for (account, principal) in held {
            match self.check_account(&req.role, &principal).await {
                Ok(()) => {}
                // A single-account request's account is its principal's (always 12 digits).
                Err(AppError::Rejected(_)) => {
                    left.extend(account.or_else(|| AccountId::parse(principal.account()).ok()))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(left)
    }

    pub async fn review_break_glass(
        &self,
        id: RequestId,
        who: &Identity,
        note: Option<String>,
    ) -> Result<Loaded, AppError> {
        self.act(
            id,
            Command::ReviewBreakGlass {
                reviewer: who.clone(),
                note,
            },
        )
        .await
    }

    /// A manual revoke by a person: the requester, an approver of the role or an admin.
    pub async fn revoke_by(&self, id: RequestId, who: &Identity) -> Result<Loaded, AppError> {
        self.revoke(id, RevokeReason::Manual, Some(who.clone()))
            .await?;
        self.load(id).await
    }

    async fn act(&self, id: RequestId, command: Command) -> Result<Loaded, AppError> {
        self.act_on(id, command).await.map(|a| a.loaded)
    }

    /// A person's decision (approve, deny, extend: the commands the methods above run), and
    /// whether this call recorded it. False when the decider found it made already, even by a
    /// concurrent call: a chat that relays clicks stays quiet on the repeats.
    pub async fn act_on(&self, id: RequestId, command: Command) -> Result<Acted, AppError> {
        let out = self.execute(id, &command).await?;
        Ok(Acted {
            loaded: self.load(id).await?,
            appended: !out.appended.is_empty(),
        })
    }

    /// A request, with no check of who asks: for callers that decide visibility themselves
    /// (a CI job sees only its own). People go through [`Stint::show`].
    pub async fn get(&self, id: RequestId) -> Result<Loaded, AppError> {
        let loaded = self.load(id).await?;
        if !loaded.exists() {
            return Err(stint_domain::Rejection::UnknownRequest.into());
        }
        Ok(loaded)
    }

    /// A request as `who` may see it: one they may not see is as unknown as one that does not
    /// exist (the same 404), so its existence does not leak.
    pub async fn show(&self, who: &Identity, id: RequestId) -> Result<Loaded, AppError> {
        let loaded = self.get(id).await?;
        if !self.may_see(who, &loaded.state) {
            return Err(stint_domain::Rejection::UnknownRequest.into());
        }
        Ok(loaded)
    }

    /// Who may read a request: its requester, the role's approvers, admins and auditors.
    pub fn may_see(&self, who: &Identity, st: &RequestState) -> bool {
        let Some(req) = st.request.as_ref() else {
            return false;
        };
        req.requester == who.user
            || self.catalog.is_auditor(who) // admins are auditors too
            || self
                .catalog
                .role(&req.role)
                .is_some_and(|r| r.is_approver(who))
    }

    /// One page of the requests `who` may see with activity in the last `days`, in descending
    /// id order (newest first for ULIDs), read through the log index for that window only.
    pub async fn list(&self, who: &Identity, filter: &ListFilter) -> Result<ListPage, AppError> {
        let now = self.clock.now();
        let span = TimeDelta::days(i64::from(MAX_LIST_DAYS));
        let (from, to, after) = match filter.cursor {
            // A cursor comes back from the caller: its window is bounded again, so no cursor
            // reads more than MAX_LIST_DAYS or past now.
            Some(c) => {
                let to = c.to.min(now + TimeDelta::seconds(1));
                (c.from.max(to - span), to, Some(c.after))
            }
            None => {
                let days = filter.days.clamp(1, MAX_LIST_DAYS);
                (
                    now - TimeDelta::days(i64::from(days)),
                    now + TimeDelta::seconds(1),
                    None,
                )
            }
        };
        let limit = filter.limit.clamp(1, MAX_LIST_LIMIT);
        let mut seen: BTreeSet<RequestId> = BTreeSet::new();
        if from < to {
            let mut log = self.store.read_log(from, to);
            while let Some(ev) = log.try_next().await? {
                if let Some(id) = ev.stream.request_id() {
                    if after.is_none_or(|a| id < a) {
                        seen.insert(id);
                    }
                }
            }
        }
        let mut out = Vec::new();
        let mut more = false;
        // Whole streams, so a request begun before the window still folds correctly; only as
        // many as it takes to fill the page and learn whether another follows.
        for id in seen.into_iter().rev() {
            let events = self.store.read_stream(&id.stream()).await?;
            let decoded = events
                .iter()
                .map(|e| Event::from_record(&e.record))
                .collect::<Result<Vec<_>, _>>()?;
            let state = RequestState::fold(&decoded);
            if self.may_see(who, &state) && self.matches(who, filter, &state) {
                if out.len() == limit {
                    more = true;
                    break;
                }
                out.push(RequestView::summary(id, state));
            }
        }
        let next_cursor = match out.last() {
            Some(last) if more => Some(ListCursor {
                from,
                to,
                after: last.id,
            }),
            _ => None,
        };
        Ok(ListPage {
            requests: out,
            next_cursor,
        })
    }

    fn matches(&self, who: &Identity, f: &ListFilter, st: &RequestState) -> bool {
        let Some(req) = st.request.as_ref() else {
            return false;
        };
        if f.status.is_some_and(|s| s != st.status)
            || f.role.as_ref().is_some_and(|r| *r != req.role)
        {
            return false;
        }
        if f.mine && req.requester != who.user {
            return false;
        }
        if f.awaiting_me {
            let approver = self
                .catalog
                .role(&req.role)
                .is_some_and(|r| r.is_approver(who));
            return st.status == Status::Pending
                && approver
                && req.requester != who.user
                && !st.approvals.contains(&who.user);
        }
        true
    }
}
