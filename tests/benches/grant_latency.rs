//! Approved to granted, two ways. Locally: `stint serve`'s broker (embedded SQLite store,
//! in-process bus, `record` provider) on the system clock, from `AccessApproved` appended to
//! `AccessGranted` in the store, 30 runs. On the emulator: the time the grant service takes
//! from an approved request to `AccessGranted` appended with the policy attached in IAM and
//! the expiry timer set, over HTTP, in process; 100 runs. Medians (and p90, max).
//!
//! Run: `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench grant_latency`
//! (`-- --local` for the local half alone, which needs no emulator).

use std::sync::Arc;
use std::time::{Duration, Instant};
use stint_app::clock::SystemClock;
use stint_app::grant::GrantOutcome;
use stint_domain::{PrincipalArn, Status};
use stint_local::broker::{LocalBroker, Provider};
use stint_tests::aws::Fixture;
use stint_tests::figures::{emit, Figure};
use stint_tests::{alice, bob};

/// The value at quantile `p` of sorted `times`.
fn pct(times: &[f64], p: f64) -> f64 {
    times[((times.len() - 1) as f64 * p).round() as usize]
}

fn summary(times: &mut [f64]) -> String {
    times.sort_by(f64::total_cmp);
    format!(
        "{} runs, median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        times.len(),
        pct(times, 0.5),
        pct(times, 0.9),
        times[times.len() - 1]
    )
}

/// `stint serve`'s broker with its default 250 ms safety-net tick: approve, then watch the
/// store (every millisecond: the figures resolve to about 1 ms) until the request is granted.
async fn local() {
    const RUNS: usize = 30;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker = LocalBroker::open(
        dir.path(),
        stint_tests::aws::catalog(),
        Arc::new(SystemClock),
        Provider::Record,
    )
    .expect("open the local broker");
    broker.resume().await.expect("resume");
    let stint = broker.stint.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(broker.run(Duration::from_millis(250), async move {
        let _ = stopped.await;
    }));
    let principal = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap();
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS + 3 {
        let new = stint_tests::request("db-read", "orders", &principal, "benchmark");
        let id = stint.submit(&alice(), new).await.expect("submit").id;
        stint.approve(id, &bob(), None).await.expect("approve");
        let start = Instant::now();
        loop {
            if stint.get(id).await.expect("get").state.status == Status::Active {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "never granted");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The first few open the store's pages and the broker's paths; they are not counted.
        if i >= 3 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        // Revoked so the next request for the same role and scope is not a duplicate grant.
        stint
            .revoke(id, stint_domain::RevokeReason::Manual, Some(bob()))
            .await
            .expect("revoke");
    }
    let _ = stop.send(());
    let _ = task.await;
    println!(
        "approved -> granted in local mode (stint serve's broker, SQLite, record provider): {}",
        summary(&mut times)
    );
    emit(Figure::new("grant latency, local (p50)", pct(&times, 0.5), "ms").goal_below(20.0));
}

async fn emulator() {
    const RUNS: usize = 100;
    let f = Fixture::new(chrono::Utc::now()).await;
    let (alice, bob) = (alice(), bob());
    let mut ids = Vec::with_capacity(RUNS + 5);
    for _ in 0..RUNS + 5 {
        let new = f.db_read("benchmark");
        let id = f.stint.submit(&alice, new).await.expect("submit").id;
        f.stint.approve(id, &bob, None).await.expect("approve");
        ids.push(id);
    }
    // The first few warm connections and the emulator; they are not counted.
    let mut times = Vec::with_capacity(RUNS);
    for (i, id) in ids.into_iter().enumerate() {
        let start = Instant::now();
        let out = f.stint.grant(id).await.expect("grant");
        let took = start.elapsed();
        assert!(matches!(out, GrantOutcome::Granted { .. }), "{out:?}");
        if i >= 5 {
            times.push(took.as_secs_f64() * 1e3);
        }
        // Revoked, untimed: a role holds at most 10,240 characters of inline policy, so the
        // grants cannot all stay attached (the grant checks that quota and would refuse).
        f.stint.revoke_by(id, &alice).await.expect("revoke");
    }
    println!(
        "approved -> granted (load, PutRolePolicy, CreateSchedule, append) on moto over HTTP: {}",
        summary(&mut times)
    );
    emit(Figure::new(
        "grant latency, emulator (p50)",
        pct(&times, 0.5),
        "ms",
    ));
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        local().await;
        if !std::env::args().any(|a| a == "--local") {
            emulator().await;
        }
    });
}
