//! Revoking: on expiry (timer), by hand (API), on incident resolution, and by the sweep that
//! catches anything still active past its expiry. A repeated revoke is a no-op.

use super::service::{AppError, Ran, Stint};
use crate::execute::execute;
use crate::identity_center::IdentityCenterGrants;
use crate::ports::{AssignmentRow, SweepMemory, TimerKind};
use crate::telemetry;
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use stint_domain::drift::{
    is_orphan, request_of, AssignmentDrift, Drift, DriftEvent, RecordAssignmentRemoval,
    RecordRemoval,
};
use stint_domain::effects::{plan_revoke, plan_revoke_each, sweep_action, SweepAction};
use stint_domain::identity_center::PermissionSetArn;
use stint_domain::metrics::{observe_drift, Labels};
use stint_domain::org::AccountId;
use stint_domain::sweep::{next_cursor, plan_read, settled, ReadPlan, SweepSchedule};
use stint_domain::{
    Catalog, Command, Envelope, Identity, PrincipalArn, RequestId, RequestState, RevokeReason,
    RoleName, Status,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked {
        lag_seconds: i64,
    },
    /// Nothing to do: already revoked, or a timer from before an extension.
    NoOp(Status),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub streams_seen: usize,
    pub revoked: usize,
    pub lapsed: usize,
    pub granted: usize,
    pub failed: usize,
    /// `stint-*` policies found on known principals with no grant to hold them, removed.
    pub orphans_removed: usize,
    /// Whether this run read the whole look-back window (no cursor, or once a day).
    pub full_read: bool,
    pub events_read: usize,
    /// Requests left unsettled, for the next run to load.
    pub open: usize,
    /// Whether the cursor for the next run was saved.
    pub remembered: bool,
    /// Assignments of Stint-managed permission sets with no active grant to hold them, removed.
    pub orphan_assignments_removed: usize,
    /// Overdue Identity Center grants this process cannot make (it looks no users up: the
    /// revoke function), handed to the grant function by a start timer a minute ahead.
    pub handed_to_grant: usize,
}

impl Stint {
    /// An Identity Center grant this process cannot make: it looks no users up (the revoke
    /// function). Trying would fail the request for good, and could race a grant under way.
    fn assigns_elsewhere(&self, st: &RequestState) -> bool {
        let ic_role = st
            .request
            .as_ref()
            .and_then(|r| self.catalog.role(&r.role))
            .and_then(|r| r.identity_center())
            .is_some();
        ic_role
            && self
                .identity_center
                .as_ref()
                .is_some_and(|ic| !ic.can_assign())
    }

    pub async fn revoke(
        &self,
        id: RequestId,
        reason: RevokeReason,
        by: Option<Identity>,
    ) -> Result<RevokeOutcome, AppError> {
        self.revoke_accounts(id, reason, by, None).await
    }

    /// [`Stint::revoke`], for a request naming several accounts limited to `only` when given
    /// (an extension ending the accounts that left the role). Each account's delete and record
    /// run on their own: one that fails is recorded for its account, the others still end,
    /// and the error is returned afterwards so the trigger delivers again.
    pub async fn revoke_accounts(
        &self,
        id: RequestId,
        reason: RevokeReason,
        by: Option<Identity>,
        only: Option<&[AccountId]>,
    ) -> Result<RevokeOutcome, AppError> {
        let st = self.load(id).await?.state;
        let now = self.clock.now();
        if st.is_multi() {
            let plans = plan_revoke_each(id, &st, reason, by.clone(), &self.catalog, now, only)?;
            let mut outcome = self.revoke_each(id, &st, plans).await?;
            // An account whose grant was recorded while this revoke ran is ended too: once this
            // revoke is recorded no further account is granted (the decider), so this settles.
            for _ in 0..3 {
                let now_st = self.load(id).await?.state;
                if only.is_some() || now_st.active_accounts().is_empty() {
                    break;
                }
                let plans =
                    plan_revoke_each(id, &now_st, reason, by.clone(), &self.catalog, now, only)?;
                if let RevokeOutcome::Revoked { lag_seconds } =
                    self.revoke_each(id, &now_st, plans).await?
                {
                    outcome = RevokeOutcome::Revoked { lag_seconds };
                }
            }
            return Ok(outcome);
        }
        let plan = plan_revoke(id, &st, reason, by, &self.catalog, now)?;
        let revoking = plan.then.is_some();
        let Ran::Done(out) = self.run(id, plan).await? else {
            return Ok(RevokeOutcome::NoOp(st.status));
        };
        Ok(match out.state.revocation {
            Some(r) if revoking && !out.appended.is_empty() => RevokeOutcome::Revoked {
                lag_seconds: r.lag_seconds,
            },
            _ => RevokeOutcome::NoOp(out.state.status),
        })
    }

    async fn revoke_each(
        &self,
        id: RequestId,
        st: &stint_domain::RequestState,
        plans: Vec<stint_domain::effects::Plan>,
    ) -> Result<RevokeOutcome, AppError> {
        let mut first_error = None;
        let mut revoked = false;
        let mut status = st.status;
        for plan in plans {
            // The last plan clears the request's timers: only once every account has ended.
            let clears_timers = plan.account.is_none() && plan.then.is_none();
            if clears_timers && self.load(id).await?.state.status != Status::Revoked {
                continue;
            }
            let account = plan.account.clone();
            let records = plan.then.is_some();
            match self.run(id, plan).await {
                Ok(Ran::Done(out)) => {
                    revoked |= records && !out.appended.is_empty();
                    status = out.state.status;
                }
                Ok(Ran::Failed(_)) => {}
                Err(e) => {
                    let account = account.as_ref().map(|a| a.as_str());
                    tracing::error!(request_id = %id, ?account, error = %e, "revoke failed in account");
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let lag = |g: &stint_domain::request::Grant| {
            (self.clock.now() - g.expires_at).num_seconds().max(0)
        };
        Ok(match st.grant.as_ref() {
            Some(g) if revoked => RevokeOutcome::Revoked {
                lag_seconds: lag(g),
            },
            None if revoked => RevokeOutcome::Revoked { lag_seconds: 0 },
            _ => RevokeOutcome::NoOp(status),
        })
    }

    /// Removes the `stint-*` policies on `principal` that no grant holds (a failed revoke, a
    /// policy put by hand, a store that lost its request), recording each on `drift#<principal>`.
    pub async fn remove_orphans(&self, principal: &PrincipalArn) -> Result<usize, AppError> {
        let access = self
            .access
            .with_session("stint-sweep")
            .unwrap_or_else(|| std::sync::Arc::clone(&self.access));
        let policies = self
            .with_retry("list role policies", || access.inline_policies(principal))
            .await?;
        let mut removed = 0;
        for policy in policies.iter().filter(|p| p.name.starts_with("stint-")) {
            let request_id = request_of(&policy.name);
            let state = match request_id {
                Some(id) => Some(self.load(id).await?.state),
                None => None,
            };
            if !is_orphan(&policy.name, state.as_ref()) {
                continue;
            }
            self.with_retry("delete orphan policy", || {
                access.delete_policy(principal, &policy.name)
            })
            .await?;
            let labels = state.as_ref().map_or_else(Labels::unknown, Labels::of);
            let record = RecordRemoval {
                principal: principal.clone(),
                policy_name: policy.name.clone(),
                request_id,
                request_status: state.filter(|s| s.request.is_some()).map(|s| s.status),
            };
            self.record_drift::<Drift>(stint_domain::streams::drift(principal), &record, &labels)
                .await?;
            tracing::warn!(%principal, policy = %policy.name, "orphaned policy removed");
            removed += 1;
        }
        Ok(removed)
    }

    /// Why this instance cannot end the request's access itself, if it cannot: a grant in an
    /// account its provider does not reach, or an Identity Center assignment without the
    /// Identity Center clients (the interactions function has neither). Known before any call,
    /// so a caller can refuse and append nothing rather than record a `RevokeFailed`.
    pub fn cannot_end_here(&self, st: &RequestState) -> Option<String> {
        let principals = if st.is_multi() {
            st.active_accounts().into_iter().map(|(_, p)| p).collect()
        } else {
            st.request
                .as_ref()
                .map(|r| vec![r.principal.clone()])
                .unwrap_or_default()
        };
        if let Some(p) = principals.iter().find(|p| !self.access.reaches(p)) {
            return Some(format!(
                "this grant is in account {}, which this channel cannot reach: end it with \
                 `stint revoke` or in the console",
                p.account()
            ));
        }
        let assigned = st.grant.as_ref().is_some_and(|g| g.assignment.is_some());
        (assigned && self.identity_center.is_none()).then(|| {
            "this grant is an Identity Center assignment, which this channel cannot remove: end \
             it with `stint revoke` or in the console"
                .to_owned()
        })
    }

    /// Records one removal the sweep made on its drift stream, and counts it as a repair (a
    /// redelivered removal appends nothing, so counts nothing).
    async fn record_drift<D>(
        &self,
        stream: Result<stint_domain::StreamId, String>,
        record: &D::Command,
        labels: &Labels,
    ) -> Result<(), AppError>
    where
        D: stint_domain::Decider<Body = DriftEvent, Rejection = std::convert::Infallible>,
        for<'a> D::Context<'a>: From<DateTime<Utc>>,
    {
        let stream =
            stream.map_err(|e| AppError::Store(crate::ports::StoreError::InvalidAppend(e)))?;
        let done = execute::<D>(
            self.store.as_ref(),
            self.clock.as_ref(),
            &self.retry.conflicts,
            &stream,
            record,
            |now| now.into(),
        )
        .await?;
        let appended: Vec<_> = done
            .appended
            .iter()
            .filter_map(|e| Envelope::<DriftEvent>::from_record(&e.record).ok())
            .collect();
        telemetry::emit(observe_drift(labels, &appended));
        Ok(())
    }

    /// Whether the sweep removes Identity Center assignments no grant holds.
    fn manages_assignments(&self) -> bool {
        self.identity_center.is_some()
            && self
                .catalog
                .roles
                .values()
                .any(|r| r.identity_center().is_some())
    }

    /// How far back the sweep looks: long enough to see any grant that could still be active.
    pub fn sweep_lookback(&self) -> TimeDelta {
        let longest = self
            .catalog
            .roles
            .values()
            .map(|r| r.max_total().to_chrono())
            .max()
            .unwrap_or_default();
        let s = &self.catalog.settings;
        longest + s.max_start_ahead.to_chrono() + s.pending_timeout.to_chrono() + TimeDelta::days(1)
    }

    /// Revokes what is past expiry or whose incident has ended, lapses what waited too long,
    /// and grants what was approved but never granted (a lost bus event), reading the whole
    /// look-back window. Only streams whose last event leaves work are loaded.
    pub async fn sweep(&self) -> Result<SweepReport, AppError> {
        self.sweep_with(None).await
    }

    /// The sweep, remembering between runs through `memory`: a run reads only the log since
    /// the last one and the requests it left open, and the whole window once a day (see
    /// `stint_domain::sweep`). Without a memory, or with one that fails, it reads everything.
    pub async fn sweep_with(
        &self,
        memory: Option<&dyn SweepMemory>,
    ) -> Result<SweepReport, AppError> {
        let now = self.clock.now();
        let schedule = SweepSchedule::new(self.sweep_lookback());
        let prev = match memory {
            Some(m) => m.load().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "sweep cursor unreadable; reading the whole window");
                None
            }),
            None => None,
        };
        // Removing an Identity Center assignment as orphaned needs every active grant loaded:
        // a cursor that lost one (or was made to) would end that grant early. So a catalog
        // with permission-set roles reads the whole window every run.
        let prev = prev.filter(|_| !self.manages_assignments());
        let plan = plan_read(prev.as_ref(), now, &schedule);
        // The latest event of each stream, by version: events of one instant may sort either way.
        let mut last: HashMap<RequestId, (u64, String)> = HashMap::new();
        let mut requested: BTreeMap<PrincipalArn, DateTime<Utc>> = BTreeMap::new();
        // A request naming several accounts ends with its request-level status, never with one
        // account's failure or revoke: those are not last words.
        let of_account =
            |ev: &stint_domain::StoredEvent| ev.record.payload.get("account").is_some();
        let mut log = self
            .store
            .read_log(plan.from(), now + TimeDelta::seconds(1));
        let mut events_read = 0;
        let mut assignments = Assignments::default();
        while let Some(ev) = log.try_next().await? {
            events_read += 1;
            if ev.record.event_type == "AccessRequested" {
                if let Some(p) = ev.record.payload.get("principal").and_then(|p| p.as_str()) {
                    let role = ev.record.payload.get("role").and_then(|r| r.as_str());
                    assignments.requested(&self.catalog, role, p);
                    // An Identity Center role's principal only names the account: Stint puts
                    // no IAM policy there, so it has no policies to check (and often no role).
                    let identity_center = role
                        .and_then(|r| RoleName::parse(r).ok())
                        .and_then(|r| self.catalog.role(&r))
                        .is_some_and(|r| r.identity_center().is_some());
                    let p = PrincipalArn::parse(p).ok().filter(|_| !identity_center);
                    let accounts = ev
                        .record
                        .payload
                        .get("accounts")
                        .and_then(|a| serde_json::from_value::<Vec<AccountId>>(a.clone()).ok());
                    // A request over several accounts names its principal once per account.
                    let each = match (p.as_ref(), accounts) {
                        (Some(p), Some(accounts)) => {
                            accounts.iter().map(|a| p.in_account(a)).collect()
                        }
                        _ => vec![],
                    };
                    for p in each.into_iter().chain(p) {
                        let at = requested.entry(p).or_insert(ev.record.occurred_at);
                        *at = (*at).max(ev.record.occurred_at);
                    }
                }
            }
            if let Some(id) = ev.stream.request_id() {
                let entry = last.entry(id).or_insert((0, String::new()));
                if ev.version > entry.0 {
                    let ty = if of_account(&ev) {
                        format!("{}#account", ev.record.event_type)
                    } else {
                        ev.record.event_type
                    };
                    *entry = (ev.version, ty);
                }
            }
        }
        // Requests left open whose last event is older than this read: loaded all the same.
        if let (ReadPlan::Since { .. }, Some(p)) = (&plan, &prev) {
            for id in &p.open {
                last.entry(*id).or_insert((0, String::new()));
            }
        }
        let mut report = SweepReport {
            streams_seen: last.len(),
            full_read: plan.is_full(),
            events_read,
            ..SweepReport::default()
        };
        let terminal = [
            "AccessRevoked",
            "AccessDenied",
            "RequestCancelled",
            "RequestLapsed",
            "GrantFailed",
        ];
        let mut open = BTreeSet::new();
        for (id, (_, last_type)) in last {
            if terminal.contains(&last_type.as_str()) {
                continue;
            }
            let st = self.load(id).await?.state;
            if !settled(st.status) {
                open.insert(id);
            }
            assignments.note(&self.catalog, &st);
            let revoked = |o: RevokeOutcome| matches!(o, RevokeOutcome::Revoked { .. }) as usize;
            let result = match sweep_action(&st, &self.catalog, now) {
                SweepAction::Revoke => self
                    .revoke(id, RevokeReason::Sweep, None)
                    .await
                    .map(|o| report.revoked += revoked(o)),
                SweepAction::CloseIncident => self
                    .close_incident_access(id)
                    .await
                    .map(|o| report.revoked += revoked(o)),
                SweepAction::ApplyExtension => self.apply_extension(id).await.map(|_| ()),
                SweepAction::Lapse => self
                    .execute(id, &Command::Lapse)
                    .await
                    .map(|o| report.lapsed += (!o.appended.is_empty()) as usize),
                SweepAction::Grant if self.assigns_elsewhere(&st) => self
                    .timers
                    .set(id, TimerKind::Start, now + chrono::Duration::minutes(1))
                    .await
                    .map_err(AppError::from)
                    .map(|()| {
                        tracing::warn!(request_id = %id, "overdue Identity Center grant handed to the grant function");
                        report.handed_to_grant += 1;
                    }),
                SweepAction::Grant => self.grant(id).await.map(|o| {
                    report.granted += o.granted() as usize;
                }),
                SweepAction::Nothing => Ok(()),
            };
            if let Err(e) = result {
                tracing::error!(request_id = %id, error = %e, "sweep could not settle request");
                report.failed += 1;
            }
        }
        let next = next_cursor(prev.as_ref(), &plan, now, &schedule, open, requested);
        report.open = next.open.len();
        for principal in next.principals.keys() {
            match self.remove_orphans(principal).await {
                Ok(n) => report.orphans_removed += n,
                Err(e) => {
                    tracing::error!(%principal, error = %e, "sweep could not check the principal's policies");
                    report.failed += 1;
                }
            }
        }
        if let Some(ic) = self.identity_center.clone() {
            match self.remove_orphan_assignments(&ic, &assignments).await {
                Ok(n) => report.orphan_assignments_removed += n,
                Err(e) => {
                    tracing::error!(error = %e, "sweep could not check Identity Center assignments");
                    report.failed += 1;
                }
            }
        }
        if let Some(m) = memory {
            match m.save(&next).await {
                Ok(()) => report.remembered = true,
                Err(e) => {
                    tracing::error!(error = %e, "sweep cursor not saved; the next run reads from the last one")
                }
            }
        }
        tracing::info!(?report, "sweep done");
        Ok(report)
    }
}

/// What the sweep knows about Identity Center grants: the assignments active grants hold,
/// the permission sets and accounts a grant may be making right now, and every account a
/// request of a Stint-managed permission set named.
#[derive(Debug, Default)]
struct Assignments {
    held: BTreeSet<(PermissionSetArn, String, String)>,
    in_flight: BTreeSet<(PermissionSetArn, String)>,
    accounts: BTreeMap<PermissionSetArn, BTreeSet<String>>,
}

impl Assignments {
    fn requested(&mut self, catalog: &Catalog, role: Option<&str>, principal: &str) {
        let ps = role
            .and_then(|r| RoleName::parse(r).ok())
            .and_then(|r| catalog.role(&r).and_then(|r| r.identity_center()).cloned());
        if let (Some(ps), Ok(p)) = (ps, PrincipalArn::parse(principal)) {
            self.accounts
                .entry(ps)
                .or_default()
                .insert(p.account().to_owned());
        }
    }

    fn note(&mut self, catalog: &Catalog, st: &RequestState) {
        if let Some(a) = st.grant.as_ref().and_then(|g| g.assignment.as_ref()) {
            if st.status == Status::Active {
                self.held.insert((
                    a.permission_set.clone(),
                    a.account.clone(),
                    a.principal_id.clone(),
                ));
            }
        }
        // An approved grant may be between its assignment and its record: its permission set
        // in its account is left alone until the next sweep.
        if st.status == Status::Approved {
            if let Some(req) = st.request.as_ref() {
                if let Some(ps) = catalog.role(&req.role).and_then(|r| r.identity_center()) {
                    self.in_flight
                        .insert((ps.clone(), req.principal.account().to_owned()));
                }
            }
        }
    }

    fn holds(&self, ps: &PermissionSetArn, account: &str, row: &AssignmentRow) -> bool {
        row.principal_type == "USER"
            && self
                .held
                .contains(&(ps.clone(), account.to_owned(), row.principal_id.clone()))
    }
}

impl Stint {
    /// Removes every assignment of a permission set the catalog manages that no active grant
    /// holds, recording each on `drift#<permission set>#<account>`. Looks in the accounts the
    /// set is provisioned to and every account a request for it named.
    async fn remove_orphan_assignments(
        &self,
        ic: &IdentityCenterGrants,
        known: &Assignments,
    ) -> Result<usize, AppError> {
        let managed: BTreeSet<&PermissionSetArn> = self
            .catalog
            .roles
            .values()
            .filter_map(|r| r.identity_center())
            .filter(|ps| ps.instance_arn() == ic.port.instance_arn())
            .collect();
        let mut removed = 0;
        for ps in managed {
            let mut accounts: BTreeSet<String> = self
                .with_retry("list provisioned accounts", || {
                    ic.port.provisioned_accounts(ps)
                })
                .await?
                .into_iter()
                .collect();
            accounts.extend(known.accounts.get(ps).into_iter().flatten().cloned());
            // And the accounts the catalog's own principal patterns name literally.
            for role in self.catalog.roles.values() {
                if role.identity_center() != Some(ps) {
                    continue;
                }
                for p in &role.principals {
                    match p.as_str().split(':').nth(4) {
                        Some(a) if a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()) => {
                            accounts.insert(a.to_owned());
                        }
                        _ => {}
                    }
                }
            }
            for account in accounts {
                if known.in_flight.contains(&(ps.clone(), account.clone())) {
                    continue;
                }
                let rows = self
                    .with_retry("list assignments", || ic.port.assignments(&account, ps))
                    .await?;
                for row in rows.iter().filter(|r| !known.holds(ps, &account, r)) {
                    self.with_retry("delete orphan assignment", || {
                        ic.unassign(ps, &account, row)
                    })
                    .await?;
                    let record = RecordAssignmentRemoval {
                        permission_set: ps.clone(),
                        account: account.clone(),
                        principal_type: row.principal_type.clone(),
                        principal_id: row.principal_id.clone(),
                    };
                    self.record_drift::<AssignmentDrift>(
                        stint_domain::streams::drift_assignment(ps, &account),
                        &record,
                        &Labels::unknown(),
                    )
                    .await?;
                    tracing::warn!(%ps, %account, principal_id = %row.principal_id, "orphaned assignment removed");
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
