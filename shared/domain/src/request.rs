//! The access-request state machine: `decide` turns a command into events or a rejection,
//! `apply` folds an event into the state. Both are pure; time and the catalog are passed in.

use super::catalog::{Catalog, Role};
use super::duration::AccessDuration;
use super::event::{AccessRequested, Actor, Event, EventBody, RevokeReason, Source};
use super::ids::{Identity, PrincipalArn, RequestId, RoleName, Scope, UserId};
use super::org::AccountId;
use super::review::{GrantReview, Period, Verdict};
use super::text::{Justification, ReviewComment, TicketRef};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// The most accounts one request may name: enough for a break-glass over a large OU, few
/// enough that one grant run (a member-role session and four IAM calls per account) stays well
/// inside a function's time limit.
pub const MAX_ACCOUNTS: usize = 50;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    New,
    Pending,
    Approved,
    Active,
    Denied,
    Cancelled,
    Lapsed,
    GrantFailed,
    Revoked,
}

impl Status {
    /// The snake_case name, the same string serde writes (a test holds the two together).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Active => "active",
            Status::Denied => "denied",
            Status::Cancelled => "cancelled",
            Status::Lapsed => "lapsed",
            Status::GrantFailed => "grant_failed",
            Status::Revoked => "revoked",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ask for access.
#[derive(Debug, Clone, PartialEq)]
pub struct Submit {
    pub id: RequestId,
    pub requester: Identity,
    pub role: RoleName,
    pub scope: Option<Scope>,
    pub principal: PrincipalArn,
    pub duration: Option<AccessDuration>,
    pub justification: Justification,
    pub ticket: Option<TicketRef>,
    pub starts_at: Option<DateTime<Utc>>,
    pub source: Source,
    pub break_glass: bool,
    /// Several accounts, each granted `principal` filled with it; empty for one account (the
    /// principal's own). One account named here is the same as a single-account request.
    pub accounts: Vec<AccountId>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Submit(Box<Submit>),
    Approve {
        approver: Identity,
        comment: Option<String>,
    },
    Deny {
        approver: Identity,
        reason: Option<String>,
    },
    Cancel {
        by: Identity,
    },
    /// Close a request that stayed pending too long.
    Lapse,
    /// Record that the policy for the request's `grant_window` is attached.
    RecordGrant {
        policy_name: String,
        policy: serde_json::Value,
        /// The account it was attached in, for a request naming several.
        account: Option<AccountId>,
    },
    RecordGrantFailure {
        error: String,
        attempts: u32,
        account: Option<AccountId>,
    },
    /// Lengthen an active grant; `by` is the requester (if the role allows) or an approver.
    Extend {
        by: Identity,
        by_duration: AccessDuration,
        /// Only from this expiry (what a Slack button showed): once the grant runs to another,
        /// the extension was made already, and this one does nothing. None: from whatever it is.
        only_from: Option<DateTime<Utc>>,
    },
    /// Record that the approved extension's window is now the policy's in IAM.
    ApplyExtension,
    /// `by` is required for a manual revoke; timers, sweeps and incidents carry none.
    Revoke {
        reason: RevokeReason,
        by: Option<Identity>,
    },
    /// Record that one account's grant of a request naming several is deleted; the checks
    /// are `Revoke`'s, and an account revoked already is a no-op.
    RevokeAccount {
        account: AccountId,
        reason: RevokeReason,
        by: Option<Identity>,
    },
    RecordRevokeFailure {
        error: String,
        attempts: u32,
        account: Option<AccountId>,
    },
    ReviewBreakGlass {
        reviewer: Identity,
        note: Option<String>,
    },
    /// The incident this alert request was opened for is over.
    ResolveIncident {
        incident: String,
    },
    /// The periodic access review of a grant. `period`, when given, is the period the reviewer
    /// believes the grant is in; it must be the grant's own, which is what gets recorded.
    ReviewGrant {
        reviewer: Identity,
        verdict: Verdict,
        comment: Option<ReviewComment>,
        period: Option<Period>,
    },
}

/// A business reason to refuse a command. Infrastructure failures are never expressed here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("role {0} is not in the catalog")]
    UnknownRole(RoleName),
    #[error("you may not request role {0}")]
    NotAllowedToRequest(RoleName),
    #[error("scope {scope:?} is not allowed for role {role}")]
    ScopeNotAllowed {
        role: RoleName,
        scope: Option<String>,
    },
    #[error("principal {0} is not one this role may be attached to")]
    PrincipalNotAllowed(String),
    #[error("role {role} may not grant in account {account}: {why}")]
    AccountNotAllowed {
        role: RoleName,
        account: String,
        why: String,
    },
    #[error("duration {requested} is over the role's maximum of {max}")]
    OverMaxDuration {
        requested: AccessDuration,
        max: AccessDuration,
    },
    #[error("the start time is in the past")]
    StartInPast,
    #[error("the start time is more than {max} ahead")]
    StartTooFar { max: AccessDuration },
    #[error("role {0} does not allow break-glass")]
    BreakGlassNotAllowed(RoleName),
    #[error("a request cannot be approved, denied or reviewed by its requester")]
    SelfApproval,
    #[error("you are not in an approver group of role {0}")]
    NotApprover(RoleName),
    #[error("only the requester may cancel a request")]
    NotRequester,
    #[error("only the requester, an approver or an admin may revoke")]
    NotPermittedToRevoke,
    #[error("the role needs an approver to extend access")]
    ExtensionNeedsApproval,
    #[error("the grant would run {requested} in total, over the role's maximum of {max}")]
    OverMaxTotal {
        requested: AccessDuration,
        max: AccessDuration,
    },
    #[error("request already exists")]
    AlreadyExists,
    #[error("no such request")]
    UnknownRequest,
    #[error("cannot {action} a request that is {status}")]
    WrongState {
        action: &'static str,
        status: Status,
    },
    #[error("too early to {0}")]
    NotYetDue(&'static str),
    #[error("only a grant can be reviewed: this request was never granted")]
    NotGranted,
    #[error("a grant cannot be reviewed by its grantee")]
    SelfReview,
    #[error("this grant was reviewed already ({verdict}, by {by}); a review is final")]
    AlreadyReviewed { by: UserId, verdict: Verdict },
    #[error("a grant judged inappropriate needs a comment saying why")]
    CommentRequired,
    #[error("this grant belongs to period {actual}, not {given}")]
    WrongPeriod { given: Period, actual: Period },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub policy_name: String,
    /// The Identity Center assignment the grant made, for an `identity_center` role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment: Option<crate::identity_center::Assignment>,
    pub granted_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    pub at: DateTime<Utc>,
    pub reason: RevokeReason,
    pub lag_seconds: i64,
}

/// Where one account of a request naming several stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Not granted yet (approval or the grant run still to come).
    Pending,
    Active,
    GrantFailed,
    Revoked,
    /// The request ended (denied, cancelled, lapsed, revoked) before this account was granted.
    NotGranted,
}

/// One account's own grant, folded from the events that name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountGrant {
    pub status: AccountStatus,
    pub principal: PrincipalArn,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<DateTime<Utc>>,
    /// Why its grant failed, or why its last revoke did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<RevokeReason>,
    pub revoke_failures: u32,
}

/// Everything known about one request, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestState {
    /// Number of events folded: the expected version for the next append.
    pub version: u64,
    pub status: Status,
    pub request: Option<AccessRequested>,
    pub requested_at: Option<DateTime<Utc>>,
    pub approvals: Vec<UserId>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by_rule: Option<String>,
    pub decided_by: Option<UserId>,
    pub grant: Option<Grant>,
    pub revocation: Option<Revocation>,
    pub grant_failures: u32,
    pub revoke_failures: u32,
    pub break_glass_review_by: Option<DateTime<Utc>>,
    pub break_glass_reviewed_by: Option<UserId>,
    pub incident_resolved_at: Option<DateTime<Utc>>,
    /// An approved extension not yet in IAM: its new expiry.
    pub pending_extension: Option<DateTime<Utc>>,
    /// The periodic access review of the grant, once made.
    pub review: Option<GrantReview>,
    /// Each account of a request naming several, by account; empty otherwise.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<AccountId, AccountGrant>,
}

impl RequestState {
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        Self::fold_from(Self::default(), events)
    }

    /// Folds more events into a state already folded.
    pub fn fold_from<'a>(self, events: impl IntoIterator<Item = &'a Event>) -> Self {
        events.into_iter().fold(self, apply)
    }

    /// What the next extension extends from while access is active: the grant's expiry, or an
    /// approved extension's not yet in IAM (extensions approved before the last one reached IAM
    /// add up).
    pub fn extension_base(&self) -> Option<DateTime<Utc>> {
        let grant = self
            .grant
            .as_ref()
            .filter(|_| self.status == Status::Active)?;
        Some(
            self.pending_extension
                .map_or(grant.expires_at, |p| p.max(grant.expires_at)),
        )
    }

    /// The grant's window, fixed at approval so that duplicate or retried grants compute the
    /// same policy: from the approval (or the scheduled start, if later) for the duration.
    pub fn grant_window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let r = self.request.as_ref()?;
        let approved = self.approved_at?;
        let starts = r.starts_at.map_or(approved, |s| s.max(approved));
        Some((starts, starts + r.duration.to_chrono()))
    }

    /// Approved with a start still ahead of `now`: nothing is attached yet.
    pub fn scheduled_after(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Approved && self.grant_window().is_some_and(|(s, _)| s > now)
    }

    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.grant.as_ref().map(|g| g.expires_at)
    }

    /// Whether the request names several accounts.
    pub fn is_multi(&self) -> bool {
        self.request.as_ref().is_some_and(AccessRequested::is_multi)
    }

    /// The accounts whose grant is in IAM now (a request naming several).
    pub fn active_accounts(&self) -> Vec<(AccountId, PrincipalArn)> {
        self.accounts_in(AccountStatus::Active)
    }

    /// The accounts not granted yet (a request naming several), in the order asked.
    pub fn pending_accounts(&self) -> Vec<(AccountId, PrincipalArn)> {
        self.accounts_in(AccountStatus::Pending)
    }

    fn accounts_in(&self, status: AccountStatus) -> Vec<(AccountId, PrincipalArn)> {
        let Some(req) = self.request.as_ref() else {
            return vec![];
        };
        req.account_principals()
            .into_iter()
            .filter(|(a, _)| self.accounts.get(a).is_some_and(|g| g.status == status))
            .collect()
    }
}

type Decision = Result<Vec<Event>, Rejection>;

/// What a request decision looks at besides the state.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    pub catalog: &'a Catalog,
    pub now: DateTime<Utc>,
}

/// The request stream (`request#<ulid>`): its rules are `decide` and `apply`.
pub struct Requests;

impl crate::decider::Decider for Requests {
    type State = RequestState;
    type Command = Command;
    type Body = EventBody;
    type Context<'a> = RequestContext<'a>;
    type Rejection = Rejection;

    fn decide(state: &RequestState, command: &Command, ctx: &RequestContext<'_>) -> Decision {
        decide(state, command, ctx.catalog, ctx.now)
    }

    fn evolve(state: RequestState, event: &Event) -> RequestState {
        apply(state, event)
    }
}

/// Decides what a command means for a request in `state`, at `now`, under `catalog`.
pub fn decide(
    state: &RequestState,
    command: &Command,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Decision {
    let ev = |actor: Actor, body: EventBody| Event::new(now, actor, body);
    let Some(req) = state.request.as_ref() else {
        return match command {
            Command::Submit(s) => submit(s, catalog, now),
            _ => Err(Rejection::UnknownRequest),
        };
    };
    let role = || {
        catalog
            .role(&req.role)
            .ok_or_else(|| Rejection::UnknownRole(req.role.clone()))
    };
    let wrong = |action: &'static str| {
        Err(Rejection::WrongState {
            action,
            status: state.status,
        })
    };
    // `AccessGranted` in the approved window, for the request or one of its accounts.
    let granted_with = |policy_name: &str, policy: &serde_json::Value, account| {
        let Some((starts_at, expires_at)) = state.grant_window() else {
            return wrong("grant");
        };
        if now < starts_at {
            return Err(Rejection::NotYetDue("grant"));
        }
        Ok(vec![ev(
            Actor::System("grant".into()),
            EventBody::AccessGranted {
                policy_name: policy_name.to_owned(),
                policy: policy.clone(),
                starts_at,
                expires_at,
                account,
            },
        )])
    };

    match command {
        Command::Submit(_) => Err(Rejection::AlreadyExists),

        Command::Approve { approver, comment } => {
            let role = role()?;
            check_approver(req, role, approver)?;
            if state.approvals.contains(&approver.user) {
                return Ok(vec![]); // a second approval by the same person counts once
            }
            if state.status != Status::Pending {
                return wrong("approve");
            }
            let actor = Actor::User(approver.user.clone());
            let mut out = vec![ev(
                actor.clone(),
                EventBody::ApprovalRecorded {
                    approver: approver.user.clone(),
                    comment: comment.clone(),
                },
            )];
            if state.approvals.len() + 1 >= usize::from(role.approvers.required) {
                let mut approvers = state.approvals.clone();
                approvers.push(approver.user.clone());
                out.push(ev(
                    actor,
                    EventBody::AccessApproved {
                        approvers,
                        rule: None,
                    },
                ));
            }
            Ok(out)
        }

        Command::Deny { approver, reason } => {
            check_approver(req, role()?, approver)?;
            match state.status {
                Status::Pending => Ok(vec![ev(
                    Actor::User(approver.user.clone()),
                    EventBody::AccessDenied {
                        approver: approver.user.clone(),
                        reason: reason.clone(),
                    },
                )]),
                Status::Denied if state.decided_by.as_ref() == Some(&approver.user) => Ok(vec![]),
                _ => wrong("deny"),
            }
        }

        Command::Cancel { by } => {
            if by.user != req.requester {
                return Err(Rejection::NotRequester);
            }
            match state.status {
                // A scheduled grant can be called off by its requester until it starts.
                Status::Pending => Ok(vec![ev(
                    Actor::User(by.user.clone()),
                    EventBody::RequestCancelled {
                        by: by.user.clone(),
                    },
                )]),
                Status::Approved if state.scheduled_after(now) => Ok(vec![ev(
                    Actor::User(by.user.clone()),
                    EventBody::RequestCancelled {
                        by: by.user.clone(),
                    },
                )]),
                Status::Cancelled => Ok(vec![]),
                _ => wrong("cancel"),
            }
        }

        Command::Lapse => match state.status {
            Status::Pending => {
                let since = state.requested_at.unwrap_or(now);
                if now < since + catalog.settings.pending_timeout.to_chrono() {
                    return Err(Rejection::NotYetDue("lapse"));
                }
                Ok(vec![ev(
                    Actor::System("lapse".into()),
                    EventBody::RequestLapsed {
                        pending_since: since,
                    },
                )])
            }
            _ => Ok(vec![]), // a lapse timer firing after a decision has nothing to do
        },

        Command::RecordGrant {
            policy_name,
            policy,
            account,
        } if req.is_multi() => {
            let Some(account) = account.as_ref().filter(|a| req.accounts.contains(a)) else {
                return Err(Rejection::Invalid(
                    "a grant of a request for several accounts must name one of them".into(),
                ));
            };
            match state.status {
                Status::Approved | Status::Active => {}
                Status::Revoked => return Ok(vec![]), // ended while this account was being put
                _ => return wrong("grant"),
            }
            // A revoke of the request has begun (only an account that left the role ends on its
            // own): no account is granted after it, or a grant still running would outlast it.
            if state.accounts.values().any(|g| {
                g.revoke_reason
                    .is_some_and(|r| r != RevokeReason::AccountRemoved)
            }) {
                return Ok(vec![]);
            }
            if state
                .accounts
                .get(account)
                .is_some_and(|g| g.status != AccountStatus::Pending)
            {
                return Ok(vec![]); // duplicate delivery: each account is granted once
            }
            granted_with(policy_name, policy, Some(account.clone()))
        }

        Command::RecordGrantFailure {
            error,
            attempts,
            account,
        } if req.is_multi() => {
            if !matches!(state.status, Status::Approved | Status::Active) {
                return Ok(vec![]);
            }
            // One account's failure, or (none named: the request itself cannot be granted)
            // every account not granted yet.
            Ok(state
                .pending_accounts()
                .into_iter()
                .filter(|(a, _)| account.as_ref().is_none_or(|x| x == a))
                .map(|(a, _)| {
                    ev(
                        Actor::System("grant".into()),
                        EventBody::GrantFailed {
                            error: error.clone(),
                            attempts: *attempts,
                            account: Some(a),
                        },
                    )
                })
                .collect())
        }

        Command::RecordGrant {
            policy_name,
            policy,
            ..
        } => match state.status {
            Status::Approved => granted_with(policy_name, policy, None),
            Status::Active | Status::Revoked => Ok(vec![]), // duplicate delivery: granted once
            _ => wrong("grant"),
        },

        Command::RecordGrantFailure {
            error, attempts, ..
        } => match state.status {
            Status::Approved => Ok(vec![ev(
                Actor::System("grant".into()),
                EventBody::GrantFailed {
                    error: error.clone(),
                    attempts: *attempts,
                    account: None,
                },
            )]),
            _ => Ok(vec![]),
        },

        Command::Extend {
            by,
            by_duration,
            only_from,
        } => {
            let role = role()?;
            let Some(grant) = state
                .grant
                .as_ref()
                .filter(|_| state.status == Status::Active)
            else {
                return wrong("extend");
            };
            let is_requester = by.user == req.requester;
            if is_requester && !role.self_extend {
                return Err(Rejection::ExtensionNeedsApproval);
            }
            if !is_requester && !role.is_approver(by) {
                return Err(Rejection::NotApprover(req.role.clone()));
            }
            let base = state.extension_base().unwrap_or(grant.expires_at);
            if only_from.is_some_and(|from| from != base) {
                return Ok(vec![]); // made already from the expiry this one was asked from
            }
            let until = base + by_duration.to_chrono();
            check_total(grant, role, until)?;
            Ok(vec![ev(
                Actor::User(by.user.clone()),
                EventBody::ExtensionApproved {
                    by: by.user.clone(),
                    expires_at: until,
                },
            )])
        }

        Command::ApplyExtension => {
            let (Some(grant), Some(until)) = (state.grant.as_ref(), state.pending_extension) else {
                return Ok(vec![]);
            };
            if state.status != Status::Active || until <= grant.expires_at {
                return Ok(vec![]); // applied already, or nothing left to extend
            }
            Ok(vec![ev(
                Actor::System("grant".into()),
                EventBody::AccessExtended {
                    previous_expires_at: grant.expires_at,
                    expires_at: until,
                    via_request: None,
                },
            )])
        }

        Command::Revoke { reason, by } => {
            if state.status == Status::Revoked {
                return Ok(vec![]); // a repeated revoke is a no-op
            }
            let manual = *reason == RevokeReason::Manual;
            if manual {
                check_revoker(req, catalog, by.as_ref())?;
            }
            // A scheduled grant revoked by hand before it starts: it never starts.
            if manual && state.status == Status::Approved && state.scheduled_after(now) {
                let (_, expires_at) = state.grant_window().unwrap_or((now, now));
                let by = by.as_ref().map(|b| b.user.clone());
                return Ok(vec![ev(
                    by.map_or(Actor::System(reason.to_string()), Actor::User),
                    EventBody::AccessRevoked {
                        reason: *reason,
                        expires_at,
                        lag_seconds: 0,
                        account: None,
                    },
                )]);
            }
            let Some(grant) = state
                .grant
                .as_ref()
                .filter(|_| state.status == Status::Active)
            else {
                return if manual { wrong("revoke") } else { Ok(vec![]) };
            };
            let timed = matches!(reason, RevokeReason::Expired | RevokeReason::Sweep);
            if timed && now < grant.expires_at {
                return Ok(vec![]); // a stale timer from before an extension
            }
            if timed && state.pending_extension.is_some_and(|p| now < p) {
                return Ok(vec![]); // an approved extension is on its way to IAM
            }
            let actor = match (manual, by) {
                (true, Some(by)) => Actor::User(by.user.clone()),
                _ => Actor::System(reason.to_string()),
            };
            let lag_seconds = (now - grant.expires_at).num_seconds().max(0);
            let revoked = |account: Option<AccountId>| {
                ev(
                    actor.clone(),
                    EventBody::AccessRevoked {
                        reason: *reason,
                        expires_at: grant.expires_at,
                        lag_seconds,
                        account,
                    },
                )
            };
            if req.is_multi() {
                // Each account still granted ends on its own (its policy deleted first).
                return Ok(state
                    .active_accounts()
                    .into_iter()
                    .map(|(a, _)| revoked(Some(a)))
                    .collect());
            }
            Ok(vec![revoked(None)])
        }

        Command::RevokeAccount {
            account,
            reason,
            by,
        } => {
            let granted = state
                .accounts
                .get(account)
                .is_some_and(|g| g.status == AccountStatus::Active);
            let manual = *reason == RevokeReason::Manual;
            if manual {
                check_revoker(req, catalog, by.as_ref())?;
            }
            let Some(grant) = state.grant.as_ref().filter(|_| granted) else {
                return Ok(vec![]); // revoked already, or never granted: nothing to record
            };
            let timed = matches!(reason, RevokeReason::Expired | RevokeReason::Sweep);
            if timed && now < grant.expires_at {
                return Ok(vec![]);
            }
            let actor = match (manual, by) {
                (true, Some(by)) => Actor::User(by.user.clone()),
                _ => Actor::System(reason.to_string()),
            };
            Ok(vec![ev(
                actor,
                EventBody::AccessRevoked {
                    reason: *reason,
                    expires_at: grant.expires_at,
                    lag_seconds: (now - grant.expires_at).num_seconds().max(0),
                    account: Some(account.clone()),
                },
            )])
        }

        Command::RecordRevokeFailure {
            error,
            attempts,
            account,
        } => match state.status {
            Status::Active => Ok(vec![ev(
                Actor::System("revoke".into()),
                EventBody::RevokeFailed {
                    error: error.clone(),
                    attempts: *attempts,
                    account: account.clone().filter(|_| req.is_multi()),
                },
            )]),
            _ => Ok(vec![]),
        },

        Command::ResolveIncident { incident } => {
            if !matches!(req.source, Source::Alert { .. }) {
                return Err(Rejection::Invalid(
                    "only a request opened by an alert has an incident".into(),
                ));
            }
            let open = matches!(
                state.status,
                Status::Pending | Status::Approved | Status::Active
            );
            if state.incident_resolved_at.is_some() || !open {
                return Ok(vec![]); // already recorded, or nothing left to end
            }
            Ok(vec![ev(
                Actor::System("alert".into()),
                EventBody::IncidentResolved {
                    incident: incident.clone(),
                },
            )])
        }

        Command::ReviewBreakGlass { reviewer, note } => {
            if !req.break_glass {
                return Err(Rejection::Invalid(
                    "this request did not use break-glass".into(),
                ));
            }
            check_approver(req, role()?, reviewer)?;
            if state.break_glass_reviewed_by.is_some() {
                return Ok(vec![]);
            }
            Ok(vec![ev(
                Actor::User(reviewer.user.clone()),
                EventBody::BreakGlassReviewed {
                    reviewer: reviewer.user.clone(),
                    note: note.clone(),
                },
            )])
        }

        Command::ReviewGrant {
            reviewer,
            verdict,
            comment,
            period,
        } => review_grant(
            state,
            req,
            catalog,
            now,
            (reviewer, *verdict, comment, *period),
        ),
    }
}

/// The periodic review of a grant: only a grant, only by an approver of its role who is not its
/// grantee, once. A comment is required to call it inappropriate.
fn review_grant(
    state: &RequestState,
    req: &AccessRequested,
    catalog: &Catalog,
    now: DateTime<Utc>,
    (reviewer, verdict, comment, period): (
        &Identity,
        Verdict,
        &Option<ReviewComment>,
        Option<Period>,
    ),
) -> Decision {
    let Some(grant) = state.grant.as_ref() else {
        return Err(Rejection::NotGranted);
    };
    let actual = Period::of(grant.granted_at);
    if let Some(given) = period.filter(|p| *p != actual) {
        return Err(Rejection::WrongPeriod { given, actual });
    }
    if reviewer.user == req.requester {
        return Err(Rejection::SelfReview);
    }
    let role = catalog
        .role(&req.role)
        .ok_or_else(|| Rejection::UnknownRole(req.role.clone()))?;
    if !role.is_approver(reviewer) {
        return Err(Rejection::NotApprover(req.role.clone()));
    }
    if verdict == Verdict::Inappropriate && comment.is_none() {
        return Err(Rejection::CommentRequired);
    }
    if let Some(done) = &state.review {
        // The same review delivered again changes nothing; any other is refused.
        let same =
            done.reviewer == reviewer.user && done.verdict == verdict && done.comment == *comment;
        return if same {
            Ok(vec![])
        } else {
            Err(Rejection::AlreadyReviewed {
                by: done.reviewer.clone(),
                verdict: done.verdict,
            })
        };
    }
    Ok(vec![Event::new(
        now,
        Actor::User(reviewer.user.clone()),
        EventBody::GrantReviewed {
            reviewer: reviewer.user.clone(),
            verdict,
            comment: comment.clone(),
            period: actual,
        },
    )])
}

/// A manual revoke is the requester's, an approver's of the role, or an admin's.
fn check_revoker(
    req: &AccessRequested,
    catalog: &Catalog,
    by: Option<&Identity>,
) -> Result<(), Rejection> {
    let by = by.ok_or(Rejection::NotPermittedToRevoke)?;
    let allowed = by.user == req.requester
        || catalog.is_admin(by)
        || catalog.role(&req.role).is_some_and(|r| r.is_approver(by));
    if allowed {
        Ok(())
    } else {
        Err(Rejection::NotPermittedToRevoke)
    }
}

fn check_approver(req: &AccessRequested, role: &Role, who: &Identity) -> Result<(), Rejection> {
    if who.user == req.requester {
        return Err(Rejection::SelfApproval);
    }
    if !role.is_approver(who) {
        return Err(Rejection::NotApprover(req.role.clone()));
    }
    Ok(())
}

/// An extension may not take the whole grant past the role's `max_total_duration`.
fn check_total(grant: &Grant, role: &Role, until: DateTime<Utc>) -> Result<(), Rejection> {
    let total_secs = (until - grant.starts_at).num_seconds().max(1) as u64;
    let requested =
        AccessDuration::from_secs(total_secs).map_err(|e| Rejection::Invalid(e.to_string()))?;
    if requested > role.max_total() {
        return Err(Rejection::OverMaxTotal {
            requested,
            max: role.max_total(),
        });
    }
    Ok(())
}

fn submit(s: &Submit, catalog: &Catalog, now: DateTime<Utc>) -> Decision {
    let role = catalog
        .role(&s.role)
        .ok_or_else(|| Rejection::UnknownRole(s.role.clone()))?;
    // An alert asks on behalf of the on-call engineer; the catalog's service entry, not the
    // engineer's groups, is what allows that exact role, scope and principal.
    let via_service = match &s.source {
        Source::Alert { service, .. } => catalog.services.get(service).is_some_and(|svc| {
            svc.role == s.role && svc.scope == s.scope && svc.principal == s.principal
        }),
        _ => false,
    };
    if !via_service && !role.may_request(&s.requester) {
        return Err(Rejection::NotAllowedToRequest(s.role.clone()));
    }
    if !role.allows_scope(s.scope.as_ref()) {
        return Err(Rejection::ScopeNotAllowed {
            role: s.role.clone(),
            scope: s.scope.as_ref().map(|x| x.to_string()),
        });
    }
    // One account named is a single-account request for the principal in that account.
    let (principal, accounts) = match s.accounts.as_slice() {
        [] => (s.principal.clone(), vec![]),
        [one] => (s.principal.in_account(one), vec![]),
        many => (
            s.principal.in_account(&many[0]),
            check_accounts(s, role, many)?,
        ),
    };
    let principals: Vec<PrincipalArn> = if accounts.is_empty() {
        vec![principal.clone()]
    } else {
        accounts.iter().map(|a| principal.in_account(a)).collect()
    };
    for p in &principals {
        if !role.allows_principal(p) || catalog.is_protected(p.as_str()) {
            return Err(Rejection::PrincipalNotAllowed(p.to_string()));
        }
    }
    let duration = s.duration.unwrap_or(role.default_duration);
    if duration > role.max_duration {
        return Err(Rejection::OverMaxDuration {
            requested: duration,
            max: role.max_duration,
        });
    }
    if let Some(start) = s.starts_at {
        if start <= now {
            return Err(Rejection::StartInPast);
        }
        let max = catalog.settings.max_start_ahead;
        if start > now + max.to_chrono() {
            return Err(Rejection::StartTooFar { max });
        }
    }
    if s.break_glass && (!role.break_glass || s.source != Source::Person) {
        return Err(Rejection::BreakGlassNotAllowed(s.role.clone()));
    }
    let requester = Actor::User(s.requester.user.clone());
    let actor = match s.source {
        Source::Alert { .. } => Actor::System("alert".into()),
        _ => requester.clone(),
    };
    let requested = AccessRequested {
        request_id: s.id,
        requester: s.requester.user.clone(),
        requester_groups: s.requester.groups.clone(),
        role: s.role.clone(),
        scope: s.scope.clone(),
        principal: principal.clone(),
        duration,
        justification: s.justification.clone(),
        ticket: s.ticket.clone(),
        starts_at: s.starts_at,
        source: s.source.clone(),
        break_glass: s.break_glass,
        accounts,
    };
    let mut out = vec![Event::new(
        now,
        actor,
        EventBody::AccessRequested(Box::new(requested)),
    )];
    if s.break_glass {
        let review_by = now + catalog.settings.break_glass_review_within.to_chrono();
        out.push(Event::new(
            now,
            requester.clone(),
            EventBody::BreakGlassUsed { review_by },
        ));
        out.push(Event::new(
            now,
            requester,
            EventBody::AccessApproved {
                approvers: vec![s.requester.user.clone()],
                rule: Some("break-glass".into()),
            },
        ));
    } else if let Some(rule) = auto_rule_for_all(role, s, duration, &principals) {
        out.push(Event::new(
            now,
            Actor::Rule(rule.name().to_owned()),
            EventBody::AccessApproved {
                approvers: vec![],
                rule: Some(rule.name().to_owned()),
            },
        ));
    }
    Ok(out)
}

/// The rule that approves the request in every account it names, if one does: a rule whose
/// `{account}` matches one account approves nothing for the others.
fn auto_rule_for_all<'r>(
    role: &'r Role,
    s: &Submit,
    duration: AccessDuration,
    principals: &[PrincipalArn],
) -> Option<&'r crate::catalog::AutoRule> {
    let first = role.auto_rule_for(&s.source, duration, s.scope.as_ref(), principals.first()?)?;
    principals[1..]
        .iter()
        .all(|p| {
            role.auto_rule_for(&s.source, duration, s.scope.as_ref(), p)
                .is_some_and(|r| r.name() == first.name())
        })
        .then_some(first)
}

/// The accounts of a request naming several: only for a role that names accounts, each once,
/// at most [`MAX_ACCOUNTS`]. Whether each is the role's now is the organisation's to answer
/// (checked by the service before `Submit`, and again at grant).
fn check_accounts(
    s: &Submit,
    role: &Role,
    accounts: &[AccountId],
) -> Result<Vec<AccountId>, Rejection> {
    if role.accounts.is_empty() {
        return Err(Rejection::Invalid(format!(
            "role {} names no accounts: a request for several accounts needs a role with `accounts`",
            s.role
        )));
    }
    // A permission-set grant is one assignment in one account (see `effects`); several would
    // need one assignment each, which that provider does not plan.
    if role.identity_center().is_some() {
        return Err(Rejection::Invalid(format!(
            "role {} grants an Identity Center permission set: name one account per request",
            s.role
        )));
    }
    check_account_list(accounts)?;
    Ok(accounts.to_vec())
}

/// The shape of a list of accounts: each named once, at most [`MAX_ACCOUNTS`].
pub fn check_account_list(accounts: &[AccountId]) -> Result<(), Rejection> {
    if accounts.len() > MAX_ACCOUNTS {
        return Err(Rejection::Invalid(format!(
            "a request may name at most {MAX_ACCOUNTS} accounts, not {}",
            accounts.len()
        )));
    }
    for (i, a) in accounts.iter().enumerate() {
        if accounts[..i].contains(a) {
            return Err(Rejection::Invalid(format!("account {a} is named twice")));
        }
    }
    Ok(())
}

/// Folds one event into the state. Total: an event that does not fit changes only the version,
/// so a log written by a newer build never makes an older one panic.
pub fn apply(mut s: RequestState, event: &Event) -> RequestState {
    s.version += 1;
    let at = event.occurred_at;
    match &event.body {
        EventBody::AccessRequested(r) => {
            s.accounts = r
                .account_principals()
                .into_iter()
                .map(|(a, principal)| {
                    let grant = AccountGrant {
                        status: AccountStatus::Pending,
                        principal,
                        granted_at: None,
                        error: None,
                        revoked_at: None,
                        revoke_reason: None,
                        revoke_failures: 0,
                    };
                    (a, grant)
                })
                .collect();
            s.request = Some(r.as_ref().clone());
            s.requested_at = Some(at);
            s.status = Status::Pending;
        }
        EventBody::ApprovalRecorded { approver, .. } => {
            if !s.approvals.contains(approver) {
                s.approvals.push(approver.clone());
            }
        }
        EventBody::AccessApproved { approvers, rule } => {
            s.status = Status::Approved;
            s.approved_at = Some(at);
            for a in approvers {
                if !s.approvals.contains(a) && rule.is_none() {
                    s.approvals.push(a.clone());
                }
            }
            s.approved_by_rule = rule.clone();
        }
        EventBody::AccessDenied { approver, .. } => {
            s.status = Status::Denied;
            s.decided_by = Some(approver.clone());
        }
        EventBody::RequestCancelled { .. } => s.status = Status::Cancelled,
        EventBody::RequestLapsed { .. } => s.status = Status::Lapsed,
        EventBody::AccessGranted {
            policy_name,
            policy,
            starts_at,
            expires_at,
            account,
            ..
        } => {
            if let Some(g) = account.as_ref().and_then(|a| s.accounts.get_mut(a)) {
                g.status = AccountStatus::Active;
                g.granted_at = Some(at);
                g.error = None;
            }
            if account.is_some() && s.grant.is_some() {
                return settle(s); // a further account of a request already active
            }
            s.status = Status::Active;
            s.grant = Some(Grant {
                policy_name: policy_name.clone(),
                assignment: crate::identity_center::Assignment::of_grant_document(policy),
                granted_at: at,
                starts_at: *starts_at,
                expires_at: *expires_at,
            });
        }
        EventBody::GrantFailed {
            account: Some(a),
            error,
            ..
        } => {
            s.grant_failures += 1;
            if let Some(g) = s.accounts.get_mut(a) {
                g.status = AccountStatus::GrantFailed;
                g.error = Some(error.clone());
            }
            // The request failed when no account was granted and none is left to try.
            let settled = s
                .accounts
                .values()
                .all(|g| g.status == AccountStatus::GrantFailed);
            if settled {
                s.status = Status::GrantFailed;
            }
        }
        EventBody::GrantFailed { .. } => {
            s.status = Status::GrantFailed;
            s.grant_failures += 1;
        }
        EventBody::ExtensionApproved { expires_at, .. } => {
            s.pending_extension = Some(*expires_at);
        }
        EventBody::AccessExtended { expires_at, .. } => {
            if let Some(g) = s.grant.as_mut() {
                g.expires_at = *expires_at;
            }
            if s.pending_extension.is_some_and(|p| p <= *expires_at) {
                s.pending_extension = None;
            }
        }
        EventBody::AccessRevoked {
            reason,
            lag_seconds,
            account,
            ..
        } => {
            if let Some(g) = account.as_ref().and_then(|a| s.accounts.get_mut(a)) {
                g.status = AccountStatus::Revoked;
                g.revoked_at = Some(at);
                g.revoke_reason = Some(*reason);
            }
            // A request naming several accounts is revoked once none of them holds a grant.
            if account.is_some()
                && s.accounts
                    .values()
                    .any(|g| g.status == AccountStatus::Active)
            {
                return settle(s);
            }
            s.status = Status::Revoked;
            s.revocation = Some(Revocation {
                at,
                reason: *reason,
                lag_seconds: *lag_seconds,
            });
        }
        EventBody::RevokeFailed { account, error, .. } => {
            s.revoke_failures += 1;
            if let Some(g) = account.as_ref().and_then(|a| s.accounts.get_mut(a)) {
                g.revoke_failures += 1;
                g.error = Some(error.clone());
            }
        }
        EventBody::BreakGlassUsed { review_by } => s.break_glass_review_by = Some(*review_by),
        EventBody::BreakGlassReviewed { reviewer, .. } => {
            s.break_glass_reviewed_by = Some(reviewer.clone())
        }
        EventBody::IncidentResolved { .. } => s.incident_resolved_at = Some(at),
        EventBody::GrantReviewed {
            reviewer,
            verdict,
            comment,
            period,
        } => {
            // The first review stands; the decider never records a second.
            if s.review.is_none() {
                s.review = Some(GrantReview {
                    reviewer: reviewer.clone(),
                    verdict: *verdict,
                    comment: comment.clone(),
                    period: *period,
                    reviewed_at: at,
                });
            }
        }
    }
    settle(s)
}

/// Accounts never granted are `not_granted` once the request has ended.
fn settle(mut s: RequestState) -> RequestState {
    let ended = matches!(
        s.status,
        Status::Denied | Status::Cancelled | Status::Lapsed | Status::Revoked | Status::GrantFailed
    );
    if ended {
        for g in s.accounts.values_mut() {
            if g.status == AccountStatus::Pending {
                g.status = AccountStatus::NotGranted;
            }
        }
    }
    s
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "request_multi_tests.rs"]
mod multi_tests;
