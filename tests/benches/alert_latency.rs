//! Alarm to access: the time from a CloudWatch ALARM event reaching the request function's
//! handler to the request approved by rule (`on_alert`: incident lookup in the recent log,
//! rotation, append), and then to `AccessGranted` (the grant service), against the emulator
//! over HTTP, in process. Each alarm is a different one, so each opens its own request; the
//! incident lookup reads the recent log, so the figures are given for the first and the last
//! runs as the log grows.
//!
//! Run: `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench alert_latency`

use serde_json::json;
use std::time::Instant;
use stint_app::alerts::AlertOutcome;
use stint_app::grant::GrantOutcome;
use stint_domain::alert::{from_cloudwatch, Parsed};
use stint_tests::aws::Fixture;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        const RUNS: usize = 100;
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-29T10:00:30Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut f = Fixture::new(start).await;
        f.own_services();
        let (mut to_approved, mut to_granted) = (Vec::new(), Vec::new());
        for i in 0..RUNS + 5 {
            let event = json!({
                "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
                "time": "2026-11-29T10:00:00Z",
                "resources": [format!("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-bench-{i}")],
                "detail": { "alarmName": format!("orders-bench-{i}"),
                    "state": { "value": "ALARM", "reason": "benchmark", "timestamp": "2026-11-29T10:00:00.000+0000" } }
            });
            let t0 = Instant::now();
            let Parsed::Alert(alert) = from_cloudwatch(&event, &f.stint.catalog).unwrap() else {
                panic!("ignored")
            };
            let out = f.stint.on_alert(&alert).await.expect("alert");
            let t1 = Instant::now();
            let AlertOutcome::Requested { request_id, .. } = out else {
                panic!("{out:?}")
            };
            let granted = f.stint.grant(request_id).await.expect("grant");
            let t2 = Instant::now();
            assert!(matches!(granted, GrantOutcome::Granted { .. }), "{granted:?}");
            // The first few warm connections and the emulator; they are not counted.
            if i >= 5 {
                to_approved.push((t1 - t0).as_secs_f64() * 1e3);
                to_granted.push((t2 - t0).as_secs_f64() * 1e3);
            }
        }
        let first = |v: &[f64]| median(v[..10].to_vec());
        let last = |v: &[f64]| median(v[v.len() - 10..].to_vec());
        println!(
            "ALARM -> approved by rule on moto over HTTP: {RUNS} runs, median {:.2} ms (first 10 {:.2} ms, last 10 {:.2} ms with {RUNS} requests in the log)",
            median(to_approved.clone()), first(&to_approved), last(&to_approved)
        );
        println!(
            "ALARM -> granted (policy in IAM, expiry timer set): median {:.2} ms (first 10 {:.2} ms, last 10 {:.2} ms)",
            median(to_granted.clone()), first(&to_granted), last(&to_granted)
        );
    });
}
