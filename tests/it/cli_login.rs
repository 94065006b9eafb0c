//! `stint login` against `stint serve`'s own OIDC provider, end to end: the CLI listens on a
//! loopback port, the test plays the browser (over HTTP, following the provider's redirect back
//! to the CLI), the tokens are cached per profile and refreshed once expired; profiles come
//! from the settings file; bad issuers and clients get clear messages and exit code 6.

use crate::support::{bin, Serve, Server};
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

fn serve(data: &Path) -> Server {
    Server::start_with(
        data,
        "2026-11-02T09:00:00Z",
        Serve {
            quiet: true,
            ..Serve::default()
        },
    )
}

/// `stint` with its settings in `config` and no token or API from the test's environment.
fn stint(config: &Path) -> Command {
    let mut c = Command::new(bin("stint"));
    c.env("STINT_CONFIG_DIR", config)
        .env_remove("STINT_TOKEN")
        .env_remove("STINT_API")
        .env_remove("STINT_PROFILE");
    c
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("run stint");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Runs `stint login --no-browser` and plays the browser: opens the printed URL, picks the
/// user on the provider's page, and follows the redirect back to the CLI's loopback port.
fn login(config: &Path, args: &[&str], email: &str, groups: &str) -> (i32, String) {
    let mut child = stint(config)
        .args(["login", "--no-browser"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stint login");
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut url = None;
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 {
        seen.push_str(&line);
        if let Some(u) = line.trim().strip_prefix("http") {
            url = Some(format!("http{u}"));
            break;
        }
        line.clear();
    }
    let Some(url) = url else {
        let status = child.wait().unwrap();
        return (status.code().unwrap_or(-1), seen);
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    // The provider's page, as the browser would show it.
    let mut page = agent.get(&url).call().unwrap();
    let status = page.status().as_u16();
    let html = page.body_mut().read_to_string().unwrap();
    if status != 200 {
        let _ = child.kill();
        return (-1, format!("{seen}{html}"));
    }
    assert!(html.contains("Sign in"), "{html}");
    // The form posts the same parameters with the user's choice.
    let query = url.split_once('?').unwrap().1;
    let mut form: Vec<(String, String)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8()
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect();
    form.push(("email".into(), email.into()));
    form.push(("groups".into(), groups.into()));
    let base = url.split("/oidc/").next().unwrap();
    let answer = agent
        .post(&format!("{base}/oidc/authorize"))
        .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303);
    let back = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    // Back to the CLI's loopback listener, which takes the code.
    let mut done = agent.get(&back).call().unwrap();
    assert_eq!(done.status().as_u16(), 200);
    let said = done.body_mut().read_to_string().unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{said}\n{}", String::from_utf8_lossy(&out.stdout)),
    )
}

#[test]
fn login_caches_the_token_refreshes_it_and_logout_forgets_it() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    // A profile for the local server, made the default, with a principal.
    for args in [
        vec!["config", "use", "local"],
        vec!["config", "set", "api", &server.api],
        vec![
            "config",
            "set",
            "principal",
            "arn:aws:iam::123456789012:role/stint/oncall",
        ],
    ] {
        let (code, out) = run(stint(cfg).args(&args));
        assert_eq!(code, 0, "{args:?}: {out}");
    }
    let (code, out) = login(cfg, &[], "alice@example.com", "sre");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Signed in to Stint"), "{out}");
    assert!(
        out.contains("signed in as alice@example.com (profile local"),
        "{out}"
    );
    let cache = cfg.join("tokens").join("local.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token cache is private");
    }

    // Signed in: no token on the command line, the principal from the profile.
    let (code, out) = run(stint(cfg).args([
        "--json",
        "request",
        "db-read",
        "--scope",
        "orders",
        "--reason",
        "from the login test",
    ]));
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "pending");
    assert_eq!(v["request"]["requester"], "alice@example.com");

    // Once the ID token has expired, the refresh token gets a new one (and a new refresh token).
    let mut cached: Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    let old_refresh = cached["refresh_token"].clone();
    cached["expires_at"] = Value::from(0);
    std::fs::write(&cache, cached.to_string()).unwrap();
    let (code, out) = run(stint(cfg).args(["--json", "ls", "--mine"]));
    assert_eq!(code, 0, "{out}");
    let refreshed: Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_ne!(refreshed["refresh_token"], old_refresh, "rotated");
    assert!(refreshed["expires_at"].as_i64().unwrap() > 0);
    // A refresh token the issuer no longer knows: a clear message and exit code 6.
    let mut stale = refreshed.clone();
    stale["expires_at"] = Value::from(0);
    stale["refresh_token"] = old_refresh;
    std::fs::write(&cache, stale.to_string()).unwrap();
    let (code, out) = run(stint(cfg).args(["ls", "--mine"]));
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("run `stint login`"), "{out}");
    assert!(!out.contains("panicked"), "{out}");

    // Logout forgets it: the API then wants a token.
    let (code, out) = run(stint(cfg).arg("logout"));
    assert_eq!(code, 0, "{out}");
    assert!(!cache.exists());
    let (code, out) = run(stint(cfg).args(["ls", "--mine"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unauthenticated"), "{out}");
}

#[test]
fn profiles_flags_and_environment_take_precedence_in_that_order() {
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    for args in [
        vec!["config", "set", "api", "http://from-default.example"],
        vec![
            "--profile",
            "prod",
            "config",
            "set",
            "api",
            "http://from-prod.example",
        ],
        vec!["--profile", "prod", "config", "set", "output", "json"],
    ] {
        let (code, out) = run(stint(cfg).args(&args));
        assert_eq!(code, 0, "{args:?}: {out}");
    }
    let get = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = stint(cfg);
        c.args(extra).args(["config", "get", "api"]);
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c).1.trim().to_owned()
    };
    assert_eq!(get(&[], &[]), "http://from-default.example");
    assert_eq!(get(&["--profile", "prod"], &[]), "http://from-prod.example");
    assert_eq!(
        get(&[], &[("STINT_PROFILE", "prod")]),
        "http://from-prod.example"
    );
    assert_eq!(
        get(
            &[],
            &[
                ("STINT_PROFILE", "prod"),
                ("STINT_API", "http://from-env.example")
            ]
        ),
        "http://from-env.example"
    );
    assert_eq!(
        get(
            &["--api", "http://from-flag.example"],
            &[("STINT_API", "http://from-env.example")]
        ),
        "http://from-flag.example"
    );
    let (_, list) = run(stint(cfg).args(["--profile", "prod", "config", "list"]));
    assert!(list.contains("output = json"), "{list}");
    assert!(list.contains("# other profiles: default"), "{list}");
    // Bad settings are refused with a usage error.
    let (code, out) = run(stint(cfg).args(["config", "set", "output", "yaml"]));
    assert_eq!(code, 2, "{out}");
    let (code, out) = run(stint(cfg).args(["config", "set", "colour", "red"]));
    assert_eq!(code, 2, "{out}");
}

#[test]
fn a_wrong_issuer_or_client_is_a_clear_refusal() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    // The same server under another name: its discovery names its own issuer.
    let other_name = server.api.replace("127.0.0.1", "localhost");
    let (code, out) = run(stint(cfg).args(["--api", &other_name, "login", "--no-browser"]));
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("names issuer"), "{out}");
    // A client id the issuer does not know: its page refuses, the CLI is never called back.
    let (code, _) = run(stint(cfg).args(["config", "set", "client_id", "not-stint"]));
    assert_eq!(code, 0);
    let (code, out) = login(cfg, &["--api", &server.api], "alice@example.com", "sre");
    assert_eq!(code, -1, "the provider refused before any redirect: {out}");
    assert!(out.contains("client_id must be stint"), "{out}");
}

#[test]
fn doctor_passes_a_healthy_setup_and_names_what_is_broken() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let (code, _) = run(stint(cfg).args(["config", "set", "api", &server.api]));
    assert_eq!(code, 0);
    let (code, out) = login(cfg, &[], "alice@example.com", "sre");
    assert_eq!(code, 0, "{out}");
    // `stint init` writes a starter catalog that doctor finds valid.
    let starter = cfg.join("stint.toml");
    let (code, out) = run(stint(cfg).arg("init").arg(&starter));
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(stint(cfg).arg("init").arg(&starter));
    assert_eq!(code, 2, "never over an existing file: {out}");
    let (code, out) = run(stint(cfg)
        .args(["--json", "doctor", "--catalog"])
        .arg(&starter));
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        ["settings", "api", "clock", "sign-in", "token", "catalog"]
    );
    assert_eq!(v["failed"], 0, "{v}");

    // Broken: a catalog with an unknown key, a token the API does not take, and no server.
    let bad = cfg.join("bad.toml");
    std::fs::write(&bad, "[settings]\ncolour = \"red\"\n").unwrap();
    let (code, out) = run(stint(cfg)
        .args(["doctor", "--token", "not.a.token", "--catalog"])
        .arg(&bad));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL token: the API refused it"), "{out}");
    assert!(out.contains("FAIL catalog"), "{out}");
    drop(server);
    let (code, out) = run(stint(cfg).arg("doctor"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL api: cannot reach"), "{out}");
}

/// The device authorization grant: the CLI shows a code, a person enters it on a browser (the
/// test, over HTTP), and the CLI's polling picks up the tokens.
#[test]
fn login_with_a_device_code_entered_on_another_browser() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let mut child = stint(cfg)
        .args(["--api", &server.api, "login", "--device"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let (mut uri, mut code) = (None, None);
    let mut line = String::new();
    while code.is_none() && err.read_line(&mut line).unwrap() > 0 {
        let t = line.trim();
        if t.starts_with("http") && uri.is_none() {
            uri = Some(t.to_owned());
        }
        if let Some(c) = t.strip_prefix("and enter the code") {
            code = Some(c.trim().to_owned());
        }
        line.clear();
    }
    let (uri, code) = (uri.expect("a verification URI"), code.expect("a user code"));
    assert!(uri.ends_with("/oidc/device/verify"), "{uri}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let enter = |c: &str| {
        let mut r = agent
            .post(&uri)
            .send_form([
                ("user_code", c),
                ("email", "bob@example.com"),
                ("groups", "db-owners"),
            ])
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    // A wrong code approves nothing; the right one, typed in lower case without its dash, does.
    let (status, page) = enter("BBBB-BBBB");
    assert_eq!(status, 400, "{page}");
    let (status, page) = enter(&code.replace('-', "").to_lowercase());
    assert_eq!(status, 200, "{page}");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("signed in as bob@example.com"), "{stdout}");
    // The same code cannot sign in a second device.
    let (status, _) = enter(&code);
    assert_eq!(status, 400);
    let (code, out) = run(stint(cfg).args(["--api", &server.api, "--json", "ls", "--awaiting"]));
    assert_eq!(code, 0, "{out}");
}

/// `stint request` without its role: off a terminal it says what is missing and which roles
/// the caller may request; on a terminal (a pseudo-terminal from `script`) it asks, offering
/// them, and Enter takes each default.
#[test]
fn request_offers_the_callers_roles_and_asks_only_on_a_terminal() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    for args in [
        vec!["config", "set", "api", server.api.as_str()],
        vec![
            "config",
            "set",
            "principal",
            "arn:aws:iam::123456789012:role/stint/oncall",
        ],
    ] {
        assert_eq!(run(stint(cfg).args(&args)).0, 0);
    }
    let (code, out) = login(cfg, &[], "carol@example.com", "backend");
    assert_eq!(code, 0, "{out}");
    // The API offers only what the catalog lets carol (backend) request.
    let (code, out) = run(stint(cfg).arg("request").stdin(Stdio::null()));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("needs a role; the roles you may request: db-read"),
        "{out}"
    );
    assert!(!out.contains("db-write"), "not hers to request: {out}");

    // On a terminal: Enter for the role, the scope, the principal and the duration; a reason.
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{} request", bin("stint").display()),
            "/dev/null",
        ])
        .env("STINT_CONFIG_DIR", cfg)
        .env_remove("STINT_TOKEN")
        .env_remove("STINT_API")
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1), from util-linux");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"\r\r\r\rinvestigate from a terminal\r")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Role"), "{text}");
    let (code, listing) = run(stint(cfg).args(["--json", "ls", "--mine"]));
    assert_eq!(code, 0, "{listing}");
    let v: Value = serde_json::from_str(&listing).unwrap();
    let r = &v["requests"][0]["request"];
    assert_eq!(r["role"], "db-read", "{v}");
    assert_eq!(r["scope"], "orders");
    assert_eq!(r["duration"], "1h");
    assert_eq!(r["justification"], "investigate from a terminal");
}

/// Long work shows progress on a terminal and nothing when piped or with --json.
#[test]
fn progress_shows_on_a_terminal_only() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    drop(server);
    let verify = format!(
        "{} verify --data {}",
        bin("stint").display(),
        data.path().display()
    );
    let out = Command::new("script")
        .args(["-qec", &verify, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("script(1)");
    let on_terminal = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{on_terminal}");
    assert!(
        on_terminal.contains("auditing every event"),
        "{on_terminal}"
    );
    let piped = Command::new(bin("stint"))
        .args(["verify", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&piped.stdout).into_owned()
        + &String::from_utf8_lossy(&piped.stderr);
    assert!(piped.status.success(), "{text}");
    assert!(!text.contains("auditing every event"), "{text}");
}

/// The local provider vouches for whoever is named on its page: off when `stint serve` is
/// reachable beyond loopback, unless asked for with --local-idp.
#[test]
fn the_local_sign_in_is_off_beyond_loopback_unless_asked_for() {
    for (args, served) in [
        (vec!["--bind", "0.0.0.0:0"], false),
        (vec!["--bind", "0.0.0.0:0", "--local-idp"], true),
    ] {
        let data = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(bin("stint"));
        cmd.args(["serve", "--data"])
            .arg(data.path())
            .args([
                "--catalog",
                stint_tests::aws::CATALOG_PATH,
                "--provider",
                "record",
            ])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split("http://0.0.0.0:")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .unwrap_or_else(|| panic!("{line}"))
            .to_owned();
        let (status, _) = crate::support::http(
            "GET",
            &format!("http://127.0.0.1:{port}/.well-known/openid-configuration"),
            &[],
            "",
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(status == 200, served, "{args:?}: {status}");
    }
}

/// `stint doctor --stack`: a deployment's stack as CloudFormation describes it (on the
/// emulator), its outputs, and each of its table, bucket and key reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_a_deployments_stack_and_its_outputs() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let name = stint_tests::unique_name("doctor");
    let template = serde_json::json!({
        "Resources": {
            "Table": { "Type": "AWS::DynamoDB::Table", "Properties": {
                "TableName": format!("{name}-events"),
                "AttributeDefinitions": [{ "AttributeName": "pk", "AttributeType": "S" }],
                "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }],
                "BillingMode": "PAY_PER_REQUEST" } },
            "Bucket": { "Type": "AWS::S3::Bucket", "Properties": { "BucketName": format!("{name}-reports") } },
            "Key": { "Type": "AWS::KMS::Key", "Properties": {
                "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
                "KeyPolicy": { "Version": "2012-10-17", "Statement": [{ "Effect": "Allow",
                    "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "kms:*", "Resource": "*" }] } } }
        },
        "Outputs": {
            "ApiUrl": { "Value": server.api.clone() },
            "EventsTableName": { "Value": { "Ref": "Table" } },
            "ReportBucketName": { "Value": { "Ref": "Bucket" } },
            "CheckpointKeyArn": { "Value": { "Fn::GetAtt": ["Key", "Arn"] } },
            "BusName": { "Value": "stint" }
        }
    });
    let cfn = aws_sdk_cloudformation::Client::new(&stint_tests::emulator_config().await);
    cfn.create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .send()
        .await
        .expect("the emulator creates the stack");
    let token = {
        let out = Command::new(bin("stint"))
            .args([
                "token",
                "--user",
                "alice@example.com",
                "--groups",
                "sre",
                "--data",
            ])
            .arg(data.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let doctor = |api: &str, stack: &str| {
        let mut c = stint(cfg);
        c.args([
            "--json", "--api", api, "--token", &token, "doctor", "--stack", stack,
        ])
        .envs(stint_tests::emulator_env());
        let (code, out) = run(&mut c);
        let v: Value = serde_json::from_str(out.lines().next().unwrap_or("null"))
            .unwrap_or_else(|e| panic!("{e}: {out}"));
        (code, v)
    };
    let (code, v) = doctor(&server.api, &name);
    assert_eq!(code, 0, "{v}");
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for want in [
        "stack",
        "stack outputs",
        "stack api",
        "events table",
        "report bucket",
        "checkpoint key",
    ] {
        assert!(checks.contains(&want), "{want} in {checks:?}");
    }
    // The profile pointing elsewhere than the stack's API, and a stack that is not there.
    let (code, v) = doctor("http://127.0.0.1:9", &name);
    assert_eq!(code, 1);
    let api = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "stack api")
        .unwrap()
        .clone();
    assert_eq!(api["ok"], false, "{api}");
    assert!(
        api["detail"]
            .as_str()
            .unwrap()
            .contains("stint config set api"),
        "{api}"
    );
    let (code, v) = doctor(&server.api, "no-such-stack");
    assert_eq!(code, 1);
    assert!(v.to_string().contains("no-such-stack"), "{v}");
}
