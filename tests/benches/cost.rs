//! The cost model's units, measured: lifecycles (request, approve, grant, expiry revoke, and
//! the notices of each step) run through the production services and adapters on the
//! emulator, with the DynamoDB store counting capacity units, Scheduler and SES calls counted,
//! and the sweep and a checkpoint run over them; then each function binary the lifecycle
//! invokes is run as Lambda runs it, for its billed time and log bytes. Prints the units and
//! the dollars per 1,000 lifecycles beside the goal, and the Step Functions design beside it.
//! `-- --write` saves the units to `infra/cost-units.json`, which `stint cost` prices.
//!
//! Run: `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench cost [-- --write]`

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use stint_app::notify::Notifier;
use stint_app::ports::{Clock, EventStore, Mailer, ProviderError, Scheduler, TimerKind};
use stint_app::RetryPolicy;
use stint_aws::capacity::{Capacity, CapacityMeter};
use stint_aws::ses::SesMailer;
use stint_domain::cost::{estimate, step_functions_design, LambdaUse, Units, Usage, US_EAST_1};
use stint_domain::{RequestId, RevokeReason};
use stint_tests::aws::Fixture;
use stint_tests::figures::{emit, median, Figure};
use stint_tests::lambda_bench::{lambda_binary, prepare, run_process};
use stint_tests::{alice, bob};

const GOAL_PER_THOUSAND: f64 = 0.05;
/// The template's schedules: sweep every 5 minutes, checkpoint every 15, a weekly report,
/// a monthly evidence pack, daily review reminders (30-day month).
const SWEEPS_PER_MONTH: f64 = 30.0 * 24.0 * 12.0;
const CHECKPOINTS_PER_MONTH: f64 = 30.0 * 24.0 * 4.0;
const REPORTS_PER_MONTH: f64 = 30.0 / 7.0;
/// The notify rule's detail types (template.yaml, NotifyFunction).
const NOTIFIED: [&str; 9] = [
    "AccessRequested",
    "AccessApproved",
    "AccessDenied",
    "RequestLapsed",
    "AccessGranted",
    "GrantFailed",
    "AccessExtended",
    "AccessRevoked",
    "BreakGlassUsed",
];

struct CountingScheduler {
    inner: Arc<dyn Scheduler>,
    set: AtomicU64,
}

#[async_trait]
impl Scheduler for CountingScheduler {
    async fn set(
        &self,
        r: RequestId,
        k: TimerKind,
        at: DateTime<Utc>,
    ) -> Result<(), ProviderError> {
        self.set.fetch_add(1, Ordering::Relaxed);
        self.inner.set(r, k, at).await
    }
    async fn clear(&self, r: RequestId, k: TimerKind) -> Result<bool, ProviderError> {
        self.inner.clear(r, k).await
    }
}

struct CountingMailer {
    inner: SesMailer,
    sent: AtomicU64,
}

#[async_trait]
impl Mailer for CountingMailer {
    async fn send_raw(&self, from: &str, to: &[String], m: Vec<u8>) -> Result<(), ProviderError> {
        // SES bills each recipient as a message.
        self.sent.fetch_add(to.len() as u64, Ordering::Relaxed);
        self.inner.send_raw(from, to, m).await
    }
}

fn plus(a: Capacity, b: Capacity) -> Capacity {
    Capacity {
        read_requests: a.read_requests + b.read_requests,
        write_requests: a.write_requests + b.write_requests,
        items_written: a.items_written + b.items_written,
        read_units: a.read_units + b.read_units,
        write_units: a.write_units + b.write_units,
        reported_read_units: a.reported_read_units + b.reported_read_units,
        reported_write_units: a.reported_write_units + b.reported_write_units,
    }
}

fn minus(a: Capacity, b: Capacity) -> Capacity {
    Capacity {
        read_requests: a.read_requests - b.read_requests,
        write_requests: a.write_requests - b.write_requests,
        items_written: a.items_written - b.items_written,
        read_units: a.read_units - b.read_units,
        write_units: a.write_units - b.write_units,
        reported_read_units: a.reported_read_units - b.reported_read_units,
        reported_write_units: a.reported_write_units - b.reported_write_units,
    }
}

/// What `n` lifecycles used, per lifecycle.
struct Counted {
    lifecycle: Capacity,
    /// Invocations per lifecycle by function.
    invocations: BTreeMap<&'static str, f64>,
    schedules: f64,
    mails: f64,
    events: f64,
    /// Read and write units per lifecycle of the sweep's incremental runs (every 5 minutes,
    /// cursor included) from its grant until its events leave the runs' overlap, beyond what
    /// the same runs cost over an empty table.
    sweep_runs_read: f64,
    sweep_runs_write: f64,
    /// Read units per lifecycle of one full read of the window once it has ended (daily).
    sweep_full: f64,
    /// Read units per lifecycle of one checkpoint over it.
    checkpoint: f64,
    /// Units of an incremental sweep run (read, write) and of a full read over an empty table,
    /// and of a checkpoint.
    idle_sweep: (f64, f64),
    idle_full_sweep: f64,
    idle_checkpoint: f64,
    sweep_lookback: TimeDelta,
}

async fn checkpoint_units(
    store: &dyn EventStore,
    meter: &CapacityMeter,
    now: DateTime<Utc>,
) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = stint_local::checkpoints::KeyFileSigner::open_or_create(dir.path()).expect("key");
    let folder = stint_local::checkpoints::CheckpointFolder::new(dir.path());
    let anchor = stint_app::checkpoint::Anchor {
        archive: &folder,
        signer: &signer,
    };
    let before = meter.totals();
    stint_app::checkpoint::write(
        store,
        anchor,
        now,
        stint_app::checkpoint::Scope::Recent,
        false,
    )
    .await
    .expect("checkpoint");
    minus(meter.totals(), before).read_units
}

async fn lifecycles(n: usize) -> Counted {
    let start = Utc::now();
    let mut f = Fixture::new(start).await;
    let meter = Arc::new(CapacityMeter::default());
    let store: Arc<dyn EventStore> = Arc::new(f.store.clone().with_meter(meter.clone()));
    let scheduler = Arc::new(CountingScheduler {
        inner: f.stint.timers.clone(),
        set: AtomicU64::new(0),
    });
    f.stint.store = store.clone();
    f.stint.timers = scheduler.clone();
    let sdk = stint_tests::emulator_config().await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let _ = ses
        .create_email_identity()
        .email_identity("stint@example.com")
        .send()
        .await;
    let mailer = Arc::new(CountingMailer {
        inner: SesMailer::new(ses),
        sent: AtomicU64::new(0),
    });
    let notifier = Notifier {
        store: store.clone(),
        catalog: f.stint.catalog.clone(),
        clock: f.clock.clone(),
        chat: Arc::new(stint_slack::SlackWebhook::default()),
        mailer: Some(mailer.clone()),
        slack_bot: None,
        retry: RetryPolicy::IMMEDIATE,
    };
    let mut invocations: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut seen: std::collections::HashMap<RequestId, usize> = Default::default();
    // What the bus rules start for the events appended since last time: notify per notified
    // type, grant per approval.
    let notify_new = |ids: Vec<RequestId>| {
        let (f, notifier) = (&f, &notifier);
        async move {
            let mut counts: BTreeMap<&'static str, f64> = BTreeMap::new();
            let mut seen_now = Vec::new();
            for id in ids {
                let events = f.events(id).await;
                seen_now.push((id, events.len()));
                for ev in events {
                    if NOTIFIED.contains(&ev.record.event_type.as_str()) {
                        *counts.entry("notify").or_default() += 1.0;
                        notifier
                            .notify(id, &ev.record.event_id)
                            .await
                            .expect("notify");
                    }
                }
            }
            (counts, seen_now)
        }
    };
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let new = f.db_read("cost model");
        let id = f.stint.submit(&alice(), new).await.expect("submit").id;
        f.stint.approve(id, &bob(), None).await.expect("approve");
        f.stint.grant(id).await.expect("grant");
        ids.push(id);
    }
    *invocations.entry("request").or_default() += n as f64;
    *invocations.entry("approve").or_default() += n as f64;
    *invocations.entry("grant").or_default() += n as f64;
    let (counts, now_seen) = notify_new(ids.clone()).await;
    for (k, v) in counts {
        *invocations.entry(k).or_default() += v;
    }
    seen.extend(now_seen);
    let granted = meter.totals();
    // The sweep as deployed: a run every 5 minutes, its cursor in a table of its own. The first
    // run reads the whole window, as the daily full read does; it is counted with those.
    let memory = stint_aws::sweep_memory::DynamoSweepMemory::new(
        stint_tests::dynamodb_client().await,
        stint_tests::unique_name("sweep"),
    )
    .with_meter(meter.clone());
    memory.create_table().await.expect("sweep table");
    f.clock.advance(TimeDelta::minutes(5));
    f.stint.sweep_with(Some(&memory)).await.expect("sweep");
    let first_read = meter.totals();
    let duration = TimeDelta::hours(1);
    let mut runs = 0.0;
    while f.clock.now() + TimeDelta::minutes(5) < start + duration {
        f.clock.advance(TimeDelta::minutes(5));
        f.stint.sweep_with(Some(&memory)).await.expect("sweep");
        runs += 1.0;
    }
    let swept_active = meter.totals();
    f.clock.set(start + duration + TimeDelta::seconds(1));
    for id in &ids {
        f.stint
            .revoke(*id, RevokeReason::Expired, None)
            .await
            .expect("revoke");
    }
    *invocations.entry("revoke").or_default() += n as f64;
    // Only the events appended since the first round are new to notify.
    let mut counts_after: BTreeMap<&'static str, f64> = BTreeMap::new();
    for id in &ids {
        let events = f.events(*id).await;
        for ev in events.iter().skip(seen[id]) {
            if NOTIFIED.contains(&ev.record.event_type.as_str()) {
                *counts_after.entry("notify").or_default() += 1.0;
                notifier
                    .notify(*id, &ev.record.event_id)
                    .await
                    .expect("notify");
            }
        }
    }
    for (k, v) in counts_after {
        *invocations.entry(k).or_default() += v;
    }
    let revoked = meter.totals();
    // The runs until the revokes leave their overlap and the requests are forgotten.
    for _ in 0..3 {
        f.clock.advance(TimeDelta::minutes(5));
        let run = f.stint.sweep_with(Some(&memory)).await.expect("sweep");
        runs += 1.0;
        if run.open == 0 && run.events_read == 0 {
            break;
        }
    }
    let swept_after = meter.totals();
    // The daily full read, once the lifecycles have ended.
    f.stint.sweep().await.expect("full read");
    let sweep_full = minus(meter.totals(), swept_after).read_units / n as f64;
    // Everything but the sweep, which is counted apart.
    let lifecycle = plus(granted, minus(revoked, swept_active));
    // The store writes each append as one stream record batch: one relay invocation each.
    *invocations.entry("relay").or_default() += lifecycle.write_requests as f64;
    let sweep_runs = plus(minus(swept_active, first_read), minus(swept_after, revoked));
    let checkpoint = checkpoint_units(store.as_ref(), &meter, f.clock.now()).await / n as f64;

    // An idle deployment: a sweep and a checkpoint over an empty table.
    let mut idle = Fixture::new(start).await;
    let idle_meter = Arc::new(CapacityMeter::default());
    let idle_store: Arc<dyn EventStore> =
        Arc::new(idle.store.clone().with_meter(idle_meter.clone()));
    idle.stint.store = idle_store.clone();
    let idle_memory = stint_aws::sweep_memory::DynamoSweepMemory::new(
        stint_tests::dynamodb_client().await,
        stint_tests::unique_name("sweep"),
    )
    .with_meter(idle_meter.clone());
    idle_memory.create_table().await.expect("sweep table");
    idle.stint
        .sweep_with(Some(&idle_memory))
        .await
        .expect("idle sweep");
    let idle_full_sweep = idle_meter.totals().read_units;
    idle.clock.advance(TimeDelta::minutes(5));
    let before = idle_meter.totals();
    idle.stint
        .sweep_with(Some(&idle_memory))
        .await
        .expect("idle sweep");
    let idle_run = minus(idle_meter.totals(), before);
    let idle_sweep = (idle_run.read_units, idle_run.write_units);
    let idle_checkpoint = checkpoint_units(idle_store.as_ref(), &idle_meter, start).await;

    let per = |x: f64| x / n as f64;
    Counted {
        lifecycle: Capacity {
            read_units: per(lifecycle.read_units),
            write_units: per(lifecycle.write_units),
            reported_read_units: per(lifecycle.reported_read_units),
            reported_write_units: per(lifecycle.reported_write_units),
            ..lifecycle
        },
        invocations: invocations.into_iter().map(|(k, v)| (k, per(v))).collect(),
        schedules: per(scheduler.set.load(Ordering::Relaxed) as f64),
        mails: per(mailer.sent.load(Ordering::Relaxed) as f64),
        events: per(lifecycle.items_written as f64),
        // Beyond what the same runs cost over an empty table (the fixed monthly line).
        sweep_runs_read: per(sweep_runs.read_units - runs * idle_sweep.0).max(0.0),
        sweep_runs_write: per(sweep_runs.write_units - runs * idle_sweep.1).max(0.0),
        sweep_full,
        checkpoint,
        idle_sweep,
        idle_full_sweep,
        idle_checkpoint,
        sweep_lookback: f.stint.sweep_lookback(),
    }
}

/// Billed ms (init + first invocation: every invocation cold, the worst case), warm ms, and
/// log bytes per warm invocation, medians of `runs` processes of `function` on `event`.
async fn timed(function: &str, event: Option<serde_json::Value>, runs: usize) -> (f64, f64, f64) {
    let binary = lambda_binary(function);
    let (mut cold, mut warm, mut logs) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        let f = Fixture::new(Utc::now()).await;
        let (env, sample) = prepare(&f, function).await;
        let event = event.clone().unwrap_or(sample);
        let run = run_process(&binary, &env, vec![event.clone(), event]).await;
        assert_eq!(run.invocations.len(), 2, "{function}: {run:?}");
        cold.push((run.init + run.invocations[0].took).as_secs_f64() * 1e3);
        warm.push(run.invocations[1].took.as_secs_f64() * 1e3);
        logs.push(run.warm_log_bytes as f64);
    }
    (median(cold), median(warm), median(logs))
}

fn main() {
    let write = std::env::args().any(|a| a == "--write");
    let lifecycles_n: usize = std::env::var("STINT_BENCH_LIFECYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let runs: usize = std::env::var("STINT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let c = rt.block_on(lifecycles(lifecycles_n));
    let memory = |function: &str| if function == "report" { 1024 } else { 256 };
    let mut per_lifecycle_lambda = Vec::new();
    let mut timings = BTreeMap::new();
    for (function, event) in [
        ("request", None),
        ("approve", None),
        ("grant", None),
        ("revoke", None),
        ("relay", None),
        ("notify", None),
        ("sweep", Some(stint_tests::sample("eventbridge-sweep.json"))),
        (
            "checkpoint",
            Some(serde_json::json!({ "checkpoint": true })),
        ),
        ("report", None),
        (
            "reminders",
            Some(stint_tests::sample("schedule-review-reminders.json")),
        ),
    ] {
        let binary = match function {
            "sweep" => "revoke",
            "checkpoint" => "report",
            "reminders" => "notify",
            other => other,
        };
        let t = rt.block_on(timed(&format!("stint-{binary}"), event, runs));
        timings.insert(function, (binary, t));
    }
    let lambda = |function: &str, invocations: f64| {
        let (binary, (cold, _, logs)) = timings[function];
        LambdaUse {
            function: function.to_owned(),
            invocations,
            memory_mb: memory(binary),
            billed_ms: cold,
            log_bytes: logs,
        }
    };
    for (function, n) in &c.invocations {
        per_lifecycle_lambda.push(lambda(function, *n));
    }
    // The incremental runs read each event about twice (their overlap) and load each request
    // left open; each daily full read within the look-back window reads it once more. The
    // checkpoint reads each event once.
    let full_reads_seen = (c.sweep_lookback.num_minutes() as f64 / (24.0 * 60.0)).ceil();
    let sweep_reads = c.sweep_runs_read + c.sweep_full * full_reads_seen;
    let per_lifecycle = Usage {
        lambda: per_lifecycle_lambda,
        api_requests: 2.0,
        dynamodb_write_units: c.lifecycle.write_units + c.sweep_runs_write,
        dynamodb_read_units: c.lifecycle.read_units + sweep_reads + c.checkpoint,
        eventbridge_events: c.events,
        // Each expiry schedule fires once (the start timer only for scheduled starts).
        scheduler_invocations: c.schedules,
        ses_messages: c.mails,
        ..Usage::default()
    };
    let fixed_per_month = Usage {
        lambda: vec![
            lambda("sweep", SWEEPS_PER_MONTH),
            lambda("checkpoint", CHECKPOINTS_PER_MONTH),
            lambda("report", REPORTS_PER_MONTH + 1.0),
            lambda("reminders", 30.0),
        ],
        dynamodb_read_units: c.idle_sweep.0 * SWEEPS_PER_MONTH
            + c.idle_full_sweep * 30.0
            + c.idle_checkpoint * CHECKPOINTS_PER_MONTH,
        // The sweep's cursor, saved by every run.
        dynamodb_write_units: c.idle_sweep.1 * SWEEPS_PER_MONTH,
        // The weekly report: its email and its two archived copies, signed; the evidence pack.
        ses_messages: REPORTS_PER_MONTH,
        s3_puts: 2.0 * REPORTS_PER_MONTH + 1.0,
        kms_sign_requests: REPORTS_PER_MONTH + 1.0,
        kms_keys: 1.0,
        ..Usage::default()
    };
    let units = Units {
        measured: format!(
            "{} on the emulator (moto), {lifecycles_n} lifecycles, medians of {runs} function runs",
            Utc::now().format("%Y-%m-%d")
        ),
        lifecycles: lifecycles_n as u32,
        per_lifecycle,
        fixed_per_month,
        // A lifecycle moves at most two checkpoints (its start and its end), each an S3 object
        // signed with KMS; a checkpoint is written only for a 15-minute window in which
        // something moved, so all lifecycles together never cause more than one per window.
        shared_per_lifecycle: Usage {
            s3_puts: 2.0,
            kms_sign_requests: 2.0,
            ..Usage::default()
        },
        shared_max_per_month: Usage {
            s3_puts: CHECKPOINTS_PER_MONTH,
            kms_sign_requests: CHECKPOINTS_PER_MONTH,
            ..Usage::default()
        },
    };

    println!("Per lifecycle (measured):");
    for l in &units.per_lifecycle.lambda {
        println!(
            "  {:<10} {:>5.2} invocations x {:>7.1} ms billed (cold; warm {:.1} ms) at {} MB, {:.0} log bytes",
            l.function, l.invocations, l.billed_ms, timings[l.function.as_str()].1 .1, l.memory_mb, l.log_bytes
        );
    }
    println!(
        "  DynamoDB: {:.1} write units ({} requests, {:.1} items; moto reported {:.1}), {:.1} read units ({:.1} by the requests, {:.1} by sweeps, {:.2} by the checkpoint; moto reported {:.1} for the requests)",
        units.per_lifecycle.dynamodb_write_units,
        c.lifecycle.write_requests as f64 / lifecycles_n as f64,
        c.events,
        c.lifecycle.reported_write_units,
        units.per_lifecycle.dynamodb_read_units,
        c.lifecycle.read_units,
        sweep_reads,
        c.checkpoint,
        c.lifecycle.reported_read_units,
    );
    println!(
        "  EventBridge events {:.1}, Scheduler schedules {:.1}, SES messages {:.1}, S3 objects {:.0} (worst case), API requests 2",
        c.events, c.schedules, c.mails, units.shared_per_lifecycle.s3_puts
    );
    let e = estimate(&units, &US_EAST_1, 0.0);
    let sfn_units = Units {
        per_lifecycle: step_functions_design(&units.per_lifecycle),
        ..units.clone()
    };
    println!(
        "Per 1,000 lifecycles ({}, {}), each lifecycle alone in its checkpoints (the worst case):",
        US_EAST_1.region, US_EAST_1.as_of
    );
    for (line, dollars) in &e.per_thousand.lines {
        println!("  {line:<20} ${dollars:.4}");
    }
    let ses = |e: &stint_domain::cost::Estimate| {
        e.per_thousand
            .lines
            .iter()
            .find(|(l, _)| *l == "SES")
            .map_or(0.0, |l| l.1)
    };
    for per_day in [0.0, 100.0, 1000.0] {
        let e = estimate(&units, &US_EAST_1, per_day);
        let sfn = estimate(&sfn_units, &US_EAST_1, per_day);
        let total = e.per_thousand.total();
        let at = if per_day == 0.0 {
            "worst case".to_owned()
        } else {
            format!("{per_day:.0} a day")
        };
        println!(
            "  total at {at}: ${total:.4} (goal < ${GOAL_PER_THOUSAND}: {}); without email ${:.4} ({}); a Step Functions wait-state design ${:.4}; a month ${:.2}",
            if total < GOAL_PER_THOUSAND { "met" } else { "MISSED" },
            total - ses(&e),
            if total - ses(&e) < GOAL_PER_THOUSAND { "met" } else { "MISSED" },
            sfn.per_thousand.total(),
            e.per_month,
        );
        let name = |what: &str| format!("cost per 1,000 lifecycles{what}, {at}");
        emit(Figure::new(name(""), total, "USD").goal_below(GOAL_PER_THOUSAND));
        emit(
            Figure::new(name(" without email"), total - ses(&e), "USD")
                .goal_below(GOAL_PER_THOUSAND),
        );
        emit(Figure::new(
            name(", Step Functions design"),
            sfn.per_thousand.total(),
            "USD",
        ));
    }
    println!(
        "Fixed per month, idle: ${:.4} (of which the KMS key ${:.2})",
        e.fixed_per_month.total(),
        US_EAST_1.kms_per_key_month
    );
    emit(Figure::new(
        "cost per month, idle",
        e.fixed_per_month.total(),
        "USD",
    ));
    if write {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/cost-units.json");
        let text = serde_json::to_string_pretty(&units).expect("JSON") + "\n";
        std::fs::write(path, text).expect("write infra/cost-units.json");
        println!("wrote {path}");
    }
}
