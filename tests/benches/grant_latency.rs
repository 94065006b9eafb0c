//! Approved to granted: the time the grant service takes from an approved request to
//! `AccessGranted` appended with the policy attached in IAM and the expiry timer set, against
//! the emulator over HTTP, in process. Median of 100 runs (and p90, max).
//!
//! Run: `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench grant_latency`

use std::time::Instant;
use stint_app::grant::GrantOutcome;
use stint_tests::aws::Fixture;
use stint_tests::{alice, bob};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
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
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!(
            "approved -> granted (load, PutRolePolicy, CreateSchedule, append) on moto over HTTP: {} runs, median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
            times.len(),
            pct(0.5),
            pct(0.9),
            times[times.len() - 1]
        );
    });
}
