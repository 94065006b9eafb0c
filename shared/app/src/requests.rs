//! What people do through the API: ask, decide, extend, review, revoke, and look things up.

use super::service::{AppError, Loaded, Stint};
use super::view::RequestView;
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use std::collections::BTreeMap;
use stint_domain::effects::{plan_cancel, plan_extend};
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
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub role: Option<RoleName>,
    /// Only the caller's own requests.
    pub mine: bool,
    /// Only pending requests the caller may approve and has not approved yet.
    pub awaiting_me: bool,
    /// How many days back to look.
    pub days: u32,
}

pub const MAX_LIST_DAYS: u32 = 90;

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
        let command = Command::Extend {
            by: who.clone(),
            by_duration: by,
        };
        let st = self.load(id).await?.state;
        // IAM gets the new window (and the timer its new time) before Stint records it.
        let plan = plan_extend(id, &st, &command, &self.catalog, self.clock.now())?;
        self.run(id, plan).await?;
        self.load(id).await
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
        self.execute(id, &command).await?;
        self.load(id).await
    }

    pub async fn get(&self, id: RequestId) -> Result<Loaded, AppError> {
        let loaded = self.load(id).await?;
        if !loaded.exists() {
            return Err(stint_domain::Rejection::UnknownRequest.into());
        }
        Ok(loaded)
    }

    /// Lists requests with activity in the last `days`, newest first, read through the log index.
    pub async fn list(
        &self,
        who: &Identity,
        filter: &ListFilter,
    ) -> Result<Vec<RequestView>, AppError> {
        let now = self.clock.now();
        let days = filter.days.clamp(1, MAX_LIST_DAYS);
        let mut seen: BTreeMap<RequestId, ()> = BTreeMap::new();
        let mut log = self.store.read_log(
            now - TimeDelta::days(i64::from(days)),
            now + TimeDelta::seconds(1),
        );
        while let Some(ev) = log.try_next().await? {
            if let Some(id) = ev.stream.request_id() {
                seen.insert(id, ());
            }
        }
        let mut out = Vec::new();
        // Whole streams, so a request begun before the window still folds correctly.
        for id in seen.into_keys().rev() {
            let events = self.store.read_stream(&id.stream()).await?;
            let decoded = events
                .iter()
                .map(|e| Event::from_record(&e.record))
                .collect::<Result<Vec<_>, _>>()?;
            let state = RequestState::fold(&decoded);
            if self.matches(who, filter, &state) {
                out.push(RequestView::summary(id, state));
            }
        }
        Ok(out)
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
