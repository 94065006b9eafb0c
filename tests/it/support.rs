//! Helpers only the integration tests use: the workspace's binaries, `stint serve` as a process,
//! plain HTTP calls, API Gateway events handed to a router, and polling for what a server does on
//! its next ticks. What the benchmarks share too is in the library (`stint_tests`).

use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stint_tests::aws::CATALOG_PATH;
use tower::ServiceExt;

/// A binary of the workspace (`stint`, `stint-grant`, ...). Cargo puts them in the target profile
/// folder, the parent of the `deps/` folder this test binary runs from; the test command builds
/// them first (`cargo build --workspace --bins`). `CARGO_BIN_EXE_<name>` would not do: Cargo sets
/// it only for the binaries of this test's own package, and these are in `cli/` and `functions/`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile folder")
        .join(name);
    assert!(
        path.exists(),
        "{} is not built: run the suite through infra/scripts/test.sh, which builds the binaries",
        path.display()
    );
    path
}

/// Calls `poll` every 25 ms until `done` holds for what it returns, and returns that; fails after
/// 20 s, showing what it saw last. For what a server does on its next ticks.
pub fn eventually<T: std::fmt::Debug>(
    what: &str,
    mut poll: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = poll();
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "still waiting for {what}; last saw {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Runs `op` 16 times at once, each on a tokio task of its own with its own clone of `shared`
/// and its index (0 to 15); returns what each returned, in index order.
pub async fn sixteen_at_once<S, T, F>(shared: &S, op: impl Fn(S, u64) -> F) -> Vec<T>
where
    S: Clone,
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..16)
        .map(|i| tokio::spawn(op(shared.clone(), i)))
        .collect();
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("the task ran to the end"))
        .collect()
}

/// One HTTP call, GET without a body or POST with a JSON one; every status is an answer. Returns
/// the status and the body as JSON (null when it is not JSON).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let answer = match method {
        "GET" => {
            let mut req = agent.get(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
        "POST" => {
            let mut req = agent.post(url).header("content-type", "application/json");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(body)
        }
        other => panic!("no {other} calls here"),
    };
    let mut resp = answer.expect("the server answers");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Hands an API Gateway event to `app` through the functions' request conversion
/// (`stint_http::apigw::to_request`). Returns the status and the body as JSON (`{"raw": ...}`
/// when it is not JSON).
pub async fn call_router(app: &axum::Router, event: &Value) -> (u16, Value) {
    let req = stint_http::apigw::to_request(event.clone()).expect("a valid API Gateway event");
    let resp = app.clone().oneshot(req).await.expect("the router answers");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) })),
    )
}

/// How to start `stint serve`, besides its data folder and its clock.
pub struct Serve<'a> {
    pub catalog: &'a str,
    /// More arguments, e.g. `--provider aws`.
    pub args: &'a [&'a str],
    pub env: Vec<(&'a str, String)>,
    /// Drop its log rather than pass it on to the test's stderr.
    pub quiet: bool,
}

impl Default for Serve<'_> {
    fn default() -> Self {
        Serve {
            catalog: CATALOG_PATH,
            args: &[],
            env: Vec::new(),
            quiet: false,
        }
    }
}

/// `stint serve` as a real process on an ephemeral port, with a manual clock that the test moves
/// (`POST /_clock`); stopped when dropped.
pub struct Server {
    child: Child,
    /// Its base URL, e.g. `http://127.0.0.1:40123`.
    pub api: String,
}

impl Server {
    /// With the example catalog, its clock at `clock` (RFC 3339), its data in `data`.
    pub fn start(data: &Path, clock: &str) -> Server {
        Server::start_with(data, clock, Serve::default())
    }

    pub fn start_with(data: &Path, clock: &str, how: Serve) -> Server {
        let mut cmd = Command::new(bin("stint"));
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--catalog", how.catalog])
            .args(["--tick-ms", "20", "--manual-clock", clock, "--data"])
            .arg(data)
            .args(how.args)
            .envs(how.env)
            .stdout(Stdio::piped())
            .stderr(if how.quiet {
                Stdio::null()
            } else {
                Stdio::inherit()
            });
        let mut child = cmd
            .spawn()
            .expect("start stint serve (built by infra/scripts/test.sh)");
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

    /// Moves the server's clock on by `by` (e.g. `59m`).
    pub fn advance(&self, by: &str) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(true)
            .build()
            .into();
        agent
            .post(&format!("{}/_clock", self.api))
            .send_json(json!({ "advance": by }))
            .expect("move the clock");
    }

    /// Stops it and waits for it to exit, e.g. before a restart on the same data.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The user in `x-user` with the comma-separated groups in `x-groups`; none: 401.
pub struct HeaderUser;

impl stint_http::Authenticator for HeaderUser {
    fn identify(
        &self,
        parts: &http::request::Parts,
    ) -> Result<stint_domain::Identity, stint_http::AuthError> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let user = header("x-user").ok_or_else(|| stint_http::AuthError("no x-user".into()))?;
        let groups = header("x-groups").unwrap_or("");
        Ok(stint_domain::Identity::new(
            stint_domain::UserId::parse(user).map_err(|e| stint_http::AuthError(e.to_string()))?,
            groups
                .split(',')
                .filter(|g| !g.is_empty())
                .map(|g| stint_domain::GroupName::parse(g).unwrap()),
        ))
    }
}
