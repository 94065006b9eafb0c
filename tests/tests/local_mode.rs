//! `stint serve` as a real process on an ephemeral port, driven through the real `stint` CLI
//! binary over HTTP. Time moves through the server's manual clock (`POST /_clock`), so nothing
//! waits for a grant to expire.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let path = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target folder")
        .join(name);
    assert!(
        path.exists(),
        "{} is not built: run through infra/scripts/test.sh",
        path.display()
    );
    path
}

const CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/catalog.example.toml");

struct Server {
    child: Child,
    api: String,
}

impl Server {
    fn start(data: &Path, clock: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(bin("stint"));
        cmd.args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--catalog",
            CATALOG,
            "--tick-ms",
            "20",
            "--manual-clock",
            clock,
            "--data",
        ])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start stint serve");
        // The first line says where it listens.
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("read the address");
        let api = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Server { child, api }
    }

    fn advance(&self, by: &str) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(true)
            .build()
            .into();
        agent
            .post(&format!("{}/_clock", self.api))
            .send_json(json!({ "advance": by }))
            .expect("move the clock");
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

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
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, out) = stint(api, Some(tok), &["--json", "show", id]);
        assert_eq!(code, 0, "{out}");
        let v = json_of(&out);
        if v["status"] == want {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "still {} waiting for {want}",
            v["status"]
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/stint/oncall";

fn request_and_approve(api: &str, alice: &str, bob: &str, principal: &str) -> String {
    let (code, out) = stint(
        api,
        Some(alice),
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
    let id = json_of(&out)["id"].as_str().unwrap().to_owned();
    let (code, out) = stint(api, Some(bob), &["approve", &id]);
    assert_eq!(code, 0, "{out}");
    id
}

#[test]
fn the_whole_lifecycle_through_the_cli_against_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "2026-11-29T09:00:00Z", &[], &[]);
    let (alice, bob) = (
        token(dir.path(), "alice", "sre"),
        token(dir.path(), "bob", "db-owners"),
    );
    let api = server.api.clone();

    let (code, out) = stint(&api, None, &["ls"]);
    assert_eq!(code, 1, "no token is refused: {out}");
    assert!(out.contains("unauthenticated"), "{out}");

    let (code, out) = stint(
        &api,
        Some(&alice),
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
            PRINCIPAL,
        ],
    );
    assert_eq!(code, 0, "{out}");
    let id = json_of(&out)["id"].as_str().unwrap().to_owned();
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
    let server = Server::start(dir.path(), "2026-11-29T09:00:00Z", &[], &[]);
    let (alice, bob) = (
        token(dir.path(), "alice", "sre"),
        token(dir.path(), "bob", "db-owners"),
    );
    let id = request_and_approve(&server.api, &alice, &bob, PRINCIPAL);
    wait_for(&server.api, &alice, &id, "active");
    server.stop();

    // Back up ten minutes later: the expiry timer is re-armed from the store.
    let server = Server::start(dir.path(), "2026-11-29T09:10:00Z", &[], &[]);
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
    let server = Server::start(dir.path(), "2026-11-29T09:00:00Z", &[], &[]);
    let (alice, bob) = (
        token(dir.path(), "alice", "sre"),
        token(dir.path(), "bob", "db-owners"),
    );
    let id = request_and_approve(&server.api, &alice, &bob, PRINCIPAL);
    wait_for(&server.api, &alice, &id, "active");
    server.stop();
    let server = Server::start(dir.path(), "2026-11-29T12:00:00Z", &[], &[]);
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
    let endpoint = stint_tests::emulator_endpoint();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let server = Server::start(
        dir.path(),
        "2026-11-29T09:00:00Z",
        &["--provider", "aws"],
        &env,
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
        serde_norway::from_str(stint::http::OPENAPI).expect("the OpenAPI file is YAML");
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut in_spec: Vec<(String, String)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            in_spec.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut in_router: Vec<(String, String)> = stint::http::route_list()
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
