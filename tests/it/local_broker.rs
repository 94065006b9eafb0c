//! `stint serve`'s broker without polling: an approval is granted the moment it is appended,
//! and an expiry timer fires at its deadline, with the broker's safety-net tick set to a day.
//! Tokio's clock is paused: time moves only when every task is idle, so a broker that waited
//! for its tick (or spun) could not pass. The broker's clock follows tokio's.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use stint_app::ports::Clock;
use stint_app::Stint;
use stint_domain::{PrincipalArn, RequestId, Status};
use stint_local::broker::{LocalBroker, Provider};
use stint_tests::{alice, bob, request, t0};

const TICK: Duration = Duration::from_secs(24 * 3600);

/// Wall time that moves with tokio's (paused) clock.
struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let since = chrono::TimeDelta::from_std(self.start.elapsed()).expect("in range");
        stint_app::clock::micros(self.base + since)
    }
}

/// A broker on `dir` running with a one-day tick; its services, and the stop switch.
async fn broker(dir: &std::path::Path) -> (Stint, tokio::sync::oneshot::Sender<()>) {
    let clock = Arc::new(TokioClock {
        base: t0(),
        start: tokio::time::Instant::now(),
    });
    let mut broker = LocalBroker::open(dir, stint_tests::aws::catalog(), clock, Provider::Record)
        .expect("open the broker");
    broker.resume().await.expect("resume");
    let stint = broker.stint.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(broker.run(TICK, async move {
        let _ = stopped.await;
    }));
    (stint, stop)
}

/// Waits (without moving tokio's clock: this task never idles) until `id` is `want`.
async fn until_status(stint: &Stint, id: RequestId, want: Status) {
    let real = std::time::Instant::now();
    loop {
        if stint.get(id).await.expect("get").state.status == want {
            return;
        }
        assert!(
            real.elapsed() < Duration::from_secs(30),
            "{id} never became {want:?}"
        );
        tokio::task::yield_now().await;
    }
}

async fn approved(stint: &Stint) -> RequestId {
    let principal = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap();
    let new = request("db-read", "orders", &principal, "broker wake-up");
    let id = stint.submit(&alice(), new).await.expect("submit").id;
    stint.approve(id, &bob(), None).await.expect("approve");
    id
}

#[tokio::test(start_paused = true)]
async fn an_approval_is_granted_when_appended_not_on_the_tick() {
    let dir = tempfile::tempdir().unwrap();
    let (stint, stop) = broker(dir.path()).await;
    let start = tokio::time::Instant::now();
    let id = approved(&stint).await;
    until_status(&stint, id, Status::Active).await;
    assert!(start.elapsed() < TICK, "granted only on the tick");
    let _ = stop.send(());
}

#[tokio::test(start_paused = true)]
async fn an_expiry_timer_fires_at_its_deadline_not_on_the_tick() {
    let dir = tempfile::tempdir().unwrap();
    let (stint, stop) = broker(dir.path()).await;
    let start = tokio::time::Instant::now();
    let id = approved(&stint).await;
    until_status(&stint, id, Status::Active).await;
    // db-read's default is an hour. This sleep is on the paused clock: it ends as soon as
    // every task idles, at the broker's timer if that is earlier than the test's wake-up.
    tokio::time::sleep(Duration::from_secs(3600 + 60)).await;
    until_status(&stint, id, Status::Revoked).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(3600) && took < Duration::from_secs(2 * 3600),
        "revoked after {took:?}, not at the one-hour expiry"
    );
    let _ = stop.send(());
}
