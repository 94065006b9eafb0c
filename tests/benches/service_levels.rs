//! Service levels as `stint stats` computes them from the events, measured on this machine over
//! 20 lifecycles of one-minute grants, each approved as soon as it is asked:
//!
//! - local mode (default): `stint serve`'s broker over the embedded store on the system clock,
//!   with its in-process bus and timers (woken by appends and deadlines), the `record` provider;
//! - `--emulator`: DynamoDB, IAM and Scheduler on the emulator over HTTP, the services called
//!   as the functions are (grant right after the approval, as on `AccessApproved`; revoke at
//!   the expiry instant, as the expiry timer does). The bus and Scheduler's own delivery delays
//!   are not in these figures: the emulator has neither.
//!
//! Run: `cargo bench -p stint-tests --bench service_levels`, or
//! `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench service_levels -- --emulator`.

use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;
use std::time::Duration;
use stint_app::clock::SystemClock;
use stint_app::ports::EventStore;
use stint_app::Stint;
use stint_domain::{AccessDuration, PrincipalArn, RequestId, RevokeReason, Status};
use stint_local::broker::{LocalBroker, Provider};
use stint_tests::{alice, bob, request};

const RUNS: usize = 20;

fn one_minute(principal: &PrincipalArn) -> stint_app::requests::NewRequest {
    let mut r = request("db-read", "orders", principal, "service levels benchmark");
    r.duration = Some(AccessDuration::parse("1m").expect("a duration"));
    r
}

/// Asks for and approves `RUNS` grants, each on a principal of its own (one role's inline
/// policies would reach IAM's quota), as fast as the services answer.
async fn ask_and_approve(stint: &Stint, principals: &[PrincipalArn]) -> Vec<RequestId> {
    let mut ids = Vec::new();
    for p in principals {
        let id = stint
            .submit(&alice(), one_minute(p))
            .await
            .expect("submit")
            .id;
        stint.approve(id, &bob(), None).await.expect("approve");
        ids.push(id);
    }
    ids
}

async fn until_revoked(stint: &Stint, ids: &[RequestId]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    for id in ids {
        loop {
            let st = stint.get(*id).await.expect("the request").state;
            if st.status == Status::Revoked {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{id} still {}",
                st.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn local() -> (Arc<dyn EventStore>, DateTime<Utc>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a data folder");
    let catalog = stint_tests::aws::catalog();
    let mut broker =
        LocalBroker::open(dir.path(), catalog, Arc::new(SystemClock), Provider::Record)
            .expect("open the store");
    broker.resume().await.expect("resume");
    let stint = broker.stint.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(broker.run(Duration::from_millis(250), async move {
        let _ = stopped.await;
    }));
    let from = Utc::now();
    let principals: Vec<PrincipalArn> = (0..RUNS)
        .map(|i| {
            PrincipalArn::parse(&format!("arn:aws:iam::123456789012:role/stint/bench-{i}"))
                .expect("an ARN")
        })
        .collect();
    let ids = ask_and_approve(&stint, &principals).await;
    until_revoked(&stint, &ids).await;
    let _ = stop.send(());
    let _ = task.await;
    (Arc::clone(&stint.store), from, dir)
}

async fn emulator() -> (Arc<dyn EventStore>, DateTime<Utc>) {
    let mut f = stint_tests::aws::Fixture::new(Utc::now()).await;
    f.stint.clock = Arc::new(SystemClock);
    let mut principals = Vec::new();
    for _ in 0..RUNS {
        let name = stint_tests::unique_name("bench");
        f.ensure_role(&name).await;
        principals.push(
            PrincipalArn::parse(&format!("arn:aws:iam::123456789012:role/stint/{name}"))
                .expect("an ARN"),
        );
    }
    let from = Utc::now();
    let mut ids = Vec::new();
    for p in &principals {
        let id = ask_and_approve(&f.stint, std::slice::from_ref(p)).await[0];
        // The grant function on `AccessApproved`.
        f.stint.grant(id).await.expect("grant");
        ids.push(id);
    }
    // The expiry timers, each at its instant.
    for id in &ids {
        let expiry = f.state(*id).await.grant.expect("granted").expires_at;
        let wait = (expiry - Utc::now()).max(TimeDelta::zero());
        tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
        f.stint
            .revoke(*id, RevokeReason::Expired, None)
            .await
            .expect("revoke");
    }
    until_revoked(&f.stint, &ids).await;
    (Arc::clone(&f.stint.store), from)
}

fn main() {
    let on_emulator = std::env::args().any(|a| a == "--emulator");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (store, from, _dir) = if on_emulator {
            let (s, f) = emulator().await;
            (s, f, None)
        } else {
            let (s, f, d) = local().await;
            (s, f, Some(d))
        };
        let to = Utc::now() + TimeDelta::seconds(1);
        let stats = stint_app::stats::compile(store.as_ref(), from, to)
            .await
            .expect("compile the service levels");
        println!(
            "service levels, {} ({RUNS} one-minute lifecycles, approved at once; nearest-rank):",
            if on_emulator {
                "on the emulator over HTTP"
            } else {
                "in local mode"
            }
        );
        print!(
            "{}",
            stint_app::render::report::service_levels_text(&stats.levels)
        );
        assert!(stats.broken.is_empty(), "{:?}", stats.broken);
    });
}
