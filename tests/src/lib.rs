//! Helpers shared by Stint's tests and benchmark: the emulator's endpoint, SDK clients
//! configured for it, fresh isolated tables, and sample events.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use chrono::{DateTime, Utc};
use stint::adapters::dynamodb::DynamoEventStore;
use stint::domain::EventRecord;

/// The environment variable the test harness sets to the running emulator's URL.
pub const ENDPOINT_VAR: &str = "STINT_TEST_AWS_ENDPOINT";

/// The emulator's URL. A test that needs it fails loudly when it is missing; it never skips.
pub fn emulator_endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VAR} is not set: these tests need the AWS emulator. \
             Run them through `infra/scripts/test.sh`, which installs and starts moto."
        )
    })
}

/// SDK configuration pointing every client at the emulator, with dummy credentials.
pub async fn emulator_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "stint-tests",
        ))
        .load()
        .await
}

pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&emulator_config().await)
}

/// A name no other test uses, so tests run in parallel without resetting the emulator.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    )
}

/// A store over a new table of its own.
pub async fn fresh_dynamo_store() -> DynamoEventStore {
    let store = DynamoEventStore::new(dynamodb_client().await, unique_name("events"));
    store
        .create_table()
        .await
        .expect("create the events table in the emulator");
    store
}

/// A plain record for store tests; `n` makes payloads distinct.
pub fn record(n: u64, at: DateTime<Utc>) -> EventRecord {
    EventRecord {
        event_id: ulid::Ulid::generate().to_string(),
        event_type: "TestHappened".into(),
        schema_version: 1,
        occurred_at: at,
        actor: "user:tester".into(),
        payload: serde_json::json!({ "n": n, "note": "contract test" }),
    }
}

pub mod aws {
    //! A Stint wired to the emulator through the production adapters, each test with its own
    //! table, IAM role and schedule group.

    use super::*;
    use std::sync::Arc;
    use stint::adapters::clock::ManualClock;
    use stint::adapters::iam::IamAccessProvider;
    use stint::adapters::scheduler::{EventBridgeScheduler, SchedulerTargets};
    use stint::app::{RetryPolicy, Stint};
    use stint::domain::{Catalog, PrincipalArn};

    pub const CATALOG_PATH: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/catalog.example.toml");
    pub const SCHEDULER_ROLE: &str = "arn:aws:iam::123456789012:role/stint-scheduler";
    pub const GRANT_FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:stint-grant";
    pub const REVOKE_FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:stint-revoke";

    pub fn catalog() -> Catalog {
        Catalog::from_toml(
            &std::fs::read_to_string(CATALOG_PATH).expect("read the example catalog"),
        )
        .expect("example catalog loads")
    }

    pub struct Fixture {
        pub stint: Stint,
        pub clock: Arc<ManualClock>,
        pub store: DynamoEventStore,
        pub iam: aws_sdk_iam::Client,
        pub scheduler: aws_sdk_scheduler::Client,
        pub group: String,
        /// An IAM role under /stint/ that grants attach to.
        pub principal: PrincipalArn,
    }

    impl Fixture {
        pub async fn new(start: DateTime<Utc>) -> Fixture {
            let sdk = emulator_config().await;
            let iam = aws_sdk_iam::Client::new(&sdk);
            let scheduler = aws_sdk_scheduler::Client::new(&sdk);
            let role = unique_name("oncall");
            let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
            let created = iam
                .create_role()
                .role_name(&role)
                .path("/stint/")
                .assume_role_policy_document(trust)
                .send()
                .await
                .expect("create IAM role");
            let principal =
                PrincipalArn::parse(created.role().expect("role").arn()).expect("role ARN");
            let group = unique_name("stint");
            scheduler
                .create_schedule_group()
                .name(&group)
                .send()
                .await
                .expect("create schedule group");
            let store = fresh_dynamo_store().await;
            let clock = Arc::new(ManualClock::new(start));
            let targets = SchedulerTargets {
                group: group.clone(),
                role_arn: SCHEDULER_ROLE.into(),
                start_arn: GRANT_FN.into(),
                expiry_arn: REVOKE_FN.into(),
            };
            let stint = Stint {
                store: Arc::new(store.clone()),
                catalog: Arc::new(catalog()),
                clock: clock.clone(),
                access: Arc::new(IamAccessProvider::new(iam.clone())),
                timers: Arc::new(EventBridgeScheduler::new(scheduler.clone(), targets)),
                retry: RetryPolicy::IMMEDIATE,
            };
            Fixture {
                stint,
                clock,
                store,
                iam,
                scheduler,
                group,
                principal,
            }
        }

        /// Makes sure a role `/stint/<name>` exists (the samples in `events/` name `oncall`).
        pub async fn ensure_role(&self, name: &str) {
            let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
            match self
                .iam
                .create_role()
                .role_name(name)
                .path("/stint/")
                .assume_role_policy_document(trust)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e)
                    if aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                        == Some("EntityAlreadyExists") => {}
                Err(e) => panic!("CreateRole: {e:?}"),
            }
        }

        /// The inline policy as IAM holds it, percent-decoded; None when there is none.
        pub async fn policy(&self, name: &str) -> Option<serde_json::Value> {
            self.policy_on(self.principal.role_name(), name).await
        }

        /// The inline policy `name` on IAM role `role`, as [`Fixture::policy`] reads it.
        pub async fn policy_on(&self, role: &str, name: &str) -> Option<serde_json::Value> {
            match self
                .iam
                .get_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
            {
                Ok(out) => {
                    let raw = out.policy_document();
                    let decoded = percent_encoding::percent_decode_str(raw)
                        .decode_utf8()
                        .expect("utf-8")
                        .into_owned();
                    Some(serde_json::from_str(&decoded).expect("policy is JSON"))
                }
                Err(e)
                    if aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                        == Some("NoSuchEntity") =>
                {
                    None
                }
                Err(e) => panic!("GetRolePolicy: {e:?}"),
            }
        }

        pub async fn policy_names(&self) -> Vec<String> {
            self.iam
                .list_role_policies()
                .role_name(self.principal.role_name())
                .send()
                .await
                .expect("list policies")
                .policy_names()
                .to_vec()
        }

        /// The schedule's `at()` expression and input, None when there is none.
        pub async fn schedule(&self, name: &str) -> Option<(String, String)> {
            match self
                .scheduler
                .get_schedule()
                .name(name)
                .group_name(&self.group)
                .send()
                .await
            {
                Ok(s) => Some((
                    s.schedule_expression().unwrap_or_default().to_owned(),
                    s.target()
                        .map(|t| t.input().unwrap_or_default().to_owned())
                        .unwrap_or_default(),
                )),
                Err(e)
                    if aws_sdk_scheduler::error::ProvideErrorMetadata::code(&e)
                        == Some("ResourceNotFoundException") =>
                {
                    None
                }
                Err(e) => panic!("GetSchedule: {e:?}"),
            }
        }
    }
}

pub mod runtime_api {
    //! A minimal Lambda Runtime API: it hands one event to a function process and captures the
    //! function's answer, as the Lambda service does.

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, HeaderValue};
    use axum::routing::{get, post};
    use axum::Router;
    use std::sync::{Arc, Mutex};
    use tokio::sync::mpsc;

    /// How the function answered: `response` or `error`, with the body.
    pub type Answer = (String, serde_json::Value);

    #[derive(Clone)]
    struct Shared {
        event: Arc<Mutex<Option<serde_json::Value>>>,
        answers: mpsc::UnboundedSender<Answer>,
    }

    pub struct RuntimeApi {
        pub address: String,
        answers: mpsc::UnboundedReceiver<Answer>,
    }

    impl RuntimeApi {
        pub async fn start(event: serde_json::Value) -> RuntimeApi {
            let (tx, rx) = mpsc::unbounded_channel();
            let shared = Shared {
                event: Arc::new(Mutex::new(Some(event))),
                answers: tx,
            };
            let app = Router::new()
                .route("/2018-06-01/runtime/invocation/next", get(next))
                .route(
                    "/2018-06-01/runtime/invocation/{id}/response",
                    post(respond),
                )
                .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
                .route("/2018-06-01/runtime/init/error", post(init_error))
                .with_state(shared);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind runtime API");
            let address = listener.local_addr().expect("address").to_string();
            tokio::spawn(
                async move { axum::serve(listener, app).await.expect("serve runtime API") },
            );
            RuntimeApi {
                address,
                answers: rx,
            }
        }

        /// The function's answer to the one event, waiting at most `secs`.
        pub async fn answer(&mut self, secs: u64) -> Option<Answer> {
            tokio::time::timeout(std::time::Duration::from_secs(secs), self.answers.recv())
                .await
                .ok()
                .flatten()
        }
    }

    async fn next(State(s): State<Shared>) -> (HeaderMap, String) {
        let event = s.event.lock().expect("lock").take();
        match event {
            Some(e) => {
                let mut h = HeaderMap::new();
                h.insert(
                    "lambda-runtime-aws-request-id",
                    HeaderValue::from_static("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
                );
                let deadline = (chrono::Utc::now().timestamp_millis() + 60_000).to_string();
                h.insert(
                    "lambda-runtime-deadline-ms",
                    HeaderValue::from_str(&deadline).expect("header"),
                );
                h.insert(
                    "lambda-runtime-invoked-function-arn",
                    HeaderValue::from_static(
                        "arn:aws:lambda:us-east-1:123456789012:function:stint-test",
                    ),
                );
                (h, e.to_string())
            }
            // One event per process: later polls wait until the test stops the function.
            None => std::future::pending().await,
        }
    }

    async fn respond(
        State(s): State<Shared>,
        Path(_id): Path<String>,
        body: String,
    ) -> &'static str {
        let _ = s.answers.send((
            "response".into(),
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        ));
        "{}"
    }

    async fn fail(State(s): State<Shared>, Path(_id): Path<String>, body: String) -> &'static str {
        let _ = s.answers.send((
            "error".into(),
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        ));
        "{}"
    }

    async fn init_error(State(s): State<Shared>, body: String) -> &'static str {
        let _ = s.answers.send((
            "init_error".into(),
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        ));
        "{}"
    }
}

/// A sample event from `events/`, as JSON.
pub fn sample(name: &str) -> serde_json::Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .expect("sample is JSON")
}

/// The request id the samples in `events/` refer to.
pub const SAMPLE_ID: &str = "01JDQZ8X3V2Q6W4M9K7T5R1N0A";

pub mod slack {
    //! A local HTTP server standing in for Slack's incoming-webhook endpoint: it keeps every
    //! payload posted to it, and can answer 500 to the first few posts.

    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::Router;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared {
        received: Arc<Mutex<Vec<serde_json::Value>>>,
        fail_first: Arc<AtomicUsize>,
        attempts: Arc<AtomicUsize>,
    }

    pub struct SlackStandIn {
        pub url: String,
        shared: Shared,
    }

    impl SlackStandIn {
        /// Answers 500 to the first `fail_first` posts (`usize::MAX`: always).
        pub async fn start(fail_first: usize) -> SlackStandIn {
            let shared = Shared::default();
            shared.fail_first.store(fail_first, Ordering::SeqCst);
            let app = Router::new()
                .route("/services/T000/B000/secret", post(receive))
                .with_state(shared.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("address");
            tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
            SlackStandIn {
                url: format!("http://{addr}/services/T000/B000/secret"),
                shared,
            }
        }

        /// Payloads accepted (answered 200), in order.
        pub fn received(&self) -> Vec<serde_json::Value> {
            self.shared.received.lock().expect("lock").clone()
        }

        /// Every post, including the ones answered 500.
        pub fn attempts(&self) -> usize {
            self.shared.attempts.load(Ordering::SeqCst)
        }
    }

    async fn receive(State(s): State<Shared>, body: String) -> (StatusCode, &'static str) {
        let n = s.attempts.fetch_add(1, Ordering::SeqCst);
        if n < s.fail_first.load(Ordering::SeqCst) {
            return (StatusCode::INTERNAL_SERVER_ERROR, "try again");
        }
        match serde_json::from_str(&body) {
            Ok(v) => {
                s.received.lock().expect("lock").push(v);
                (StatusCode::OK, "ok")
            }
            Err(_) => (StatusCode::BAD_REQUEST, "invalid_payload"),
        }
    }
}

/// Every email moto's SES holds from `sender`, as raw MIME text.
pub fn ses_messages_from(sender: &str) -> Vec<String> {
    let data: serde_json::Value = ureq::get(&format!("{}/moto-api/data.json", emulator_endpoint()))
        .call()
        .expect("moto data")
        .body_mut()
        .read_json()
        .expect("JSON");
    data["ses"]["RawMessage"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|m| m["source"] == sender)
                .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
