//! Injected faults: providers that fail k times with throttling, 5xx or timeouts, and crashes
//! between the provider call and the append. Grants and revokes retry, record what failed,
//! and the sweep settles what is left; nothing is granted twice.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use stint_app::grant::GrantOutcome;
use stint_app::ports::{AccessProvider, ProviderError, Scheduler, TimerKind};
use stint_app::Stint;
use stint_domain::policy::{grant_document, grant_policy_name};
use stint_domain::{PrincipalArn, RequestId, RevokeReason, RoleName, Scope, Status};
use stint_tests::aws::Fixture;
use stint_tests::{count, t0};

#[derive(Clone, Copy)]
enum Fault {
    Throttle,
    ServerError,
    Timeout,
}

impl Fault {
    fn error(self) -> ProviderError {
        match self {
            Fault::Throttle => ProviderError::Throttled("Throttling: Rate exceeded".into()),
            Fault::ServerError => ProviderError::Unavailable("ServiceFailure: 500".into()),
            Fault::Timeout => ProviderError::Unavailable("dispatch failure: timeout".into()),
        }
    }
}

/// Fails the first `k` calls of each kind with `fault`, then passes through.
struct Flaky {
    inner: Arc<dyn AccessProvider>,
    timers: Arc<dyn Scheduler>,
    fault: Fault,
    puts_left: AtomicU32,
    deletes_left: AtomicU32,
    timers_left: AtomicU32,
    calls: AtomicU32,
}

impl Flaky {
    fn new(stint: &Stint, fault: Fault, puts: u32, deletes: u32, timers: u32) -> Arc<Flaky> {
        Arc::new(Flaky {
            inner: stint.access.clone(),
            timers: stint.timers.clone(),
            fault,
            puts_left: AtomicU32::new(puts),
            deletes_left: AtomicU32::new(deletes),
            timers_left: AtomicU32::new(timers),
            calls: AtomicU32::new(0),
        })
    }
    fn fail(&self, left: &AtomicU32) -> Result<(), ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(self.fault.error());
        }
        Ok(())
    }
}

#[async_trait]
impl AccessProvider for Flaky {
    async fn put_policy(
        &self,
        p: &PrincipalArn,
        n: &str,
        d: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.fail(&self.puts_left)?;
        self.inner.put_policy(p, n, d).await
    }
    async fn delete_policy(&self, p: &PrincipalArn, n: &str) -> Result<bool, ProviderError> {
        self.fail(&self.deletes_left)?;
        self.inner.delete_policy(p, n).await
    }
    async fn resolve(&self, p: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        self.inner.resolve(p).await
    }
    async fn inline_policies(
        &self,
        p: &PrincipalArn,
    ) -> Result<Vec<stint_domain::budget::InlinePolicy>, ProviderError> {
        self.inner.inline_policies(p).await
    }
}

#[async_trait]
impl Scheduler for Flaky {
    async fn set(
        &self,
        id: RequestId,
        kind: TimerKind,
        at: DateTime<Utc>,
    ) -> Result<(), ProviderError> {
        self.fail(&self.timers_left)?;
        self.timers.set(id, kind, at).await
    }
    async fn clear(&self, id: RequestId, kind: TimerKind) -> Result<bool, ProviderError> {
        self.timers.clear(id, kind).await
    }
}

fn with(f: &Fixture, flaky: &Arc<Flaky>) -> Stint {
    Stint {
        access: flaky.clone(),
        timers: flaky.clone(),
        ..f.stint.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grant_retries_through_throttling_5xx_and_timeouts() {
    for fault in [Fault::Throttle, Fault::ServerError, Fault::Timeout] {
        let f = Fixture::new(t0()).await;
        let id = f.approved().await;
        let flaky = Flaky::new(&f.stint, fault, 2, 0, 2);
        assert!(matches!(
            with(&f, &flaky).grant(id).await.unwrap(),
            GrantOutcome::Granted { .. }
        ));
        assert!(f.policy(&grant_policy_name(id)).await.is_some());
        assert!(f.schedule(TimerKind::Expiry, id).await.is_some());
        assert_eq!(count(&f.event_types(id).await, "AccessGranted"), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grant_records_grant_failed_when_its_budget_runs_out() {
    let f = Fixture::new(t0()).await;
    let id = f.approved().await;
    let flaky = Flaky::new(&f.stint, Fault::Throttle, 10, 0, 0);
    assert!(matches!(
        with(&f, &flaky).grant(id).await.unwrap(),
        GrantOutcome::Failed(_)
    ));
    assert_eq!(
        flaky.calls.load(Ordering::SeqCst),
        3,
        "the retry budget, and no more"
    );
    let st = f.state(id).await;
    assert_eq!((st.status, st.grant_failures), (Status::GrantFailed, 1));
    assert!(f.policy(&grant_policy_name(id)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoke_that_keeps_failing_is_recorded_and_the_sweep_finishes_it() {
    let f = Fixture::new(t0()).await;
    let id = f.granted().await;
    f.clock.set(t0() + Duration::hours(1));
    let flaky = Flaky::new(&f.stint, Fault::ServerError, 0, 10, 0);
    assert!(with(&f, &flaky)
        .revoke(id, RevokeReason::Expired, None)
        .await
        .is_err());
    let st = f.state(id).await;
    assert_eq!((st.status, st.revoke_failures), (Status::Active, 1));
    assert!(
        f.policy(&grant_policy_name(id)).await.is_some(),
        "still attached, and IAM's condition has ended it"
    );
    f.clock
        .set(t0() + Duration::hours(1) + Duration::minutes(5));
    assert_eq!(f.stint.sweep().await.unwrap().revoked, 1);
    assert!(f.policy(&grant_policy_name(id)).await.is_none());
    assert_eq!(
        f.state(id).await.revocation.unwrap().reason,
        RevokeReason::Sweep
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_the_iam_put_and_before_the_append_converges_on_redelivery() {
    let f = Fixture::new(t0()).await;
    let id = f.approved().await;
    // What a grant had done when it died: the policy is in IAM, nothing is in the store.
    let st = f.state(id).await;
    let (starts, expires) = st.grant_window().unwrap();
    let role = f
        .stint
        .catalog
        .role(&RoleName::parse("db-read").unwrap())
        .unwrap();
    let doc = grant_document(
        role,
        Some(&Scope::parse("orders").unwrap()),
        &st.request.as_ref().unwrap().requester,
        f.stint.catalog.protected(),
        starts,
        expires,
    )
    .unwrap();
    f.stint
        .access
        .put_policy(&f.principal, &grant_policy_name(id), &doc)
        .await
        .unwrap();
    // The bus redelivers AccessApproved.
    assert!(matches!(
        f.stint.grant(id).await.unwrap(),
        GrantOutcome::Granted { .. }
    ));
    assert!(matches!(
        f.stint.grant(id).await.unwrap(),
        GrantOutcome::AlreadyDone(Status::Active)
    ));
    assert_eq!(count(&f.event_types(id).await, "AccessGranted"), 1);
    assert_eq!(
        f.policy_names().await,
        [grant_policy_name(id)],
        "one policy, the same document"
    );
    assert_eq!(f.policy(&grant_policy_name(id)).await.unwrap(), doc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_no_expiry_timer_the_sweep_still_revokes_at_expiry() {
    let f = Fixture::new(t0()).await;
    let id = f.approved().await;
    let flaky = Flaky::new(&f.stint, Fault::Timeout, 0, 0, 10);
    assert!(
        matches!(
            with(&f, &flaky).grant(id).await.unwrap(),
            GrantOutcome::Granted { .. }
        ),
        "granted: IAM's condition bounds it anyway"
    );
    assert!(f.schedule(TimerKind::Expiry, id).await.is_none());
    f.clock.set(t0() + Duration::minutes(59));
    assert_eq!(
        f.stint.sweep().await.unwrap().revoked,
        0,
        "not before the expiry"
    );
    f.clock.set(t0() + Duration::hours(1));
    assert_eq!(f.stint.sweep().await.unwrap().revoked, 1);
    assert!(f.policy(&grant_policy_name(id)).await.is_none());
}
