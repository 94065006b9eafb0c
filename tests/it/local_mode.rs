//! `stint serve` as a real process on an ephemeral port, driven through the real `stint` CLI
//! binary over HTTP. Time moves through the server's manual clock (`POST /_clock`), so nothing
//! waits for a grant to expire.

use crate::support::{bin, eventually, http, Serve, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use stint_tests::aws::CATALOG_PATH;
use stint_tests::{emulator_env, request, who};

/// Runs the CLI; returns exit code and stdout.
fn stint(api: &str, token: Option<&str>, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(bin("stint"));
    cmd.env("STINT_API", api)
        .env_remove("STINT_TOKEN")
        .args(args);
    if let Some(t) = token {
        cmd.env("STINT_TOKEN", t);
    }
    let out = cmd.output().expect("run stint");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn token(data: &Path, user: &str, groups: &str) -> String {
    let out = Command::new(bin("stint"))
        .args(["token", "--user", user, "--groups", groups, "--data"])
        .arg(data)
        .output()
        .expect("token");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Polls `show` until the status is `want`; the broker acts on its next tick.
fn wait_for(api: &str, tok: &str, id: &str, want: &str) -> Value {
    eventually(
        &format!("{id} to be {want}"),
        || {
            let (code, out) = stint(api, Some(tok), &["--json", "show", id]);
            assert_eq!(code, 0, "{out}");
            json_of(&out)
        },
        |v| v["status"] == want,
    )
}

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/stint/oncall";

/// Requests db-read on orders for an hour through the CLI; returns the request id.
fn request_db_read(api: &str, tok: &str, principal: &str) -> String {
    let (code, out) = stint(
        api,
        Some(tok),
        &[
            "--json",
            "request",
            "db-read",
            "--scope",
            "orders",
            "--for",
            "1h",
            "--reason",
            "stuck orders",
            "--principal",
            principal,
        ],
    );
    assert_eq!(code, 0, "{out}");
    json_of(&out)["id"].as_str().unwrap().to_owned()
}

fn request_and_approve(api: &str, alice: &str, bob: &str, principal: &str) -> String {
    let id = request_db_read(api, alice, principal);
    let (code, out) = stint(api, Some(bob), &["approve", &id]);
    assert_eq!(code, 0, "{out}");
    id
}

/// A server over `data` at 09:00 with alice's request approved by bob and granted: the server,
/// alice's token and the request id.
fn serve_a_grant(data: &Path) -> (Server, String, String) {
    let server = Server::start(data, "2026-11-29T09:00:00Z");
    let (alice, bob) = (token(data, "alice", "sre"), token(data, "bob", "db-owners"));
    let id = request_and_approve(&server.api, &alice, &bob, PRINCIPAL);
    wait_for(&server.api, &alice, &id, "active");
    (server, alice, id)
}

#[test]
fn the_whole_lifecycle_through_the_cli_against_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "2026-11-29T09:00:00Z");
    let (alice, bob) = (
        token(dir.path(), "alice", "sre"),
        token(dir.path(), "bob", "db-owners"),
    );
    let api = server.api.clone();

    let (code, out) = stint(&api, None, &["ls"]);
    assert_eq!(code, 1, "no token is refused: {out}");
    assert!(out.contains("unauthenticated"), "{out}");

    let id = request_db_read(&api, &alice, PRINCIPAL);
    let (code, out) = stint(&api, Some(&bob), &["ls", "--awaiting"]);
    assert!(
        code == 0 && out.contains(&id),
        "bob sees it awaiting him: {out}"
    );
    let (code, out) = stint(&api, Some(&alice), &["approve", &id]);
    assert_eq!(code, 1, "self-approval is refused: {out}");
    let (code, out) = stint(&api, Some(&bob), &["approve", &id]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = stint(&api, Some(&alice), &["watch", &id, "--timeout", "30s"]);
    assert_eq!(code, 0, "watch ends at the grant: {out}");
    assert!(out.contains("active"), "{out}");

    let v = wait_for(&api, &alice, &id, "active");
    assert_eq!(v["grant"]["expires_at"], "2026-11-29T10:00:00Z");
    let granted = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "AccessGranted")
        .unwrap()
        .clone();
    assert_eq!(
        granted["payload"]["policy"]["Statement"][0]["Condition"]["DateLessThan"]
            ["aws:CurrentTime"],
        "2026-11-29T10:00:00Z"
    );
    let (_, table) = stint(&api, Some(&alice), &["show", &id]);
    assert!(
        table.contains("policy attached") && table.contains("AccessGranted"),
        "{table}"
    );

    server.advance("59m");
    let (_, out) = stint(&api, Some(&alice), &["--json", "show", &id]);
    assert_eq!(json_of(&out)["status"], "active", "not before the expiry");
    server.advance("1m");
    let v = wait_for(&api, &alice, &id, "revoked");
    assert_eq!(v["revocation"]["reason"], "expired");

    let (code, out) = stint(
        &api,
        None,
        &["verify", "--data", dir.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified"), "{out}");
    server.stop();
}

#[test]
fn after_a_restart_mid_grant_the_revoke_still_happens_at_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let (server, alice, id) = serve_a_grant(dir.path());
    server.stop();

    // Back up ten minutes later: the expiry timer is re-armed from the store.
    let server = Server::start(dir.path(), "2026-11-29T09:10:00Z");
    let (_, out) = stint(&server.api, Some(&alice), &["--json", "show", &id]);
    assert_eq!(json_of(&out)["status"], "active");
    server.advance("50m");
    let v = wait_for(&server.api, &alice, &id, "revoked");
    assert_eq!(
        (
            v["revocation"]["reason"].as_str(),
            v["revocation"]["lag_seconds"].as_i64()
        ),
        (Some("expired"), Some(0))
    );
    server.stop();
}

#[test]
fn a_revoke_missed_while_down_is_done_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (server, alice, id) = serve_a_grant(dir.path());
    server.stop();
    let server = Server::start(dir.path(), "2026-11-29T12:00:00Z");
    let (_, out) = stint(&server.api, Some(&alice), &["--json", "show", &id]);
    let v = json_of(&out);
    assert_eq!(
        v["status"], "revoked",
        "revoked before the server answered: {v}"
    );
    assert_eq!(v["revocation"]["reason"], "sweep");
    assert_eq!(v["revocation"]["lag_seconds"], 7_200);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_provider_puts_and_deletes_the_policy_in_iam() {
    let f = stint_tests::aws::Fixture::new(chrono::Utc::now()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        "2026-11-29T09:00:00Z",
        Serve {
            args: &["--provider", "aws"],
            env: emulator_env().to_vec(),
            ..Serve::default()
        },
    );
    let (alice, bob) = (
        token(dir.path(), "alice", "sre"),
        token(dir.path(), "bob", "db-owners"),
    );
    let api = server.api.clone();
    let principal = f.principal.to_string();
    let id = tokio::task::spawn_blocking(move || {
        let id = request_and_approve(&api, &alice, &bob, &principal);
        wait_for(&api, &alice, &id, "active");
        id
    })
    .await
    .unwrap();
    let name = format!("stint-{id}");
    let doc = f.policy(&name).await.expect("the policy is in IAM");
    assert_eq!(
        doc["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"],
        "2026-11-29T10:00:00Z"
    );
    server.advance("1h");
    let api = server.api.clone();
    let alice = token(dir.path(), "alice", "sre");
    tokio::task::spawn_blocking(move || wait_for(&api, &alice, &id, "revoked"))
        .await
        .unwrap();
    assert!(f.policy(&name).await.is_none(), "and gone after the expiry");
    server.stop();
}

#[tokio::test]
async fn the_openapi_description_and_the_router_list_the_same_routes() {
    let spec: Value =
        serde_norway::from_str(stint_http::OPENAPI).expect("the OpenAPI file is YAML");
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut in_spec: Vec<(String, String)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            in_spec.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut in_router: Vec<(String, String)> = stint_http::route_list()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    in_spec.sort();
    in_router.sort();
    assert_eq!(
        in_spec, in_router,
        "every route in the router is in the spec, and the other way round"
    );
}

/// Edits the embedded store behind the server's back: `stint verify` exits 4 and names the event.
#[test]
fn stint_verify_names_a_tampered_event_in_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, id) = serve_a_grant(dir.path());
    server.stop();
    let db = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    db.execute_batch("DROP TRIGGER events_no_update;").unwrap();
    db.execute("UPDATE events SET payload = replace(payload, 'stuck orders', 'routine') WHERE stream = ?1 AND version = 1", [format!("request#{id}")]).unwrap();
    let (code, out) = stint(
        "http://127.0.0.1:9",
        None,
        &["verify", "--data", dir.path().to_str().unwrap()],
    );
    stint_tests::proof::tampering(
        "stint verify, edit in the embedded store",
        code == 4 && out.contains(&format!("request#{id} at version 1")),
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains(&format!("request#{id} at version 1")),
        "names the event: {out}"
    );
}

/// The same against a deployment's DynamoDB table on the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stint_verify_names_a_tampered_event_in_dynamodb() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let f = stint_tests::aws::Fixture::new(chrono::Utc::now()).await;
    let new = request("db-read", "orders", &f.principal, "verify me");
    let id = f
        .stint
        .submit(&who("alice", &["sre"]), new)
        .await
        .unwrap()
        .id;
    f.stint
        .approve(id, &who("bob", &["db-owners"]), None)
        .await
        .unwrap();
    let table = f.store.table().to_owned();
    let run = move || {
        let out = Command::new(bin("stint"))
            .args(["verify", "--table", &table])
            .envs(emulator_env())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let clean = run.clone();
    let (code, out) = tokio::task::spawn_blocking(clean).await.unwrap();
    assert!(code == 0 && out.contains("1 streams, 3 events"), "{out}");
    stint_tests::dynamodb_client()
        .await
        .delete_item()
        .table_name(f.store.table())
        .key("stream", AttributeValue::S(id.stream().to_string()))
        .key("version", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let (code, out) = tokio::task::spawn_blocking(run).await.unwrap();
    stint_tests::proof::tampering(
        "stint verify --table, delete in DynamoDB",
        code == 4 && out.contains(&format!("request#{id} at version 2")),
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains(&format!("request#{id} at version 2")),
        "the first event after the deleted one: {out}"
    );
}

/// 16 parallel approvals, revokes and cancels over HTTP against the real server: each
/// transition happens exactly once, the others are refused or no-ops, and the chains verify.
#[test]
fn sixteen_parallel_decisions_over_http_happen_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "2026-11-29T09:00:00Z");
    let alice = token(dir.path(), "alice", "sre");
    let approvers: Vec<String> = (0..16)
        .map(|i| token(dir.path(), &format!("approver{i}"), "db-owners"))
        .collect();
    let post = |tok: &str, path: &str| -> u16 {
        let url = format!("{}{path}", server.api);
        http(
            "POST",
            &url,
            &[("Authorization", &format!("Bearer {tok}"))],
            "{}",
        )
        .0
    };
    let create = || {
        let (code, out) = stint(
            &server.api,
            Some(&alice),
            &[
                "--json",
                "request",
                "db-read",
                "--scope",
                "orders",
                "--reason",
                "parallel",
                "--principal",
                PRINCIPAL,
            ],
        );
        assert_eq!(code, 0, "{out}");
        json_of(&out)["id"].as_str().unwrap().to_owned()
    };
    let parallel = |toks: Vec<String>, path: String| -> Vec<u16> {
        std::thread::scope(|s| {
            let handles: Vec<_> = toks.iter().map(|t| s.spawn(|| post(t, &path))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let events = |id: &str, ty: &str| {
        let (_, out) = stint(&server.api, Some(&alice), &["--json", "show", id]);
        json_of(&out)["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == ty)
            .count()
    };

    let id = create();
    let codes = parallel(approvers.clone(), format!("/requests/{id}/approve"));
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 409), "{codes:?}");
    assert_eq!(
        (
            events(&id, "ApprovalRecorded"),
            events(&id, "AccessApproved")
        ),
        (1, 1)
    );
    wait_for(&server.api, &alice, &id, "active");
    let codes = parallel(approvers.clone(), format!("/requests/{id}/revoke"));
    assert!(
        codes.iter().all(|c| *c == 200),
        "an approver may revoke, and a repeat is a no-op: {codes:?}"
    );
    assert_eq!(events(&id, "AccessRevoked"), 1);

    let other = create();
    let codes = parallel(vec![alice.clone(); 16], format!("/requests/{other}/cancel"));
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    assert_eq!(events(&other, "RequestCancelled"), 1);
    server.stop();
    let (code, out) = stint(
        "http://127.0.0.1:9",
        None,
        &["verify", "--data", dir.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn alerts_pipelines_and_notices_in_local_mode() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let slack = rt.block_on(stint_tests::slack::SlackStandIn::start(0));
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let text = std::fs::read_to_string(CATALOG_PATH).unwrap().replace(
        "# slack_webhook = \"https://hooks.slack.com/services/T000/B000/XXXX\"",
        &format!("slack_webhook = \"{}\"", slack.url),
    );
    assert!(text.contains(&slack.url));
    std::fs::write(&catalog, text).unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        "2026-11-29T10:00:30Z",
        Serve {
            catalog: catalog.to_str().unwrap(),
            env: vec![("STINT_ALERT_SECRET", "local-secret".into())],
            ..Serve::default()
        },
    );
    let api = server.api.clone();
    let admin = token(&data, "sec", "security");

    // A signed generic alert: a request for the on-call engineer (bob), approved by the rule,
    // then granted by the broker.
    let alert = json!({"service": "orders", "incident": "INC-9", "status": "triggered",
        "occurred_at": "2026-11-29T10:00:10Z", "summary": "orders 5xx"})
    .to_string();
    let sig = stint_http::alerts::sign(b"local-secret", alert.as_bytes());
    let (status, err) = http(
        "POST",
        &format!("{api}/alerts"),
        &[("x-stint-signature", "v1=00")],
        &alert,
    );
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, out) = http(
        "POST",
        &format!("{api}/alerts"),
        &[("x-stint-signature", &sig)],
        &alert,
    );
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["requester"].as_str(), out["status"].as_str()),
        (Some("bob@example.com"), Some("approved"))
    );
    let id = out["request_id"].as_str().unwrap().to_owned();
    wait_for(&api, &admin, &id, "active");

    // Resolved: recorded, and the broker (as the revoke function) ends the access.
    let resolved = alert
        .replace("triggered", "resolved")
        .replace("10:00:10", "10:00:20");
    let sig = stint_http::alerts::sign(b"local-secret", resolved.as_bytes());
    let (status, out) = http(
        "POST",
        &format!("{api}/alerts"),
        &[("x-stint-signature", &sig)],
        &resolved,
    );
    assert_eq!((status, &out["resolved"]), (200, &json!([id])), "{out}");
    let done = wait_for(&api, &admin, &id, "revoked");
    assert_eq!(done["revocation"]["reason"], "incident_resolved");

    // Bob heard of the approval, the grant and the revoke on Slack and in the outbox.
    eventually(
        "three Slack notices",
        || slack.received().len(),
        |n| *n >= 3,
    );
    let titles: Vec<String> = slack
        .received()
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        titles,
        [
            "Your request for db-read was approved",
            "Access to db-read is granted",
            "Access to db-read is revoked"
        ]
    );
    let outbox = data.join("outbox");
    eventually(
        "three emails",
        || std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0),
        |n| *n >= 3,
    );
    for entry in std::fs::read_dir(&outbox).unwrap() {
        let mail = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(mail.contains("To: bob@example.com"), "{mail}");
    }

    // A CI job with a token from the second issuer: approved by the ci-main rule, granted,
    // then revoked by the job itself.
    let out = Command::new(bin("stint"))
        .args([
            "pipeline-token",
            "--repository",
            "acme/orders",
            "--ref",
            "refs/heads/main",
            "--environment",
            "production",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let job = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let bearer = format!("Bearer {job}");
    let body = json!({"role": "deploy", "scope": "orders-api", "principal": "arn:aws:iam::123456789012:role/stint/ci-deploy",
        "duration": "15m", "justification": "deploy orders-api", "ticket": "https://github.com/acme/orders/pull/42"}).to_string();
    let (status, out) = http(
        "POST",
        &format!("{api}/pipeline/requests"),
        &[("authorization", &bearer)],
        &body,
    );
    assert_eq!(
        (status, out["approved_by_rule"].as_str()),
        (201, Some("ci-main")),
        "{out}"
    );
    let pid = out["id"].as_str().unwrap().to_owned();
    wait_for(&api, &admin, &pid, "active");
    let (status, out) = http(
        "POST",
        &format!("{api}/pipeline/requests/{pid}/revoke"),
        &[("authorization", &bearer)],
        "",
    );
    assert_eq!(
        (status, out["status"].as_str()),
        (200, Some("revoked")),
        "{out}"
    );
    // The example workflow's client script, against the same server: request, wait, revoke.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/examples/stint-pipeline.sh"
    );
    let run = |args: &[&str]| {
        let out = Command::new("bash")
            .arg(script)
            .args(args)
            .env("STINT_API", &api)
            .env("STINT_TOKEN", &job)
            .env("STINT_POLL_SECONDS", "0.05")
            .output()
            .expect("run the example client");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, sid, err) = run(&[
        "request",
        "deploy",
        "orders-api",
        "arn:aws:iam::123456789012:role/stint/ci-deploy",
        "15m",
        "deploy from the example client",
        "https://github.com/acme/orders/pull/43",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["wait", &sid, "20"]);
    assert_eq!(code, 0, "granted: {err}");
    let (code, status, err) = run(&["revoke", &sid]);
    assert_eq!((code, status.as_str()), (0, "revoked"), "{err}");
    let (code, _, err) = run(&["wait", &sid, "20"]);
    assert_eq!(code, 1, "a revoked request is not waited for: {err}");
    assert!(err.contains("is revoked"), "{err}");

    // A person's token is not a pipeline token, nor the other way round.
    let (status, _) = http(
        "POST",
        &format!("{api}/pipeline/requests"),
        &[("authorization", &format!("Bearer {admin}"))],
        &body,
    );
    assert_eq!(status, 401);
    let (code, _) = stint(&api, Some(&job), &["ls"]);
    assert_eq!(code, 1);
    server.stop();
}

/// The mails `stint serve` wrote to its outbox whose subject contains `subject`: (To, Subject)
/// of each, sorted.
fn outbox_mails(data: &Path, subject: &str) -> Vec<(String, String)> {
    let Ok(dir) = std::fs::read_dir(data.join("outbox")) else {
        return vec![];
    };
    let mut out: Vec<(String, String)> = dir
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .map(|m| {
            (
                stint_tests::mail_header(&m, "To"),
                stint_tests::mail_header(&m, "Subject"),
            )
        })
        .filter(|(_, s)| s.contains(subject))
        .collect();
    out.sort();
    out
}

/// The access-review reminders in the outbox.
fn review_reminders(data: &Path) -> Vec<(String, String)> {
    outbox_mails(data, "Access review")
}

#[test]
fn access_reviews_through_the_cli_with_reminders_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = Server::start(data, "2026-11-29T09:00:00Z");
    let api = server.api.clone();
    let (alice, bob, carol) = (
        token(data, "alice", "sre"),
        token(data, "bob", "db-owners"),
        token(data, "carol", "sre"),
    );
    let judged = request_and_approve(&api, &alice, &bob, PRINCIPAL);
    let open = request_and_approve(&api, &carol, &bob, PRINCIPAL);
    wait_for(&api, &alice, &judged, "active");
    wait_for(&api, &carol, &open, "active");

    // bob lists November's grants: both are his to review.
    let (code, out) = stint(
        &api,
        Some(&bob),
        &["--json", "review", "--period", "2026-11"],
    );
    assert_eq!(code, 0, "{out}");
    let v = json_of(&out);
    assert_eq!(v["coverage"]["db-read"]["unreviewed"], 2, "{v}");
    let (code, table) = stint(&api, Some(&bob), &["review"]);
    assert_eq!(code, 0, "{table}");
    assert!(
        table.contains("period 2026-11") && table.contains("to review") && table.contains(&open),
        "{table}"
    );
    // The grantee may not judge her own grant; inappropriate needs a reason; a period that is
    // not the grant's is refused; a bad period never reaches the server.
    let review = |tok: &str, extra: &[&str]| {
        let mut args = vec!["review", judged.as_str()];
        args.extend_from_slice(extra);
        stint(&api, Some(tok), &args)
    };
    let (code, out) = review(&alice, &["--verdict", "appropriate"]);
    assert!(code == 1 && out.contains("self_review"), "{out}");
    let (code, out) = review(&bob, &["--verdict", "inappropriate"]);
    assert!(code == 1 && out.contains("comment_required"), "{out}");
    let (code, out) = review(&bob, &["--verdict", "appropriate", "--period", "2026-10"]);
    assert!(code == 1 && out.contains("wrong_period"), "{out}");
    let (code, out) = review(&bob, &["--verdict", "appropriate", "--period", "2026-13"]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = review(
        &bob,
        &["--verdict", "inappropriate", "--comment", "no ticket"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("inappropriate by bob for 2026-11: no ticket"),
        "{out}"
    );
    let (code, out) = review(
        &bob,
        &["--verdict", "inappropriate", "--comment", "no ticket"],
    );
    assert_eq!(
        code, 0,
        "the same review again is accepted without effect: {out}"
    );
    let (code, out) = review(&bob, &["--verdict", "appropriate"]);
    assert!(code == 1 && out.contains("already_reviewed"), "{out}");
    let (_, out) = stint(&api, Some(&bob), &["--json", "review", "--todo"]);
    assert_eq!(ids_of(&json_of(&out)), [open.as_str()], "{out}");
    let (_, out) = stint(&api, Some(&bob), &["--json", "show", &judged]);
    let reviewed = json_of(&out)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "GrantReviewed")
        .count();
    assert_eq!(reviewed, 1);

    // The month ends: db-owners hear of the one grant left, once; then again when it is due.
    assert!(
        review_reminders(data).is_empty(),
        "not before the month ends"
    );
    server.advance("1d23h"); // 1 December 08:00
    let opened = "[Stint] Access review of db-read for 2026-11: 1 grant(s) to review by 2026-12-15T00:00:00Z";
    eventually(
        "the review to open",
        || review_reminders(data),
        |r| !r.is_empty(),
    );
    for _ in 0..3 {
        server.advance("2h"); // more reminder runs, each an hour or more apart
    }
    server.advance("10d20h"); // 12 December 08:00: three days to go
    let got = eventually(
        "the review to be due",
        || review_reminders(data),
        |r| r.len() >= 2,
    );
    assert_eq!(
        got,
        [
            (
                "db-owners@example.com".to_owned(),
                "[Stint] Access review of db-read for 2026-11 is due 2026-12-15T00:00:00Z: 1 grant(s) still to review".to_owned()
            ),
            ("db-owners@example.com".to_owned(), opened.to_owned()),
        ],
        "sorted by subject"

    );
    // And the chains of the store, reviews and reminders included, verify.
    let (code, out) = stint(&api, None, &["verify", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    server.stop();
}

fn ids_of(listing: &Value) -> Vec<String> {
    listing["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["request_id"].as_str().unwrap().to_owned())
        .collect()
}

/// `stint serve` writes signed checkpoints by its own clock, publishes their key at
/// `GET /checkpoints/key` (no token), and `stint verify` then finds a deleted tail.
#[test]
fn stint_serve_checkpoints_on_its_clock_and_publishes_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, id) = serve_a_grant(dir.path());
    let folder = dir.path().join("checkpoints");
    let stream = format!("request#{id}");
    // Each checkpoint lists the heads that moved since the one before; one at start already
    // holds the catalog the server recorded.
    let listed = || {
        (1..=9)
            .map(|n| folder.join(format!("{n:012}.json")))
            .filter_map(|p| std::fs::read(p).ok())
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap())
            .flat_map(|cp| cp["heads"].as_array().cloned().unwrap_or_default())
            .map(|h| h["stream"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(!listed().contains(&stream), "not before the clock moves");
    server.advance("16m");
    eventually(
        "a checkpoint after 15 minutes of the server's clock",
        listed,
        |heads| heads.contains(&stream),
    );
    let (status, key) = http("GET", &format!("{}/checkpoints/key", server.api), &[], "");
    assert_eq!(status, 200, "{key}");
    let beside = std::fs::read_to_string(dir.path().join("checkpoint-key.pub.pem")).unwrap();
    assert_eq!(
        key["public_key_pem"].as_str().unwrap().trim(),
        beside.trim()
    );
    assert_eq!(key["algorithm"], "ECDSA_SHA_256");
    server.stop();
    let (code, out) = stint(
        "http://127.0.0.1:9",
        None,
        &["verify", "--data", dir.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    let db = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    db.execute_batch("DROP TRIGGER events_no_delete;").unwrap();
    let last: i64 = db
        .query_row(
            "SELECT max(version) FROM events WHERE stream = ?1",
            [&stream],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "DELETE FROM events WHERE stream = ?1 AND version = ?2",
        rusqlite::params![stream, last],
    )
    .unwrap();
    let (code, out) = stint(
        "http://127.0.0.1:9",
        None,
        &["verify", "--data", dir.path().to_str().unwrap()],
    );
    let named = code == 4 && out.contains(&format!("deleted_tail in {stream}"));
    stint_tests::proof::tampering(
        "stint serve's own checkpoint, then the last event deleted",
        named,
    );
    assert!(named, "{out}");
}

/// The README's walkthrough, exactly as written there, run by `sh -e` against a real server
/// (its URL put in place of the default one), in a folder whose `.stint` is the server's data.
#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let section = readme
        .split("### Walkthrough with the CLI")
        .nth(1)
        .expect("the walkthrough section");
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("its shell block");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join(".stint"),
        "2026-11-02T09:00:00Z",
        Serve {
            quiet: true,
            ..Serve::default()
        },
    );
    let script = script.replace("http://127.0.0.1:8787", &server.api);
    let bin_dir = bin("stint").parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-ec", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("STINT_TOKEN")
        .env_remove("STINT_API")
        .env("STINT_CONFIG_DIR", dir.path().join("config"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    for step in ["pending", "approved", "active", "Timeline", "verified"] {
        assert!(
            text.to_lowercase().contains(&step.to_lowercase()),
            "{step}: {text}"
        );
    }
}

/// `GET /metrics` with `token` (or none): the status and the body as text.
fn metrics_text(api: &str, token: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(&format!("{api}/metrics"));
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

/// The value of the sample `series` (name and labels, as Prometheus prints them), if present.
fn sample_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// A whole lifecycle through `stint serve`: its `/metrics` then counts the approval, the grant
/// and the revoke under the role and source, as Prometheus text; only auditors and admins may
/// read it, since it names roles.
#[test]
fn metrics_count_a_local_lifecycle_for_auditors_only() {
    let dir = tempfile::tempdir().unwrap();
    let (server, alice, id) = serve_a_grant(dir.path());
    server.advance("1h");
    wait_for(&server.api, &alice, &id, "revoked");

    let auditor = token(dir.path(), "ada", "audit");
    let (status, text) = metrics_text(&server.api, Some(&auditor));
    assert_eq!(status, 200, "{text}");
    let labels = r#"{role="db-read",source="person"}"#;
    for figure in [
        "stint_time_to_approve_seconds",
        "stint_approved_to_granted_seconds",
        "stint_revoke_lag_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {figure} histogram")),
            "{figure}: {text}"
        );
        assert!(
            text.contains(&format!("# HELP {figure} ")),
            "{figure}: {text}"
        );
        assert_eq!(
            sample_value(&text, &format!("{figure}_count{labels}")),
            Some(1.0),
            "{figure}: {text}"
        );
    }
    // Revoked by its timer at the expiry on the manual clock: no lag.
    assert_eq!(
        sample_value(&text, &format!("stint_revoke_lag_seconds_sum{labels}")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample_value(
            &text,
            r#"stint_revoke_lag_seconds_bucket{role="db-read",source="person",le="0.005"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("stint_grant_failures_total{"), "{text}");

    // An admin may read it too; nobody else, and nobody without a token.
    let admin = token(dir.path(), "sam", "security");
    assert_eq!(metrics_text(&server.api, Some(&admin)).0, 200);
    let (status, body) = metrics_text(&server.api, Some(&alice));
    let refused: Value = serde_json::from_str(&body).expect("a JSON error");
    stint_tests::proof::attack(
        "read the role metrics as a requester",
        "alice",
        status != 403,
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert!(
        refused["message"].as_str().unwrap().contains("auditor"),
        "{body}"
    );
    let (status, body) = metrics_text(&server.api, None);
    let refused: Value = serde_json::from_str(&body).expect("a JSON error");
    stint_tests::proof::attack(
        "read the role metrics without a token",
        "stranger",
        status != 401,
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
    server.stop();
}

/// A grant whose revoke was missed while the server was down: the sweep at the next start
/// revokes it, and `/metrics` shows the repair and the two hours of lag.
#[test]
fn metrics_show_the_sweep_repairing_an_expired_grant() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, _) = serve_a_grant(dir.path());
    server.stop();
    let server = Server::start(dir.path(), "2026-11-29T12:00:00Z");
    let auditor = token(dir.path(), "ada", "audit");
    let (status, text) = metrics_text(&server.api, Some(&auditor));
    assert_eq!(status, 200, "{text}");
    let labels = r#"{role="db-read",source="person"}"#;
    assert_eq!(
        sample_value(&text, &format!("stint_sweep_repairs_total{labels}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample_value(&text, &format!("stint_revoke_lag_seconds_sum{labels}")),
        Some(7_200.0),
        "{text}"
    );
    server.stop();
}

/// The expiry reminders in the outbox.
fn expiry_reminders(data: &Path) -> Vec<(String, String)> {
    outbox_mails(data, "expires in")
}

#[test]
fn expiry_reminders_and_service_levels_in_local_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = Server::start(data, "2026-11-29T09:00:00Z");
    let api = server.api.clone();
    let (dana, bob, audrey) = (
        token(data, "dana@example.com", "sre"),
        token(data, "bob", "db-owners"),
        token(data, "audrey", "audit"),
    );
    // Given dana's hour of db-read from 09:00.
    let id = request_and_approve(&api, &dana, &bob, PRINCIPAL);
    wait_for(&api, &dana, &id, "active");

    // At 09:50 she hears that it ends in ten minutes, once, however long the clock runs on.
    server.advance("50m");
    let first = (
        "dana@example.com".to_owned(),
        "[Stint] Your access to db-read expires in 10 minutes".to_owned(),
    );
    eventually(
        "the first reminder",
        || expiry_reminders(data),
        |r| !r.is_empty(),
    );
    server.advance("1m");
    server.advance("1m");

    // She extends by the hour the reminder offered, through the CLI: the reminder moves.
    let (code, out) = stint(&api, Some(&dana), &["--json", "extend", &id, "--for", "1h"]);
    assert_eq!(code, 0, "{out}");
    let v = eventually(
        "the extension to reach the grant",
        || {
            let (_, out) = stint(&api, Some(&dana), &["--json", "show", &id]);
            json_of(&out)
        },
        |v| v["grant"]["expires_at"] == "2026-11-29T11:00:00Z",
    );
    assert_eq!(v["status"], "active");
    server.advance("58m"); // 10:50
    let got = eventually(
        "the reminder of the new expiry",
        || expiry_reminders(data),
        |r| r.len() >= 2,
    );
    assert_eq!(got, [first.clone(), first], "one per expiry: {got:?}");
    // The reminder's body says how to extend again.
    let mail = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|m| stint_tests::mail_header(m, "Subject").contains("expires in"))
        .unwrap();
    let parsed = mailparse::parse_mail(mail.as_bytes()).unwrap();
    let text = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .map(|p| p.get_body().unwrap())
        .unwrap_or_default();
    assert!(
        text.contains(&format!("stint extend {id} --for 1h")),
        "{text}"
    );

    // At expiry it is revoked; the service levels of the day come from those events.
    server.advance("11m");
    wait_for(&api, &dana, &id, "revoked");
    let window = [
        "--from",
        "2026-11-29T00:00:00Z",
        "--to",
        "2026-11-30T00:00:00Z",
    ];
    let mut args = vec!["--json", "stats"];
    args.extend_from_slice(&window);
    let (code, out) = stint(&api, Some(&audrey), &args);
    assert_eq!(code, 0, "{out}");
    let v = json_of(&out);
    let overall = |m: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["measure"] == m && r["role"] == "*" && r["source"] == "*")
            .cloned()
            .unwrap_or_else(|| panic!("no {m} in {v}"))
    };
    // The manual clock stood still while bob approved and the broker granted.
    assert_eq!(overall("time_to_approve")["p50_ms"], 0, "{v}");
    assert_eq!(overall("approved_to_granted")["count"], 1, "{v}");
    // Revoked on the first tick after 11:00, on a clock moved to 11:01.
    assert_eq!(overall("revoke_lag")["p99_ms"], 60_000, "{v}");
    let mut args = vec!["stats"];
    args.extend_from_slice(&window);
    let (code, table) = stint(&api, Some(&audrey), &args);
    assert_eq!(code, 0, "{table}");
    assert!(
        table.contains("revoke_lag") && table.contains("1 min 0 s"),
        "{table}"
    );
    let mut args = vec!["stats", "--format", "csv"];
    args.extend_from_slice(&window);
    let (code, csv) = stint(&api, Some(&audrey), &args);
    assert_eq!(code, 0, "{csv}");
    assert!(
        csv.starts_with("measure,role,source,count,p50_ms,p90_ms,p99_ms,max_ms\n"),
        "{csv}"
    );
    // dana is no auditor; a window that runs backwards is refused before anything is read.
    let (code, out) = stint(&api, Some(&dana), &["stats"]);
    assert!(code == 1 && out.contains("forbidden"), "{out}");
    let (code, out) = stint(
        &api,
        Some(&audrey),
        &[
            "stats",
            "--from",
            "2026-11-30T00:00:00Z",
            "--to",
            "2026-11-29T00:00:00Z",
        ],
    );
    assert!(code == 1 && out.contains("must be before"), "{out}");
    server.stop();
}

#[test]
fn a_reminder_due_while_the_server_was_down_comes_after_the_restart_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = Server::start(data, "2026-11-29T09:00:00Z");
    let (dana, bob) = (
        token(data, "dana@example.com", "sre"),
        token(data, "bob", "db-owners"),
    );
    let id = request_and_approve(&server.api, &dana, &bob, PRINCIPAL);
    wait_for(&server.api, &dana, &id, "active");
    server.stop();

    // Back up at 09:55, past the 09:50 reminder and before the 10:00 expiry: it comes now.
    let server = Server::start(data, "2026-11-29T09:55:00Z");
    let got = eventually(
        "the late reminder",
        || expiry_reminders(data),
        |r| !r.is_empty(),
    );
    assert_eq!(
        got,
        [(
            "dana@example.com".to_owned(),
            "[Stint] Your access to db-read expires in 5 minutes".to_owned()
        )]
    );
    server.stop();
    // And once: another restart before the expiry finds it sent on the ledger.
    let server = Server::start(data, "2026-11-29T09:56:00Z");
    server.advance("1m");
    wait_for(&server.api, &dana, &id, "active");
    server.advance("4m");
    wait_for(&server.api, &dana, &id, "revoked");
    assert_eq!(expiry_reminders(data).len(), 1);
    server.stop();
}
