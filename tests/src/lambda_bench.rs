//! Runs a function binary as Lambda runs it, against a Runtime API stand-in that hands it a
//! queue of events and notes when each call arrives: process start to the first
//! `/invocation/next` poll (init), each invocation from the event handed out to its answer,
//! the bytes it logged, and its peak resident memory (VmHWM). For the cold-start and cost
//! benchmarks. Also the sample event, the state it needs and the environment of each function.

use crate::aws::{protected_resources, Fixture, CATALOG_PATH, GRANT_FN, REVOKE_FN, SCHEDULER_ROLE};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the stand-in saw, when.
#[derive(Debug)]
enum Mark {
    /// A poll of `/invocation/next`; `served` when an event was handed out.
    Next { at: Instant, served: bool },
    /// `response`, `error` or `init_error`, with the body.
    Answer {
        at: Instant,
        kind: String,
        body: String,
    },
}

#[derive(Clone)]
struct Shared {
    events: Arc<Mutex<VecDeque<Value>>>,
    marks: mpsc::UnboundedSender<Mark>,
}

/// One invocation: how it ended, how long it took, what it logged.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub kind: String,
    pub body: Value,
    pub took: Duration,
}

/// One process's life: init, its invocations in order, peak resident memory, log bytes.
#[derive(Debug, Clone)]
pub struct ProcessRun {
    pub init: Duration,
    pub invocations: Vec<Invocation>,
    pub peak_rss_kib: u64,
    /// Bytes written to stdout and stderr after the first invocation was answered: what the
    /// later (warm) invocations logged.
    pub warm_log_bytes: u64,
    pub log_bytes: u64,
}

async fn next(axum::extract::State(s): State<Shared>) -> (HeaderMap, String) {
    let at = Instant::now();
    let event = s.events.lock().expect("lock").pop_front();
    let _ = s.marks.send(Mark::Next {
        at,
        served: event.is_some(),
    });
    match event {
        Some(e) => {
            let mut h = HeaderMap::new();
            let id = ulid::Ulid::generate().to_string();
            h.insert(
                "lambda-runtime-aws-request-id",
                HeaderValue::from_str(&id).expect("header"),
            );
            let deadline = (chrono::Utc::now().timestamp_millis() + 60_000).to_string();
            h.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_str(&deadline).expect("header"),
            );
            h.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
            );
            (h, e.to_string())
        }
        // No more events: the poll waits until the benchmark ends the process.
        None => std::future::pending().await,
    }
}

fn answer(s: &Shared, kind: &str, body: String) -> &'static str {
    let _ = s.marks.send(Mark::Answer {
        at: Instant::now(),
        kind: kind.into(),
        body,
    });
    "{}"
}

/// Starts `binary` with `env` (and nothing else), hands it `events` one by one, and ends it
/// once it polls for more. Panics when it gives no answer within a minute.
pub async fn run_process(
    binary: &Path,
    env: &[(String, String)],
    events: Vec<Value>,
) -> ProcessRun {
    let (tx, mut marks) = mpsc::unbounded_channel();
    let expected = events.len();
    let shared = Shared {
        events: Arc::new(Mutex::new(events.into())),
        marks: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(|State(s): State<Shared>, body: String| async move { answer(&s, "response", body) }),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(|State(s): State<Shared>, body: String| async move { answer(&s, "error", body) }),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(|State(s): State<Shared>, body: String| async move { answer(&s, "init_error", body) }),
        )
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the runtime API");
    let address = listener.local_addr().expect("address").to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut cmd = std::process::Command::new(binary);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let logged = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        let logged = Arc::clone(&logged);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                logged.fetch_add(n as u64, Ordering::Relaxed);
            }
        })
    })
    .collect();

    let mut init = None;
    let mut served_at = None;
    let mut invocations = Vec::with_capacity(expected);
    let mut logged_after_first = 0;
    loop {
        let mark = tokio::time::timeout(Duration::from_secs(60), marks.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{} gave no answer within 60 s", binary.display()));
        match mark {
            Mark::Next { at, served } => {
                init.get_or_insert(at - started);
                if invocations.len() == 1 && served {
                    logged_after_first = logged.load(Ordering::Relaxed);
                }
                if !served {
                    break;
                }
                served_at = Some(at);
            }
            Mark::Answer { at, kind, body } => {
                let since = served_at.take().unwrap_or(started);
                invocations.push(Invocation {
                    kind: kind.clone(),
                    body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
                    took: at - since,
                });
                if kind == "init_error" {
                    break;
                }
            }
        }
    }
    // Its peak resident set, from its own memory map (VmHWM), while it waits for more work:
    // wait4's ru_maxrss would carry the benchmark's own peak, as the child starts as a copy.
    let peak_rss_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    server.abort();
    let log_bytes = logged.load(Ordering::Relaxed);
    ProcessRun {
        init: init.unwrap_or_default(),
        invocations,
        peak_rss_kib,
        warm_log_bytes: log_bytes.saturating_sub(logged_after_first),
        log_bytes,
    }
}

/// The deployed build of a function: `<target>/lambda/<name>`, where `make` or
/// `infra/scripts/sizes.sh` builds it (`cargo build --profile lambda -p <name>`, one package at
/// a time). Not built here: a cargo started by a benchmark under `cargo bench` waits forever for
/// the lock the outer one holds. The target is `STINT_LAMBDA_TARGET_DIR` if set, else this
/// benchmark's own.
pub fn lambda_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("STINT_LAMBDA_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(target_dir);
    let path = target.join("lambda").join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first with `cargo build --profile lambda -p {name}` \
         (or infra/scripts/sizes.sh for all of them)",
        path.display()
    );
    path
}

/// The target directory this benchmark was built in: `<target>/<profile>/deps/<bench>`.
pub fn target_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// The environment Lambda and the template give `function` against this fixture.
pub fn function_env(f: &Fixture, function: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), function.into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{function}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "bench".into()),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ("STINT_TABLE".into(), f.store.table().into()),
        ("STINT_SCHEDULE_GROUP".into(), f.group.clone()),
        ("STINT_SCHEDULER_ROLE_ARN".into(), SCHEDULER_ROLE.into()),
        ("STINT_GRANT_FUNCTION_ARN".into(), GRANT_FN.into()),
        ("STINT_REVOKE_FUNCTION_ARN".into(), REVOKE_FN.into()),
        (
            "STINT_PROTECTED_RESOURCES".into(),
            protected_resources(f.store.table(), &f.group),
        ),
        // The catalog from a file, as the init figure asks (SSM is one more call).
        ("STINT_CATALOG_FILE".into(), CATALOG_PATH.into()),
    ];
    env.extend(
        crate::emulator_env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

/// The function binaries SAM deploys, in the order the tables list them.
pub const FUNCTIONS: [&str; 9] = [
    "stint-request",
    "stint-alerts",
    "stint-approve",
    "stint-grant",
    "stint-revoke",
    "stint-relay",
    "stint-notify",
    "stint-report",
    "stint-interactions",
];

/// Prepares `function`'s sample event against a fresh fixture: the state it acts on, extra
/// environment, and the event. The same event is delivered twice by the benchmarks: a second
/// delivery is what Lambda's at-least-once triggers do, and every handler must take it.
pub async fn prepare(f: &Fixture, function: &str) -> (Vec<(String, String)>, Value) {
    use crate::{alice, bob, sample, SAMPLE_ID};
    use stint_domain::{AccessDuration, RequestId};
    let id = RequestId::parse(SAMPLE_ID).expect("sample id");
    let seed = |approve: bool, grant: bool| async move {
        let new = stint_app::requests::NewRequest {
            duration: Some(AccessDuration::parse("4h").expect("4h")),
            ..f.db_read("Investigate stuck orders for INC-4211")
        };
        f.stint
            .submit_with_id(id, &alice(), new)
            .await
            .expect("seed");
        if approve {
            f.stint.approve(id, &bob(), None).await.expect("approve");
        }
        if grant {
            f.stint.grant(id).await.expect("grant");
        }
    };
    let sdk = crate::emulator_config().await;
    let mut env = Vec::new();
    let event = match function {
        "stint-request" => sample("apigw-create-request.json"),
        "stint-alerts" => {
            f.ensure_role("oncall").await;
            sample("cloudwatch-alarm.json")
        }
        "stint-approve" => {
            seed(false, false).await;
            sample("apigw-approve.json")
        }
        "stint-grant" => {
            seed(true, false).await;
            sample("eventbridge-access-approved.json")
        }
        "stint-revoke" => {
            seed(true, true).await;
            sample("scheduler-expiry.json")
        }
        "stint-relay" => {
            let bus = crate::unique_name("stint");
            aws_sdk_eventbridge::Client::new(&sdk)
                .create_event_bus()
                .name(&bus)
                .send()
                .await
                .expect("create the bus");
            env.push(("STINT_BUS".into(), bus));
            sample("dynamodb-stream-insert.json")
        }
        "stint-notify" => {
            seed(false, false).await;
            let _ = aws_sdk_sesv2::Client::new(&sdk)
                .create_email_identity()
                .email_identity("stint@example.com")
                .send()
                .await;
            let mut event = sample("eventbridge-notify.json");
            event["detail"]["event_id"] = json!(f.event_id(id, 1).await);
            event
        }
        "stint-report" => {
            seed(true, true).await;
            let (_, sender) = crate::ses_sender("bench-report").await;
            let s3 = aws_sdk_s3::Client::new(&sdk);
            let bucket = crate::unique_name("stint-reports");
            s3.create_bucket()
                .bucket(&bucket)
                .object_lock_enabled_for_bucket(true)
                .send()
                .await
                .expect("create the bucket");
            let key = aws_sdk_kms::Client::new(&sdk)
                .create_key()
                .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
                .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
                .send()
                .await
                .expect("create the key");
            let key = key.key_metadata().and_then(|m| m.arn()).expect("key ARN");
            env.extend([
                ("STINT_REPORT_RECIPIENTS".into(), "audit@example.com".into()),
                ("STINT_REPORT_SENDER".into(), sender),
                ("STINT_REPORT_BUCKET".into(), bucket),
                ("STINT_CHECKPOINT_KEY_ID".into(), key.to_owned()),
            ]);
            // The weekly report: checkpoint, audit of the whole table, email, archive.
            json!({})
        }
        "stint-interactions" => {
            // A Slack interaction whose signature does not verify: answered 401 after the
            // HMAC check, with no Slack call (the signed path needs Slack's API).
            env.push(("STINT_SLACK_SIGNING_SECRET".into(), "bench-secret".into()));
            let mut e = sample("apigw-deny.json");
            e["routeKey"] = json!("POST /slack/interactions");
            e["rawPath"] = json!("/slack/interactions");
            e["requestContext"]["http"]["path"] = json!("/slack/interactions");
            e["requestContext"]["routeKey"] = json!("POST /slack/interactions");
            if let Some(ctx) = e["requestContext"].as_object_mut() {
                ctx.remove("authorizer");
            }
            e["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
            e["headers"]["x-slack-request-timestamp"] =
                json!(chrono::Utc::now().timestamp().to_string());
            e["headers"]["x-slack-signature"] = json!(format!("v0={}", "00".repeat(32)));
            e["body"] = json!("payload=%7B%7D");
            e
        }
        other => panic!("no sample for {other}"),
    };
    let mut all = function_env(f, function);
    all.extend(env);
    (all, event)
}
