//! Given/when/then tests of the grant, revoke, extend and sweep plans: no emulator, no ports.

use super::*;
use crate::ids::RoleName;
use crate::request::apply;
use crate::testkit::*;
use chrono::TimeDelta;

fn id() -> RequestId {
    RequestId::from_ulid(ulid::Ulid::from_parts(1, 1))
}
fn approved() -> RequestState {
    given(vec![submit_cmd(submit()), approve(bob())])
}
fn active() -> RequestState {
    let s = approved();
    let c = catalog();
    decide(&s, &granted(), &c, t0())
        .unwrap()
        .iter()
        .fold(s, apply)
}
fn effects(plan: &Plan) -> Vec<(&'static str, OnFailure)> {
    plan.steps
        .iter()
        .map(|s| {
            let name = match &s.effect {
                Effect::PutPolicy { name, .. } if name.starts_with("stint-cutoff-") => "PutCutoff",
                Effect::PutPolicy { .. } => "PutPolicy",
                Effect::DeletePolicy { name, .. } if name.starts_with("stint-cutoff-") => {
                    "DeleteCutoff"
                }
                Effect::DeletePolicy { .. } => "DeletePolicy",
                Effect::SetTimer {
                    kind: TimerKind::Start,
                    ..
                } => "SetStartTimer",
                Effect::SetTimer { .. } => "SetExpiryTimer",
                Effect::CancelTimer { .. } => "CancelTimer",
            };
            (name, s.on_failure)
        })
        .collect()
}

// --- grant -----------------------------------------------------------------------------------

#[test]
fn an_approved_request_is_granted_policy_first_then_timer_then_record() {
    let GrantPlan::Grant { expires_at, plan } =
        plan_grant(id(), &approved(), &catalog(), t0()).unwrap()
    else {
        panic!("expected a grant")
    };
    assert_eq!(expires_at, t0() + TimeDelta::hours(1));
    assert_eq!(
        effects(&plan),
        [
            ("PutPolicy", OnFailure::GrantFails),
            ("SetExpiryTimer", OnFailure::Continue)
        ]
    );
    assert!(matches!(plan.then, Some(Command::RecordGrant { .. })));
}

#[test]
fn a_granted_request_is_not_granted_again() {
    assert_eq!(
        plan_grant(id(), &active(), &catalog(), t0()),
        Ok(GrantPlan::AlreadyDone(Status::Active))
    );
}

#[test]
fn a_pending_request_cannot_be_granted() {
    let pending = given(vec![submit_cmd(submit())]);
    assert!(matches!(
        plan_grant(id(), &pending, &catalog(), t0()),
        Err(Rejection::WrongState {
            action: "grant",
            ..
        })
    ));
}

#[test]
fn a_scheduled_start_arms_the_start_timer_and_records_nothing() {
    let mut s = submit();
    s.starts_at = Some(t0() + TimeDelta::hours(2));
    let st = given(vec![submit_cmd(s), approve(bob())]);
    let GrantPlan::Scheduled { starts_at, plan } = plan_grant(id(), &st, &catalog(), t0()).unwrap()
    else {
        panic!("expected a scheduled start")
    };
    assert_eq!(starts_at, t0() + TimeDelta::hours(2));
    assert_eq!(effects(&plan), [("SetStartTimer", OnFailure::Stop)]);
    assert_eq!(plan.then, None);
}

#[test]
fn a_window_that_ended_before_the_grant_fails_without_touching_iam() {
    let plan = plan_grant(id(), &approved(), &catalog(), t0() + TimeDelta::hours(2)).unwrap();
    let GrantPlan::Fail { reason, plan } = plan else {
        panic!("expected a failure")
    };
    assert!(reason.contains("window ended"));
    assert!(plan.steps.is_empty());
    assert!(matches!(
        plan.then,
        Some(Command::RecordGrantFailure { attempts: 0, .. })
    ));
}

#[test]
fn a_role_removed_from_the_catalog_fails_the_grant() {
    let narrowed = CATALOG.replacen("role/stint/*", "role/stint/ci-*", 1);
    let narrowed = Catalog::from_toml(&narrowed).unwrap();
    let plan = plan_grant(id(), &approved(), &narrowed, t0()).unwrap();
    assert!(
        matches!(plan, GrantPlan::Fail { ref reason, .. } if reason.contains("no longer allows"))
    );
}

fn put_document(plan: &Plan) -> &Value {
    plan.steps
        .iter()
        .find_map(|s| match &s.effect {
            Effect::PutPolicy { document, .. } => Some(document),
            _ => None,
        })
        .expect("a PutPolicy step")
}

#[test]
fn a_grant_is_bound_to_its_requester_and_ends_denying_stints_own_resources() {
    // Given alice's approved request, when it is granted, then the role's statement holds
    // only for alice's sessions, and the last statement denies every action on Stint.
    let GrantPlan::Grant { plan, .. } = plan_grant(id(), &approved(), &catalog(), t0()).unwrap()
    else {
        panic!("expected a grant")
    };
    let doc = put_document(&plan);
    assert_eq!(
        doc["Statement"][0]["Condition"]["StringLike"]["aws:userid"],
        "*:alice"
    );
    let last = doc["Statement"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["Sid"], "StintProtected");
    assert_eq!(last["Effect"], "Deny");
    assert_eq!(last["Action"], "*");
    assert_eq!(
        last["Resource"],
        serde_json::to_value(catalog().protected().arns()).unwrap()
    );
    // What is recorded is what was put.
    assert!(matches!(&plan.then, Some(Command::RecordGrant { policy, .. }) if policy == doc));
}

#[test]
fn a_requester_who_cannot_be_a_session_name_fails_a_bound_grant_without_touching_iam() {
    // Given a pipeline's approved request on a role bound to session names...
    let mut s = submit_as(who("repo:acme/orders:ref:refs/heads/main", &[]), "db");
    s.duration = Some(crate::duration::AccessDuration::parse("15m").unwrap());
    let st = given(vec![submit_cmd(s), approve(bob())]);
    // ...when it is granted, then the grant fails with the reason and IAM is not touched.
    let GrantPlan::Fail { reason, plan } = plan_grant(id(), &st, &catalog(), t0()).unwrap() else {
        panic!("expected a failure")
    };
    assert!(reason.starts_with("requester \"repo:acme/orders:ref:refs/heads/main\" cannot be bound by role_session_name"), "{reason}");
    assert!(plan.steps.is_empty());
    // The same role, unbound (one workload assumes it), grants.
    let unbound = Catalog::from_toml(&CATALOG.replacen(
        "break_glass = true",
        "break_glass = true\nsession_binding = \"none\"",
        1,
    ))
    .unwrap();
    assert!(matches!(
        plan_grant(id(), &st, &unbound, t0()).unwrap(),
        GrantPlan::Grant { .. }
    ));
}

#[test]
fn a_grant_never_lands_on_a_role_nested_under_a_principal_pattern() {
    // Given a role whose principals are `role/stint/ci-*`, when alice asks for
    // `role/stint/ci-x/oncall`, then the request is refused (IAM would take `oncall`).
    let narrowed =
        Catalog::from_toml(&CATALOG.replacen("role/stint/*", "role/stint/ci-*", 1)).unwrap();
    let mut s = submit();
    s.principal = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/ci-x/oncall").unwrap();
    assert_eq!(
        decide(&RequestState::default(), &submit_cmd(s), &narrowed, t0()),
        Err(Rejection::PrincipalNotAllowed(
            "arn:aws:iam::123456789012:role/stint/ci-x/oncall".into()
        ))
    );
}

#[test]
fn a_grant_whose_filled_statements_reach_stint_fails() {
    // Given a catalog changed in memory after load (load would have refused it)...
    let mut c = catalog();
    let role = c.roles.get_mut(&RoleName::parse("db").unwrap()).unwrap();
    role.statements[0].resources = vec!["arn:aws:dynamodb:eu-west-1:123456789012:table/*".into()];
    // ...when the approved request is granted, then it fails and nothing is put.
    let GrantPlan::Fail { reason, plan } = plan_grant(id(), &approved(), &c, t0()).unwrap() else {
        panic!("expected a failure")
    };
    assert!(reason.contains("reaches Stint's own resource"), "{reason}");
    assert!(plan.steps.is_empty());
}

// --- revoke ----------------------------------------------------------------------------------

#[test]
fn an_early_revoke_puts_the_cutoff_then_deletes_and_keeps_the_timer() {
    let plan = plan_revoke(
        id(),
        &active(),
        RevokeReason::Manual,
        Some(alice()),
        &catalog(),
        t0() + TimeDelta::minutes(10),
    )
    .unwrap();
    assert_eq!(
        effects(&plan),
        [
            ("PutCutoff", OnFailure::RevokeFails),
            ("DeletePolicy", OnFailure::RevokeFails)
        ]
    );
    // The cutoff denies alice's earlier sessions only, never another person's grant.
    assert_eq!(
        put_document(&plan)["Statement"][0]["Condition"]["StringLike"]["aws:userid"],
        "*:alice"
    );
    assert!(matches!(
        plan.then,
        Some(Command::Revoke {
            reason: RevokeReason::Manual,
            ..
        })
    ));
}

#[test]
fn a_revoke_at_expiry_deletes_and_cancels_the_timer() {
    let plan = plan_revoke(
        id(),
        &active(),
        RevokeReason::Expired,
        None,
        &catalog(),
        t0() + TimeDelta::hours(1),
    )
    .unwrap();
    assert_eq!(
        effects(&plan),
        [
            ("DeletePolicy", OnFailure::RevokeFails),
            ("CancelTimer", OnFailure::Continue)
        ]
    );
}

#[test]
fn a_stale_expiry_timer_before_an_extension_does_nothing() {
    let plan = plan_revoke(
        id(),
        &active(),
        RevokeReason::Expired,
        None,
        &catalog(),
        t0() + TimeDelta::minutes(30),
    )
    .unwrap();
    assert!(plan.is_empty());
}

#[test]
fn a_stranger_may_not_revoke() {
    assert_eq!(
        plan_revoke(
            id(),
            &active(),
            RevokeReason::Manual,
            Some(mallory()),
            &catalog(),
            t0()
        ),
        Err(Rejection::NotPermittedToRevoke)
    );
}

#[test]
fn after_an_early_revoke_the_expiry_timer_removes_the_cutoff() {
    let c = catalog();
    let st = active();
    let at = t0() + TimeDelta::minutes(10);
    let revoked = decide(
        &st,
        &Command::Revoke {
            reason: RevokeReason::Manual,
            by: Some(alice()),
        },
        &c,
        at,
    )
    .unwrap()
    .iter()
    .fold(st, apply);
    let plan = plan_revoke(
        id(),
        &revoked,
        RevokeReason::Expired,
        None,
        &c,
        t0() + TimeDelta::hours(1),
    )
    .unwrap();
    assert_eq!(effects(&plan), [("DeleteCutoff", OnFailure::Stop)]);
    assert_eq!(plan.then, None);
}

// --- extend ----------------------------------------------------------------------------------

#[test]
fn an_extension_puts_the_policy_with_the_new_window_before_it_is_recorded() {
    let by = Command::Extend {
        by: bob(),
        by_duration: crate::duration::AccessDuration::parse("30m").unwrap(),
    };
    let plan = plan_extend(
        id(),
        &active(),
        &by,
        &catalog(),
        t0() + TimeDelta::minutes(50),
    )
    .unwrap();
    assert_eq!(
        effects(&plan),
        [
            ("PutPolicy", OnFailure::Stop),
            ("SetExpiryTimer", OnFailure::Stop)
        ]
    );
    let Effect::PutPolicy { document, .. } = &plan.steps[0].effect else {
        unreachable!()
    };
    let until = document["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"].as_str();
    assert_eq!(until, Some("2026-11-01T10:30:00Z"));
    // The re-put keeps the requester's binding and the deny of Stint's own resources.
    assert_eq!(
        document["Statement"][0]["Condition"]["StringLike"]["aws:userid"],
        "*:alice"
    );
    assert_eq!(document["Statement"][1]["Sid"], "StintProtected");
    assert_eq!(plan.then, Some(by));
}

#[test]
fn an_extension_over_the_total_is_refused_before_iam_is_touched() {
    let by = Command::Extend {
        by: bob(),
        by_duration: crate::duration::AccessDuration::parse("3h").unwrap(),
    };
    assert!(matches!(
        plan_extend(id(), &active(), &by, &catalog(), t0()),
        Err(Rejection::OverMaxTotal { .. })
    ));
}

// --- sweep -----------------------------------------------------------------------------------

#[test]
fn the_sweep_revokes_expired_grants_lapses_stale_requests_and_grants_lost_approvals() {
    let c = catalog();
    assert_eq!(
        sweep_action(&active(), &c, t0() + TimeDelta::hours(1)),
        SweepAction::Revoke
    );
    assert_eq!(sweep_action(&active(), &c, t0()), SweepAction::Nothing);
    let pending = given(vec![submit_cmd(submit())]);
    assert_eq!(
        sweep_action(&pending, &c, t0() + TimeDelta::hours(1)),
        SweepAction::Lapse
    );
    assert_eq!(sweep_action(&pending, &c, t0()), SweepAction::Nothing);
    assert_eq!(sweep_action(&approved(), &c, t0()), SweepAction::Grant);
}
