//! What Stint says is what IAM does, on the emulator's IAM: the role is resolved before a put,
//! the inline-policy quota is checked at grant time and never blocks a revoke, extensions reach
//! IAM, scheduled grants can be called off, and the sweep removes policies no grant holds.

use chrono::Duration;
use stint_app::grant::GrantOutcome;
use stint_app::ports::TimerKind;
use stint_domain::budget::INLINE_POLICY_LIMIT;
use stint_domain::policy::grant_policy_name;
use stint_domain::{AccessDuration, PrincipalArn, RequestId, Status};
use stint_tests::aws::Fixture;
use stint_tests::{alice, bob, count, t0, unique_name};

/// Puts an inline policy of about `size` characters on the fixture's role, outside Stint.
async fn fill(f: &Fixture, name: &str, size: usize) {
    let padding = "x".repeat(size.saturating_sub(120));
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": padding, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" }]
    });
    f.iam
        .put_role_policy()
        .role_name(f.principal.role_name())
        .policy_name(name)
        .policy_document(doc.to_string())
        .send()
        .await
        .expect("put a policy by hand");
}

fn last_error(events: &[stint_domain::StoredEvent]) -> String {
    events
        .iter()
        .rev()
        .find(|e| e.record.event_type == "GrantFailed")
        .and_then(|e| e.record.payload["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_that_would_overflow_the_roles_policy_quota_fails_at_grant_time() {
    let f = Fixture::new(t0()).await;
    fill(&f, "team-policy", INLINE_POLICY_LIMIT - 100).await;
    let id = f.approved().await;
    let out = f.stint.grant(id).await.unwrap();
    assert!(
        matches!(out, GrantOutcome::Failed(ref e) if e.contains("10240")),
        "{out:?}"
    );
    assert_eq!(f.status(id).await, Status::GrantFailed);
    assert!(last_error(&f.events(id).await).contains("over IAM's limit"));
    assert_eq!(f.policy_names().await, ["team-policy"], "nothing attached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_quota_never_blocks_a_revoke() {
    let f = Fixture::new(t0()).await;
    let id = f.granted().await;
    let used: usize = f
        .stint
        .access
        .inline_policies(&f.principal)
        .await
        .unwrap()
        .iter()
        .map(|p| p.size)
        .sum();
    fill(&f, "team-policy", INLINE_POLICY_LIMIT - used - 10).await;
    f.clock.set(t0() + Duration::minutes(5));
    f.stint.revoke_by(id, &alice()).await.expect("revoked");
    assert_eq!(f.status(id).await, Status::Revoked);
    assert_eq!(f.policy_names().await, ["team-policy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_name_that_resolves_elsewhere_gets_nothing() {
    let f = Fixture::new(t0()).await;
    // A role whose name is the approved one's last segment, but under another path.
    let name = unique_name("oncall");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    f.iam
        .create_role()
        .role_name(&name)
        .path("/other/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("create role elsewhere");
    let approved =
        PrincipalArn::parse(&format!("arn:aws:iam::123456789012:role/stint/{name}")).unwrap();
    let id = f
        .stint
        .submit(
            &alice(),
            stint_tests::request("db-read", "orders", &approved, "stuck orders"),
        )
        .await
        .unwrap()
        .id;
    f.stint.approve(id, &bob(), None).await.unwrap();
    let out = f.stint.grant(id).await.unwrap();
    assert!(
        matches!(out, GrantOutcome::Failed(ref e) if e.contains("/other/")),
        "{out:?}"
    );
    let attached = f
        .iam
        .list_role_policies()
        .role_name(&name)
        .send()
        .await
        .unwrap();
    assert!(
        attached.policy_names().is_empty(),
        "nothing on role/other/{name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_moves_the_policys_own_expiry_in_iam() {
    let f = Fixture::new(t0()).await;
    let id = f.granted().await;
    let until = |doc: serde_json::Value| {
        doc["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(
        until(f.policy(&grant_policy_name(id)).await.unwrap()).as_deref(),
        Some("2026-11-29T10:00:00Z")
    );
    f.clock.set(t0() + Duration::minutes(50));
    f.stint
        .extend(id, &bob(), AccessDuration::parse("30m").unwrap())
        .await
        .expect("extension approved");
    // Approved is not yet extended: IAM still holds the old window, and so does Stint's record.
    assert_eq!(
        f.state(id).await.expires_at(),
        Some(t0() + Duration::hours(1))
    );
    assert_eq!(
        until(f.policy(&grant_policy_name(id)).await.unwrap()).as_deref(),
        Some("2026-11-29T10:00:00Z")
    );
    // The grant function, on ExtensionApproved, takes it to IAM; twice is once.
    f.stint.apply_extension(id).await.unwrap();
    f.stint.apply_extension(id).await.unwrap();
    assert_eq!(
        f.state(id).await.expires_at(),
        Some(t0() + Duration::minutes(90))
    );
    assert_eq!(
        until(f.policy(&grant_policy_name(id)).await.unwrap()).as_deref(),
        Some("2026-11-29T10:30:00Z")
    );
    assert!(f
        .schedule(TimerKind::Expiry, id)
        .await
        .unwrap()
        .0
        .contains("10:30:00"));
    // A redelivered extension changes nothing more.
    assert_eq!(count(&f.event_types(id).await, "AccessExtended"), 1);
}

async fn scheduled(f: &Fixture) -> RequestId {
    let mut new = f.db_read("maintenance window");
    new.starts_at = Some(t0() + Duration::hours(3));
    let id = f.stint.submit(&alice(), new).await.unwrap().id;
    f.stint.approve(id, &bob(), None).await.unwrap();
    assert!(matches!(
        f.stint.grant(id).await.unwrap(),
        GrantOutcome::Scheduled { .. }
    ));
    assert!(f.schedule(TimerKind::Start, id).await.is_some());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_grant_called_off_before_its_start_never_starts() {
    let f = Fixture::new(t0()).await;
    let cancelled = scheduled(&f).await;
    f.stint
        .cancel(cancelled, &alice())
        .await
        .expect("requester cancels");
    assert_eq!(f.status(cancelled).await, Status::Cancelled);
    assert!(f.schedule(TimerKind::Start, cancelled).await.is_none());

    let revoked = scheduled(&f).await;
    f.stint
        .revoke_by(revoked, &bob())
        .await
        .expect("approver revokes");
    assert_eq!(f.status(revoked).await, Status::Revoked);
    assert!(f.schedule(TimerKind::Start, revoked).await.is_none());

    // The start time comes (a timer that fired anyway, or the sweep): nothing is attached.
    f.clock.set(t0() + Duration::hours(3));
    for id in [cancelled, revoked] {
        assert!(matches!(
            f.stint.grant(id).await.unwrap(),
            GrantOutcome::AlreadyDone(_)
        ));
    }
    f.stint.sweep().await.unwrap();
    assert!(f.policy_names().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_stint_policies_no_grant_holds_and_the_report_lists_them() {
    let f = Fixture::new(t0()).await;
    let live = f.granted().await;
    let ended = f.granted().await;
    f.stint.revoke_by(ended, &alice()).await.unwrap();
    // Left behind by hand: the ended grant's policy put back, and one no request explains.
    fill(&f, &grant_policy_name(ended), 300).await;
    let unknown = RequestId::from_ulid(ulid::Ulid::generate());
    fill(&f, &grant_policy_name(unknown), 300).await;
    fill(&f, "team-policy", 300).await;

    let report = f.stint.sweep().await.unwrap();
    assert_eq!(report.orphans_removed, 2, "{report:?}");
    let mut left = f.policy_names().await;
    left.sort();
    let mut expected = vec![grant_policy_name(live), "team-policy".to_owned()];
    expected.sort();
    assert_eq!(left, expected, "the live grant and the foreign policy stay");
    // A second sweep finds nothing more.
    assert_eq!(f.stint.sweep().await.unwrap().orphans_removed, 0);

    let r = stint_app::report::compile(
        &f.store,
        t0() - Duration::hours(1),
        t0() + Duration::hours(1),
        t0(),
        AccessDuration::parse("14d").unwrap(),
    )
    .await
    .unwrap();
    let orphans: Vec<_> = r
        .findings
        .iter()
        .filter(|x| matches!(x, stint_domain::report::Finding::OrphanPolicyRemoved { .. }))
        .collect();
    assert_eq!(orphans.len(), 2, "{:?}", r.findings);
}
