//! Helpers shared by Stint's tests and benchmarks: the emulator's endpoint, SDK clients
//! configured for it, fresh isolated tables, sample events, and the people, times and requests
//! most tests start from. Helpers only the integration tests use are in `tests/it/support.rs`.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use chrono::{DateTime, TimeZone, Utc};
use stint_app::requests::NewRequest;
use stint_aws::dynamodb::DynamoEventStore;
use stint_domain::{
    EventRecord, GroupName, Identity, Justification, PrincipalArn, RoleName, Scope, Source, UserId,
};

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

/// The environment a process (a function binary, `stint serve`, the CLI) needs to reach the
/// emulator with the same dummy credentials.
pub fn emulator_env() -> [(&'static str, String); 4] {
    [
        ("AWS_ENDPOINT_URL", emulator_endpoint()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ]
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

/// An SES client on the emulator and a new sender address (`<prefix>-<ulid>@stint.example.com`)
/// that SES has verified, so mail from it is accepted and can be read back apart from others'.
pub async fn ses_sender(prefix: &str) -> (aws_sdk_sesv2::Client, String) {
    let ses = aws_sdk_sesv2::Client::new(&emulator_config().await);
    let sender = format!("{}@stint.example.com", unique_name(prefix));
    ses.create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("verify the SES sender");
    (ses, sender)
}

/// A time in November 2026 (UTC), the month the samples in `events/` are dated in.
pub fn november(day: u32, hour: u32, min: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, min, sec)
        .single()
        .expect("a valid time")
}

/// 09:00 UTC on 29 November 2026, where most tests start their clock.
pub fn t0() -> DateTime<Utc> {
    november(29, 9, 0, 0)
}

/// A caller: `user` in `groups`.
pub fn who(user: &str, groups: &[&str]) -> Identity {
    Identity::new(
        UserId::parse(user).expect("a user id"),
        groups
            .iter()
            .map(|g| GroupName::parse(g).expect("a group name")),
    )
}

/// The usual requester: in `sre`, which may ask for the database roles.
pub fn alice() -> Identity {
    who("alice@example.com", &["sre"])
}

/// The usual approver: in `db-owners`, which approves the database roles.
pub fn bob() -> Identity {
    who("bob@example.com", &["db-owners"])
}

/// A person's request for `role` on `scope` for `principal`, now, for the role's default
/// duration, with no ticket and no break-glass; change fields for anything else.
pub fn request(role: &str, scope: &str, principal: &PrincipalArn, why: &str) -> NewRequest {
    NewRequest {
        accounts: vec![],
        all_accounts: false,
        role: RoleName::parse(role).expect("a role name"),
        scope: Some(Scope::parse(scope).expect("a scope")),
        principal: principal.clone(),
        duration: None,
        justification: Justification::parse(why).expect("a justification"),
        ticket: None,
        starts_at: None,
        break_glass: false,
        source: Source::Person,
    }
}

/// How many of `types` are `ty`.
pub fn count(types: &[String], ty: &str) -> usize {
    types.iter().filter(|t| *t == ty).count()
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
    use futures::TryStreamExt;
    use std::sync::Arc;
    use stint_app::clock::ManualClock;
    use stint_app::ports::{EventStore, TimerKind};
    use stint_app::{RetryPolicy, Stint};
    use stint_aws::iam::IamAccessProvider;
    use stint_aws::scheduler::{EventBridgeScheduler, SchedulerTargets};
    use stint_domain::{Catalog, RequestId, RequestState, Status, StoredEvent};
    use stint_http::apigw::ApiGatewayClaims;
    use stint_http::Api;

    pub const CATALOG_PATH: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/catalog.example.toml");
    pub const SCHEDULER_ROLE: &str = "arn:aws:iam::123456789012:role/stint-scheduler";
    pub const GRANT_FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:stint-grant";
    pub const REVOKE_FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:stint-revoke";
    pub const NOTIFY_FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:stint-notify";

    /// `STINT_PROTECTED_RESOURCES` for a function run against this table and schedule group,
    /// as the template would pass it.
    pub fn protected_resources(table: &str, group: &str) -> String {
        let table = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}");
        [
            table.clone(),
            format!("{table}/*"),
            format!("arn:aws:scheduler:us-east-1:123456789012:schedule-group/{group}"),
            format!("arn:aws:scheduler:us-east-1:123456789012:schedule/{group}/*"),
            GRANT_FN.to_owned(),
            REVOKE_FN.to_owned(),
            SCHEDULER_ROLE.to_owned(),
        ]
        .join(",")
    }

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
                remind_arn: Some(NOTIFY_FN.into()),
            };
            let stint = Stint {
                store: Arc::new(store.clone()),
                catalog: Arc::new(catalog()),
                clock: clock.clone(),
                access: Arc::new(IamAccessProvider::new(iam.clone())),
                timers: Arc::new(EventBridgeScheduler::new(scheduler.clone(), targets)),
                retry: RetryPolicy::IMMEDIATE,
                accounts: None,
                identity_center: None,
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

        /// Points the catalog's services at this fixture's own role: alert requests take their
        /// ids from the alarm (the samples' are all the same), so tests must not share a role.
        pub fn own_services(&mut self) {
            let mut catalog = (*self.stint.catalog).clone();
            for service in catalog.services.values_mut() {
                service.principal = self.principal.clone();
            }
            self.stint.catalog = Arc::new(catalog);
        }

        /// alice's request for db-read on orders, for this fixture's role.
        pub fn db_read(&self, why: &str) -> NewRequest {
            request("db-read", "orders", &self.principal, why)
        }

        /// A db-read request submitted by alice and approved by bob, at the clock's time.
        pub async fn approved(&self) -> RequestId {
            let new = self.db_read("investigate stuck orders");
            let id = self.stint.submit(&alice(), new).await.expect("submit").id;
            self.stint.approve(id, &bob(), None).await.expect("approve");
            id
        }

        /// [`Fixture::approved`], then granted as the grant function would on `AccessApproved`.
        pub async fn granted(&self) -> RequestId {
            let id = self.approved().await;
            self.stint.grant(id).await.expect("grant");
            id
        }

        /// The request's state as the services fold it from its events; the request must exist.
        pub async fn state(&self, id: RequestId) -> RequestState {
            self.stint.get(id).await.expect("the request").state
        }

        pub async fn status(&self, id: RequestId) -> Status {
            self.state(id).await.status
        }

        /// The request's stored events, in order.
        pub async fn events(&self, id: RequestId) -> Vec<StoredEvent> {
            self.store
                .read_stream(&id.stream())
                .await
                .expect("read the stream")
        }

        /// The types of the request's events, in order.
        pub async fn event_types(&self, id: RequestId) -> Vec<String> {
            let events = self.events(id).await;
            events.into_iter().map(|e| e.record.event_type).collect()
        }

        /// The event id of the request's `version`th event (1-based).
        pub async fn event_id(&self, id: RequestId, version: usize) -> String {
            let events = self.events(id).await;
            events[version - 1].record.event_id.clone()
        }

        /// Every event in the log from `from` (inclusive) to `to` (exclusive).
        pub async fn log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<StoredEvent> {
            self.store
                .read_log(from, to)
                .try_collect()
                .await
                .expect("read the log")
        }

        /// The HTTP API over this Stint as API Gateway serves it: people's identity from the
        /// JWT authorizer's claims.
        pub fn api(&self) -> Api {
            Api::new(self.stint.clone(), Arc::new(ApiGatewayClaims::default()))
        }

        /// [`Fixture::api`], also taking CI jobs' claims and alert webhooks signed with `secret`.
        pub fn api_with_alerts(&self, secret: &[u8]) -> Api {
            let claims = Arc::new(ApiGatewayClaims::default());
            Api::new(self.stint.clone(), claims.clone())
                .with_pipeline_auth(claims)
                .with_alert_secrets(vec![secret.to_vec()])
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

        /// The `kind` timer's schedule for request `id`: its `at()` expression and input, None
        /// when there is none.
        pub async fn schedule(&self, kind: TimerKind, id: RequestId) -> Option<(String, String)> {
            match self
                .scheduler
                .get_schedule()
                .name(kind.schedule_name(id))
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
        s.capture("response", body)
    }

    async fn fail(State(s): State<Shared>, Path(_id): Path<String>, body: String) -> &'static str {
        s.capture("error", body)
    }

    async fn init_error(State(s): State<Shared>, body: String) -> &'static str {
        s.capture("init_error", body)
    }

    impl Shared {
        /// Hands the function's answer of `kind` to the test; the body as JSON when it is JSON.
        fn capture(&self, kind: &str, body: String) -> &'static str {
            let _ = self.answers.send((
                kind.into(),
                serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
            ));
            "{}"
        }
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

pub mod figures;
pub mod lambda_bench;
pub mod slack_api;

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

/// Header `name` of a raw MIME message, empty when it has none.
pub fn mail_header(raw: &str, name: &str) -> String {
    let mail = mailparse::parse_mail(raw.as_bytes()).expect("a MIME message");
    mail.headers
        .iter()
        .find(|h| h.get_key().eq_ignore_ascii_case(name))
        .map(|h| h.get_value())
        .unwrap_or_default()
}

pub mod enforced {
    //! A Stint on the second emulator, the one that enforces IAM: Stint calls with the broker's
    //! keys, and a principal's session (assumed-role credentials, as a person or a job gets
    //! them) is checked against the role's policies, so tests see what access really is.

    use super::*;
    use std::sync::Arc;
    use stint_app::clock::ManualClock;
    use stint_app::{RetryPolicy, Stint};
    use stint_aws::iam::IamAccessProvider;
    use stint_aws::scheduler::{EventBridgeScheduler, SchedulerTargets};
    use stint_domain::Catalog;

    pub const ACCOUNT: &str = "123456789012";
    /// Target roles trust the broker's user, which stands in for the company's federation.
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/stint-broker"},"Action":"sts:AssumeRole"}]}"#;

    fn var(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests through infra/scripts/test.sh, which starts the IAM-enforcing emulator")
        })
    }

    /// SDK configuration for the enforcing emulator with the given keys.
    pub async fn config(key: &str, secret: &str, token: Option<String>) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(var("STINT_TEST_ENFORCING_ENDPOINT"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(key, secret, token, None, "stint-enforced"))
            .load()
            .await
    }

    /// The broker's configuration: its user may do everything.
    pub async fn broker() -> SdkConfig {
        config(
            &var("STINT_TEST_ENFORCING_KEY_ID"),
            &var("STINT_TEST_ENFORCING_SECRET"),
            None,
        )
        .await
    }

    pub struct World {
        pub stint: Stint,
        pub clock: Arc<ManualClock>,
        pub store: DynamoEventStore,
        pub iam: aws_sdk_iam::Client,
        pub sqs: aws_sdk_sqs::Client,
        sts: aws_sdk_sts::Client,
    }

    impl World {
        /// Stint over its own table and schedule group on the enforcing emulator.
        pub async fn new(catalog: Catalog, start: DateTime<Utc>) -> World {
            let sdk = broker().await;
            let iam = aws_sdk_iam::Client::new(&sdk);
            let scheduler = aws_sdk_scheduler::Client::new(&sdk);
            let group = unique_name("stint");
            scheduler
                .create_schedule_group()
                .name(&group)
                .send()
                .await
                .expect("create schedule group");
            let store =
                DynamoEventStore::new(aws_sdk_dynamodb::Client::new(&sdk), unique_name("events"));
            store.create_table().await.expect("create the events table");
            let clock = Arc::new(ManualClock::new(start));
            let targets = SchedulerTargets {
                group,
                role_arn: super::aws::SCHEDULER_ROLE.into(),
                start_arn: super::aws::GRANT_FN.into(),
                expiry_arn: super::aws::REVOKE_FN.into(),
                remind_arn: Some(super::aws::NOTIFY_FN.into()),
            };
            let stint = Stint {
                store: Arc::new(store.clone()),
                catalog: Arc::new(catalog),
                clock: clock.clone(),
                access: Arc::new(IamAccessProvider::new(iam.clone())),
                timers: Arc::new(EventBridgeScheduler::new(scheduler, targets)),
                retry: RetryPolicy::IMMEDIATE,
                accounts: None,
                identity_center: None,
            };
            World {
                stint,
                clock,
                store,
                sqs: aws_sdk_sqs::Client::new(&sdk),
                sts: aws_sdk_sts::Client::new(&sdk),
                iam,
            }
        }

        /// A new role under `path` (such as `/stint/`); its ARN.
        pub async fn role(&self, path: &str, name: &str) -> PrincipalArn {
            let out = self
                .iam
                .create_role()
                .role_name(name)
                .path(path)
                .assume_role_policy_document(TRUST)
                .send()
                .await
                .expect("create role");
            PrincipalArn::parse(out.role().expect("role").arn()).expect("role ARN")
        }

        /// A new queue; its URL.
        pub async fn queue(&self, name: &str) -> String {
            self.sqs
                .create_queue()
                .queue_name(name)
                .send()
                .await
                .expect("create queue")
                .queue_url()
                .expect("queue URL")
                .to_owned()
        }

        /// An SQS client with a session of `role`, as its user would hold it.
        pub async fn session(&self, role: &PrincipalArn, who: &str) -> aws_sdk_sqs::Client {
            let out = self
                .sts
                .assume_role()
                .role_arn(role.as_str())
                .role_session_name(who)
                .send()
                .await
                .expect("assume role");
            let c = out.credentials().expect("credentials");
            let sdk = config(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
            )
            .await;
            aws_sdk_sqs::Client::new(&sdk)
        }

        pub async fn event_count(&self) -> usize {
            use futures::TryStreamExt;
            use stint_app::ports::{Clock, EventStore};
            // The attack tests stay within a few hours of their start.
            let far = chrono::TimeDelta::days(2);
            let now = self.clock.now();
            self.store
                .read_log(now - far, now + far)
                .try_collect::<Vec<_>>()
                .await
                .expect("read the log")
                .len()
        }
    }

    /// Whether `session` may send to the queue: true, or false on AccessDenied (anything else
    /// fails the test, so a broken emulator never passes for a denial).
    pub async fn can_send(session: &aws_sdk_sqs::Client, queue_url: &str) -> bool {
        match session
            .send_message()
            .queue_url(queue_url)
            .message_body("probe")
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) => {
                let code = aws_sdk_sqs::error::ProvideErrorMetadata::code(&e)
                    .unwrap_or_default()
                    .to_owned();
                let text = format!("{e:?}");
                assert!(
                    code.contains("AccessDenied")
                        || text.contains("AccessDenied")
                        || text.contains("403"),
                    "expected AccessDenied, got {code}: {text}"
                );
                false
            }
        }
    }
}

pub mod proof {
    //! The suite's evidence, gathered across test processes: each part appends one JSON line to
    //! `$STINT_PROOF_DIR/proof.jsonl` (when the test command sets it), and
    //! `infra/scripts/proof_summary.py` prints the one summary line from them.

    use std::io::Write;

    /// Records that `deliveries` deliveries of the same triggers in `test` had
    /// `duplicate_effects` effects beyond the first.
    pub fn duplicates(test: &str, deliveries: usize, duplicate_effects: usize) {
        record(
            "duplicates",
            serde_json::json!({ "test": test, "deliveries": deliveries,
                "duplicate_effects": duplicate_effects }),
        );
    }

    /// Records whether the tampering in `case` was detected and named.
    pub fn tampering(case: &str, detected: bool) {
        record(
            "tampering",
            serde_json::json!({ "case": case, "detected": detected }),
        );
    }

    /// Records one attack: who tried it, and whether it got anything beyond the approval.
    pub fn attack(case: &str, attacker: &str, succeeded: bool) {
        record(
            "attacks",
            serde_json::json!({ "case": case, "attacker": attacker, "succeeded": succeeded }),
        );
    }

    /// Records one finding, e.g. `record("bad_input", json!({"transport": "http", ...}))`.
    pub fn record(part: &str, figures: serde_json::Value) {
        let Ok(dir) = std::env::var("STINT_PROOF_DIR") else {
            return;
        };
        let line = serde_json::json!({ "part": part, "figures": figures }).to_string() + "\n";
        // One write of a short line with O_APPEND: lines from parallel tests do not interleave.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(std::path::Path::new(&dir).join("proof.jsonl"));
        if let Ok(mut f) = file {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

pub mod bad_input {
    //! Every bad input the suite sends, in one table. The same cases go to the local server over
    //! HTTP and to the router through API Gateway events; each must be refused with its 4xx and
    //! a JSON error (or, for a repeated approval, accepted without effect), appending nothing.

    use chrono::{DateTime, Duration, Utc};
    use serde_json::{json, Value};

    pub const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/stint/oncall";
    pub const ALERT_SECRET: &str = "proof-alert-secret";

    /// Who sends a case. Token cases only differ over HTTP: in AWS the authorizer turns each
    /// of them away before the function runs, so there they arrive with no identity.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Caller {
        /// A user (as the identity provider spells it) and comma-separated groups.
        User(&'static str, &'static str),
        Nobody,
        Expired,
        BadSignature,
        WrongIssuer,
        WrongAudience,
        Garbage,
        /// A CI job's token on a person's route.
        PipelineOnPersonRoute,
        /// A CI job with these repository, ref and environment claims.
        Job(&'static str, &'static str, &'static str),
        /// A person's token from the right issuer carrying exactly these claims (JSON), for
        /// the identity rules: which claim names the user, `email_verified`, group shapes.
        /// Over API Gateway each value arrives as the authorizer passes it: a string.
        Claims(&'static str),
    }

    /// Which request a decision targets (set up before the cases run).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum On {
        Pending,
        /// Pending db-write, already approved once by bob (it needs two).
        PendingWrite,
        Cancelled,
        Denied,
        Revoked,
        Active,
        /// Active, and its grant already judged `appropriate` by bob.
        Reviewed,
        Unknown,
        Malformed,
    }

    #[derive(Debug, Clone)]
    pub struct Case {
        pub name: &'static str,
        pub method: &'static str,
        /// With `{id}` for the request `on` names.
        pub path: &'static str,
        pub on: Option<On>,
        pub caller: Caller,
        pub headers: Vec<(&'static str, String)>,
        pub body: String,
        pub status: u16,
        /// The error code; None for a request accepted without effect.
        pub error: Option<&'static str>,
    }

    pub const ALICE: Caller = Caller::User("alice@example.com", "sre");
    pub const BOB: Caller = Caller::User("bob@example.com", "db-owners");
    pub const CAROL: Caller = Caller::User("carol@example.com", "sre");
    /// In the example catalog's auditor group.
    pub const AUDITOR: Caller = Caller::User("audrey@example.com", "audit");

    /// A good `POST /requests` body with `patch` applied (null removes a field).
    pub fn body(patch: Value) -> String {
        let mut b = json!({ "role": "db-read", "scope": "orders", "principal": PRINCIPAL,
            "duration": "1h", "justification": "bad input proof", "ticket": "INC-1" });
        for (k, v) in patch.as_object().expect("an object") {
            if v.is_null() {
                b.as_object_mut().expect("object").remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b.to_string()
    }

    fn create(
        name: &'static str,
        caller: Caller,
        body: String,
        status: u16,
        error: &'static str,
    ) -> Case {
        Case {
            name,
            method: "POST",
            path: "/requests",
            on: None,
            caller,
            headers: vec![],
            body,
            status,
            error: Some(error),
        }
    }

    fn decide(
        name: &'static str,
        action: &'static str,
        on: On,
        caller: Caller,
        body: &str,
        status: u16,
        error: Option<&'static str>,
    ) -> Case {
        let path = match action {
            "approve" => "/requests/{id}/approve",
            "deny" => "/requests/{id}/deny",
            "cancel" => "/requests/{id}/cancel",
            "revoke" => "/requests/{id}/revoke",
            "extend" => "/requests/{id}/extend",
            "review" => "/requests/{id}/review",
            other => panic!("no action {other}"),
        };
        Case {
            name,
            method: "POST",
            path,
            on: Some(on),
            caller,
            headers: vec![],
            body: body.to_owned(),
            status,
            error,
        }
    }

    /// `POST /reviews/{id}` on the request `on` names: a periodic access review.
    fn review(
        name: &'static str,
        on: On,
        caller: Caller,
        body: Value,
        status: u16,
        error: Option<&'static str>,
    ) -> Case {
        Case {
            name,
            method: "POST",
            path: "/reviews/{id}",
            on: Some(on),
            caller,
            headers: vec![],
            body: body.to_string(),
            status,
            error,
        }
    }

    /// `GET /reviews` with `path`'s query.
    fn reviews(
        name: &'static str,
        path: &'static str,
        caller: Caller,
        status: u16,
        error: &'static str,
    ) -> Case {
        Case {
            name,
            method: "GET",
            path,
            on: None,
            caller,
            headers: vec![],
            body: String::new(),
            status,
            error: Some(error),
        }
    }

    /// `GET /stats` with `path`'s query: the service levels (a query refused like the reviews').
    fn stats(
        name: &'static str,
        path: &'static str,
        caller: Caller,
        status: u16,
        error: &'static str,
    ) -> Case {
        reviews(name, path, caller, status, error)
    }

    /// `GET /requests/{id}` on the request `on` names.
    fn read(name: &'static str, on: On, caller: Caller, status: u16, error: &'static str) -> Case {
        Case {
            name,
            method: "GET",
            path: "/requests/{id}",
            on: Some(on),
            caller,
            headers: vec![],
            body: String::new(),
            status,
            error: Some(error),
        }
    }

    fn alert(
        name: &'static str,
        headers: Vec<(&'static str, String)>,
        body: String,
        status: u16,
        error: &'static str,
    ) -> Case {
        Case {
            name,
            method: "POST",
            path: "/alerts",
            on: None,
            caller: Caller::Nobody,
            headers,
            body,
            status,
            error: Some(error),
        }
    }

    fn generic_alert(at: DateTime<Utc>) -> String {
        json!({ "service": "orders", "incident": "INC-PROOF", "status": "triggered",
            "occurred_at": at.to_rfc3339(), "summary": "proof" })
        .to_string()
    }

    /// Every case, for a clock reading `now`.
    pub fn cases(now: DateTime<Utc>) -> Vec<Case> {
        let bad = "invalid_input";
        let sign = |b: &str| stint_http::alerts::sign(ALERT_SECRET.as_bytes(), b.as_bytes());
        let fresh = generic_alert(now - Duration::seconds(10));
        let stale = generic_alert(now - Duration::minutes(6));
        let malformed_alert =
            r#"{"service": "orders", "status": "triggered", "occurred_at": "TIME"}"#
                .replace("TIME", &now.to_rfc3339());
        let start = |d: Duration| json!((now + d).to_rfc3339());
        vec![
            // --- malformed requests
            create("malformed JSON", ALICE, "{\"role\": ".into(), 400, bad),
            create("a JSON array", ALICE, "[]".into(), 400, bad),
            create("a JSON string", ALICE, "\"db-read\"".into(), 400, bad),
            create("wrong type: duration as a number", ALICE, body(json!({"duration": 60})), 400, bad),
            create("wrong type: break_glass as a string", ALICE, body(json!({"break_glass": "yes"})), 400, bad),
            create("unknown field", ALICE, body(json!({"colour": "red"})), 400, bad),
            create("a 1 MB body", ALICE, body(json!({"justification": "x".repeat(1 << 20)})), 413, "body_too_large"),
            create("control characters in the justification", ALICE, body(json!({"justification": "a\u{1b}[31mb"})), 400, bad),
            create("a NUL byte in the justification", ALICE, body(json!({"justification": "a\u{0}b"})), 400, bad),
            create("control characters in the scope", ALICE, body(json!({"scope": "orders\u{7}"})), 400, bad),
            create("missing role", ALICE, body(json!({"role": null})), 400, bad),
            create("missing principal", ALICE, body(json!({"principal": null})), 400, bad),
            create("missing justification", ALICE, body(json!({"justification": null})), 400, bad),
            // --- role, scope and principal
            create("unknown role", ALICE, body(json!({"role": "root"})), 400, "unknown_role"),
            create("a role name that is not a name", ALICE, body(json!({"role": "DB READ!"})), 400, bad),
            create("a scope the role does not allow", ALICE, body(json!({"scope": "billing"})), 400, "scope_not_allowed"),
            create("a scope on a role without scopes", ALICE, body(json!({"role": "logs-read"})), 400, "scope_not_allowed"),
            create("principal role/admin", ALICE, body(json!({"principal": "arn:aws:iam::123456789012:role/admin"})), 400, "principal_not_allowed"),
            create("principal role/stint/../admin", ALICE, body(json!({"principal": "arn:aws:iam::123456789012:role/stint/../admin"})), 400, bad),
            create("principal: a broker role", ALICE, body(json!({"principal": "arn:aws:iam::123456789012:role/stint/stint-broker"})), 400, "principal_not_allowed"),
            create("principal in another account", ALICE, body(json!({"principal": "arn:aws:iam::999999999999:role/stint/oncall"})), 400, "principal_not_allowed"),
            create("principal that is not an ARN", ALICE, body(json!({"principal": "oncall"})), 400, bad),
            // --- durations and times
            create("duration 0", ALICE, body(json!({"duration": "0s"})), 400, bad),
            create("negative duration", ALICE, body(json!({"duration": "-5m"})), 400, bad),
            create("duration over the maximum", ALICE, body(json!({"duration": "5h"})), 422, "over_max_duration"),
            create("absurd duration 1e30", ALICE, body(json!({"duration": "1e30"})), 400, bad),
            create("absurd duration 999999999d", ALICE, body(json!({"duration": "999999999d"})), 400, bad),
            create("duration with an unknown unit", ALICE, body(json!({"duration": "90x"})), 400, bad),
            create("start in the past", ALICE, body(json!({"start": start(-Duration::hours(1))})), 400, "start_in_past"),
            create("start too far ahead", ALICE, body(json!({"start": start(Duration::days(30))})), 400, "start_too_far"),
            create("start that is not a time", ALICE, body(json!({"start": "tomorrow"})), 400, bad),
            // --- text fields
            create("empty justification", ALICE, body(json!({"justification": "   "})), 400, bad),
            create("justification too long", ALICE, body(json!({"justification": "x".repeat(1_001)})), 400, bad),
            create("ticket too long", ALICE, body(json!({"ticket": "t".repeat(201)})), 400, bad),
            // --- identity and tokens
            create("identity forged in the body", ALICE, body(json!({"requester": "bob@example.com"})), 400, bad),
            create("no token", Caller::Nobody, body(json!({})), 401, "unauthenticated"),
            create("expired token", Caller::Expired, body(json!({})), 401, "unauthenticated"),
            create("badly signed token", Caller::BadSignature, body(json!({})), 401, "unauthenticated"),
            create("token from the wrong issuer", Caller::WrongIssuer, body(json!({})), 401, "unauthenticated"),
            create("token for the wrong audience", Caller::WrongAudience, body(json!({})), 401, "unauthenticated"),
            create("a token that is not a JWT", Caller::Garbage, body(json!({})), 401, "unauthenticated"),
            create("a CI job's token on a person's route", Caller::PipelineOnPersonRoute, body(json!({})), 401, "unauthenticated"),
            // One claim names the user, with no fallback to sub; an email must be verified.
            create("a token naming the user by sub alone", Caller::Claims(r#"{"sub": "alice-sub", "groups": "[sre]"}"#), body(json!({})), 401, "unauthenticated"),
            create("an unverified email", Caller::Claims(r#"{"sub": "alice-sub", "email": "alice@example.com", "email_verified": false, "groups": "[sre]"}"#), body(json!({})), 401, "unauthenticated"),
            create("an unverified email, spelled as Cognito sends it", Caller::Claims(r#"{"email": "alice@example.com", "email_verified": "false", "groups": "[sre]"}"#), body(json!({})), 401, "unauthenticated"),
            create("an email without email_verified", Caller::Claims(r#"{"email": "alice@example.com", "groups": "[sre]"}"#), body(json!({})), 401, "unauthenticated"),
            create("a group list API Gateway flattened with a space inside", Caller::Claims(r#"{"email": "alice@example.com", "email_verified": "true", "groups": "[sre backend]"}"#), body(json!({})), 401, "unauthenticated"),
            create("a requester outside the role's groups", Caller::User("mallory@example.com", "sales"), body(json!({})), 403, "not_allowed_to_request"),
            create("break-glass on a role without it", ALICE, body(json!({"break_glass": true})), 403, "break_glass_not_allowed"),
            // --- approvals
            decide("self-approval", "approve", On::Pending, ALICE, "", 403, Some("self_approval")),
            decide("self-approval, upper case", "approve", On::Pending, Caller::User("ALICE@EXAMPLE.COM", "db-owners"), "", 403, Some("self_approval")),
            decide("self-approval, padded with spaces", "approve", On::Pending, Caller::User("  alice@example.com ", "db-owners"), "", 403, Some("self_approval")),
            decide("an approver outside the approver groups", "approve", On::Pending, CAROL, "", 403, Some("not_an_approver")),
            decide("a second approval by the same approver", "approve", On::PendingWrite, BOB, "", 200, None),
            decide("an approval note too long", "approve", On::Pending, BOB, &json!({"comment": "c".repeat(1_001)}).to_string(), 400, Some(bad)),
            decide("an unknown field in a decision", "deny", On::Pending, BOB, r#"{"verdict": "no"}"#, 400, Some(bad)),
            // --- wrong state or wrong caller
            decide("approving a cancelled request", "approve", On::Cancelled, BOB, "", 409, Some("wrong_state")),
            decide("approving a denied request", "approve", On::Denied, BOB, "", 409, Some("wrong_state")),
            decide("approving a revoked request", "approve", On::Revoked, Caller::User("dave@example.com", "db-owners"), "", 409, Some("wrong_state")),
            decide("approving an unknown request", "approve", On::Unknown, BOB, "", 404, Some("not_found")),
            decide("approving a malformed request id", "approve", On::Malformed, BOB, "", 400, Some(bad)),
            decide("a revoke by an unrelated user", "revoke", On::Active, CAROL, "", 403, Some("not_permitted_to_revoke")),
            // "Security Team" is not the admin group "security", however the list is spelled.
            decide("a revoke by a 'Security Team' member, flattened by API Gateway", "revoke", On::Active, Caller::Claims(r#"{"email": "mallory@example.com", "email_verified": "true", "groups": "[Security Team]"}"#), "", 401, Some("unauthenticated")),
            decide("a revoke by a 'Security Team' member, listed with commas", "revoke", On::Active, Caller::Claims(r#"{"email": "mallory@example.com", "email_verified": "true", "groups": "[Security Team, sales]"}"#), "", 403, Some("not_permitted_to_revoke")),
            // --- reading: a request is for its requester, approvers, admins and auditors
            read("reading someone else's request", On::Active, CAROL, 404, "not_found"),
            read("reading a pending request of someone else", On::Pending, Caller::User("mallory@example.com", "sales"), 404, "not_found"),
            decide("revoking a request still pending", "revoke", On::Pending, ALICE, "", 409, Some("wrong_state")),
            decide("cancelling someone else's request", "cancel", On::Pending, CAROL, "", 403, Some("not_the_requester")),
            decide("extending past the maximum total", "extend", On::Active, ALICE, r#"{"duration": "8h"}"#, 422, Some("over_max_total_duration")),
            decide("reviewing a request that used no break-glass", "review", On::Active, BOB, "", 400, Some("invalid")),
            // --- periodic access reviews (POST /reviews/{id}, GET /reviews)
            review("a grantee reviewing their own grant", On::Active, ALICE, json!({"verdict": "appropriate"}), 403, Some("self_review")),
            review("a grantee in an approver group reviewing their own grant", On::Active, Caller::User("alice@example.com", "db-owners"), json!({"verdict": "appropriate"}), 403, Some("self_review")),
            review("a grantee reviewing their own grant, upper case", On::Active, Caller::User(" ALICE@EXAMPLE.COM ", "db-owners"), json!({"verdict": "appropriate"}), 403, Some("self_review")),
            review("a review by someone outside the approver groups", On::Active, CAROL, json!({"verdict": "appropriate"}), 403, Some("not_an_approver")),
            review("a review by an admin who approves nothing", On::Active, Caller::User("sec@example.com", "security"), json!({"verdict": "appropriate"}), 403, Some("not_an_approver")),
            review("a review of a request never granted", On::Pending, BOB, json!({"verdict": "appropriate"}), 409, Some("not_granted")),
            review("a review of a denied request", On::Denied, BOB, json!({"verdict": "inappropriate", "comment": "x"}), 409, Some("not_granted")),
            review("a review of an unknown request", On::Unknown, BOB, json!({"verdict": "appropriate"}), 404, Some("not_found")),
            review("a review of a malformed request id", On::Malformed, BOB, json!({"verdict": "appropriate"}), 400, Some(bad)),
            review("a review without a verdict", On::Active, BOB, json!({"comment": "fine"}), 400, Some(bad)),
            review("a verdict that is not one", On::Active, BOB, json!({"verdict": "fine"}), 400, Some(bad)),
            review("a verdict as a boolean", On::Active, BOB, json!({"verdict": true}), 400, Some(bad)),
            review("inappropriate without a comment", On::Active, BOB, json!({"verdict": "inappropriate"}), 400, Some("comment_required")),
            review("a review comment too long", On::Active, BOB, json!({"verdict": "appropriate", "comment": "c".repeat(1_001)}), 400, Some(bad)),
            review("control characters in a review comment", On::Active, BOB, json!({"verdict": "inappropriate", "comment": "a\u{1b}[2Jb"}), 400, Some(bad)),
            review("an empty review comment", On::Active, BOB, json!({"verdict": "inappropriate", "comment": "  "}), 400, Some(bad)),
            review("a forged period on a review", On::Active, BOB, json!({"verdict": "appropriate", "period": "2026-10"}), 422, Some("wrong_period")),
            review("a malformed period on a review", On::Active, BOB, json!({"verdict": "appropriate", "period": "2026-13"}), 400, Some(bad)),
            review("a reviewer named in the body", On::Active, BOB, json!({"verdict": "appropriate", "reviewer": "dave@example.com"}), 400, Some(bad)),
            review("the same review again", On::Reviewed, BOB, json!({"verdict": "appropriate"}), 200, None),
            review("overwriting a review with another verdict", On::Reviewed, BOB, json!({"verdict": "inappropriate", "comment": "changed my mind"}), 409, Some("already_reviewed")),
            review("overwriting a review as another approver", On::Reviewed, Caller::User("dave@example.com", "db-owners"), json!({"verdict": "inappropriate", "comment": "no"}), 409, Some("already_reviewed")),
            reviews("a period that is no month", "/reviews?period=2026-13", BOB, 400, bad),
            reviews("a period written the other way round", "/reviews?period=11-2026", BOB, 400, bad),
            reviews("an empty period", "/reviews?period=", BOB, 400, bad),
            reviews("a period with a day", "/reviews?period=2026-11-01", BOB, 400, bad),
            reviews("an unknown parameter on the reviews", "/reviews?period=2026-11&all=true", BOB, 400, bad),
            reviews("the reviews without a token", "/reviews?period=2026-11", Caller::Nobody, 401, "unauthenticated"),
            // --- service levels: auditors and admins only, a window that runs forwards, at most 366 days
            stats("service levels with from after to", "/stats?from=2026-11-30T00:00:00Z&to=2026-11-29T00:00:00Z", AUDITOR, 400, bad),
            stats("service levels over an empty window", "/stats?from=2026-11-29T00:00:00Z&to=2026-11-29T00:00:00Z", AUDITOR, 400, bad),
            stats("service levels over two years", "/stats?from=2024-11-01T00:00:00Z&to=2026-11-01T00:00:00Z", AUDITOR, 400, bad),
            stats("service levels from a word", "/stats?from=yesterday", AUDITOR, 400, bad),
            stats("service levels to a date without a time", "/stats?to=2026-11-29", AUDITOR, 400, bad),
            stats("service levels to a time without a zone", "/stats?to=2026-11-29T00:00:00", AUDITOR, 400, bad),
            stats("service levels in a format there is none of", "/stats?format=pdf", AUDITOR, 400, bad),
            stats("an unknown parameter on the service levels", "/stats?role=db-read", AUDITOR, 400, bad),
            stats("service levels for a requester", "/stats", ALICE, 403, "forbidden"),
            stats("service levels for an approver", "/stats?from=2026-11-01T00:00:00Z&to=2026-11-29T00:00:00Z", BOB, 403, "forbidden"),
            stats("service levels without a token", "/stats", Caller::Nobody, 401, "unauthenticated"),
            // --- pipelines
            Case {
                name: "a pipeline request without a ticket",
                method: "POST",
                path: "/pipeline/requests",
                on: None,
                caller: Caller::Job("acme/orders", "refs/heads/main", "production"),
                headers: vec![],
                body: json!({"role": "deploy", "scope": "orders-api", "principal": "arn:aws:iam::123456789012:role/stint/ci-deploy", "justification": "deploy"}).to_string(),
                status: 400,
                error: Some(bad),
            },
            Case {
                name: "a person's token on a pipeline route",
                method: "POST",
                path: "/pipeline/requests",
                on: None,
                caller: ALICE,
                headers: vec![],
                body: body(json!({})),
                status: 401,
                error: Some("unauthenticated"),
            },
            // --- signed alerts
            alert("an alert without a signature", vec![], fresh.clone(), 401, "unauthenticated"),
            alert("an alert with a wrong signature", vec![("x-stint-signature", stint_http::alerts::sign(b"guess", fresh.as_bytes()))], fresh.clone(), 401, "unauthenticated"),
            alert("an alert replayed after 5 minutes", vec![("x-stint-signature", sign(&stale))], stale, 401, "unauthenticated"),
            alert("a signed alert missing its incident", vec![("x-stint-signature", sign(&malformed_alert))], malformed_alert, 400, bad),
        ]
    }
}
