//! Catalog changes are part of the trail (issue 13, part 5): the function binaries reading the
//! catalog from SSM on the emulator, racing cold starts over DynamoDB, and `stint serve` over
//! its embedded store each record a catalog version once, and the report lists the changes.

use crate::functions::invoke;
use crate::support::{bin, http, sixteen_at_once, Serve, Server};
use chrono::{TimeDelta, Utc};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use stint_app::clock::{ManualClock, SystemClock};
use stint_app::execute::ConflictPolicy;
use stint_app::ports::EventStore;
use stint_domain::catalog_history::{CatalogHash, CatalogSource, RecordCatalog, SourceKind};
use stint_domain::{Catalog, StoredEvent, StreamId};
use stint_tests::aws::{Fixture, CATALOG_PATH};
use stint_tests::{emulator_config, fresh_dynamo_store, proof, sample, t0, unique_name};

fn example() -> String {
    std::fs::read_to_string(CATALOG_PATH).expect("the example catalog")
}

/// The example with `db-read` approved by `db-leads` instead of `db-owners`.
fn with_new_approvers(text: &str) -> String {
    let changed = text.replacen(
        r#"approvers = { groups = ["db-owners"], required = 1 }"#,
        r#"approvers = { groups = ["db-leads"], required = 1 }"#,
        1,
    );
    assert_ne!(changed, text, "the example still has db-read's approvers");
    changed
}

async fn history(store: &dyn EventStore) -> Vec<StoredEvent> {
    store
        .read_stream(&StreamId::for_catalog())
        .await
        .expect("read the catalog history")
}

/// Puts `text` as the parameter's next version (Advanced tier: the example is over 4 KB).
async fn put_parameter(ssm: &aws_sdk_ssm::Client, name: &str, text: &str) -> i64 {
    ssm.put_parameter()
        .name(name)
        .value(text)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .tier(aws_sdk_ssm::types::ParameterTier::Advanced)
        .overwrite(true)
        .send()
        .await
        .expect("put the catalog parameter")
        .version()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn functions_record_each_new_ssm_catalog_version_once() {
    let f = Fixture::new(Utc::now()).await;
    let ssm = aws_sdk_ssm::Client::new(&emulator_config().await);
    let name = format!("/{}", unique_name("stint-catalog"));
    let v1 = example();
    assert_eq!(put_parameter(&ssm, &name, &v1).await, 1);
    let env = [("STINT_CATALOG_PARAMETER", name.as_str())];
    let list = sample("apigw-list-requests.json");

    // The first cold start records version 1, everything added.
    invoke(&f, "stint-request", list.clone(), &env).await;
    let h = history(&f.store).await;
    assert_eq!(h.len(), 1, "{h:#?}");
    let first = &h[0].record;
    assert_eq!(first.event_type, "CatalogChanged");
    assert_eq!(first.actor, "system:stint-request");
    assert_eq!(first.payload["hash"], CatalogHash::of(&v1).as_str());
    assert_eq!(first.payload["previous_hash"], Value::Null);
    assert_eq!(first.payload["source"]["kind"], "ssm_parameter");
    assert_eq!(first.payload["source"]["name"], name.as_str());
    assert_eq!(first.payload["source"]["version"], 1);
    assert!(first.payload["source"]["modified"].is_string(), "{first:?}");
    assert_eq!(
        first.payload["snapshot"]["roles"]["db-read"]["approver_groups"],
        serde_json::json!(["db-owners"])
    );
    let added: Vec<&str> = first.payload["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "added")
        .filter_map(|c| c["subject"].as_str())
        .collect();
    assert!(
        added.contains(&"role db-read") && added.contains(&"role deploy"),
        "{added:?}"
    );

    // Cold starts of the same version, in this function and others, record nothing more.
    invoke(&f, "stint-request", list.clone(), &env).await;
    invoke(&f, "stint-approve", sample("apigw-approve.json"), &env).await;
    invoke(&f, "stint-grant", sample("scheduler-start.json"), &env).await;
    let extra = history(&f.store).await.len() - 1;
    proof::duplicates("catalog version loaded by four cold starts", 4, extra);
    assert_eq!(extra, 0, "one version, one event");

    // Version 2 changes who approves db-read: the next cold start records exactly that.
    let v2 = with_new_approvers(&v1);
    assert_eq!(put_parameter(&ssm, &name, &v2).await, 2);
    invoke(&f, "stint-revoke", sample("eventbridge-sweep.json"), &env).await;
    invoke(&f, "stint-approve", sample("apigw-approve.json"), &env).await;
    let h = history(&f.store).await;
    assert_eq!(h.len(), 2, "{h:#?}");
    let second = &h[1].record;
    assert_eq!(second.actor, "system:stint-revoke");
    assert_eq!(
        second.payload["previous_hash"],
        CatalogHash::of(&v1).as_str()
    );
    assert_eq!(second.payload["source"]["version"], 2);
    assert_eq!(
        second.payload["changes"],
        serde_json::json!([{
            "subject": "role db-read",
            "change": "changed",
            "fields": [{ "field": "approver groups", "added": ["db-leads"], "removed": ["db-owners"] }]
        }])
    );

    // The report of the period lists both, oldest first, as auditors read them.
    let now = Utc::now();
    let r = stint_app::report::compile(
        &f.store,
        now - TimeDelta::hours(1),
        now + TimeDelta::hours(1),
        now,
        stint_domain::AccessDuration::parse("14d").unwrap(),
    )
    .await
    .unwrap();
    assert!(r.verified, "{:?}", r.findings);
    assert_eq!(r.catalog_changes.len(), 2);
    assert_eq!(
        r.catalog_changes[1].changes,
        ["role db-read: approver groups db-owners → db-leads"]
    );
    assert!(
        r.catalog_changes[1]
            .source
            .starts_with(&format!("SSM parameter {name} version 2 (modified ")),
        "{:?}",
        r.catalog_changes[1]
    );
    let html = stint_app::render::report::to_html(&r);
    assert!(html.contains("<h2>Catalog changes (2)</h2>"), "{html}");
}

/// Sixteen cold starts at once, all loading the same new version over DynamoDB: one appends,
/// the others lose the race, reload, find it current and append nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_cold_starts_converge_on_one_event() {
    let store = fresh_dynamo_store().await;
    let text = example();
    let catalog = Catalog::from_toml(&text).unwrap();
    let source = |version: i64, minutes: i64| CatalogSource {
        kind: SourceKind::SsmParameter,
        name: "/stint/catalog".into(),
        version: Some(version),
        modified: Some(t0() + TimeDelta::minutes(minutes)),
    };
    let v1 = Arc::new(RecordCatalog::new(&text, &catalog, source(1, 0), "cold"));
    let policy = ConflictPolicy {
        attempts: 64,
        ..ConflictPolicy::default()
    };
    let appended = sixteen_at_once(&(store.clone(), v1.clone()), |(s, cmd), _| async move {
        stint_app::catalog::record_catalog(&s, &SystemClock, &policy, &cmd)
            .await
            .expect("recorded or found current")
    })
    .await;
    assert_eq!(appended.iter().filter(|a| **a).count(), 1, "{appended:?}");
    let extra = history(&store).await.len() - 1;
    proof::duplicates("catalog recorded by 16 racing cold starts", 16, extra);
    assert_eq!(extra, 0, "sixteen cold starts, one event");

    // A rollout: eight start on the new version, eight still read the old one. The new one is
    // recorded once; the old one, older than the current, never again: no flip-flop.
    let v2_text = with_new_approvers(&text);
    let v2_catalog = Catalog::from_toml(&v2_text).unwrap();
    let v2 = Arc::new(RecordCatalog::new(
        &v2_text,
        &v2_catalog,
        source(2, 10),
        "cold",
    ));
    let both = (store.clone(), v1.clone(), v2.clone());
    let appended = sixteen_at_once(&both, |(s, old, new), i| async move {
        let cmd = if i % 2 == 0 { new } else { old };
        stint_app::catalog::record_catalog(&s, &SystemClock, &policy, &cmd)
            .await
            .expect("recorded or not")
    })
    .await;
    let h = history(&store).await;
    proof::duplicates(
        "catalog versions of a rollout, 16 cold starts",
        16,
        h.len().saturating_sub(2),
    );
    assert_eq!(h.len(), 2, "{h:#?}");
    assert_eq!(h[1].record.payload["hash"], v2.hash.as_str());
    assert_eq!(appended.iter().filter(|a| **a).count(), 1);
}

/// The catalog history, read straight from the embedded store beside a stopped `stint serve`.
fn local_history(data: &Path) -> Vec<(String, Value)> {
    let db = rusqlite::Connection::open(data.join("events.db")).unwrap();
    let mut q = db
        .prepare("SELECT actor, payload FROM events WHERE stream = ?1 ORDER BY version")
        .unwrap();
    q.query_map([StreamId::for_catalog().as_str()], |row| {
        let payload: String = row.get(1)?;
        Ok((row.get(0)?, serde_json::from_str(&payload).unwrap()))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn stint_serve_records_the_catalog_it_starts_with_once_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.toml");
    let text = example();
    std::fs::write(&catalog, &text).unwrap();
    let path = catalog.to_str().unwrap();
    let start = |clock: &str| {
        Server::start_with(
            &data,
            clock,
            Serve {
                catalog: path,
                quiet: true,
                ..Serve::default()
            },
        )
    };

    start("2026-11-29T09:00:00Z").stop();
    let h = local_history(&data);
    assert_eq!(h.len(), 1, "{h:#?}");
    assert_eq!(h[0].0, "system:serve");
    assert_eq!(h[0].1["source"]["kind"], "file");
    assert_eq!(h[0].1["source"]["version"], Value::Null);
    assert_eq!(
        h[0].1["source"]["name"],
        std::fs::canonicalize(&catalog).unwrap().to_str().unwrap()
    );

    // A restart on the same catalog records nothing.
    start("2026-11-29T10:00:00Z").stop();
    assert_eq!(local_history(&data).len(), 1);

    // An edited catalog is recorded at the next start, with what changed.
    std::fs::write(&catalog, with_new_approvers(&text)).unwrap();
    let server = start("2026-11-29T11:00:00Z");
    let token = String::from_utf8(
        std::process::Command::new(bin("stint"))
            .args(["token", "--user", "audrey", "--groups", "audit", "--data"])
            .arg(&data)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let auth = format!("Bearer {}", token.trim());
    let (status, report) = http(
        "GET",
        &format!(
            "{}/reports?from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z",
            server.api
        ),
        &[("authorization", &auth)],
        "",
    );
    assert_eq!(status, 200, "{report}");
    let changes = report["catalog_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{report}");
    assert_eq!(changes[0]["at"], "2026-11-29T09:00:00Z");
    assert_eq!(changes[1]["at"], "2026-11-29T11:00:00Z");
    assert_eq!(changes[1]["loaded_by"], "system:serve");
    assert_eq!(
        changes[1]["changes"],
        serde_json::json!(["role db-read: approver groups db-owners → db-leads"])
    );
    server.stop();
    assert_eq!(local_history(&data).len(), 2);
    // Back to the first text: a file has no version, so the return is recorded too.
    std::fs::write(&catalog, &text).unwrap();
    start("2026-11-29T12:00:00Z").stop();
    let h = local_history(&data);
    assert_eq!(h.len(), 3);
    assert_eq!(
        h[2].1["changes"][0]["fields"][0],
        serde_json::json!({ "field": "approver groups", "added": ["db-owners"], "removed": ["db-leads"] })
    );
}

/// A version recorded at a chosen instant (a manual clock) is in the report of a period that
/// holds the instant, and in no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_recorded_outside_the_period_is_not_in_its_report() {
    let store = fresh_dynamo_store().await;
    let text = example();
    let catalog = Catalog::from_toml(&text).unwrap();
    let clock = ManualClock::new(t0());
    let cmd = RecordCatalog::new(
        &text,
        &catalog,
        CatalogSource {
            kind: SourceKind::File,
            name: "catalog.toml".into(),
            version: None,
            modified: None,
        },
        "serve",
    );
    let policy = ConflictPolicy::default();
    assert!(
        stint_app::catalog::record_catalog(&store, &clock, &policy, &cmd)
            .await
            .unwrap()
    );
    let within = stint_domain::AccessDuration::parse("14d").unwrap();
    let report = |from, to| stint_app::report::compile(&store, from, to, t0(), within);
    let before = report(t0() - TimeDelta::days(2), t0() - TimeDelta::days(1))
        .await
        .unwrap();
    assert!(before.catalog_changes.is_empty());
    let during = report(t0() - TimeDelta::hours(1), t0() + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(during.catalog_changes.len(), 1);
    assert_eq!(during.catalog_changes[0].at, t0());
    assert_eq!(during.catalog_changes[0].source, "file catalog.toml");
}

/// A function that cannot record the catalog it loaded does not start (Lambda retries the
/// start): here its table does not exist, so the record cannot be appended. It exits with the
/// reason before it asks the runtime for an event, so no request is ever decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_cannot_record_its_catalog_does_not_start() {
    let mut api =
        stint_tests::runtime_api::RuntimeApi::start(sample("apigw-list-requests.json")).await;
    let missing = unique_name("no-such-table");
    let out = tokio::process::Command::new(bin("stint-request"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "stint-request")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(stint_tests::emulator_env())
        .env("STINT_TABLE", &missing)
        .env("STINT_CATALOG_FILE", CATALOG_PATH)
        .env("STINT_SCHEDULE_GROUP", "stint")
        .env("STINT_SCHEDULER_ROLE_ARN", stint_tests::aws::SCHEDULER_ROLE)
        .env("STINT_GRANT_FUNCTION_ARN", stint_tests::aws::GRANT_FN)
        .env("STINT_REVOKE_FUNCTION_ARN", stint_tests::aws::REVOKE_FN)
        .env("STINT_NOTIFY_FUNCTION_ARN", stint_tests::aws::NOTIFY_FN)
        .env(
            "STINT_PROTECTED_RESOURCES",
            stint_tests::aws::protected_resources(&missing, "stint"),
        )
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), out)
        .await
        .expect("the function exits on its own")
        .expect("run the function");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // `main` returns `ConfigError::Record`, which Lambda logs as the init failure.
    assert!(
        stderr.contains("Record(") && stderr.contains("ResourceNotFoundException"),
        "{stderr}"
    );
    assert!(
        api.answer(1).await.is_none(),
        "no event was taken, so none was answered"
    );
}

/// Attacks on the catalog history (infra/attacks-isolation.md): an admin who can write the
/// parameter makes their group approvers of `db-write`, and puts the old text back at once; a
/// process still holding the short-lived version starts afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_catalog_change_reverted_at_once_stays_in_the_trail() {
    let f = Fixture::new(Utc::now()).await;
    let ssm = aws_sdk_ssm::Client::new(&emulator_config().await);
    let name = format!("/{}", unique_name("stint-catalog"));
    let env = [("STINT_CATALOG_PARAMETER", name.as_str())];
    let list = sample("apigw-list-requests.json");
    let v1 = example();
    let grab = v1.replacen(
        r#"approvers = { groups = ["db-owners", "sre-leads"], required = 2 }"#,
        r#"approvers = { groups = ["db-owners", "sre-leads", "mallory-friends"], required = 2 }"#,
        1,
    );
    assert_ne!(grab, v1);
    put_parameter(&ssm, &name, &v1).await;
    invoke(&f, "stint-request", list.clone(), &env).await;
    put_parameter(&ssm, &name, &grab).await;
    invoke(&f, "stint-approve", sample("apigw-approve.json"), &env).await;
    put_parameter(&ssm, &name, &v1).await;
    invoke(&f, "stint-request", list.clone(), &env).await;

    let h = history(&f.store).await;
    let lines: Vec<String> = h
        .iter()
        .map(|e| e.record.payload["changes"].to_string())
        .collect();
    let shown = h.len() == 3
        && lines[1].contains("\"added\":[\"mallory-friends\"]")
        && lines[2].contains("\"removed\":[\"mallory-friends\"]");
    proof::attack(
        "hide a catalog change by putting the old text back at once",
        "malicious catalog admin",
        !shown,
    );
    assert!(shown, "{lines:#?}");

    // A process that read the short-lived version starts now, and records what it holds.
    let stale: CatalogSource =
        serde_json::from_value(h[1].record.payload["source"].clone()).unwrap();
    let catalog = Catalog::from_toml(&grab).unwrap();
    let replay = RecordCatalog::new(&grab, &catalog, stale, "stint-approve");
    let appended = stint_app::catalog::record_catalog(
        &f.store,
        &SystemClock,
        &ConflictPolicy::default(),
        &replay,
    )
    .await
    .unwrap();
    let current = history(&f.store).await.last().unwrap().record.payload["hash"].clone();
    let flipped = appended || current != CatalogHash::of(&v1).as_str();
    proof::attack(
        "flip the history back to a short-lived version from a stale process",
        "malicious catalog admin",
        flipped,
    );
    assert!(!flipped, "the history stays at the version put last");
}

/// The report and `stint evidence` judge overdue reviews by the window of the catalog the
/// functions recorded, read from the trail (the report function no longer reads the parameter):
/// the default before anything is recorded, the catalog's own once it is.
#[tokio::test]
async fn the_review_deadline_comes_from_the_recorded_catalog() {
    let store = fresh_dynamo_store().await;
    let default = stint_domain::catalog::Settings::default().review_within;
    let window = stint_app::catalog::recorded_review_window(&store)
        .await
        .unwrap();
    assert_eq!(window, default);
    let text = example().replacen("review_within = \"14d\"", "review_within = \"3d\"", 1);
    assert!(text.contains("\nreview_within = \"3d\""));
    let catalog = Catalog::from_toml(&text).expect("the example with a 3-day review window");
    let source = CatalogSource {
        kind: SourceKind::File,
        name: "catalog.toml".into(),
        version: None,
        modified: None,
    };
    let record = RecordCatalog::new(&text, &catalog, source, "stint-request");
    stint_app::catalog::record_catalog(&store, &SystemClock, &ConflictPolicy::default(), &record)
        .await
        .unwrap();
    let window = stint_app::catalog::recorded_review_window(&store)
        .await
        .unwrap();
    assert_eq!(window.to_string(), "3d");
}
