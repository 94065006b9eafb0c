//! Foundation benchmark: folding events, appending to the embedded store, and the DynamoDB
//! adapter's overhead over raw PutItem on the same emulator. Prints its figures.
//!
//! Run: `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench foundation`

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, TimeZone, Utc};
use std::collections::HashMap;
use std::time::Instant;
use stint_app::ports::EventStore;
use stint_domain::{
    apply, AccessDuration, AccessRequested, Actor, Event, EventBody, Justification, PrincipalArn,
    RequestId, RequestState, RevokeReason, RoleName, Scope, Source, UserId,
};
use stint_local::sqlite::SqliteEventStore;
use stint_tests::figures::{emit, Figure};
use stint_tests::{fresh_dynamo_store, record};

/// Peak resident memory since the last reset, in MiB (Linux VmHWM).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak so each phase reports its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A whole lifecycle: requested, approval recorded, approved, granted, revoked.
fn lifecycle(i: u64) -> Vec<Event> {
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(i as i64);
    let alice = UserId::parse(&format!("user{}", i % 500)).unwrap();
    let bob = UserId::parse("bob").unwrap();
    let req = AccessRequested {
        accounts: vec![],
        request_id: RequestId::new(),
        requester: alice.clone(),
        requester_groups: vec![],
        role: RoleName::parse("db-read").unwrap(),
        scope: Some(Scope::parse("orders").unwrap()),
        principal: PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap(),
        duration: AccessDuration::parse("1h").unwrap(),
        justification: Justification::parse("benchmark").unwrap(),
        ticket: None,
        starts_at: None,
        source: Source::Person,
        break_glass: false,
    };
    let exp = t + Duration::hours(1);
    vec![
        Event::new(
            t,
            Actor::User(alice),
            EventBody::AccessRequested(Box::new(req)),
        ),
        Event::new(
            t,
            Actor::User(bob.clone()),
            EventBody::ApprovalRecorded {
                approver: bob.clone(),
                comment: None,
            },
        ),
        Event::new(
            t,
            Actor::User(bob.clone()),
            EventBody::AccessApproved {
                approvers: vec![bob],
                rule: None,
            },
        ),
        Event::new(
            t,
            Actor::System("grant".into()),
            EventBody::AccessGranted {
                account: None,
                policy_name: format!("stint-{i}"),
                policy: serde_json::json!({ "Version": "2012-10-17", "Statement": [{
                    "Sid": "Stint0", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                    "Resource": ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders"],
                    "Condition": { "DateGreaterThan": { "aws:CurrentTime": "2026-01-01T00:00:00Z" },
                                   "DateLessThan": { "aws:CurrentTime": "2026-01-01T01:00:00Z" } } }] }),
                starts_at: t,
                expires_at: exp,
            },
        ),
        Event::new(
            exp,
            Actor::System("expired".into()),
            EventBody::AccessRevoked {
                account: None,
                reason: RevokeReason::Expired,
                expires_at: exp,
                lag_seconds: 1,
            },
        ),
    ]
}

fn bench_fold() {
    const EVENTS: u64 = 1_000_000;
    let requests = EVENTS / 5;
    let log: Vec<(u64, Event)> = (0..requests)
        .flat_map(|i| lifecycle(i).into_iter().map(move |e| (i, e)))
        .collect();
    let records: Vec<(u64, stint_domain::EventRecord)> = log
        .iter()
        .map(|(i, e)| (*i, e.to_record(i.to_string())))
        .collect();

    reset_peak();
    let start = Instant::now();
    let mut states: HashMap<u64, RequestState> = HashMap::with_capacity(requests as usize);
    for (i, e) in &log {
        let s = states.remove(i).unwrap_or_default();
        states.insert(*i, apply(s, e));
    }
    let fold = start.elapsed();
    assert_eq!(states.len() as u64, requests);

    let start = Instant::now();
    let mut states: HashMap<u64, RequestState> = HashMap::with_capacity(requests as usize);
    for (i, r) in &records {
        let e = Event::from_record(r).expect("decodes");
        let s = states.remove(i).unwrap_or_default();
        states.insert(*i, apply(s, &e));
    }
    let decode_fold = start.elapsed();
    println!(
        "fold: {EVENTS} events into {requests} request states in {:.3} s = {:.0} events/s (typed); \
         {:.3} s = {:.0} events/s decoding stored records first; peak RSS {:.0} MiB (input held in memory)",
        fold.as_secs_f64(),
        EVENTS as f64 / fold.as_secs_f64(),
        decode_fold.as_secs_f64(),
        EVENTS as f64 / decode_fold.as_secs_f64(),
        peak_mib()
    );
    emit(Figure::new(
        "fold throughput (typed events)",
        EVENTS as f64 / fold.as_secs_f64() / 1e6,
        "M events/s",
    ));
    emit(Figure::new(
        "fold throughput (decoding stored records)",
        EVENTS as f64 / decode_fold.as_secs_f64() / 1e6,
        "M events/s",
    ));
}

/// The report's shape of work: records arrive one by one (generated here, as a store read would
/// stream them), are decoded and folded. Peak memory is the request states, not the events.
fn bench_fold_streaming() {
    const EVENTS: u64 = 1_000_000;
    let requests = EVENTS / 5;
    let records = (0..requests).flat_map(|i| {
        lifecycle(i)
            .into_iter()
            .map(move |e| (i, e.to_record(i.to_string())))
    });
    let start = Instant::now();
    let mut generated = 0u64;
    for (_, r) in records.clone() {
        generated += r.payload.is_object() as u64;
    }
    let generate = start.elapsed();
    reset_peak();
    let start = Instant::now();
    let mut states: HashMap<u64, RequestState> = HashMap::new();
    for (i, r) in records {
        let e = Event::from_record(&r).expect("decodes");
        let s = states.remove(&i).unwrap_or_default();
        states.insert(i, apply(s, &e));
    }
    let total = start.elapsed();
    assert_eq!((states.len() as u64, generated), (requests, EVENTS));
    let fold = total.saturating_sub(generate);
    println!(
        "fold (streamed): {EVENTS} records decoded and folded into {requests} states in {:.3} s \
         (after subtracting {:.3} s of generating them) = {:.0} events/s; peak RSS {:.0} MiB",
        fold.as_secs_f64(),
        generate.as_secs_f64(),
        EVENTS as f64 / fold.as_secs_f64(),
        peak_mib()
    );
}

async fn bench_sqlite() {
    const EVENTS: u64 = 100_000;
    const PER_APPEND: u64 = 4;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteEventStore::open(&dir.path().join("bench.db")).expect("open");
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    reset_peak();
    let start = Instant::now();
    for s in 0..EVENTS / PER_APPEND {
        let recs = (0..PER_APPEND)
            .map(|k| record(s * PER_APPEND + k, t + Duration::milliseconds(s as i64)))
            .collect();
        store
            .append(&RequestId::new().stream(), 0, recs)
            .await
            .expect("append");
    }
    let el = start.elapsed();
    let appends = EVENTS / PER_APPEND;
    println!(
        "embedded store: {EVENTS} events in {appends} appends of {PER_APPEND} (each a durable commit, synchronous=FULL) in {:.2} s \
         = {:.0} events/s, {:.0} appends/s; peak RSS {:.0} MiB",
        el.as_secs_f64(),
        EVENTS as f64 / el.as_secs_f64(),
        appends as f64 / el.as_secs_f64(),
        peak_mib()
    );
    emit(Figure::new(
        "embedded store append (durable, 4 events each)",
        EVENTS as f64 / el.as_secs_f64(),
        "events/s",
    ));
}

async fn bench_dynamodb() {
    const N: u64 = 1_000;
    let store = fresh_dynamo_store().await;
    let client = stint_tests::dynamodb_client().await;
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

    // Warm the connection pool and the emulator so neither side pays first-call costs.
    for i in 0..20 {
        store
            .append(&RequestId::new().stream(), 0, vec![record(i, t)])
            .await
            .expect("warm");
    }

    // Raw puts go to the same table with the same item shape (GSI keys included), without a
    // condition or a chain: the ratio is what the adapter adds.
    reset_peak();
    let start = Instant::now();
    for i in 0..N {
        let r = record(i, t);
        let at = stint_domain::log::time_key(&r.occurred_at);
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let item = HashMap::from([
            ("stream".to_owned(), s(&format!("raw#{i}"))),
            ("version".to_owned(), AttributeValue::N("1".into())),
            ("event_id".to_owned(), s(&r.event_id)),
            ("type".to_owned(), s(&r.event_type)),
            ("schema_version".to_owned(), AttributeValue::N("1".into())),
            ("occurred_at".to_owned(), s(&at)),
            ("actor".to_owned(), s(&r.actor)),
            ("payload".to_owned(), s(&r.payload.to_string())),
            ("prev_hash".to_owned(), s(&"0".repeat(64))),
            ("hash".to_owned(), s(&"0".repeat(64))),
            (
                "day".to_owned(),
                s(&stint_domain::log::day_key(&r.occurred_at)),
            ),
            (
                "log_sk".to_owned(),
                AttributeValue::S(format!("{at}#{}", r.event_id)),
            ),
        ]);
        client
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await
            .expect("raw put");
    }
    let raw = start.elapsed();

    let start = Instant::now();
    for i in 0..N {
        store
            .append(&RequestId::new().stream(), 0, vec![record(i, t)])
            .await
            .expect("append");
    }
    let first = start.elapsed();

    // Appends after the first read the stream's head for its hash: one query more per append.
    let streams: Vec<_> = (0..N).map(|_| RequestId::new().stream()).collect();
    for (i, s) in streams.iter().enumerate() {
        store
            .append(s, 0, vec![record(i as u64, t)])
            .await
            .expect("seed");
    }
    let start = Instant::now();
    for (i, s) in streams.iter().enumerate() {
        store
            .append(s, 1, vec![record(i as u64, t)])
            .await
            .expect("append");
    }
    let next = start.elapsed();

    // What a later append adds: the consistent head query, timed alone.
    let start = Instant::now();
    for s in &streams {
        client
            .query()
            .table_name(store.table())
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_values(":s", AttributeValue::S(s.to_string()))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .expect("raw query");
    }
    let query = start.elapsed();
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e3 / N as f64;
    println!(
        "dynamodb (moto over HTTP): {N} raw PutItem {:.2} s ({:.2} ms each); {N} adapter first appends {:.2} s ({:.2} ms each, \
         ratio {:.2}); {N} adapter later appends {:.2} s ({:.2} ms each, ratio {:.2}; a raw head Query alone is {:.2} ms, \
         so against raw Query+PutItem the ratio is {:.2}); peak RSS {:.0} MiB",
        raw.as_secs_f64(),
        per(raw),
        first.as_secs_f64(),
        per(first),
        first.as_secs_f64() / raw.as_secs_f64(),
        next.as_secs_f64(),
        per(next),
        next.as_secs_f64() / raw.as_secs_f64(),
        per(query),
        next.as_secs_f64() / (raw + query).as_secs_f64(),
        peak_mib()
    );
    emit(Figure::new(
        "store first append vs raw PutItem (moto)",
        first.as_secs_f64() / raw.as_secs_f64(),
        "x",
    ));
    emit(Figure::new(
        "store later append vs raw Query+PutItem (moto)",
        next.as_secs_f64() / (raw + query).as_secs_f64(),
        "x",
    ));
}

/// Each phase runs in a child process of its own, so each peak-memory figure is its own.
fn main() {
    let phase = std::env::args().skip(1).find(|a| a.starts_with("phase="));
    let rt = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    match phase.as_deref() {
        Some("phase=fold") => bench_fold(),
        Some("phase=fold-stream") => bench_fold_streaming(),
        Some("phase=sqlite") => rt().block_on(bench_sqlite()),
        Some("phase=dynamodb") => rt().block_on(bench_dynamodb()),
        Some(other) => panic!("unknown {other}"),
        None => {
            let me = std::env::current_exe().expect("own path");
            for phase in ["fold", "fold-stream", "sqlite", "dynamodb"] {
                let status = std::process::Command::new(&me)
                    .arg(format!("phase={phase}"))
                    .status()
                    .expect("run phase");
                assert!(status.success(), "phase {phase} failed");
            }
        }
    }
}
