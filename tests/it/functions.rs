//! Each function binary, started as a process against a minimal Lambda Runtime API served
//! here, answers its sample event from `events/`, with the emulator behind it. Every item a
//! function puts into the table is checked against its policy's stream prefixes in the
//! template: the emulator does not evaluate `dynamodb:LeadingKeys`, so the test does.

use crate::support::bin;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use stint_app::ports::Clock;
use stint_app::requests::NewRequest;
use stint_domain::policy::grant_policy_name;
use stint_domain::{AccessDuration, RequestId, Status};
use stint_tests::aws::{
    protected_resources, Fixture, CATALOG_PATH, GRANT_FN, NOTIFY_FN, REVOKE_FN, SCHEDULER_ROLE,
};
use stint_tests::runtime_api::RuntimeApi;
use stint_tests::{alice, bob, emulator_env, sample, SAMPLE_ID};

/// Every (stream, version) in the fixture's table.
async fn items(f: &Fixture) -> std::collections::BTreeSet<(String, u64)> {
    let client = stint_tests::dynamodb_client().await;
    let mut out = std::collections::BTreeSet::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(f.store.table())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan the table");
        for item in page.items() {
            let stream = item["stream"].as_s().expect("stream").clone();
            let version = item["version"].as_n().expect("version").parse().unwrap();
            out.insert((stream, version));
        }
        match page.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => return out,
        }
    }
}

/// Runs `function` on one event and returns how it answered. What it put into the table must
/// be inside the streams its template policy allows it to write.
pub(crate) async fn invoke(
    f: &Fixture,
    function: &str,
    event: Value,
    extra_env: &[(&str, &str)],
) -> (String, Value) {
    invoke_logged(f, function, event, extra_env, None).await
}

/// As [`invoke`], with the function's stdout (its JSON logs and EMF lines) going to `stdout`
/// when given, else to the test's own.
pub(crate) async fn invoke_logged(
    f: &Fixture,
    function: &str,
    event: Value,
    extra_env: &[(&str, &str)],
    stdout: Option<std::fs::File>,
) -> (String, Value) {
    let before = items(f).await;
    let answer = run(f, function, event, extra_env, stdout).await;
    let resource = crate::least_privilege::resource_of(function);
    for (stream, version) in items(f).await.difference(&before) {
        assert!(
            crate::least_privilege::may_put(&resource, stream),
            "{function} put {stream} version {version}, outside its policy's streams"
        );
    }
    answer
}

/// Starts `function` as a process on one event and returns how it answered.
async fn run(
    f: &Fixture,
    function: &str,
    event: Value,
    extra_env: &[(&str, &str)],
    stdout: Option<std::fs::File>,
) -> (String, Value) {
    let mut api = RuntimeApi::start(event).await;
    let mut cmd = tokio::process::Command::new(bin(function));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(emulator_env())
        .env("STINT_TABLE", f.store.table())
        .env("STINT_SCHEDULE_GROUP", &f.group)
        .env("STINT_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
        .env("STINT_GRANT_FUNCTION_ARN", GRANT_FN)
        .env("STINT_REVOKE_FUNCTION_ARN", REVOKE_FN)
        .env("STINT_NOTIFY_FUNCTION_ARN", NOTIFY_FN)
        .env(
            "STINT_PROTECTED_RESOURCES",
            protected_resources(f.store.table(), &f.group),
        )
        .kill_on_drop(true);
    // The example catalog from its file, unless the test puts one in SSM.
    if !extra_env
        .iter()
        .any(|(k, _)| *k == "STINT_CATALOG_PARAMETER")
    {
        cmd.env("STINT_CATALOG_FILE", CATALOG_PATH);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    if let Some(file) = stdout {
        cmd.stdout(file);
    }
    let mut child = cmd.spawn().expect("start the function");
    let answer = api.answer(60).await;
    let _ = child.kill().await;
    answer.unwrap_or_else(|| panic!("{function} gave no answer within 60 s"))
}

pub(crate) fn sample_id() -> RequestId {
    RequestId::parse(SAMPLE_ID).unwrap()
}

/// The sample request, submitted by alice at the fixture's clock; approved and granted on ask.
pub(crate) async fn seed(f: &Fixture, approve: bool, grant: bool, starts_in: Option<Duration>) {
    // Each test's own role: the samples share one request id, so tests must not share a role.
    let new = NewRequest {
        duration: Some(AccessDuration::parse("4h").unwrap()),
        starts_at: starts_in.map(|d| f.clock.now() + d),
        ..f.db_read("Investigate stuck orders for INC-4211")
    };
    f.stint
        .submit_with_id(sample_id(), &alice(), new)
        .await
        .expect("seed");
    if approve {
        f.stint
            .approve(sample_id(), &bob(), None)
            .await
            .expect("approve");
    }
    if grant {
        f.stint.grant(sample_id()).await.expect("grant");
    }
}

async fn status_of(f: &Fixture) -> Status {
    f.status(sample_id()).await
}

pub(crate) fn assert_http(answer: &(String, Value), status: u16) -> Value {
    assert_eq!(answer.0, "response", "{answer:?}");
    assert_eq!(answer.1["statusCode"], status, "{answer:?}");
    serde_json::from_str(answer.1["body"].as_str().expect("body")).expect("JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_function_answers_its_samples() {
    let f = Fixture::new(Utc::now()).await;
    let body = assert_http(
        &invoke(
            &f,
            "stint-request",
            sample("apigw-create-request.json"),
            &[],
        )
        .await,
        201,
    );
    assert_eq!(body["status"], "pending");
    seed(&f, false, false, None).await;
    let body = assert_http(
        &invoke(&f, "stint-request", sample("apigw-get-request.json"), &[]).await,
        200,
    );
    assert_eq!(body["id"], SAMPLE_ID);
    let body = assert_http(
        &invoke(&f, "stint-request", sample("apigw-list-requests.json"), &[]).await,
        200,
    );
    assert_eq!(
        body["requests"].as_array().unwrap().len(),
        2,
        "bob awaits both: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approve_function_answers_its_samples() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, false, false, None).await;
    let body = assert_http(
        &invoke(&f, "stint-approve", sample("apigw-approve.json"), &[]).await,
        200,
    );
    assert_eq!(body["status"], "approved");
    assert_eq!(status_of(&f).await, Status::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approve_function_answers_deny_and_cancel() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, false, false, None).await;
    let body = assert_http(
        &invoke(&f, "stint-approve", sample("apigw-deny.json"), &[]).await,
        200,
    );
    assert_eq!(body["status"], "denied");
    let body = assert_http(
        &invoke(&f, "stint-approve", sample("apigw-cancel.json"), &[]).await,
        409,
    );
    assert_eq!(body["error"], "wrong_state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grant_function_grants_on_access_approved() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, true, false, None).await;
    let (kind, out) = invoke(
        &f,
        "stint-grant",
        sample("eventbridge-access-approved.json"),
        &[],
    )
    .await;
    assert_eq!(
        (kind.as_str(), &out["granted"]),
        ("response", &json!(true)),
        "{out}"
    );
    assert!(f.policy(&grant_policy_name(sample_id())).await.is_some());
    assert_eq!(status_of(&f).await, Status::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grant_function_grants_on_a_start_timer() {
    // Requested two hours ago to start an hour ago, for four hours.
    let f = Fixture::new(Utc::now() - Duration::hours(2)).await;
    seed(&f, true, false, Some(Duration::hours(1))).await;
    let (kind, out) = invoke(&f, "stint-grant", sample("scheduler-start.json"), &[]).await;
    assert_eq!(
        (kind.as_str(), &out["granted"]),
        ("response", &json!(true)),
        "{out}"
    );
    assert_eq!(status_of(&f).await, Status::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_function_revokes_on_the_expiry_timer() {
    // Granted five hours ago for four: expired an hour ago.
    let f = Fixture::new(Utc::now() - Duration::hours(5)).await;
    seed(&f, true, true, None).await;
    let (kind, out) = invoke(&f, "stint-revoke", sample("scheduler-expiry.json"), &[]).await;
    assert_eq!(
        (kind.as_str(), &out["revoked"]),
        ("response", &json!(true)),
        "{out}"
    );
    assert!(out["lag_seconds"].as_i64().unwrap() >= 3_600);
    assert!(f.policy(&grant_policy_name(sample_id())).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_function_answers_the_http_revoke() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, true, true, None).await;
    let body = assert_http(
        &invoke(&f, "stint-revoke", sample("apigw-revoke.json"), &[]).await,
        200,
    );
    assert_eq!(body["status"], "revoked");
    assert!(f.policy(&grant_policy_name(sample_id())).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_function_sweeps_on_schedule() {
    let f = Fixture::new(Utc::now() - Duration::hours(5)).await;
    seed(&f, true, true, None).await;
    let (kind, out) = invoke(&f, "stint-revoke", sample("eventbridge-sweep.json"), &[]).await;
    assert_eq!(kind, "response", "{out}");
    assert_eq!(
        (out["streams_seen"].as_u64(), out["revoked"].as_u64()),
        (Some(1), Some(1)),
        "{out}"
    );
    assert_eq!(status_of(&f).await, Status::Revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_function_keeps_the_sweep_cursor_in_its_table() {
    let f = Fixture::new(Utc::now() - Duration::hours(5)).await;
    seed(&f, true, true, None).await;
    let memory = stint_aws::sweep_memory::DynamoSweepMemory::new(
        stint_tests::dynamodb_client().await,
        stint_tests::unique_name("sweep"),
    );
    memory.create_table().await.unwrap();
    let env = [("STINT_SWEEP_TABLE", memory.table())];
    let (_, first) = invoke(&f, "stint-revoke", sample("eventbridge-sweep.json"), &env).await;
    assert_eq!(
        (&first["full_read"], &first["remembered"], &first["revoked"]),
        (&Value::Bool(true), &Value::Bool(true), &Value::from(1)),
        "{first}"
    );
    let (_, second) = invoke(&f, "stint-revoke", sample("eventbridge-sweep.json"), &env).await;
    assert_eq!(second["full_read"], false, "{second}");
    assert_eq!(second["revoked"], 0, "{second}");
    let cursor = stint_app::ports::SweepMemory::load(&memory)
        .await
        .unwrap()
        .expect("the function saved its cursor");
    assert!(cursor.open.is_empty(), "{cursor:?}");
}

/// A new event bus whose every `stint` event lands in an SQS queue: (bus name, queue URL).
pub(crate) async fn bus_with_tap() -> (String, String) {
    let sdk = stint_tests::emulator_config().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let bus = stint_tests::unique_name("stint");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(stint_tests::unique_name("bus-tap"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap();
    events
        .put_rule()
        .name("tap")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["stint"]}"#)
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("sqs")
        .arn(arn)
        .build()
        .unwrap();
    events
        .put_targets()
        .rule("tap")
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap();
    (bus, queue)
}

/// The events the tap queue holds, as JSON.
pub(crate) async fn tapped(queue: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&stint_tests::emulator_config().await);
    let got = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    got.messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_function_puts_stream_records_on_the_bus() {
    let f = Fixture::new(Utc::now()).await;
    let (bus, tap) = bus_with_tap().await;
    let (kind, out) = invoke(
        &f,
        "stint-relay",
        sample("dynamodb-stream-insert.json"),
        &[("STINT_BUS", &bus)],
    )
    .await;
    assert_eq!(
        (kind.as_str(), &out["batchItemFailures"]),
        ("response", &json!([])),
        "{out}"
    );
    let msgs = tapped(&tap).await;
    assert_eq!(msgs.len(), 1);
    let ev = &msgs[0];
    assert_eq!(ev["detail-type"], "AccessRequested");
    assert_eq!(ev["source"], "stint");
    assert_eq!(ev["detail"]["request_id"], SAMPLE_ID);
    assert_eq!(
        ev["detail"]["payload"]["role"], "db-read",
        "the payload travels as JSON, not a string"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_function_turns_an_alarm_into_access_and_ok_revokes_it() {
    // The example catalog's services attach to role/stint/oncall; no other test grants this
    // incident's request there.
    let f = Fixture::new(Utc::now()).await;
    f.ensure_role("oncall").await;
    // The request function no longer takes alarms: they are the alerts function's.
    let (kind, _) = invoke(&f, "stint-request", sample("cloudwatch-alarm.json"), &[]).await;
    assert_eq!(kind, "error");
    let (kind, out) = invoke(&f, "stint-alerts", sample("cloudwatch-alarm.json"), &[]).await;
    assert_eq!(kind, "response", "{out}");
    assert_eq!(
        (out["outcome"].as_str(), out["status"].as_str()),
        (Some("requested"), Some("approved")),
        "{out}"
    );
    let id = out["request_id"].as_str().unwrap().to_owned();

    let mut approved = sample("eventbridge-access-approved.json");
    approved["detail"]["request_id"] = json!(id);
    let (kind, granted) = invoke(&f, "stint-grant", approved, &[]).await;
    assert_eq!(
        (kind.as_str(), granted["granted"].as_bool()),
        ("response", Some(true)),
        "{granted}"
    );
    let policy = grant_policy_name(RequestId::parse(&id).unwrap());
    assert!(f.policy_on("oncall", &policy).await.is_some());

    let (_, out) = invoke(&f, "stint-alerts", sample("cloudwatch-ok.json"), &[]).await;
    assert_eq!(out["resolved"], json!([id]), "{out}");
    assert!(
        f.policy_on("oncall", &policy).await.is_some(),
        "the alerts function only records"
    );

    let mut resolved = sample("eventbridge-incident-resolved.json");
    resolved["detail"]["request_id"] = json!(id);
    let (kind, out) = invoke(&f, "stint-revoke", resolved, &[]).await;
    assert_eq!(
        (kind.as_str(), out["revoked"].as_bool()),
        ("response", Some(true)),
        "{out}"
    );
    assert!(f.policy_on("oncall", &policy).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_serves_pipeline_requests_and_alerts_serves_signed_alerts() {
    let f = Fixture::new(Utc::now()).await;
    f.ensure_role("ci-deploy").await;
    let answer = invoke(
        &f,
        "stint-request",
        sample("apigw-pipeline-request.json"),
        &[],
    )
    .await;
    let body = assert_http(&answer, 201);
    assert_eq!(body["approved_by_rule"], "ci-main");

    // POST /alerts through API Gateway: without STINT_ALERT_SECRET nothing is accepted.
    let mut alert = sample("apigw-create-request.json");
    alert["routeKey"] = json!("POST /alerts");
    alert["rawPath"] = json!("/alerts");
    alert["requestContext"]["http"]["path"] = json!("/alerts");
    alert["requestContext"]["routeKey"] = json!("POST /alerts");
    alert["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let mut generic = sample("alert-generic.json");
    generic["occurred_at"] = json!(Utc::now().to_rfc3339());
    generic["service"] = json!("inventory");
    let raw = generic.to_string();
    alert["body"] = json!(raw);
    alert["headers"]["x-stint-signature"] =
        json!(stint_http::alerts::sign(b"function-secret", raw.as_bytes()));
    // The request function has no such route; the alerts function refuses it unsigned.
    assert_http(
        &invoke(
            &f,
            "stint-request",
            alert.clone(),
            &[("STINT_ALERT_SECRET", "function-secret")],
        )
        .await,
        404,
    );
    assert_http(&invoke(&f, "stint-alerts", alert.clone(), &[]).await, 401);
    f.ensure_role("oncall").await;
    let body = assert_http(
        &invoke(
            &f,
            "stint-alerts",
            alert,
            &[("STINT_ALERT_SECRET", "function-secret")],
        )
        .await,
        200,
    );
    assert_eq!(
        (body["outcome"].as_str(), body["status"].as_str()),
        (Some("requested"), Some("pending")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notify_function_answers_its_sample() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, false, false, None).await;
    let sdk = stint_tests::emulator_config().await;
    // The example catalog's sender; SES wants it verified (a second test's call may race).
    let _ = aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity("stint@example.com")
        .send()
        .await;
    let mut event = sample("eventbridge-notify.json");
    let first = f.event_id(sample_id(), 1).await;
    event["detail"]["event_id"] = json!(first);
    let before = stint_tests::ses_messages_from("stint@example.com").len();
    for _ in 0..3 {
        // With a console, notices link to its page for the request.
        let console = [("STINT_CONSOLE_URL", "https://stint.example.test/")];
        let (kind, out) = invoke(&f, "stint-notify", event.clone(), &console).await;
        assert_eq!(kind, "response", "{out}");
    }
    let mails = stint_tests::ses_messages_from("stint@example.com");
    let ours: Vec<&String> = mails[before..]
        .iter()
        .filter(|m| m.contains(SAMPLE_ID) && m.contains("db-owners@example.com"))
        .collect();
    stint_tests::proof::duplicates("notify function binary", 3, ours.len().saturating_sub(1));
    assert_eq!(ours.len(), 1, "three deliveries, one email");
    let link = format!("https://stint.example.test/console/requests/{SAMPLE_ID}");
    assert!(ours[0].contains(&link), "{}", ours[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notify_function_reminds_reviewers_once_on_its_schedule() {
    use stint_app::ports::EventStore;
    use stint_domain::Period;
    // The binary runs on the real clock: a grant of last month is under review now. A 30-day
    // window keeps last month's review open whatever day of the month this runs.
    let last_month = Period::of(Utc::now()).previous();
    let f = Fixture::new(last_month.start() + Duration::days(2)).await;
    f.granted().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let text = std::fs::read_to_string(CATALOG_PATH)
        .unwrap()
        .replace("review_within = \"14d\"", "review_within = \"30d\"");
    assert!(text.contains("review_within = \"30d\""));
    std::fs::write(&catalog, text).unwrap();
    let sdk = stint_tests::emulator_config().await;
    let _ = aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity("stint@example.com")
        .send()
        .await;
    let mut sent = Vec::new();
    for _ in 0..3 {
        let (kind, out) = invoke(
            &f,
            "stint-notify",
            sample("schedule-review-reminders.json"),
            &[("STINT_CATALOG_FILE", catalog.to_str().unwrap())],
        )
        .await;
        assert_eq!(kind, "response", "{out}");
        sent.extend(
            out["sent"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_owned()),
        );
    }
    // The example catalog mails db-owners (it has no Slack webhook): one email, once.
    assert_eq!(sent.len(), 1, "{sent:?}");
    let key = &sent[0];
    assert!(
        ["opened", "due_soon", "overdue"]
            .iter()
            .any(|step| *key == format!("db-read:{step}:email")),
        "{key}"
    );
    let ledger = f
        .store
        .read_stream(&stint_app::notify::review_notice_stream(last_month).unwrap())
        .await
        .unwrap();
    let recorded: Vec<&str> = ledger
        .iter()
        .filter(|e| e.record.event_type == "NotificationSent")
        .map(|e| e.record.payload["key"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, [key.as_str()]);
    stint_tests::proof::duplicates(
        "notify function binary, review reminders",
        3,
        sent.len().saturating_sub(1),
    );
}

/// An API Gateway event for a console route: no authorizer (the session cookie is the
/// credential), as the template routes them.
fn console_event(method: &str, path: &str, route: &str, cookie: Option<&str>, body: &str) -> Value {
    let mut e = sample("apigw-get-request.json");
    e["routeKey"] = json!(format!("{method} {route}"));
    e["requestContext"]["routeKey"] = e["routeKey"].clone();
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    e["headers"] = json!({ "host": "stint.example.test", "accept": "text/html" });
    if let Some(c) = cookie {
        // Over HTTPS the console's cookies carry the `__Host-` prefix.
        e["headers"]["cookie"] = json!(format!("__Host-stint_session={c}"));
    }
    if !body.is_empty() {
        e["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
        e["body"] = json!(body);
    }
    e["pathParameters"] = json!({ "id": SAMPLE_ID });
    e
}

/// The console as the Lambdas serve it: the request function renders the page for a session
/// whose ID token it checks against the issuer's JWKS (here `stint serve`'s own provider plays
/// the company's issuer), and the approve function takes the page's form.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_functions_serve_the_console_against_the_issuers_jwks() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, false, false, None).await;
    let data = tempfile::tempdir().unwrap();
    let issuer = crate::support::Server::start_with(
        data.path(),
        "2026-11-02T09:00:00Z",
        crate::support::Serve {
            quiet: true,
            ..Default::default()
        },
    );
    let env = [
        ("STINT_CONSOLE_URL", "https://stint.example.test"),
        ("STINT_OIDC_ISSUER", issuer.api.as_str()),
        ("STINT_OIDC_CLIENT_ID", "stint"),
        (
            "STINT_CONSOLE_SECRET",
            "a-console-secret-of-at-least-32-bytes!",
        ),
    ];
    let bob = crate::console::id_token_from(&issuer.api, "bob@example.com", "db-owners");
    let page = |answer: &(String, Value), status: u16| {
        assert_eq!(answer.0, "response", "{answer:?}");
        assert_eq!(answer.1["statusCode"], status, "{answer:?}");
        answer.1["body"].as_str().unwrap_or_default().to_owned()
    };
    let path = format!("/console/requests/{SAMPLE_ID}");
    let html = page(
        &invoke(
            &f,
            "stint-request",
            console_event("GET", &path, "/console/requests/{id}", Some(&bob), ""),
            &env,
        )
        .await,
        200,
    );
    assert!(html.contains("Signed in as"), "{html}");
    assert!(html.contains("bob@example.com"));
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a CSRF token on the page")
        .to_owned();
    // No session, or one from another issuer's key: sent to sign in, at the issuer.
    let other = tempfile::tempdir().unwrap();
    let stranger = stint_http::jwt::LocalJwt::load_or_create(other.path())
        .unwrap()
        .with_issuer(&issuer.api)
        .issue(
            &stint_domain::UserId::parse("bob@example.com").unwrap(),
            &[stint_domain::GroupName::parse("db-owners").unwrap()],
            chrono::TimeDelta::hours(1),
            Utc::now(),
        )
        .unwrap();
    for cookie in [None, Some(stranger.as_str())] {
        let answer = invoke(
            &f,
            "stint-request",
            console_event("GET", &path, "/console/requests/{id}", cookie, ""),
            &env,
        )
        .await;
        page(&answer, 303);
        let to = answer.1["headers"]["location"].as_str().unwrap_or_default();
        assert!(to.starts_with("/console/login"), "{answer:?}");
    }
    // The approve function takes the page's form: one approval, by bob.
    let approve = format!("{path}/approve");
    let answer = invoke(
        &f,
        "stint-approve",
        console_event(
            "POST",
            &approve,
            "/console/requests/{id}/approve",
            Some(&bob),
            &format!("_csrf={csrf}&comment=looks+right"),
        ),
        &env,
    )
    .await;
    page(&answer, 303);
    assert_eq!(status_of(&f).await, Status::Approved);
    // The same form without its token: refused, nothing appended.
    let before = f.events(sample_id()).await.len();
    let answer = invoke(
        &f,
        "stint-approve",
        console_event(
            "POST",
            &approve,
            "/console/requests/{id}/approve",
            Some(&bob),
            "comment=x",
        ),
        &env,
    )
    .await;
    page(&answer, 403);
    assert_eq!(f.events(sample_id()).await.len(), before);

    // A console that cannot be set up (its issuer down, or no secret parameter) leaves the
    // function serving the API: the console is left out, nothing else.
    for env in [
        vec![
            ("STINT_CONSOLE_URL", "https://stint.example.test"),
            ("STINT_OIDC_ISSUER", "http://127.0.0.1:9"),
            ("STINT_OIDC_CLIENT_ID", "stint"),
            (
                "STINT_CONSOLE_SECRET",
                "a-console-secret-of-at-least-32-bytes!",
            ),
        ],
        vec![
            ("STINT_CONSOLE_URL", "https://stint.example.test"),
            ("STINT_OIDC_ISSUER", issuer.api.as_str()),
            ("STINT_OIDC_CLIENT_ID", "stint"),
            ("STINT_CONSOLE_SECRET_PARAMETER", "/stint/no-such-parameter"),
        ],
        // As the template sets it when ConsoleUrl is empty: the parameter is never read.
        vec![
            ("STINT_CONSOLE_URL", ""),
            ("STINT_CONSOLE_SECRET_PARAMETER", "/stint/console-secret"),
        ],
    ] {
        let body = assert_http(
            &invoke(&f, "stint-request", sample("apigw-get-request.json"), &env).await,
            200,
        );
        assert_eq!(body["id"], SAMPLE_ID);
        let answer = invoke(
            &f,
            "stint-request",
            console_event("GET", &path, "/console/requests/{id}", Some(&bob), ""),
            &env,
        )
        .await;
        assert_eq!(answer.1["statusCode"], 404, "{env:?}: {answer:?}");
    }
}

/// The EMF lines (JSON objects with `_aws`) among a function's stdout lines, each checked
/// against the specification: a namespace, dimension sets naming string members, and each
/// metric a number member.
fn emf_lines(stdout: &str) -> Vec<Value> {
    let docs: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    for doc in &docs {
        assert!(doc["_aws"]["Timestamp"].as_u64().is_some(), "{doc}");
        for directive in doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            assert!(!directive["Namespace"].as_str().unwrap_or("").is_empty());
            for set in directive["Dimensions"].as_array().expect("dimension sets") {
                let keys = set.as_array().expect("a dimension set");
                assert!(keys.len() <= 30, "{doc}");
                for key in keys {
                    assert!(doc[key.as_str().unwrap()].is_string(), "{key} in {doc}");
                }
            }
            for metric in directive["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("a name");
                assert!(doc[name].is_number(), "{name} in {doc}");
            }
        }
    }
    docs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_grant_function_logs_its_latency_as_embedded_metric_format() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, true, false, None).await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let (kind, out) = invoke_logged(
        &f,
        "stint-grant",
        sample("eventbridge-access-approved.json"),
        &[("STINT_METRICS_NAMESPACE", "Stint/functions-test")],
        Some(log.reopen().unwrap()),
    )
    .await;
    assert_eq!((kind.as_str(), &out["granted"]), ("response", &json!(true)));
    let stdout = std::fs::read_to_string(log.path()).unwrap();
    let docs = emf_lines(&stdout);
    let granted: Vec<&Value> = docs
        .iter()
        .filter(|d| d.get("stint_approved_to_granted_seconds").is_some())
        .collect();
    assert_eq!(granted.len(), 1, "one figure for one grant: {stdout}");
    let doc = granted[0];
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "Stint/functions-test");
    assert_eq!(directive["Dimensions"], json!([["role", "source"], []]));
    assert_eq!(
        directive["Metrics"],
        json!([{"Name": "stint_approved_to_granted_seconds", "Unit": "Seconds"}])
    );
    assert_eq!(
        (&doc["role"], &doc["source"]),
        (&json!("db-read"), &json!("person"))
    );
    let latency = doc["stint_approved_to_granted_seconds"].as_f64().unwrap();
    assert!((0.0..120.0).contains(&latency), "{latency}");
    // The logs are there beside the metrics, one JSON object a line, at the default level.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("\"appended\"") && l.contains("AccessGranted")),
        "{stdout}"
    );

    // The same event delivered again appends nothing, so it measures nothing.
    let again = tempfile::NamedTempFile::new().unwrap();
    let (kind, _) = invoke_logged(
        &f,
        "stint-grant",
        sample("eventbridge-access-approved.json"),
        &[("STINT_METRICS_NAMESPACE", "Stint/functions-test")],
        Some(again.reopen().unwrap()),
    )
    .await;
    assert_eq!(kind, "response");
    let stdout = std::fs::read_to_string(again.path()).unwrap();
    let repeated = emf_lines(&stdout)
        .iter()
        .filter(|d| d.get("stint_approved_to_granted_seconds").is_some())
        .count();
    stint_tests::proof::duplicates(
        "grant function's EMF on a redelivered AccessApproved",
        2,
        repeated,
    );
    assert_eq!(repeated, 0, "{stdout}");
}
