//! Grant, revoke, extend and the sweep as pure decisions: each returns a `Plan`, the effects to
//! run through the ports (as data) and the command to record once they succeeded.

use crate::catalog::{AutoRule, Catalog};
use crate::event::RevokeReason;
use crate::guard::check_reach;
use crate::identity_center::{Assignment, PermissionSetArn};
use crate::ids::{Identity, PrincipalArn, RequestId, UserId};
use crate::org::AccountId;
use crate::policy::{cutoff_policy_name, grant_document, grant_policy_name};
use crate::reminder::reminder_times;
use crate::request::{decide, Command, Rejection, RequestState, Status};
use crate::timer::TimerKind;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// One thing to do in the world. The checks read IAM and judge what they read with the pure
/// rules of this crate; a check that fails fails its step like any other effect.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The role IAM resolves the principal's name to must be the approved ARN, path included:
    /// `PutRolePolicy` takes only the last segment of the name.
    CheckPrincipal {
        principal: PrincipalArn,
    },
    /// The role's inline policies, with this one, must fit IAM's quota.
    CheckPolicyBudget {
        principal: PrincipalArn,
        name: String,
        document: Value,
    },
    PutPolicy {
        principal: PrincipalArn,
        name: String,
        document: Value,
    },
    DeletePolicy {
        principal: PrincipalArn,
        name: String,
    },
    /// Assign the role's permission set to the requester's Identity Center user in `account`
    /// and wait until Identity Center says it succeeded; the interpreter gives back the
    /// assignment it made, which the grant records.
    AssignPermissionSet {
        permission_set: PermissionSetArn,
        account: String,
        user: UserId,
    },
    /// Delete exactly the assignment a grant recorded, and wait until it is gone.
    UnassignPermissionSet {
        assignment: Assignment,
    },
    SetTimer {
        request: RequestId,
        kind: TimerKind,
        at: DateTime<Utc>,
    },
    CancelTimer {
        request: RequestId,
        kind: TimerKind,
    },
}

/// What a failed effect (after its retries) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Record `GrantFailed` and report the failure: retrying cannot cure a refused grant.
    GrantFails,
    /// Record `RevokeFailed` and return the error, so the trigger delivers again.
    RevokeFails,
    /// Log it and go on: IAM's time condition and the sweep cover a timer not set or cleared.
    Continue,
    /// Return the error with nothing recorded; the trigger delivers again.
    Stop,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub effect: Effect,
    pub on_failure: OnFailure,
}

impl Step {
    fn new(effect: Effect, on_failure: OnFailure) -> Self {
        Step { effect, on_failure }
    }
}

/// Effects in order, then the command that records what they did.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Decided again at record time, so a duplicate delivery appends nothing.
    pub then: Option<Command>,
    /// The account these effects act in, for a request naming several: a failure is recorded
    /// against it alone.
    pub account: Option<AccountId>,
}

impl Plan {
    /// Nothing to do.
    pub fn none() -> Self {
        Plan {
            steps: vec![],
            then: None,
            account: None,
        }
    }
    fn record(command: Command) -> Self {
        Plan {
            steps: vec![],
            then: Some(command),
            account: None,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.then.is_none()
    }
}

/// What granting means for a request now.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantPlan {
    /// Granted already, or past it: a duplicate delivery.
    AlreadyDone(Status),
    /// A scheduled start: arm the start timer; it comes back then.
    Scheduled {
        starts_at: DateTime<Utc>,
        plan: Plan,
    },
    /// Cannot be granted; record `GrantFailed` with the reason.
    Fail { reason: String, plan: Plan },
    /// Attach the policy, arm the expiry timer, record `AccessGranted`.
    Grant {
        expires_at: DateTime<Utc>,
        plan: Plan,
    },
    /// A request naming several accounts: each account's plan on its own (a failure in one is
    /// recorded for it and the others go on), then the request's timers once one is granted.
    GrantEach {
        expires_at: DateTime<Utc>,
        accounts: Vec<Plan>,
        timers: Plan,
    },
}

/// Whether the rule that approved this request ties its access to the incident.
pub fn revokes_on_resolve(st: &RequestState, catalog: &Catalog) -> bool {
    let (Some(req), Some(rule)) = (st.request.as_ref(), st.approved_by_rule.as_deref()) else {
        return false;
    };
    catalog.role(&req.role).is_some_and(|role| {
        role.auto_approve.iter().any(
            |r| matches!(r, AutoRule::Alert { name, revoke_on_resolve: true, .. } if name == rule),
        )
    })
}

pub fn plan_grant(
    id: RequestId,
    st: &RequestState,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<GrantPlan, Rejection> {
    let req = st.request.as_ref().ok_or(Rejection::UnknownRequest)?;
    let wrong = || Rejection::WrongState {
        action: "grant",
        status: st.status,
    };
    match st.status {
        Status::Approved => {}
        // A request naming several accounts, some not granted yet (a run cut short).
        Status::Active if !st.pending_accounts().is_empty() => {}
        Status::Active | Status::Revoked | Status::GrantFailed | Status::Cancelled => {
            return Ok(GrantPlan::AlreadyDone(st.status))
        }
        _ => return Err(wrong()),
    }
    let (starts_at, expires_at) = st.grant_window().ok_or_else(wrong)?;
    let fail = |reason: String| GrantPlan::Fail {
        plan: Plan::record(Command::RecordGrantFailure {
            error: reason.clone(),
            attempts: 0,
            account: None,
        }),
        reason,
    };
    if st.incident_resolved_at.is_some() && revokes_on_resolve(st, catalog) {
        // Access tied to an incident never starts after the incident ended.
        return Ok(fail(
            "the incident was resolved before access was granted".into(),
        ));
    }
    if now < starts_at {
        let plan = Plan {
            steps: vec![Step::new(
                Effect::SetTimer {
                    request: id,
                    kind: TimerKind::Start,
                    at: starts_at,
                },
                OnFailure::Stop,
            )],
            then: None,
            account: None,
        };
        return Ok(GrantPlan::Scheduled { starts_at, plan });
    }
    if expires_at <= now {
        return Ok(fail(
            "the approved window ended before the grant could be made".into(),
        ));
    }
    if req.is_multi() {
        let window = (starts_at, expires_at);
        return Ok(plan_grant_each(id, st, catalog, now, window).unwrap_or_else(fail));
    }
    // The catalog may have changed since the request: check the role and principal again.
    let role = match catalog.role(&req.role) {
        Some(r)
            if r.allows_principal(&req.principal)
                && !catalog.is_protected(req.principal.as_str()) =>
        {
            r
        }
        _ => {
            return Ok(fail(format!(
                "role {} no longer allows {}",
                req.role, req.principal
            )))
        }
    };
    if let Some(permission_set) = role.identity_center() {
        // A permission set is AWS's to define: none of the checks an inline policy gets
        // (Stint's own resources, the boundary) can see into it. So never in the account that
        // holds Stint's own resources, where it could rewrite the trail or the stack.
        let account = req.principal.account();
        if catalog
            .protected()
            .iter()
            .any(|p| p.as_str().split(':').nth(4) == Some(account))
        {
            return Ok(fail(format!(
                "role {} grants an Identity Center permission set in account {account}, which \
                 holds Stint's own resources: refused, as it could reach them",
                req.role
            )));
        }
        return Ok(GrantPlan::Grant {
            expires_at,
            plan: identity_center_grant(
                id,
                req,
                permission_set,
                starts_at,
                expires_at,
                catalog,
                now,
            ),
        });
    }
    // Checked at load for every scope pattern; checked again on the filled statements, so a
    // catalog changed in memory can never put an Allow on Stint's own resources.
    for st in role.statements_for(req.scope.as_ref()) {
        if let Err((_, why)) = check_reach(&st, &[], catalog.protected()) {
            return Ok(fail(why));
        }
    }
    let name = grant_policy_name(id);
    let document = match grant_document(
        role,
        req.scope.as_ref(),
        &req.requester,
        catalog.protected(),
        starts_at,
        expires_at,
    ) {
        Ok(d) => d,
        Err(e) => return Ok(fail(e.to_string())),
    };
    let plan = Plan {
        steps: vec![
            Step::new(
                Effect::CheckPrincipal {
                    principal: req.principal.clone(),
                },
                OnFailure::GrantFails,
            ),
            Step::new(
                Effect::CheckPolicyBudget {
                    principal: req.principal.clone(),
                    name: name.clone(),
                    document: document.clone(),
                },
                OnFailure::GrantFails,
            ),
            Step::new(
                Effect::PutPolicy {
                    principal: req.principal.clone(),
                    name: name.clone(),
                    document: document.clone(),
                },
                OnFailure::GrantFails,
            ),
        ]
        .into_iter()
        .chain(expiry_steps(
            id,
            starts_at,
            expires_at,
            catalog,
            now,
            OnFailure::Continue,
        ))
        .collect(),
        then: Some(Command::RecordGrant {
            policy_name: name,
            policy: document,
            account: None,
        }),
        account: None,
    };
    Ok(GrantPlan::Grant { expires_at, plan })
}

/// The steps that attach one grant to `principal`: the principal and quota checks, then the put.
fn attach_steps(principal: &PrincipalArn, name: &str, document: &Value) -> Vec<Step> {
    vec![
        Step::new(
            Effect::CheckPrincipal {
                principal: principal.clone(),
            },
            OnFailure::GrantFails,
        ),
        Step::new(
            Effect::CheckPolicyBudget {
                principal: principal.clone(),
                name: name.to_owned(),
                document: document.clone(),
            },
            OnFailure::GrantFails,
        ),
        Step::new(
            Effect::PutPolicy {
                principal: principal.clone(),
                name: name.to_owned(),
                document: document.clone(),
            },
            OnFailure::GrantFails,
        ),
    ]
}

/// A request naming several accounts: one plan per account not granted yet (its checks, its
/// put, its `AccessGranted` or `GrantFailed`), then the request's timers. `Err` is a reason
/// the whole request cannot be granted.
fn plan_grant_each(
    id: RequestId,
    st: &RequestState,
    catalog: &Catalog,
    now: DateTime<Utc>,
    (starts_at, expires_at): (DateTime<Utc>, DateTime<Utc>),
) -> Result<GrantPlan, String> {
    let req = st.request.as_ref().ok_or("no request")?;
    let role = catalog
        .role(&req.role)
        .ok_or_else(|| format!("role {} is no longer in the catalog", req.role))?;
    for statement in role.statements_for(req.scope.as_ref()) {
        check_reach(&statement, &[], catalog.protected()).map_err(|(_, why)| why)?;
    }
    let name = grant_policy_name(id);
    let document = grant_document(
        role,
        req.scope.as_ref(),
        &req.requester,
        catalog.protected(),
        starts_at,
        expires_at,
    )
    .map_err(|e| e.to_string())?;
    let accounts = st
        .pending_accounts()
        .into_iter()
        .map(|(account, principal)| {
            // The catalog may have changed since the request: each principal is checked again.
            if !role.allows_principal(&principal) || catalog.is_protected(principal.as_str()) {
                return Plan {
                    steps: vec![],
                    then: Some(Command::RecordGrantFailure {
                        error: format!("role {} no longer allows {principal}", req.role),
                        attempts: 0,
                        account: Some(account.clone()),
                    }),
                    account: Some(account),
                };
            }
            Plan {
                steps: attach_steps(&principal, &name, &document),
                then: Some(Command::RecordGrant {
                    policy_name: name.clone(),
                    policy: document.clone(),
                    account: Some(account.clone()),
                }),
                account: Some(account),
            }
        })
        .collect();
    let timers = Plan {
        steps: expiry_steps(id, starts_at, expires_at, catalog, now, OnFailure::Continue).collect(),
        then: None,
        account: None,
    };
    Ok(GrantPlan::GrantEach {
        expires_at,
        accounts,
        timers,
    })
}

/// An Identity Center grant: the assignment, then the timers, then `AccessGranted`, whose
/// document the interpreter fills with the assignment it made (user id, session duration).
fn identity_center_grant(
    id: RequestId,
    req: &crate::event::AccessRequested,
    permission_set: &PermissionSetArn,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Plan {
    let account = req.principal.account().to_owned();
    Plan {
        steps: vec![Step::new(
            Effect::AssignPermissionSet {
                permission_set: permission_set.clone(),
                account: account.clone(),
                user: req.requester.clone(),
            },
            OnFailure::GrantFails,
        )]
        .into_iter()
        .chain(expiry_steps(
            id,
            starts_at,
            expires_at,
            catalog,
            now,
            OnFailure::Continue,
        ))
        .collect(),
        then: Some(Command::RecordGrant {
            policy_name: grant_policy_name(id),
            policy: serde_json::json!({ crate::identity_center::KEY: {
                "instance_arn": permission_set.instance_arn(),
                "permission_set": permission_set,
                "account": account,
            }}),
            account: None,
        }),
        account: None,
    }
}

/// The effect that takes a grant away: delete its policy, or its Identity Center assignment.
fn remove_grant(principal: &PrincipalArn, grant: &crate::request::Grant) -> Effect {
    match &grant.assignment {
        Some(assignment) => Effect::UnassignPermissionSet {
            assignment: assignment.clone(),
        },
        None => Effect::DeletePolicy {
            principal: principal.clone(),
            name: grant.policy_name.clone(),
        },
    }
}

/// Revoking: refused or a no-op as `decide` says; otherwise the grant policy is deleted
/// first and unconditionally, then the timer is cleared, then `AccessRevoked` is recorded.
///
/// There is no cutoff deny: IAM evaluates a role's inline policies on every call, so deleting
/// the policy ends every session of the role at once, and a deny put first could only fail
/// (a full policy quota) and hold the delete back.
pub fn plan_revoke(
    id: RequestId,
    st: &RequestState,
    reason: RevokeReason,
    by: Option<Identity>,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Plan, Rejection> {
    let command = Command::Revoke { reason, by };
    // Decide before touching IAM: rejections and no-ops have no side effects.
    let events = decide(st, &command, catalog, now)?;
    let Some(req) = st.request.as_ref() else {
        return Ok(Plan::none());
    };
    if st.scheduled_after(now) && !events.is_empty() {
        // Nothing is attached yet: the start timer must not grant it later.
        return Ok(Plan {
            steps: vec![cancel_timer(id, TimerKind::Start)],
            then: Some(command),
            account: None,
        });
    }
    let Some(grant) = st.grant.as_ref() else {
        return Ok(Plan::none());
    };
    if events.is_empty() {
        // A revoke from an earlier version left a cutoff deny until the original expiry; its
        // timer removes it (deleting a policy that is not there is a no-op).
        let early = st
            .revocation
            .as_ref()
            .is_some_and(|r| r.at < grant.expires_at);
        if st.status == Status::Revoked
            && reason == RevokeReason::Expired
            && early
            && now >= grant.expires_at
        {
            return Ok(Plan {
                steps: vec![Step::new(
                    Effect::DeletePolicy {
                        principal: req.principal.clone(),
                        name: cutoff_policy_name(id),
                    },
                    OnFailure::Stop,
                )],
                then: None,
                account: None,
            });
        }
        return Ok(Plan::none());
    }
    Ok(Plan {
        steps: vec![
            Step::new(remove_grant(&req.principal, grant), OnFailure::RevokeFails),
            cancel_timer(id, TimerKind::Expiry),
        ]
        .into_iter()
        // Only reminders still ahead: at expiry they have fired, and the revoke waits for no
        // call it does not need.
        .chain(
            reminder_times(grant.starts_at, grant.expires_at, catalog, now)
                .into_iter()
                .map(|(kind, _)| cancel_timer(id, kind)),
        )
        .collect(),
        then: Some(command),
        account: None,
    })
}

/// Revoking a request, as plans to run one after the other: one for a single-account request
/// (as [`plan_revoke`]); for a request naming several, one per account still granted (its
/// delete first, then its `AccessRevoked`; a failed delete records `RevokeFailed` for that
/// account alone), then one that clears the request's timers. `only` keeps the accounts
/// listed (an extension revoking the accounts that left the role).
pub fn plan_revoke_each(
    id: RequestId,
    st: &RequestState,
    reason: RevokeReason,
    by: Option<Identity>,
    catalog: &Catalog,
    now: DateTime<Utc>,
    only: Option<&[AccountId]>,
) -> Result<Vec<Plan>, Rejection> {
    if !st.is_multi() || st.scheduled_after(now) {
        return Ok(vec![plan_revoke(id, st, reason, by, catalog, now)?]);
    }
    // Decide before touching IAM: rejections and no-ops have no side effects.
    let events = decide(
        st,
        &Command::Revoke {
            reason,
            by: by.clone(),
        },
        catalog,
        now,
    )?;
    let Some(grant) = st.grant.as_ref().filter(|_| !events.is_empty()) else {
        return Ok(vec![]);
    };
    let mut plans: Vec<Plan> = st
        .active_accounts()
        .into_iter()
        .filter(|(a, _)| only.is_none_or(|o| o.contains(a)))
        .map(|(account, principal)| Plan {
            steps: vec![Step::new(
                Effect::DeletePolicy {
                    principal,
                    name: grant.policy_name.clone(),
                },
                OnFailure::RevokeFails,
            )],
            then: Some(Command::RevokeAccount {
                account: account.clone(),
                reason,
                by: by.clone(),
            }),
            account: Some(account),
        })
        .collect();
    plans.push(Plan {
        steps: std::iter::once(cancel_timer(id, TimerKind::Expiry))
            .chain(
                reminder_times(grant.starts_at, grant.expires_at, catalog, now)
                    .into_iter()
                    .map(|(kind, _)| cancel_timer(id, kind)),
            )
            .collect(),
        then: None,
        account: None,
    });
    Ok(plans)
}

/// Cancelling: a scheduled grant called off before its start also loses its start timer.
pub fn plan_cancel(
    id: RequestId,
    st: &RequestState,
    command: &Command,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Plan, Rejection> {
    let events = decide(st, command, catalog, now)?;
    if events.is_empty() {
        return Ok(Plan::none());
    }
    let steps = if st.scheduled_after(now) {
        vec![cancel_timer(id, TimerKind::Start)]
    } else {
        vec![]
    };
    Ok(Plan {
        steps,
        then: Some(command.clone()),
        account: None,
    })
}

/// The expiry reminders' timers for a grant window: set, or moved by an extension; a reminder
/// timer not set only costs a reminder, so its failure is logged and the step goes on.
/// The expiry timer at `expires_at` (failing as `on_failure` says), then the reminders before
/// it: what every grant and extension arms.
fn expiry_steps(
    id: RequestId,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    catalog: &Catalog,
    now: DateTime<Utc>,
    on_failure: OnFailure,
) -> impl Iterator<Item = Step> {
    std::iter::once(Step::new(
        Effect::SetTimer {
            request: id,
            kind: TimerKind::Expiry,
            at: expires_at,
        },
        on_failure,
    ))
    .chain(reminder_steps(id, starts_at, expires_at, catalog, now))
}

fn reminder_steps(
    id: RequestId,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Vec<Step> {
    reminder_times(starts_at, expires_at, catalog, now)
        .into_iter()
        .map(|(kind, at)| {
            Step::new(
                Effect::SetTimer {
                    request: id,
                    kind,
                    at,
                },
                OnFailure::Continue,
            )
        })
        .collect()
}

fn cancel_timer(request: RequestId, kind: TimerKind) -> Step {
    // A timer left behind fires into a decision that does nothing.
    Step::new(Effect::CancelTimer { request, kind }, OnFailure::Continue)
}

/// Applying an approved extension: IAM must hold what Stint records, so the policy is put
/// again with the new window and the expiry timer moved before `AccessExtended` is recorded.
pub fn plan_extend(
    id: RequestId,
    st: &RequestState,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Plan, Rejection> {
    let (Some(req), Some(grant), Some(until)) =
        (st.request.as_ref(), st.grant.as_ref(), st.pending_extension)
    else {
        return Ok(Plan::none());
    };
    if st.status != Status::Active || until <= grant.expires_at {
        return Ok(Plan::none()); // applied already (a redelivery), or revoked meanwhile
    }
    let role = catalog
        .role(&req.role)
        .ok_or_else(|| Rejection::UnknownRole(req.role.clone()))?;
    if grant.assignment.is_some() {
        // The assignment has no window of its own: only the expiry timer moves.
        return Ok(Plan {
            steps: expiry_steps(id, grant.starts_at, until, catalog, now, OnFailure::Stop)
                .collect(),
            then: Some(Command::ApplyExtension),
            account: None,
        });
    }
    let document = grant_document(
        role,
        req.scope.as_ref(),
        &req.requester,
        catalog.protected(),
        grant.starts_at,
        until,
    )
    .map_err(|e| Rejection::Invalid(e.to_string()))?;
    // Every account still granted gets the new window; none of a request naming several
    // is extended in Stint's record before all of them are in IAM.
    let principals = if req.is_multi() {
        st.active_accounts().into_iter().map(|(_, p)| p).collect()
    } else {
        vec![req.principal.clone()]
    };
    let puts = principals.into_iter().map(|principal| {
        Step::new(
            Effect::PutPolicy {
                principal,
                name: grant.policy_name.clone(),
                document: document.clone(),
            },
            OnFailure::Stop,
        )
    });
    Ok(Plan {
        steps: puts
            .chain(expiry_steps(
                id,
                grant.starts_at,
                until,
                catalog,
                now,
                OnFailure::Stop,
            ))
            .collect(),
        then: Some(Command::ApplyExtension),
        account: None,
    })
}

/// What the sweep does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepAction {
    /// Active past its expiry (a lost or failed timer).
    Revoke,
    /// Its incident ended but the bus event never reached the revoke function.
    CloseIncident,
    /// An approved extension whose bus event never reached the grant function.
    ApplyExtension,
    /// Pending longer than the catalog allows.
    Lapse,
    /// Approved, due, and never granted (a lost bus event).
    Grant,
    Nothing,
}

pub fn sweep_action(st: &RequestState, catalog: &Catalog, now: DateTime<Utc>) -> SweepAction {
    match st.status {
        Status::Active
            if st
                .pending_extension
                .is_some_and(|p| st.expires_at().is_some_and(|e| p > e)) =>
        {
            SweepAction::ApplyExtension
        }
        Status::Active if st.expires_at().is_some_and(|e| e <= now) => SweepAction::Revoke,
        Status::Active if st.incident_resolved_at.is_some() && revokes_on_resolve(st, catalog) => {
            SweepAction::CloseIncident
        }
        // A request naming several accounts whose grant run was cut short.
        Status::Active if !st.pending_accounts().is_empty() => SweepAction::Grant,
        Status::Pending
            if st
                .requested_at
                .is_some_and(|s| now >= s + catalog.settings.pending_timeout.to_chrono()) =>
        {
            SweepAction::Lapse
        }
        Status::Approved if st.grant_window().is_some_and(|(s, _)| s <= now) => SweepAction::Grant,
        _ => SweepAction::Nothing,
    }
}

/// After `IncidentResolved`: revoke when the approving rule ties access to the incident.
pub fn closes_with_incident(st: &RequestState, catalog: &Catalog) -> bool {
    st.incident_resolved_at.is_some() && revokes_on_resolve(st, catalog)
}

#[cfg(test)]
#[path = "effects_tests.rs"]
mod tests;
