//! The request lifecycle through the real adapters against the emulator: DynamoDB for events,
//! IAM for policies, EventBridge Scheduler for timers. Time moves by an injected clock.

use crate::support::sixteen_at_once;
use chrono::Duration;
use std::sync::Arc;
use stint_app::grant::GrantOutcome;
use stint_app::ports::TimerKind;
use stint_app::requests::NewRequest;
use stint_app::revoke::RevokeOutcome;
use stint_app::AppError;
use stint_domain::log::verify_stream;
use stint_domain::policy::{cutoff_policy_name, grant_policy_name};
use stint_domain::{Rejection, RequestId, RevokeReason, RoleName, Status};
use stint_tests::aws::Fixture;
use stint_tests::{alice, bob, count, t0, who};

const WHY: &str = "investigate stuck orders";

/// Submitted by alice and approved by bob at t0.
/// Asserts one approval, grant and revoke after duplicated deliveries, and records the figures
/// for the suite's proof line.
async fn one_of_each_transition(f: &Fixture, id: RequestId, test: &str, deliveries: usize) {
    let t = f.event_types(id).await;
    let expected = [
        ("ApprovalRecorded", 1),
        ("AccessApproved", 1),
        ("AccessGranted", 1),
        ("AccessRevoked", 1),
    ];
    let extra: usize = expected
        .iter()
        .map(|(ty, n)| count(&t, ty).saturating_sub(*n))
        .sum();
    stint_tests::proof::duplicates(test, deliveries, extra);
    for (ty, n) in expected {
        assert_eq!(count(&t, ty), n, "{ty} in {t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_approve_grant_expire_through_iam_and_scheduler() {
    let f = Fixture::new(t0()).await;
    let id = f.approved().await;
    assert!(
        matches!(f.stint.grant(id).await.unwrap(), GrantOutcome::Granted { expires_at } if expires_at == t0() + Duration::hours(1))
    );

    // The policy is in IAM with its time conditions and the scope filled in.
    let doc = f
        .policy(&grant_policy_name(id))
        .await
        .expect("policy attached");
    let st = &doc["Statement"][0];
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(
        st["Condition"]["DateLessThan"]["aws:CurrentTime"],
        "2026-11-29T10:00:00Z"
    );
    assert_eq!(
        st["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
        "2026-11-29T09:00:00Z"
    );
    assert_eq!(
        st["Resource"][0],
        "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"
    );

    // The expiry schedule exists, at the expiry, aimed at revoke with this request.
    let (expr, input) = f
        .schedule(TimerKind::Expiry, id)
        .await
        .expect("expiry schedule");
    assert_eq!(expr, "at(2026-11-29T10:00:00)");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&input).unwrap(),
        serde_json::json!({ "request_id": id, "kind": "expiry" })
    );

    // The timer fires at expiry: policy and schedule are gone, the lag is recorded.
    f.clock
        .set(t0() + Duration::hours(1) + Duration::seconds(2));
    assert_eq!(
        f.stint
            .revoke(id, RevokeReason::Expired, None)
            .await
            .unwrap(),
        RevokeOutcome::Revoked { lag_seconds: 2 }
    );
    assert!(
        f.policy(&grant_policy_name(id)).await.is_none(),
        "policy deleted"
    );
    assert!(
        f.schedule(TimerKind::Expiry, id).await.is_none(),
        "schedule deleted"
    );
    assert_eq!(
        f.event_types(id).await,
        [
            "AccessRequested",
            "ApprovalRecorded",
            "AccessApproved",
            "AccessGranted",
            "AccessRevoked"
        ]
    );
    assert_eq!(verify_stream(&f.events(id).await), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_trigger_delivered_twice_has_one_effect() {
    let f = Arc::new(Fixture::new(t0()).await);
    let id = f.stint.submit(&alice(), f.db_read(WHY)).await.unwrap().id;
    // Approve twice by the same person: one approval.
    f.stint.approve(id, &bob(), None).await.unwrap();
    f.stint.approve(id, &bob(), None).await.unwrap();
    // AccessApproved delivered twice, at once: one policy, one grant.
    let (a, b) = tokio::join!(f.stint.grant(id), f.stint.grant(id));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            GrantOutcome::Granted { .. } | GrantOutcome::AlreadyDone(Status::Active)
        )),
        "{outcomes:?}"
    );
    assert_eq!(f.policy_names().await, [grant_policy_name(id)]);
    // A third, late delivery after the fact.
    assert_eq!(
        f.stint.grant(id).await.unwrap(),
        GrantOutcome::AlreadyDone(Status::Active)
    );
    // The expiry timer delivered twice, at once: one revoke.
    f.clock.set(t0() + Duration::hours(2));
    let (a, b) = tokio::join!(
        f.stint.revoke(id, RevokeReason::Expired, None),
        f.stint.revoke(id, RevokeReason::Expired, None)
    );
    let revoked = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|o| matches!(o, RevokeOutcome::Revoked { .. }))
        .count();
    assert_eq!(revoked, 1);
    assert_eq!(
        f.stint
            .revoke(id, RevokeReason::Expired, None)
            .await
            .unwrap(),
        RevokeOutcome::NoOp(Status::Revoked)
    );
    one_of_each_transition(
        &f,
        id,
        "approve, grant and revoke services, concurrent duplicates",
        8,
    )
    .await;
    assert!(f.policy_names().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_approvals_give_exactly_one_approved() {
    let f = Arc::new(Fixture::new(t0()).await);
    let id = f.stint.submit(&alice(), f.db_read(WHY)).await.unwrap().id;
    let results = sixteen_at_once(&f, move |f, i| async move {
        let approver = who(&format!("approver{i}@example.com"), &["db-owners"]);
        f.stint.approve(id, &approver, None).await
    })
    .await;
    let wrong_state = results
        .iter()
        .filter(|r| matches!(r, Err(AppError::Rejected(Rejection::WrongState { .. }))))
        .count();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        wrong_state, 15,
        "the others see the request already approved"
    );
    let t = f.event_types(id).await;
    assert_eq!(
        (count(&t, "ApprovalRecorded"), count(&t, "AccessApproved")),
        (1, 1),
        "{t:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_early_manual_revoke_deletes_the_grant_at_once_and_leaves_nothing() {
    let f = Fixture::new(t0()).await;
    let id = f.granted().await;
    f.clock.set(t0() + Duration::minutes(10));
    f.stint
        .revoke_by(id, &alice())
        .await
        .expect("requester revokes");
    // IAM evaluates inline policies on every call: with the policy gone, every session of the
    // role has lost the access; no cutoff deny is needed, and none is left behind.
    assert!(f.policy_names().await.is_empty());
    assert!(f.policy(&cutoff_policy_name(id)).await.is_none());
    assert!(
        f.schedule(TimerKind::Expiry, id).await.is_none(),
        "the expiry timer is cleared"
    );
    // A timer that fires anyway (it was being cleared) finds nothing to do.
    f.clock.set(t0() + Duration::hours(1));
    assert_eq!(
        f.stint
            .revoke(id, RevokeReason::Expired, None)
            .await
            .unwrap(),
        RevokeOutcome::NoOp(Status::Revoked)
    );
    assert!(f.policy_names().await.is_empty());
    assert_eq!(count(&f.event_types(id).await, "AccessRevoked"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoke_by_an_unrelated_user_is_refused_and_changes_nothing() {
    let f = Fixture::new(t0()).await;
    let id = f.granted().await;
    let before = f.event_types(id).await;
    let r = f
        .stint
        .revoke_by(id, &who("mallory@example.com", &["sales"]))
        .await;
    assert!(
        matches!(r, Err(AppError::Rejected(Rejection::NotPermittedToRevoke))),
        "{r:?}"
    );
    assert_eq!(f.event_types(id).await, before);
    assert!(
        f.policy(&grant_policy_name(id)).await.is_some(),
        "the grant is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_revokes_a_grant_whose_timer_was_lost_and_lapses_stale_requests() {
    let f = Fixture::new(t0()).await;
    let id = f.granted().await;
    let stale = f.stint.submit(&alice(), f.db_read(WHY)).await.unwrap().id;
    f.stint.timers.clear(id, TimerKind::Expiry).await.unwrap();
    f.clock.set(t0() + Duration::hours(30));
    let report = f.stint.sweep().await.unwrap();
    assert_eq!(
        (report.revoked, report.lapsed, report.failed),
        (1, 1, 0),
        "{report:?}"
    );
    assert!(f.policy(&grant_policy_name(id)).await.is_none());
    assert_eq!(
        f.state(id).await.revocation.unwrap().reason,
        RevokeReason::Sweep
    );
    assert_eq!(f.status(stale).await, Status::Lapsed);
    // A second sweep finds nothing left to do.
    let again = f.stint.sweep().await.unwrap();
    assert_eq!((again.revoked, again.lapsed), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_start_arms_a_start_timer_and_grants_its_window() {
    let f = Fixture::new(t0()).await;
    let mut new = f.db_read(WHY);
    new.starts_at = Some(t0() + Duration::hours(3));
    let id = f.stint.submit(&alice(), new).await.unwrap().id;
    f.stint.approve(id, &bob(), None).await.unwrap();
    assert!(matches!(
        f.stint.grant(id).await.unwrap(),
        GrantOutcome::Scheduled { .. }
    ));
    assert_eq!(
        f.schedule(TimerKind::Start, id).await.unwrap().0,
        "at(2026-11-29T12:00:00)"
    );
    assert!(
        f.policy(&grant_policy_name(id)).await.is_none(),
        "nothing attached before the start"
    );
    f.clock.set(t0() + Duration::hours(3));
    assert!(
        matches!(f.stint.grant(id).await.unwrap(), GrantOutcome::Granted { expires_at } if expires_at == t0() + Duration::hours(4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grant_to_a_missing_role_records_grant_failed() {
    let f = Fixture::new(t0()).await;
    let mut new = f.db_read(WHY);
    new.principal =
        stint_domain::PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/does-not-exist")
            .unwrap();
    let id = f.stint.submit(&alice(), new).await.unwrap().id;
    f.stint.approve(id, &bob(), None).await.unwrap();
    assert!(matches!(
        f.stint.grant(id).await.unwrap(),
        GrantOutcome::Failed(_)
    ));
    assert_eq!(f.status(id).await, Status::GrantFailed);
    let log = f
        .log(t0() - Duration::days(1), t0() + Duration::days(1))
        .await;
    assert_eq!(log.last().unwrap().record.event_type, "GrantFailed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_revokes_a_reviewed_break_glass_grant_past_expiry() {
    let f = Fixture::new(t0()).await;
    let mut new = NewRequest {
        role: RoleName::parse("db-write").unwrap(),
        ..f.db_read(WHY)
    };
    new.break_glass = true;
    let id = f.stint.submit(&alice(), new).await.unwrap().id;
    let granted = f.stint.grant(id).await.unwrap();
    assert!(
        matches!(granted, GrantOutcome::Granted { .. }),
        "{granted:?}"
    );
    f.stint.review_break_glass(id, &bob(), None).await.unwrap();
    f.stint.timers.clear(id, TimerKind::Expiry).await.unwrap();
    f.clock.set(t0() + Duration::hours(2));
    let report = f.stint.sweep().await.unwrap();
    assert_eq!(
        report.revoked, 1,
        "a review is not the end of a grant: {report:?}"
    );
    assert_eq!(f.status(id).await, Status::Revoked);
}

/// Every trigger delivered three times through the Lambda handlers, as EventBridge, Scheduler
/// and API Gateway may: one approval, one policy, one schedule, one grant, one revoke.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_handler_given_each_event_three_times_has_one_effect() {
    use stint_aws::lambda::{handle_grant, handle_revoke};
    let f = Fixture::new(chrono::Utc::now() - Duration::hours(3)).await;
    let id = f.stint.submit(&alice(), f.db_read(WHY)).await.unwrap().id;
    let app = stint_http::router(f.api());
    let ctx = || lambda_runtime::Context::default();
    let with_id = |mut ev: serde_json::Value| {
        let s = ev
            .to_string()
            .replace(stint_tests::SAMPLE_ID, &id.to_string());
        ev = serde_json::from_str(&s).unwrap();
        ev
    };
    for _ in 0..3 {
        use tower::ServiceExt;
        let req = stint_http::apigw::to_request(with_id(stint_tests::sample("apigw-approve.json")))
            .unwrap();
        assert_eq!(app.clone().oneshot(req).await.unwrap().status(), 200);
    }
    for _ in 0..3 {
        let ev = lambda_runtime::LambdaEvent::new(
            with_id(stint_tests::sample("eventbridge-access-approved.json")),
            ctx(),
        );
        handle_grant(&f.stint, ev).await.unwrap();
    }
    assert_eq!(f.policy_names().await, [grant_policy_name(id)]);
    assert!(f.schedule(TimerKind::Expiry, id).await.is_some());
    // Past the expiry: the timer fires, three times.
    f.clock.set(chrono::Utc::now() + Duration::minutes(61));
    for _ in 0..3 {
        let ev = lambda_runtime::LambdaEvent::new(
            with_id(stint_tests::sample("scheduler-expiry.json")),
            ctx(),
        );
        handle_revoke(&f.stint, None, stint_http::apigw::edge(app.clone()), ev)
            .await
            .unwrap();
    }
    one_of_each_transition(&f, id, "approve, grant and revoke handlers", 9).await;
    assert!(f.policy_names().await.is_empty());
    assert!(f.schedule(TimerKind::Expiry, id).await.is_none());
}

/// 16 parallel revokes of one grant, and 16 parallel cancels of one request, against DynamoDB:
/// each transition happens exactly once, the rest are no-ops, and the policy is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_revokes_and_cancels_each_happen_once() {
    let f = Arc::new(Fixture::new(t0()).await);
    let id = f.granted().await;
    f.clock.set(t0() + Duration::minutes(5));
    let revokes = sixteen_at_once(&f, move |f, _| async move {
        f.stint.revoke_by(id, &alice()).await
    })
    .await;
    for r in revokes {
        let st = r.expect("a repeated revoke is a no-op, not an error").state;
        assert_eq!(st.status, Status::Revoked);
    }
    let t = f.event_types(id).await;
    assert_eq!(count(&t, "AccessRevoked"), 1, "{t:?}");
    assert!(f.policy(&grant_policy_name(id)).await.is_none());

    let pending = f.stint.submit(&alice(), f.db_read(WHY)).await.unwrap().id;
    let cancels = sixteen_at_once(&f, move |f, _| async move {
        f.stint.cancel(pending, &alice()).await
    })
    .await;
    for r in cancels {
        assert_eq!(r.unwrap().state.status, Status::Cancelled);
    }
    let t = f.event_types(pending).await;
    assert_eq!((count(&t, "RequestCancelled"), t.len()), (1, 2), "{t:?}");
}
