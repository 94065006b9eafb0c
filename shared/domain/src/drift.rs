//! Drift (`drift#<principal>`): `stint-*` inline policies found on a principal with no grant
//! that should hold them. The sweep removes them and records each removal here.

use crate::decider::Decider;
use crate::event::{Actor, Envelope};
use crate::identity_center::PermissionSetArn;
use crate::ids::{PrincipalArn, RequestId};
use crate::request::{RequestState, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum DriftEvent {
    OrphanPolicyRemoved {
        principal: PrincipalArn,
        policy_name: String,
        /// The request the name points at, when it names one.
        request_id: Option<RequestId>,
        /// That request's status when the policy was found; none when Stint has no such request.
        request_status: Option<Status>,
    },
    /// An Identity Center assignment of a Stint-managed permission set that no active grant
    /// holds (a failed revoke, an assignment made by hand, a grant that timed out), removed.
    OrphanAssignmentRemoved {
        permission_set: PermissionSetArn,
        account: String,
        principal_type: String,
        principal_id: String,
    },
}

/// The request a Stint policy name points at: `stint-<id>` or `stint-cutoff-<id>`.
pub fn request_of(policy_name: &str) -> Option<RequestId> {
    let rest = policy_name.strip_prefix("stint-")?;
    let id = rest.strip_prefix("cutoff-").unwrap_or(rest);
    RequestId::parse(id).ok()
}

/// Whether a `stint-*` policy has no grant that should hold it. A request still on its way
/// (pending, approved: the grant may be putting it now) or active keeps its own grant policy.
pub fn is_orphan(policy_name: &str, request: Option<&RequestState>) -> bool {
    if !policy_name.starts_with("stint-") {
        return false; // not Stint's
    }
    let Some(st) = request.filter(|s| s.request.is_some()) else {
        return true; // Stint has no such request
    };
    match st.status {
        Status::Pending | Status::Approved => false,
        Status::Active => st
            .grant
            .as_ref()
            .is_none_or(|g| g.policy_name != policy_name),
        _ => true,
    }
}

/// Record a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRemoval {
    pub principal: PrincipalArn,
    pub policy_name: String,
    pub request_id: Option<RequestId>,
    pub request_status: Option<Status>,
}

/// How many removals a principal's drift stream holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removals(pub u64);

pub struct Drift;

impl Decider for Drift {
    type State = Removals;
    type Command = RecordRemoval;
    type Body = DriftEvent;
    type Context<'a> = DateTime<Utc>;
    type Rejection = Infallible;

    fn decide(
        _: &Removals,
        c: &RecordRemoval,
        now: &DateTime<Utc>,
    ) -> Result<Vec<Envelope<DriftEvent>>, Infallible> {
        Ok(vec![Envelope::new(
            *now,
            Actor::System("sweep".into()),
            DriftEvent::OrphanPolicyRemoved {
                principal: c.principal.clone(),
                policy_name: c.policy_name.clone(),
                request_id: c.request_id,
                request_status: c.request_status,
            },
        )])
    }

    fn evolve(s: Removals, _: &Envelope<DriftEvent>) -> Removals {
        Removals(s.0 + 1)
    }
}

/// Record the removal of an orphaned Identity Center assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAssignmentRemoval {
    pub permission_set: PermissionSetArn,
    pub account: String,
    pub principal_type: String,
    pub principal_id: String,
}

/// The sweep's removals of one permission set's assignments in one account
/// (`drift#<permission set>#<account>`).
pub struct AssignmentDrift;

impl Decider for AssignmentDrift {
    type State = Removals;
    type Command = RecordAssignmentRemoval;
    type Body = DriftEvent;
    type Context<'a> = DateTime<Utc>;
    type Rejection = Infallible;

    fn decide(
        _: &Removals,
        c: &RecordAssignmentRemoval,
        now: &DateTime<Utc>,
    ) -> Result<Vec<Envelope<DriftEvent>>, Infallible> {
        Ok(vec![Envelope::new(
            *now,
            Actor::System("sweep".into()),
            DriftEvent::OrphanAssignmentRemoved {
                permission_set: c.permission_set.clone(),
                account: c.account.clone(),
                principal_type: c.principal_type.clone(),
                principal_id: c.principal_id.clone(),
            },
        )])
    }

    fn evolve(s: Removals, _: &Envelope<DriftEvent>) -> Removals {
        Removals(s.0 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{apply, decide, Command};
    use crate::testkit::*;

    fn active() -> RequestState {
        let s = given(vec![submit_cmd(submit()), approve(bob())]);
        decide(&s, &granted(), &catalog(), t0())
            .unwrap()
            .iter()
            .fold(s, apply)
    }

    #[test]
    fn policy_names_point_at_their_request() {
        let id = "01J00000000000000000000001";
        assert_eq!(
            request_of(&format!("stint-{id}"))
                .map(|r| r.to_string())
                .as_deref(),
            Some(id)
        );
        assert_eq!(
            request_of(&format!("stint-cutoff-{id}"))
                .map(|r| r.to_string())
                .as_deref(),
            Some(id)
        );
        assert_eq!(request_of("stint-nope"), None);
        assert_eq!(request_of("other"), None);
    }

    #[test]
    fn only_stint_policies_without_a_live_grant_are_orphans() {
        let st = active();
        assert!(!is_orphan("AdminAccess", None));
        assert!(is_orphan("stint-01J00000000000000000000001", None));
        assert!(
            !is_orphan("stint-x", Some(&st)),
            "the active grant's own policy"
        );
        assert!(
            is_orphan("stint-cutoff-x", Some(&st)),
            "a leftover next to the grant"
        );
        let pending = given(vec![submit_cmd(submit())]);
        assert!(!is_orphan("stint-x", Some(&pending)));
        let revoked = decide(
            &st,
            &Command::Revoke {
                reason: crate::event::RevokeReason::Manual,
                by: Some(alice()),
            },
            &catalog(),
            t0(),
        )
        .unwrap()
        .iter()
        .fold(st, apply);
        assert!(is_orphan("stint-x", Some(&revoked)));
    }
}
