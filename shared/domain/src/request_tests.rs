//! Given/when/then tests of every rule of the request state machine, and property tests.

use super::*;
use crate::catalog::Catalog;
use crate::testkit::submit;
use crate::testkit::*;
use chrono::Duration;
use proptest::prelude::*;

/// ...when this command arrives at `now`, then these event types (or this rejection).
fn when(
    state: &RequestState,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Vec<&'static str>, Rejection> {
    decide(state, &cmd, &catalog(), now).map(|evs| evs.iter().map(|e| e.body.type_name()).collect())
}

// --- submitting ------------------------------------------------------------------------------

#[test]
fn a_valid_request_is_pending_with_the_default_duration() {
    let s = given(vec![submit_cmd(submit())]);
    assert_eq!(s.status, Status::Pending);
    assert_eq!(s.request.unwrap().duration.secs(), 3_600);
}

#[test]
fn the_requester_must_be_allowed_to_request_the_role() {
    assert_eq!(
        when(
            &RequestState::default(),
            submit_cmd(submit_as(mallory(), "db")),
            t0()
        ),
        Err(Rejection::NotAllowedToRequest(
            RoleName::parse("db").unwrap()
        ))
    );
}

#[test]
fn an_unknown_role_is_refused() {
    let mut s = submit();
    s.role = RoleName::parse("nope").unwrap();
    assert!(matches!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Err(Rejection::UnknownRole(_))
    ));
}

#[test]
fn scope_and_principal_must_be_allowed() {
    let mut s = submit();
    s.scope = Some(Scope::parse("payments").unwrap());
    assert!(matches!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Err(Rejection::ScopeNotAllowed { .. })
    ));
    let mut s = submit();
    s.scope = None;
    assert!(matches!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Err(Rejection::ScopeNotAllowed { .. })
    ));
    for arn in [
        "arn:aws:iam::123456789012:role/admin",
        "arn:aws:iam::999999999999:role/stint/x",
        "arn:aws:iam::123456789012:role/stint/stint-broker",
    ] {
        let mut s = submit();
        s.principal = PrincipalArn::parse(arn).unwrap();
        assert!(
            matches!(
                when(&RequestState::default(), submit_cmd(s), t0()),
                Err(Rejection::PrincipalNotAllowed(_))
            ),
            "{arn}"
        );
    }
}

#[test]
fn duration_over_the_maximum_is_refused() {
    let mut s = submit();
    s.duration = Some(AccessDuration::parse("2h1s").unwrap());
    assert!(matches!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Err(Rejection::OverMaxDuration { .. })
    ));
    let mut s = submit();
    s.duration = Some(AccessDuration::parse("2h").unwrap());
    assert!(when(&RequestState::default(), submit_cmd(s), t0()).is_ok());
}

#[test]
fn a_scheduled_start_must_be_in_the_future_and_within_bound() {
    let mut s = submit();
    s.starts_at = Some(t0() - Duration::seconds(1));
    assert_eq!(
        when(&RequestState::default(), submit_cmd(s.clone()), t0()),
        Err(Rejection::StartInPast)
    );
    s.starts_at = Some(t0() + Duration::days(2));
    assert!(matches!(
        when(&RequestState::default(), submit_cmd(s.clone()), t0()),
        Err(Rejection::StartTooFar { .. })
    ));
    s.starts_at = Some(t0() + Duration::hours(3));
    assert_eq!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Ok(vec!["AccessRequested"])
    );
}

#[test]
fn a_request_id_is_used_once() {
    let s = given(vec![submit_cmd(submit())]);
    assert_eq!(
        when(&s, submit_cmd(submit()), t0()),
        Err(Rejection::AlreadyExists)
    );
}

#[test]
fn commands_on_an_unknown_request_are_refused() {
    assert_eq!(
        when(&RequestState::default(), approve(bob()), t0()),
        Err(Rejection::UnknownRequest)
    );
}

// --- approving -------------------------------------------------------------------------------

#[test]
fn one_approval_approves_when_one_is_required() {
    let s = given(vec![submit_cmd(submit())]);
    assert_eq!(
        when(&s, approve(bob()), t0()),
        Ok(vec!["ApprovalRecorded", "AccessApproved"])
    );
}

#[test]
fn n_distinct_approvals_are_needed() {
    let s = given(vec![submit_cmd(submit_as(alice(), "pair")), approve(bob())]);
    assert_eq!(s.status, Status::Pending);
    assert_eq!(
        when(&s, approve(bob()), t0()),
        Ok(vec![]),
        "the same approver counts once"
    );
    assert_eq!(
        when(&s, approve(carol()), t0()),
        Ok(vec!["ApprovalRecorded", "AccessApproved"])
    );
}

#[test]
fn no_self_approval_even_under_case_or_space_variants() {
    let s = given(vec![submit_cmd(submit_as(
        who("alice", &["sre", "owners"]),
        "db",
    ))]);
    for variant in ["alice", "ALICE", " Alice "] {
        assert_eq!(
            when(&s, approve(who(variant, &["owners"])), t0()),
            Err(Rejection::SelfApproval),
            "{variant}"
        );
    }
}

#[test]
fn the_approver_must_be_in_an_approver_group() {
    let s = given(vec![submit_cmd(submit())]);
    assert!(matches!(
        when(&s, approve(mallory()), t0()),
        Err(Rejection::NotApprover(_))
    ));
}

#[test]
fn one_denial_ends_the_request() {
    let s = given(vec![submit_cmd(submit_as(alice(), "pair")), approve(bob())]);
    let s = given_from(
        s,
        Command::Deny {
            approver: carol(),
            reason: Some("no".into()),
        },
    );
    assert_eq!(s.status, Status::Denied);
    assert!(matches!(
        when(&s, approve(carol()), t0()),
        Err(Rejection::WrongState { .. })
    ));
    assert_eq!(
        when(
            &s,
            Command::Deny {
                approver: carol(),
                reason: None
            },
            t0()
        ),
        Ok(vec![])
    );
}

fn given_from(s: RequestState, cmd: Command) -> RequestState {
    let evs = decide(&s, &cmd, &catalog(), t0()).unwrap();
    evs.iter().fold(s, apply)
}

#[test]
fn approving_a_revoked_or_cancelled_request_is_a_state_error() {
    let cancelled = given(vec![submit_cmd(submit()), Command::Cancel { by: alice() }]);
    assert!(matches!(
        when(&cancelled, approve(bob()), t0()),
        Err(Rejection::WrongState {
            status: Status::Cancelled,
            ..
        })
    ));
    let revoked = given(vec![
        submit_cmd(submit()),
        approve(bob()),
        granted(),
        Command::Revoke {
            reason: RevokeReason::Manual,
            by: Some(alice()),
        },
    ]);
    assert!(matches!(
        when(&revoked, approve(carol()), t0()),
        Err(Rejection::WrongState {
            status: Status::Revoked,
            ..
        })
    ));
}

// --- automatic approval ----------------------------------------------------------------------

#[test]
fn an_authenticated_alert_is_approved_by_rule_within_bound() {
    let mut s = submit();
    s.source = Source::Alert {
        service: "orders".into(),
        alarm: "arn:alarm".into(),
        incident: "i-1".into(),
        authenticated: true,
    };
    let st = given(vec![submit_cmd(s.clone())]);
    assert_eq!(st.status, Status::Approved);
    assert_eq!(st.approved_by_rule.as_deref(), Some("oncall"));
    s.duration = Some(AccessDuration::parse("90m").unwrap());
    assert_eq!(
        when(&RequestState::default(), submit_cmd(s.clone()), t0()),
        Ok(vec!["AccessRequested"]),
        "over the rule's bound waits"
    );
    s.duration = None;
    s.source = Source::Alert {
        service: "orders".into(),
        alarm: "a".into(),
        incident: "i".into(),
        authenticated: false,
    };
    assert_eq!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Ok(vec!["AccessRequested"]),
        "an alarm matched by name alone waits for a person"
    );
}

#[test]
fn pipeline_claims_must_all_match_for_automatic_approval() {
    let mut s = submit_as(who("repo:acme/orders:ref:refs/heads/main", &[]), "db");
    s.duration = Some(AccessDuration::parse("15m").unwrap());
    s.source = Source::Pipeline {
        repository: "acme/orders".into(),
        git_ref: "refs/heads/main".into(),
        environment: Some("prod".into()),
    };
    assert_eq!(
        when(&RequestState::default(), submit_cmd(s.clone()), t0()),
        Ok(vec!["AccessRequested", "AccessApproved"])
    );
    s.source = Source::Pipeline {
        repository: "acme/orders".into(),
        git_ref: "refs/heads/feature".into(),
        environment: Some("prod".into()),
    };
    assert_eq!(
        when(&RequestState::default(), submit_cmd(s.clone()), t0()),
        Ok(vec!["AccessRequested"])
    );
    s.source = Source::Pipeline {
        repository: "acme/orders".into(),
        git_ref: "refs/heads/main".into(),
        environment: None,
    };
    assert_eq!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Ok(vec!["AccessRequested"])
    );
}

#[test]
fn a_pipeline_rule_approves_only_the_scopes_and_principals_it_names() {
    let c = Catalog::from_toml(&CATALOG.replace(
        "scopes = [\"orders\"]\nprincipals = [\"arn:aws:iam::123456789012:role/stint/*\"]",
        "scopes = [\"orders\"]\nprincipals = [\"arn:aws:iam::123456789012:role/stint/ci-orders\"]",
    ))
    .unwrap();
    let mut s = submit_as(who("repo:acme/orders:ref:refs/heads/main", &[]), "db");
    s.duration = Some(AccessDuration::parse("15m").unwrap());
    s.source = Source::Pipeline {
        repository: "acme/orders".into(),
        git_ref: "refs/heads/main".into(),
        environment: Some("prod".into()),
    };
    let types = |s: &Submit, c: &Catalog| {
        decide(&RequestState::default(), &submit_cmd(s.clone()), c, t0())
            .map(|e| e.iter().map(|e| e.body.type_name()).collect::<Vec<_>>())
    };
    // Another principal than the rule names waits for a person.
    assert_eq!(types(&s, &c), Ok(vec!["AccessRequested"]));
    s.principal = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/ci-orders").unwrap();
    assert_eq!(types(&s, &c), Ok(vec!["AccessRequested", "AccessApproved"]));
    // The same job asking for another scope of the role waits too.
    let wider = Catalog::from_toml(&CATALOG.replace(
        "scopes = [\"orders\"]\ndefault_duration",
        "scopes = [\"orders\", \"payments\"]\ndefault_duration",
    ))
    .unwrap();
    s.principal = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap();
    s.scope = Some(Scope::parse("payments").unwrap());
    assert_eq!(types(&s, &wider), Ok(vec!["AccessRequested"]));
    s.scope = Some(Scope::parse("orders").unwrap());
    assert_eq!(
        types(&s, &wider),
        Ok(vec!["AccessRequested", "AccessApproved"])
    );
}

#[test]
fn only_alarm_patterns_with_a_literal_region_and_account_are_full_arns() {
    use crate::catalog::is_full_alarm_arn;
    assert!(is_full_alarm_arn(
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-*"
    ));
    for p in [
        "orders-*",
        "arn:aws:cloudwatch:*:123456789012:alarm:orders-*",
        "arn:aws:cloudwatch:eu-west-1:*:alarm:orders-*",
        "arn:aws:cloudwatch:eu-west-1:12345:alarm:orders-*",
        "*",
    ] {
        assert!(!is_full_alarm_arn(p), "{p}");
    }
}

// --- cancelling and lapsing ------------------------------------------------------------------

#[test]
fn only_the_requester_cancels_and_only_while_pending() {
    let s = given(vec![submit_cmd(submit())]);
    assert_eq!(
        when(&s, Command::Cancel { by: bob() }, t0()),
        Err(Rejection::NotRequester)
    );
    assert_eq!(
        when(&s, Command::Cancel { by: alice() }, t0()),
        Ok(vec!["RequestCancelled"])
    );
    let approved = given(vec![submit_cmd(submit()), approve(bob())]);
    assert!(matches!(
        when(&approved, Command::Cancel { by: alice() }, t0()),
        Err(Rejection::WrongState { .. })
    ));
}

#[test]
fn a_pending_request_lapses_after_the_bound_and_not_before() {
    let s = given(vec![submit_cmd(submit())]);
    assert_eq!(
        when(&s, Command::Lapse, t0() + Duration::minutes(59)),
        Err(Rejection::NotYetDue("lapse"))
    );
    assert_eq!(
        when(&s, Command::Lapse, t0() + Duration::hours(1)),
        Ok(vec!["RequestLapsed"])
    );
    let approved = given(vec![submit_cmd(submit()), approve(bob())]);
    assert_eq!(
        when(&approved, Command::Lapse, t0() + Duration::hours(5)),
        Ok(vec![])
    );
}

// --- granting --------------------------------------------------------------------------------

#[test]
fn a_grant_happens_only_from_approved_and_only_once() {
    let pending = given(vec![submit_cmd(submit())]);
    assert!(matches!(
        when(&pending, granted(), t0()),
        Err(Rejection::WrongState { .. })
    ));
    let approved = given(vec![submit_cmd(submit()), approve(bob())]);
    assert_eq!(when(&approved, granted(), t0()), Ok(vec!["AccessGranted"]));
    let active = given_from(approved, granted());
    assert_eq!(active.expires_at(), Some(t0() + Duration::hours(1)));
    assert_eq!(
        when(&active, granted(), t0()),
        Ok(vec![]),
        "a duplicate grant is a no-op"
    );
}

#[test]
fn the_grant_window_is_fixed_at_approval_so_duplicates_agree() {
    let approved = given(vec![submit_cmd(submit()), approve(bob())]);
    let late = t0() + Duration::minutes(5);
    let evs = decide(&approved, &granted(), &catalog(), late).unwrap();
    assert!(
        matches!(evs[0].body, EventBody::AccessGranted { starts_at, expires_at, .. }
        if starts_at == t0() && expires_at == t0() + Duration::hours(1))
    );
}

#[test]
fn a_scheduled_grant_waits_for_its_start_and_keeps_its_window() {
    let mut s = submit();
    s.starts_at = Some(t0() + Duration::hours(2));
    let approved = given(vec![submit_cmd(s), approve(bob())]);
    assert_eq!(
        when(&approved, granted(), t0() + Duration::hours(1)),
        Err(Rejection::NotYetDue("grant"))
    );
    assert_eq!(
        approved.grant_window(),
        Some((t0() + Duration::hours(2), t0() + Duration::hours(3)))
    );
    assert_eq!(
        when(&approved, granted(), t0() + Duration::hours(2)),
        Ok(vec!["AccessGranted"])
    );
}

#[test]
fn a_failed_grant_is_terminal() {
    let s = given(vec![
        submit_cmd(submit()),
        approve(bob()),
        Command::RecordGrantFailure {
            account: None,
            error: "throttled".into(),
            attempts: 5,
        },
    ]);
    assert_eq!(s.status, Status::GrantFailed);
    assert!(matches!(
        when(&s, granted(), t0()),
        Err(Rejection::WrongState { .. })
    ));
}

// --- revoking --------------------------------------------------------------------------------

fn active() -> RequestState {
    given(vec![submit_cmd(submit()), approve(bob()), granted()])
}

#[test]
fn revoke_only_from_active_and_a_repeat_is_a_no_op() {
    let pending = given(vec![submit_cmd(submit())]);
    assert!(matches!(
        when(
            &pending,
            Command::Revoke {
                reason: RevokeReason::Manual,
                by: Some(alice())
            },
            t0()
        ),
        Err(Rejection::WrongState { .. })
    ));
    assert_eq!(
        when(
            &pending,
            Command::Revoke {
                reason: RevokeReason::Sweep,
                by: None
            },
            t0() + Duration::days(1)
        ),
        Ok(vec![])
    );
    let later = t0() + Duration::hours(1) + Duration::seconds(3);
    assert_eq!(
        when(
            &active(),
            Command::Revoke {
                reason: RevokeReason::Expired,
                by: None
            },
            later
        ),
        Ok(vec!["AccessRevoked"])
    );
    let revoked = given_from(
        active(),
        Command::Revoke {
            reason: RevokeReason::Manual,
            by: Some(alice()),
        },
    );
    assert_eq!(
        when(
            &revoked,
            Command::Revoke {
                reason: RevokeReason::Expired,
                by: None
            },
            later
        ),
        Ok(vec![])
    );
    assert_eq!(
        when(
            &revoked,
            Command::Revoke {
                reason: RevokeReason::Manual,
                by: Some(bob())
            },
            later
        ),
        Ok(vec![])
    );
}

#[test]
fn revoke_records_the_lag_from_expiry() {
    let later = t0() + Duration::hours(1) + Duration::seconds(42);
    let evs = decide(
        &active(),
        &Command::Revoke {
            reason: RevokeReason::Sweep,
            by: None,
        },
        &catalog(),
        later,
    )
    .unwrap();
    assert!(matches!(
        evs[0].body,
        EventBody::AccessRevoked {
            lag_seconds: 42,
            reason: RevokeReason::Sweep,
            ..
        }
    ));
}

#[test]
fn an_expiry_timer_before_the_expiry_does_nothing() {
    assert_eq!(
        when(
            &active(),
            Command::Revoke {
                reason: RevokeReason::Expired,
                by: None
            },
            t0() + Duration::minutes(59)
        ),
        Ok(vec![])
    );
}

#[test]
fn manual_revoke_by_requester_approver_or_admin_only() {
    for ok in [alice(), bob(), who("sec", &["security"])] {
        assert_eq!(
            when(
                &active(),
                Command::Revoke {
                    reason: RevokeReason::Manual,
                    by: Some(ok)
                },
                t0()
            ),
            Ok(vec!["AccessRevoked"])
        );
    }
    assert_eq!(
        when(
            &active(),
            Command::Revoke {
                reason: RevokeReason::Manual,
                by: Some(mallory())
            },
            t0()
        ),
        Err(Rejection::NotPermittedToRevoke)
    );
    assert_eq!(
        when(
            &active(),
            Command::Revoke {
                reason: RevokeReason::Manual,
                by: None
            },
            t0()
        ),
        Err(Rejection::NotPermittedToRevoke)
    );
}

#[test]
fn a_failed_revoke_keeps_the_grant_active_for_the_sweep() {
    let s = given_from(
        active(),
        Command::RecordRevokeFailure {
            account: None,
            error: "5xx".into(),
            attempts: 3,
        },
    );
    assert_eq!((s.status, s.revoke_failures), (Status::Active, 1));
}

// --- extending -------------------------------------------------------------------------------

#[test]
fn an_extension_stays_within_the_maximum_total() {
    let by_1h = AccessDuration::parse("1h").unwrap();
    // db: requester may not self-extend; an approver may, up to 3h in total.
    assert_eq!(
        when(
            &active(),
            Command::Extend {
                by: alice(),
                by_duration: by_1h,
                only_from: None
            },
            t0()
        ),
        Err(Rejection::ExtensionNeedsApproval)
    );
    assert_eq!(
        when(
            &active(),
            Command::Extend {
                by: bob(),
                by_duration: by_1h,
                only_from: None
            },
            t0()
        ),
        Ok(vec!["ExtensionApproved"])
    );
    let s = given_from(
        given_from(
            active(),
            Command::Extend {
                by: bob(),
                by_duration: AccessDuration::parse("2h").unwrap(),
                only_from: None,
            },
        ),
        Command::ApplyExtension,
    );
    assert_eq!(s.expires_at(), Some(t0() + Duration::hours(3)));
    assert!(matches!(
        when(
            &s,
            Command::Extend {
                by: bob(),
                by_duration: AccessDuration::parse("1s").unwrap(),
                only_from: None
            },
            t0()
        ),
        Err(Rejection::OverMaxTotal { .. })
    ));
    assert!(matches!(
        when(
            &s,
            Command::Extend {
                by: mallory(),
                by_duration: by_1h,
                only_from: None
            },
            t0()
        ),
        Err(Rejection::NotApprover(_))
    ));
}

#[test]
fn a_role_may_let_the_requester_extend() {
    let s = given(vec![
        submit_cmd(submit_as(alice(), "pair")),
        approve(bob()),
        approve(carol()),
        granted(),
    ]);
    assert_eq!(
        when(
            &s,
            Command::Extend {
                by: alice(),
                by_duration: AccessDuration::parse("30m").unwrap(),
                only_from: None
            },
            t0()
        ),
        Ok(vec!["ExtensionApproved"])
    );
}

#[test]
fn an_extension_asked_from_an_expiry_is_made_once_however_often_it_is_asked() {
    let s = active();
    let from = s.expires_at();
    let ext = || Command::Extend {
        by: bob(),
        by_duration: AccessDuration::parse("1h").unwrap(),
        only_from: from,
    };
    assert_eq!(when(&s, ext(), t0()), Ok(vec!["ExtensionApproved"]));
    // Asked again from the same expiry (a double click, a retry): already made.
    let once = given_from(s.clone(), ext());
    assert_eq!(when(&once, ext(), t0()), Ok(vec![]));
    // Still so once the extension is in IAM.
    let applied = given_from(once, Command::ApplyExtension);
    assert_eq!(when(&applied, ext(), t0()), Ok(vec![]));
    // Asked from the new expiry, it extends again.
    let again = Command::Extend {
        by: bob(),
        by_duration: AccessDuration::parse("1h").unwrap(),
        only_from: applied.expires_at(),
    };
    assert_eq!(when(&applied, again, t0()), Ok(vec!["ExtensionApproved"]));
}

#[test]
fn the_expiry_timer_from_before_an_extension_does_not_revoke() {
    let s = given_from(
        given_from(
            active(),
            Command::Extend {
                by: bob(),
                by_duration: AccessDuration::parse("1h").unwrap(),
                only_from: None,
            },
        ),
        Command::ApplyExtension,
    );
    assert_eq!(s.expires_at(), Some(t0() + Duration::hours(2)));
    // The old expiry timer fires at the old time and must not revoke.
    assert_eq!(
        when(
            &s,
            Command::Revoke {
                reason: RevokeReason::Expired,
                by: None
            },
            t0() + Duration::hours(1)
        ),
        Ok(vec![])
    );
}

// --- break-glass -----------------------------------------------------------------------------

#[test]
fn break_glass_is_self_approved_and_flagged_for_review() {
    let mut s = submit();
    s.break_glass = true;
    let st = given(vec![submit_cmd(s)]);
    assert_eq!(st.status, Status::Approved);
    assert_eq!(st.approved_by_rule.as_deref(), Some("break-glass"));
    assert_eq!(st.break_glass_review_by, Some(t0() + Duration::hours(12)));
    assert_eq!(
        when(
            &st,
            Command::ReviewBreakGlass {
                reviewer: alice(),
                note: None
            },
            t0()
        ),
        Err(Rejection::SelfApproval)
    );
    let reviewed = given_from(
        st,
        Command::ReviewBreakGlass {
            reviewer: bob(),
            note: Some("ok".into()),
        },
    );
    assert_eq!(reviewed.break_glass_reviewed_by, Some(bob().user));
}

#[test]
fn break_glass_needs_a_role_that_allows_it() {
    let mut s = submit_as(alice(), "pair");
    s.break_glass = true;
    assert!(matches!(
        when(&RequestState::default(), submit_cmd(s), t0()),
        Err(Rejection::BreakGlassNotAllowed(_))
    ));
}

// --- access reviews --------------------------------------------------------------------------

fn review(by: Identity, verdict: Verdict, comment: Option<&str>) -> Command {
    Command::ReviewGrant {
        reviewer: by,
        verdict,
        comment: comment.map(|c| ReviewComment::parse(c).unwrap()),
        period: None,
    }
}

fn a_grant() -> RequestState {
    given(vec![submit_cmd(submit()), approve(bob()), granted()])
}

#[test]
fn an_approver_reviews_a_grant_once_in_the_period_it_was_granted() {
    let st = a_grant();
    let c = catalog();
    let evs = decide(&st, &review(carol(), Verdict::Appropriate, None), &c, t0()).unwrap();
    assert_eq!(evs.len(), 1);
    let rec = evs[0].to_record("e".into());
    assert_eq!(rec.event_type, "GrantReviewed");
    assert_eq!(rec.actor, "user:carol");
    assert_eq!(rec.payload["period"], "2026-11");
    assert_eq!(rec.payload["verdict"], "appropriate");
    let st = evs.iter().fold(st, apply);
    let r = st.review.clone().unwrap();
    assert_eq!(
        (r.reviewer.as_str(), r.verdict, r.period.to_string()),
        ("carol", Verdict::Appropriate, "2026-11".to_owned())
    );
    // The same review delivered again is a no-op; any other one is refused.
    assert_eq!(
        when(&st, review(carol(), Verdict::Appropriate, None), t0()),
        Ok(vec![])
    );
    for other in [
        review(carol(), Verdict::Inappropriate, Some("no ticket")),
        review(carol(), Verdict::Appropriate, Some("fine after all")),
        review(bob(), Verdict::Appropriate, None),
    ] {
        assert_eq!(
            when(&st, other, t0()),
            Err(Rejection::AlreadyReviewed {
                by: carol().user,
                verdict: Verdict::Appropriate
            })
        );
    }
}

#[test]
fn the_grantee_never_reviews_their_own_grant_even_as_an_approver() {
    let st = a_grant();
    for me in [
        alice(),
        who("alice", &["sre", "owners"]),
        who("Alice", &["owners"]),
    ] {
        assert_eq!(
            when(&st, review(me, Verdict::Appropriate, None), t0()),
            Err(Rejection::SelfReview)
        );
    }
}

#[test]
fn only_an_approver_of_the_role_reviews() {
    let st = a_grant();
    let db = RoleName::parse("db").unwrap();
    for outsider in [mallory(), who("sec", &["security"]), who("dave", &["sre"])] {
        assert_eq!(
            when(&st, review(outsider, Verdict::Appropriate, None), t0()),
            Err(Rejection::NotApprover(db.clone()))
        );
    }
    // The approver who approved it may review it too: the rule is "not the grantee".
    assert_eq!(
        when(&st, review(bob(), Verdict::Appropriate, None), t0()),
        Ok(vec!["GrantReviewed"])
    );
}

#[test]
fn only_a_request_that_was_granted_can_be_reviewed() {
    let pending = given(vec![submit_cmd(submit())]);
    let approved = given(vec![submit_cmd(submit()), approve(bob())]);
    let denied = given(vec![
        submit_cmd(submit()),
        Command::Deny {
            approver: bob(),
            reason: None,
        },
    ]);
    let failed = given(vec![
        submit_cmd(submit()),
        approve(bob()),
        Command::RecordGrantFailure {
            account: None,
            error: "x".into(),
            attempts: 3,
        },
    ]);
    for st in [&pending, &approved, &denied, &failed] {
        assert_eq!(
            when(st, review(carol(), Verdict::Appropriate, None), t0()),
            Err(Rejection::NotGranted),
            "{:?}",
            st.status
        );
    }
    assert_eq!(
        when(
            &RequestState::default(),
            review(carol(), Verdict::Appropriate, None),
            t0()
        ),
        Err(Rejection::UnknownRequest)
    );
    // Revoked after a grant: still a grant to review.
    let revoked = given(vec![
        submit_cmd(submit()),
        approve(bob()),
        granted(),
        Command::Revoke {
            reason: RevokeReason::Manual,
            by: Some(alice()),
        },
    ]);
    assert_eq!(
        when(&revoked, review(carol(), Verdict::Appropriate, None), t0()),
        Ok(vec!["GrantReviewed"])
    );
}

#[test]
fn inappropriate_needs_a_comment() {
    let st = a_grant();
    assert_eq!(
        when(&st, review(carol(), Verdict::Inappropriate, None), t0()),
        Err(Rejection::CommentRequired)
    );
    let done = given_from(
        st,
        review(
            carol(),
            Verdict::Inappropriate,
            Some("no incident at the time"),
        ),
    );
    let r = done.review.unwrap();
    assert_eq!(r.verdict, Verdict::Inappropriate);
    assert_eq!(
        r.comment.map(|c| c.as_str().to_owned()).as_deref(),
        Some("no incident at the time")
    );
}

#[test]
fn a_period_given_with_the_review_must_be_the_grants_own() {
    let st = a_grant();
    let with_period = |p: &str| Command::ReviewGrant {
        reviewer: carol(),
        verdict: Verdict::Appropriate,
        comment: None,
        period: Some(Period::parse(p).unwrap()),
    };
    assert_eq!(
        when(&st, with_period("2026-10"), t0()),
        Err(Rejection::WrongPeriod {
            given: Period::parse("2026-10").unwrap(),
            actual: Period::parse("2026-11").unwrap()
        })
    );
    assert_eq!(
        when(&st, with_period("2026-11"), t0()),
        Ok(vec!["GrantReviewed"])
    );
}

#[test]
fn a_late_review_is_still_recorded_against_the_grants_period() {
    let st = a_grant();
    let late = t0() + Duration::days(90);
    let evs = decide(
        &st,
        &review(carol(), Verdict::Appropriate, None),
        &catalog(),
        late,
    )
    .unwrap();
    let st = evs.iter().fold(st, apply);
    let r = st.review.unwrap();
    assert_eq!(
        (r.period.to_string(), r.reviewed_at),
        ("2026-11".into(), late)
    );
}

#[test]
fn a_grant_of_a_role_no_longer_in_the_catalog_cannot_be_reviewed() {
    let st = a_grant();
    let without: Catalog = Catalog::from_toml(
        &CATALOG
            .replace("[roles.db]", "[roles.db2]")
            .replace("roles.db.auto_approve", "roles.db2.auto_approve"),
    )
    .unwrap();
    assert!(matches!(
        decide(
            &st,
            &review(carol(), Verdict::Appropriate, None),
            &without,
            t0()
        ),
        Err(Rejection::UnknownRole(_))
    ));
}

// --- properties ------------------------------------------------------------------------------

fn any_identity() -> impl Strategy<Value = Identity> {
    prop_oneof![
        Just(alice()),
        Just(bob()),
        Just(carol()),
        Just(mallory()),
        Just(who("Alice", &["owners"])),
        Just(who("sec", &["security"]))
    ]
}

fn any_command() -> impl Strategy<Value = (Command, i64)> {
    let cmd = prop_oneof![
        prop_oneof![Just("db"), Just("pair")].prop_flat_map(|role| any::<bool>().prop_map(
            move |bg| {
                let mut s = submit_as(alice(), role);
                s.break_glass = bg;
                submit_cmd(s)
            }
        )),
        any_identity().prop_map(approve),
        any_identity().prop_map(|a| Command::Deny {
            approver: a,
            reason: None
        }),
        any_identity().prop_map(|a| Command::Cancel { by: a }),
        Just(Command::Lapse),
        Just(granted()),
        Just(Command::RecordGrantFailure {
            account: None,
            error: "x".into(),
            attempts: 1
        }),
        any_identity().prop_map(|a| Command::Extend {
            by: a,
            by_duration: AccessDuration::parse("20m").unwrap(),
            only_from: None
        }),
        Just(Command::ApplyExtension),
        prop_oneof![
            Just(RevokeReason::Expired),
            Just(RevokeReason::Sweep),
            Just(RevokeReason::IncidentResolved)
        ]
        .prop_map(|r| Command::Revoke {
            reason: r,
            by: None
        }),
        any_identity().prop_map(|a| Command::Revoke {
            reason: RevokeReason::Manual,
            by: Some(a)
        }),
        Just(Command::RecordRevokeFailure {
            account: None,
            error: "x".into(),
            attempts: 1
        }),
        any_identity().prop_map(|a| Command::ReviewBreakGlass {
            reviewer: a,
            note: None
        }),
        (any_identity(), any::<bool>()).prop_map(|(a, bad)| Command::ReviewGrant {
            reviewer: a,
            verdict: if bad {
                Verdict::Inappropriate
            } else {
                Verdict::Appropriate
            },
            comment: bad.then(|| ReviewComment::parse("why").unwrap()),
            period: None,
        }),
    ];
    (cmd, 0i64..600)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_command_sequences_never_reach_an_invalid_state(cmds in proptest::collection::vec(any_command(), 1..40)) {
        let c = catalog();
        let mut now = t0();
        let mut s = RequestState::default();
        let mut all = Vec::new();
        for (cmd, advance_minutes) in cmds {
            now += Duration::minutes(advance_minutes);
            if let Ok(evs) = decide(&s, &cmd, &c, now) {
                for e in evs {
                    s = apply(s, &e);
                    all.push(e);
                }
            }
            let requester = s.request.as_ref().map(|r| r.requester.clone());
            // Never approved by the requester, except the flagged break-glass path.
            let bg = s.request.as_ref().is_some_and(|r| r.break_glass);
            prop_assert!(bg || requester.as_ref().is_none_or(|r| !s.approvals.contains(r)));
            // Never two grants.
            prop_assert!(all.iter().filter(|e| e.body.type_name() == "AccessGranted").count() <= 1);
            // Never active after a revoke, and revoked at most once.
            let revokes = all.iter().filter(|e| e.body.type_name() == "AccessRevoked").count();
            prop_assert!(revokes <= 1);
            if revokes == 1 { prop_assert_eq!(s.status, Status::Revoked); }
            // Active means a grant exists, and the grant never exceeds the role's maximum total.
            if s.status == Status::Active {
                let g = s.grant.as_ref().unwrap();
                let role = c.role(&s.request.as_ref().unwrap().role).unwrap();
                prop_assert!((g.expires_at - g.starts_at).num_seconds() as u64 <= role.max_total().secs());
            }
            // A grant is reviewed at most once, after it was granted, and never by its grantee.
            let reviews: Vec<_> = all.iter().filter_map(|e| match &e.body {
                EventBody::GrantReviewed { reviewer, .. } => Some(reviewer.clone()),
                _ => None,
            }).collect();
            prop_assert!(reviews.len() <= 1);
            prop_assert!(reviews.is_empty() || s.grant.is_some());
            prop_assert!(requester.as_ref().is_none_or(|r| !reviews.contains(r)));
            // The version counts every event folded.
            prop_assert_eq!(s.version as usize, all.len());
        }
    }
}

#[test]
fn status_display_is_its_serde_name() {
    use Status::*;
    for s in [
        New,
        Pending,
        Approved,
        Active,
        Denied,
        Cancelled,
        Lapsed,
        GrantFailed,
        Revoked,
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), s.to_string());
        let back: Status = serde_json::from_value(serde_json::json!(s.as_str())).unwrap();
        assert_eq!(back, s);
    }
}
