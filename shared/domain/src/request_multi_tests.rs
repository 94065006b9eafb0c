//! Given/when/then tests of a request naming several accounts: one approval, a grant, a
//! failure and a revoke per account, and the plans that run them.

use super::*;
use crate::effects::{plan_extend, plan_grant, plan_revoke_each, Effect, GrantPlan};
use crate::testkit::{alice, bob, mallory, submit_cmd, t0};
use chrono::Duration;

const CATALOG: &str = r#"
[settings]
pending_timeout = "1h"
admin_groups = ["security"]

[roles.fleet]
accounts = ["r-ab12"]
principals = ["arn:aws:iam::{account}:role/stint/oncall"]
default_duration = "1h"
max_duration = "2h"
max_total_duration = "4h"
requesters = { groups = ["sre"] }
approvers = { groups = ["owners"] }
break_glass = true
self_extend = true
statements = [{ actions = ["s3:GetObject"], resources = ["arn:aws:s3:::dev-logs/*"] }]

[roles.plain]
principals = ["arn:aws:iam::123456789012:role/stint/*"]
default_duration = "1h"
max_duration = "2h"
requesters = { groups = ["sre"] }
approvers = { groups = ["owners"] }
statements = [{ actions = ["s3:GetObject"], resources = ["arn:aws:s3:::dev-logs/*"] }]

[roles.sso-fleet]
provider = "identity_center"
permission_set = "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-5555666677778888"
accounts = ["r-ab12"]
principals = ["arn:aws:iam::{account}:role/stint/identity-center"]
default_duration = "1h"
max_duration = "2h"
requesters = { groups = ["sre"] }
approvers = { groups = ["owners"] }
"#;

fn catalog() -> Catalog {
    Catalog::from_toml(CATALOG).expect("catalog loads")
}

fn acct(n: u64) -> AccountId {
    AccountId::parse(&format!("{n:012}")).unwrap()
}

fn three() -> Vec<AccountId> {
    vec![acct(111111111111), acct(222222222222), acct(333333333333)]
}

fn id() -> RequestId {
    RequestId::from_ulid(ulid::Ulid::from_parts(1, 1))
}

fn ask(accounts: Vec<AccountId>) -> Submit {
    Submit {
        id: id(),
        requester: alice(),
        role: RoleName::parse("fleet").unwrap(),
        scope: None,
        principal: PrincipalArn::parse("arn:aws:iam::000000000000:role/stint/oncall").unwrap(),
        duration: None,
        justification: crate::text::Justification::parse("fleet-wide incident").unwrap(),
        ticket: None,
        starts_at: None,
        source: Source::Person,
        break_glass: false,
        accounts,
    }
}

/// Given these commands at t0...
fn given(cmds: Vec<Command>) -> RequestState {
    let c = catalog();
    cmds.into_iter().fold(RequestState::default(), |s, cmd| {
        let events = decide(&s, &cmd, &c, t0())
            .unwrap_or_else(|r| panic!("given {cmd:?} was rejected: {r}"));
        events.iter().fold(s, apply)
    })
}

fn decided(st: &RequestState, cmd: Command, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
    decide(st, &cmd, &catalog(), now)
}

fn approve() -> Command {
    Command::Approve {
        approver: bob(),
        comment: None,
    }
}

fn granted_in(a: &AccountId) -> Command {
    Command::RecordGrant {
        policy_name: "stint-x".into(),
        policy: serde_json::json!({}),
        account: Some(a.clone()),
    }
}

fn failed_in(a: &AccountId) -> Command {
    Command::RecordGrantFailure {
        error: "role does not exist".into(),
        attempts: 1,
        account: Some(a.clone()),
    }
}

fn status_of(st: &RequestState, a: &AccountId) -> AccountStatus {
    st.accounts[a].status
}

fn approved() -> RequestState {
    given(vec![submit_cmd(ask(three())), approve()])
}

fn all_granted() -> RequestState {
    let a = three();
    given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
        granted_in(&a[1]),
        granted_in(&a[2]),
    ])
}

#[test]
fn one_approval_covers_every_account_of_the_request() {
    let st = given(vec![submit_cmd(ask(three()))]);
    assert_eq!(st.status, Status::Pending);
    assert_eq!(st.accounts.len(), 3);
    assert!(st
        .accounts
        .values()
        .all(|g| g.status == AccountStatus::Pending));
    // `{account}` is filled per account; the request's own principal is the first's.
    let req = st.request.as_ref().unwrap();
    assert_eq!(
        req.principal.as_str(),
        "arn:aws:iam::111111111111:role/stint/oncall"
    );
    assert_eq!(
        st.accounts[&acct(333333333333)].principal.as_str(),
        "arn:aws:iam::333333333333:role/stint/oncall"
    );
    // Approvers' messages name every account and the principal's pattern.
    let fields = crate::notice::request_fields(req);
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(
        field("Accounts (3)"),
        Some("111111111111, 222222222222, 333333333333")
    );
    assert_eq!(
        field("Principal"),
        Some("arn:aws:iam::{account}:role/stint/oncall")
    );
    let st = approved();
    assert_eq!(st.status, Status::Approved);
    assert_eq!(st.approvals.len(), 1);
}

#[test]
fn one_account_named_is_a_single_account_request() {
    let st = given(vec![submit_cmd(ask(vec![acct(222222222222)]))]);
    let req = st.request.unwrap();
    assert!(req.accounts.is_empty() && st.accounts.is_empty());
    assert_eq!(
        req.principal.as_str(),
        "arn:aws:iam::222222222222:role/stint/oncall"
    );
}

#[test]
fn a_bad_list_of_accounts_is_refused_and_records_nothing() {
    let none = RequestState::default();
    let invalid = |s: Submit, says: &str| match decided(&none, submit_cmd(s), t0()) {
        Err(Rejection::Invalid(m)) => assert!(m.contains(says), "{m}"),
        other => panic!("{other:?}"),
    };
    invalid(
        ask(vec![
            acct(111111111111),
            acct(222222222222),
            acct(111111111111),
        ]),
        "named twice",
    );
    invalid(
        ask((1..=(MAX_ACCOUNTS as u64 + 1)).map(acct).collect()),
        "at most 50",
    );
    let mut plain = ask(three());
    plain.role = RoleName::parse("plain").unwrap();
    invalid(plain, "names no accounts");
    // A permission-set role plans one assignment in one account, never several.
    let mut sso = ask(three());
    sso.role = RoleName::parse("sso-fleet").unwrap();
    sso.principal =
        PrincipalArn::parse("arn:aws:iam::000000000000:role/stint/identity-center").unwrap();
    invalid(sso, "name one account per request");
    // Someone who may not request the role learns nothing from the list.
    let mut eve = ask(three());
    eve.requester = mallory();
    assert!(matches!(
        decided(&none, submit_cmd(eve), t0()),
        Err(Rejection::NotAllowedToRequest(_))
    ));
}

#[test]
fn each_account_is_granted_once_and_the_request_is_active_from_the_first() {
    let a = three();
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
    ]);
    assert_eq!(st.status, Status::Active);
    assert_eq!(status_of(&st, &a[0]), AccountStatus::Active);
    assert_eq!(status_of(&st, &a[1]), AccountStatus::Pending);
    // A duplicate delivery for the same account records nothing.
    assert_eq!(decided(&st, granted_in(&a[0]), t0()).unwrap(), vec![]);
    // A grant must name one of the request's accounts.
    for bad in [None, Some(acct(444444444444))] {
        let cmd = Command::RecordGrant {
            policy_name: "stint-x".into(),
            policy: serde_json::json!({}),
            account: bad,
        };
        assert!(matches!(
            decided(&st, cmd, t0()),
            Err(Rejection::Invalid(_))
        ));
    }
    let events = decided(&st, granted_in(&a[1]), t0()).unwrap();
    assert!(matches!(
        &events[0].body,
        EventBody::AccessGranted { account: Some(x), .. } if *x == a[1]
    ));
}

#[test]
fn a_failure_in_one_account_is_recorded_for_it_and_the_others_go_on() {
    let a = three();
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
        failed_in(&a[1]),
        granted_in(&a[2]),
    ]);
    assert_eq!(st.status, Status::Active);
    assert_eq!(status_of(&st, &a[1]), AccountStatus::GrantFailed);
    assert_eq!(
        st.accounts[&a[1]].error.as_deref(),
        Some("role does not exist")
    );
    assert_eq!(st.grant_failures, 1);
    // The report names the failed account.
    let findings = crate::report::findings_for(id(), &st, t0());
    assert!(findings.iter().any(|f| matches!(
        f,
        crate::report::Finding::GrantFailed { account: Some(x), .. } if x == a[1].as_str()
    )));
    // Every account failing fails the request.
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        failed_in(&a[0]),
        failed_in(&a[1]),
    ]);
    assert_eq!(st.status, Status::Approved, "one account is still to try");
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        failed_in(&a[0]),
        failed_in(&a[1]),
        failed_in(&a[2]),
    ]);
    assert_eq!(st.status, Status::GrantFailed);
    // A failure of the whole request (none named) fails every account not granted.
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
        Command::RecordGrantFailure {
            error: "window ended".into(),
            attempts: 0,
            account: None,
        },
    ]);
    assert_eq!(status_of(&st, &a[1]), AccountStatus::GrantFailed);
    assert_eq!(status_of(&st, &a[2]), AccountStatus::GrantFailed);
    assert_eq!(st.status, Status::Active);
}

#[test]
fn revoke_ends_every_account_and_is_idempotent_per_account() {
    let a = three();
    let st = all_granted();
    let revoke = Command::Revoke {
        reason: RevokeReason::Manual,
        by: Some(alice()),
    };
    let events = decided(&st, revoke.clone(), t0()).unwrap();
    assert_eq!(events.len(), 3, "one AccessRevoked per account");
    let one = |acc: &AccountId| Command::RevokeAccount {
        account: acc.clone(),
        reason: RevokeReason::Manual,
        by: Some(alice()),
    };
    // Someone who may not revoke is refused for an account as for the request.
    let eve = Command::RevokeAccount {
        account: a[0].clone(),
        reason: RevokeReason::Manual,
        by: Some(mallory()),
    };
    assert_eq!(
        decided(&st, eve, t0()),
        Err(Rejection::NotPermittedToRevoke)
    );
    let c = catalog();
    let step =
        |s: RequestState, cmd: Command| decide(&s, &cmd, &c, t0()).unwrap().iter().fold(s, apply);
    let st = step(st, one(&a[0]));
    assert_eq!(status_of(&st, &a[0]), AccountStatus::Revoked);
    assert_eq!(st.status, Status::Active, "two accounts still hold it");
    assert_eq!(decided(&st, one(&a[0]), t0()).unwrap(), vec![]);
    // A failed delete in one account is recorded for it; it stays granted.
    let failure = Command::RecordRevokeFailure {
        error: "throttled".into(),
        attempts: 3,
        account: Some(a[1].clone()),
    };
    let st = step(st, failure);
    assert_eq!(st.accounts[&a[1]].revoke_failures, 1);
    assert_eq!(status_of(&st, &a[1]), AccountStatus::Active);
    // The revoke delivered again ends only what is left.
    let events = decided(&st, revoke, t0()).unwrap();
    assert_eq!(events.len(), 2);
    let st = step(step(st, one(&a[1])), one(&a[2]));
    assert_eq!(st.status, Status::Revoked);
    assert!(st
        .accounts
        .values()
        .all(|g| g.status == AccountStatus::Revoked));
}

#[test]
fn an_expiry_timer_before_the_expiry_revokes_no_account() {
    let a = three();
    let st = all_granted();
    let early = Command::RevokeAccount {
        account: a[0].clone(),
        reason: RevokeReason::Expired,
        by: None,
    };
    assert_eq!(decided(&st, early.clone(), t0()).unwrap(), vec![]);
    assert_eq!(
        decided(&st, early, t0() + Duration::hours(1))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_grant_plan_puts_the_policy_in_each_account_not_granted_yet() {
    let st = approved();
    let GrantPlan::GrantEach {
        accounts, timers, ..
    } = plan_grant(id(), &st, &catalog(), t0()).unwrap()
    else {
        panic!("a plan per account");
    };
    assert_eq!(accounts.len(), 3);
    for (plan, a) in accounts.iter().zip(three()) {
        assert_eq!(plan.account.as_ref(), Some(&a));
        let put = plan.steps.iter().find_map(|s| match &s.effect {
            Effect::PutPolicy { principal, .. } => Some(principal.account().to_owned()),
            _ => None,
        });
        assert_eq!(put.as_deref(), Some(a.as_str()));
    }
    assert!(timers
        .steps
        .iter()
        .any(|s| matches!(s.effect, Effect::SetTimer { .. })));
    // A run cut short after one account: the next covers the other two.
    let a = three();
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
    ]);
    let GrantPlan::GrantEach { accounts, .. } = plan_grant(id(), &st, &catalog(), t0()).unwrap()
    else {
        panic!("the rest");
    };
    assert_eq!(accounts.len(), 2);
    assert_eq!(
        crate::effects::sweep_action(&st, &catalog(), t0()),
        crate::effects::SweepAction::Grant
    );
    // All granted: a duplicate delivery does nothing.
    assert_eq!(
        plan_grant(id(), &all_granted(), &catalog(), t0()).unwrap(),
        GrantPlan::AlreadyDone(Status::Active)
    );
}

#[test]
fn the_revoke_plan_deletes_in_each_granted_account_then_clears_the_timers() {
    let a = three();
    let st = all_granted();
    let plans = plan_revoke_each(
        id(),
        &st,
        RevokeReason::Manual,
        Some(alice()),
        &catalog(),
        t0(),
        None,
    )
    .unwrap();
    assert_eq!(plans.len(), 4);
    for (plan, acc) in plans.iter().zip(&a) {
        assert!(matches!(
            &plan.steps[0].effect,
            Effect::DeletePolicy { principal, .. } if principal.account() == acc.as_str()
        ));
        assert!(
            matches!(&plan.then, Some(Command::RevokeAccount { account, .. }) if account == acc)
        );
    }
    assert!(plans[3].account.is_none() && plans[3].then.is_none());
    // Only the accounts asked for (those that left the role, at an extension).
    let only = [a[1].clone()];
    let plans = plan_revoke_each(
        id(),
        &st,
        RevokeReason::AccountRemoved,
        None,
        &catalog(),
        t0(),
        Some(&only),
    )
    .unwrap();
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[0].account.as_ref(), Some(&a[1]));
}

#[test]
fn an_extension_puts_the_new_window_in_every_account_still_granted() {
    let a = three();
    let c = catalog();
    let extend = Command::Extend {
        by: alice(),
        by_duration: AccessDuration::parse("1h").unwrap(),
        only_from: None,
    };
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
        failed_in(&a[1]),
        granted_in(&a[2]),
        extend,
    ]);
    let plan = plan_extend(id(), &st, &c, t0()).unwrap();
    let puts: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.effect {
            Effect::PutPolicy { principal, .. } => Some(principal.account().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(puts, [a[0].to_string(), a[2].to_string()]);
}

#[test]
fn single_account_events_are_written_without_an_account() {
    let st = crate::testkit::given(vec![
        submit_cmd(crate::testkit::submit()),
        crate::testkit::approve(bob()),
    ]);
    let events = decide(
        &st,
        &crate::testkit::granted(),
        &crate::testkit::catalog(),
        t0(),
    )
    .unwrap();
    let record = events[0].to_record("e".into());
    assert!(
        record.payload.get("account").is_none(),
        "{}",
        record.payload
    );
    let requested = decide(
        &RequestState::default(),
        &submit_cmd(crate::testkit::submit()),
        &crate::testkit::catalog(),
        t0(),
    )
    .unwrap();
    let record = requested[0].to_record("e".into());
    assert!(record.payload.get("accounts").is_none());
    // A payload stored before the field existed reads back and writes back byte for byte.
    let old = serde_json::json!({
        "reason": "manual", "expires_at": "2026-11-01T10:00:00Z", "lag_seconds": 0
    });
    let rec = crate::log::EventRecord {
        event_id: "e".into(),
        event_type: "AccessRevoked".into(),
        schema_version: crate::event::SCHEMA_VERSION,
        occurred_at: t0(),
        actor: "system:expired".into(),
        payload: old.clone(),
    };
    let ev = Event::from_record(&rec).unwrap();
    assert_eq!(ev.to_record("e".into()).payload, old);
}

#[test]
fn no_account_is_granted_once_a_revoke_of_the_request_has_begun() {
    // A grant over many accounts runs one account at a time; a revoke that lands meanwhile
    // ends what was granted, and the grants still to come record nothing (their policy is
    // taken off again by the grant function), so the revoke is not outlasted.
    let a = three();
    let st = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
        granted_in(&a[1]),
        Command::RevokeAccount {
            account: a[0].clone(),
            reason: RevokeReason::Manual,
            by: Some(alice()),
        },
    ]);
    assert_eq!(status_of(&st, &a[1]), AccountStatus::Active);
    assert_eq!(decided(&st, granted_in(&a[2]), t0()), Ok(vec![]));
    // An account that left the role ends alone: the others are still granted.
    let moved = given(vec![
        submit_cmd(ask(a.clone())),
        approve(),
        granted_in(&a[0]),
        granted_in(&a[1]),
        Command::RevokeAccount {
            account: a[0].clone(),
            reason: RevokeReason::AccountRemoved,
            by: None,
        },
    ]);
    assert_eq!(decided(&moved, granted_in(&a[2]), t0()).unwrap().len(), 1);
}
