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
                Effect::SetTimer {
                    kind: TimerKind::RemindSoon,
                    ..
                } => "SetReminder",
                Effect::SetTimer {
                    kind: TimerKind::RemindDay,
                    ..
                } => "SetDayReminder",
                Effect::SetTimer { .. } => "SetExpiryTimer",
                Effect::CancelTimer {
                    kind: TimerKind::Start,
                    ..
                } => "CancelStartTimer",
                Effect::CancelTimer {
                    kind: TimerKind::RemindSoon,
                    ..
                } => "CancelReminder",
                Effect::CancelTimer { .. } => "CancelTimer",
                Effect::CheckPrincipal { .. } => "CheckPrincipal",
                Effect::CheckPolicyBudget { .. } => "CheckPolicyBudget",
                Effect::AssignPermissionSet { .. } => "AssignPermissionSet",
                Effect::UnassignPermissionSet { .. } => "UnassignPermissionSet",
            };
            (name, s.on_failure)
        })
        .collect()
}

// --- grant -----------------------------------------------------------------------------------

#[test]
fn an_approved_request_is_checked_then_granted_then_timed_then_recorded() {
    let GrantPlan::Grant { expires_at, plan } =
        plan_grant(id(), &approved(), &catalog(), t0()).unwrap()
    else {
        panic!("expected a grant")
    };
    assert_eq!(expires_at, t0() + TimeDelta::hours(1));
    assert_eq!(
        effects(&plan),
        [
            ("CheckPrincipal", OnFailure::GrantFails),
            ("CheckPolicyBudget", OnFailure::GrantFails),
            ("PutPolicy", OnFailure::GrantFails),
            ("SetExpiryTimer", OnFailure::Continue),
            ("SetReminder", OnFailure::Continue)
        ]
    );
    let reminder = plan.steps.iter().find_map(|s| match s.effect {
        Effect::SetTimer {
            kind: TimerKind::RemindSoon,
            at,
            ..
        } => Some(at),
        _ => None,
    });
    assert_eq!(reminder, Some(expires_at - TimeDelta::minutes(10)));
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
    // The protected resources of the services granted (dynamodb here), not every one: the
    // others are out of this policy's reach, and naming them would spend the role's quota.
    assert_eq!(
        last["Resource"],
        serde_json::json!(["arn:aws:dynamodb:*:*:table/stint*"])
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
fn an_early_revoke_deletes_first_puts_no_cutoff_and_clears_the_timer() {
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
            ("DeletePolicy", OnFailure::RevokeFails),
            ("CancelTimer", OnFailure::Continue),
            ("CancelReminder", OnFailure::Continue)
        ]
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
fn the_expiry_timer_of_an_older_early_revoke_removes_its_cutoff() {
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

fn extended(by: &str) -> RequestState {
    let c = catalog();
    let cmd = Command::Extend {
        by: bob(),
        by_duration: crate::duration::AccessDuration::parse(by).unwrap(),
        only_from: None,
    };
    let st = active();
    decide(&st, &cmd, &c, t0() + TimeDelta::minutes(50))
        .unwrap()
        .iter()
        .fold(st, apply)
}

#[test]
fn an_approved_extension_is_not_the_expiry_until_iam_holds_it() {
    let st = extended("30m");
    assert_eq!(
        st.expires_at(),
        Some(t0() + TimeDelta::hours(1)),
        "IAM still has the old window"
    );
    assert_eq!(st.pending_extension, Some(t0() + TimeDelta::minutes(90)));
    // The expiry timer firing in between does not revoke what is being extended.
    let at_old_expiry = t0() + TimeDelta::hours(1);
    let revoke = plan_revoke(
        id(),
        &st,
        RevokeReason::Expired,
        None,
        &catalog(),
        at_old_expiry,
    )
    .unwrap();
    assert!(revoke.is_empty());
}

#[test]
fn an_extension_puts_the_policy_with_the_new_window_before_it_is_recorded() {
    let st = extended("30m");
    let plan = plan_extend(id(), &st, &catalog(), t0() + TimeDelta::minutes(50)).unwrap();
    assert_eq!(
        effects(&plan),
        [
            ("PutPolicy", OnFailure::Stop),
            ("SetExpiryTimer", OnFailure::Stop),
            ("SetReminder", OnFailure::Continue)
        ]
    );
    // The reminder moves with the expiry: ten minutes before the new one.
    assert!(plan.steps.iter().any(|s| s.effect
        == Effect::SetTimer {
            request: id(),
            kind: TimerKind::RemindSoon,
            at: t0() + TimeDelta::minutes(80),
        }));
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
    assert_eq!(plan.then, Some(Command::ApplyExtension));
    let c = catalog();
    let applied = decide(
        &st,
        &Command::ApplyExtension,
        &c,
        t0() + TimeDelta::minutes(51),
    )
    .unwrap()
    .iter()
    .fold(st, apply);
    assert_eq!(applied.expires_at(), Some(t0() + TimeDelta::minutes(90)));
    assert_eq!(applied.pending_extension, None);
    // A redelivered ApplyExtension (or its bus event) has nothing left to do.
    assert!(plan_extend(id(), &applied, &c, t0()).unwrap().is_empty());
    assert_eq!(
        decide(&applied, &Command::ApplyExtension, &c, t0()),
        Ok(vec![])
    );
}

#[test]
fn an_extension_over_the_total_is_refused_before_anything_is_recorded() {
    let by = Command::Extend {
        by: bob(),
        by_duration: crate::duration::AccessDuration::parse("3h").unwrap(),
        only_from: None,
    };
    assert!(matches!(
        decide(&active(), &by, &catalog(), t0()),
        Err(Rejection::OverMaxTotal { .. })
    ));
}

#[test]
fn the_sweep_applies_an_extension_whose_event_was_lost() {
    assert_eq!(
        sweep_action(&extended("30m"), &catalog(), t0() + TimeDelta::hours(1)),
        SweepAction::ApplyExtension
    );
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

// --- scheduled grants ------------------------------------------------------------------------

fn scheduled() -> RequestState {
    let mut s = submit();
    s.starts_at = Some(t0() + TimeDelta::hours(2));
    given(vec![submit_cmd(s), approve(bob())])
}

#[test]
fn a_scheduled_grant_can_be_cancelled_by_its_requester_before_it_starts() {
    let cancel = Command::Cancel { by: alice() };
    let plan = plan_cancel(id(), &scheduled(), &cancel, &catalog(), t0()).unwrap();
    assert_eq!(effects(&plan), [("CancelStartTimer", OnFailure::Continue)]);
    assert_eq!(plan.then, Some(cancel));
    let at_start = t0() + TimeDelta::hours(2);
    assert!(matches!(
        plan_cancel(
            id(),
            &scheduled(),
            &Command::Cancel { by: alice() },
            &catalog(),
            at_start
        ),
        Err(Rejection::WrongState { .. })
    ));
}

#[test]
fn a_scheduled_grant_can_be_revoked_by_an_approver_and_then_never_starts() {
    let c = catalog();
    let plan = plan_revoke(
        id(),
        &scheduled(),
        RevokeReason::Manual,
        Some(bob()),
        &c,
        t0(),
    )
    .unwrap();
    assert_eq!(effects(&plan), [("CancelStartTimer", OnFailure::Continue)]);
    let Some(cmd) = plan.then else {
        panic!("a revoke to record")
    };
    let revoked = decide(&scheduled(), &cmd, &c, t0())
        .unwrap()
        .iter()
        .fold(scheduled(), apply);
    assert_eq!(revoked.status, Status::Revoked);
    let later = t0() + TimeDelta::hours(2);
    assert_eq!(
        plan_grant(id(), &revoked, &c, later),
        Ok(GrantPlan::AlreadyDone(Status::Revoked))
    );
    assert_eq!(
        plan_revoke(
            id(),
            &scheduled(),
            RevokeReason::Manual,
            Some(mallory()),
            &c,
            t0()
        ),
        Err(Rejection::NotPermittedToRevoke)
    );
}

const IC_ROLE: &str = r#"
[roles.sso]
provider = "identity_center"
permission_set = "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-5555666677778888"
principals = ["arn:aws:iam::123456789012:role/stint/*"]
default_duration = "1h"
max_duration = "2h"
requesters = { groups = ["sre"] }
approvers = { groups = ["owners"] }
"#;

fn ic_catalog() -> Catalog {
    Catalog::from_toml(&format!("{}{IC_ROLE}", crate::testkit::CATALOG)).unwrap()
}

fn ic_assignment() -> crate::identity_center::Assignment {
    crate::identity_center::Assignment {
        instance_arn: "arn:aws:sso:::instance/ssoins-1111222233334444".into(),
        permission_set: crate::identity_center::PermissionSetArn::parse(
            "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-5555666677778888",
        )
        .unwrap(),
        account: "123456789012".into(),
        principal_id: "u-alice".into(),
        user_name: "alice".into(),
        session_duration: Some("PT1H".into()),
    }
}

fn ic_state(c: &Catalog, cmds: Vec<Command>) -> RequestState {
    cmds.into_iter().fold(RequestState::default(), |s, cmd| {
        decide(&s, &cmd, c, t0()).unwrap().iter().fold(s, apply)
    })
}

#[test]
fn an_identity_center_grant_assigns_arms_the_timer_and_records_no_policy() {
    let c = ic_catalog();
    let s = ic_state(
        &c,
        vec![submit_cmd(submit_as(alice(), "sso")), approve(bob())],
    );
    let GrantPlan::Grant { plan, .. } = plan_grant(id(), &s, &c, t0()).unwrap() else {
        panic!("a grant");
    };
    assert_eq!(
        effects(&plan)[..2],
        [
            ("AssignPermissionSet", OnFailure::GrantFails),
            ("SetExpiryTimer", OnFailure::Continue)
        ]
    );
    assert!(matches!(&plan.steps[0].effect,
        Effect::AssignPermissionSet { account, user, permission_set }
            if account == "123456789012" && user.as_str() == "alice"
                && permission_set.as_str().ends_with("ps-5555666677778888")));
    assert!(!effects(&plan).iter().any(|(e, _)| [
        "PutPolicy",
        "CheckPrincipal",
        "CheckPolicyBudget"
    ]
    .contains(e)));
}

#[test]
fn an_identity_center_revoke_deletes_exactly_the_recorded_assignment() {
    let c = ic_catalog();
    let a = ic_assignment();
    let s = ic_state(
        &c,
        vec![
            submit_cmd(submit_as(alice(), "sso")),
            approve(bob()),
            Command::RecordGrant {
                policy_name: "stint-x".into(),
                policy: a.to_grant_document(),
                account: None,
            },
        ],
    );
    assert_eq!(
        s.grant.as_ref().and_then(|g| g.assignment.clone()),
        Some(a.clone())
    );
    let plan = plan_revoke(id(), &s, RevokeReason::Manual, Some(bob()), &c, t0()).unwrap();
    assert_eq!(
        effects(&plan)[0],
        ("UnassignPermissionSet", OnFailure::RevokeFails)
    );
    assert!(matches!(&plan.steps[0].effect,
        Effect::UnassignPermissionSet { assignment } if *assignment == a));
    assert!(!effects(&plan).iter().any(|(e, _)| *e == "DeletePolicy"));
}

#[test]
fn an_identity_center_extension_only_moves_the_timer() {
    let c = ic_catalog();
    let s = ic_state(
        &c,
        vec![
            submit_cmd(submit_as(alice(), "sso")),
            approve(bob()),
            Command::RecordGrant {
                policy_name: "stint-x".into(),
                policy: ic_assignment().to_grant_document(),
                account: None,
            },
        ],
    );
    let mut s = s;
    s.pending_extension = s.expires_at().map(|e| e + TimeDelta::minutes(30));
    let plan = plan_extend(id(), &s, &c, t0()).unwrap();
    assert_eq!(effects(&plan)[0], ("SetExpiryTimer", OnFailure::Stop));
    assert!(!effects(&plan).iter().any(|(e, _)| *e == "PutPolicy"));
}

#[test]
fn an_identity_center_grant_is_refused_in_the_account_of_stints_own_resources() {
    // Nothing can check what a permission set allows: an administrator set in the account of
    // the event table could rewrite the trail. The hub's account is refused outright.
    let text = format!("{}{IC_ROLE}", crate::testkit::CATALOG).replacen(
        "[settings]\n",
        "[settings]\nprotected_resources = [\"arn:aws:dynamodb:us-east-1:123456789012:table/stint-events\"]\n",
        1,
    );
    let c = Catalog::from_toml(&text).unwrap();
    let s = ic_state(
        &c,
        vec![submit_cmd(submit_as(alice(), "sso")), approve(bob())],
    );
    match plan_grant(id(), &s, &c, t0()).unwrap() {
        GrantPlan::Fail { reason, .. } => {
            assert!(reason.contains("Stint's own resources"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
