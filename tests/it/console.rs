//! The web console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by infra/scripts/test.sh) driven over WebDriver against a real
//! `stint serve`, signing in through its own OIDC provider. Each test has its own server,
//! its own chromedriver and its own browser profiles, so they run in parallel.

use crate::support::{bin, Serve, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stint_tests::aws::CATALOG_PATH;

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/stint/oncall";

/// chromedriver on a port of its own, killed when the test ends.
struct Driver {
    child: Child,
    url: String,
    profiles: tempfile::TempDir,
}

impl Drop for Driver {
    /// Ends chromedriver and every browser it started (its process group), even when the test
    /// failed before closing its sessions. A direct killpg, never `kill -SIG -PGID`: procps-ng
    /// 4.0.2 reads `-12345` there as `-1` and kills every process on the machine.
    fn drop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: plain syscalls on a pid we spawned and have not yet reaped, so it cannot
        // have been reused; the group is only signalled when chromedriver still leads it.
        unsafe {
            if pgid > 1 && libc::getpgid(pgid) == pgid {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> PathBuf {
    let path = std::env::var_os("STINT_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    assert!(
        path.exists(),
        "{} is missing: infra/scripts/test.sh installs Debian's chromium and chromium-driver",
        path.display()
    );
    path
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(chromedriver())
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    // It says when it listens: no polling.
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).expect("read chromedriver");
        assert!(n > 0, "chromedriver stopped before it listened");
        if line.contains("started successfully") {
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profiles: tempfile::tempdir().expect("profiles"),
    }
}

/// A browser of its own (own profile, so own cookies).
async fn browser(d: &Driver, name: &str) -> Client {
    let profile = d.profiles.path().join(name);
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": std::env::var("STINT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1280,1100",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&d.url)
        .await
        .expect("a Chromium session")
}

/// Signs in through the local provider's picker, from the console's front page.
async fn sign_in(c: &Client, base: &str, email: &str, groups: &str) {
    c.goto(&format!("{base}/console")).await.unwrap();
    let url = c.current_url().await.unwrap();
    if url.path() != "/oidc/authorize" {
        panic!(
            "not sent to the issuer to sign in: {url}: {}",
            c.source().await.unwrap()
        );
    }
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Id("groups"))
        .await
        .unwrap()
        .send_keys(groups)
        .await
        .unwrap();
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // A click returns before the navigation it starts: wait for the page it lands on.
    c.wait()
        .for_element(Locator::Css(".who strong"))
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/console", "back on the inbox, signed in");
    let who = c.find(Locator::Css(".who strong")).await.unwrap();
    assert_eq!(who.text().await.unwrap(), email);
}

/// Fills in and sends the new-request form; returns the new request's id (from the page it
/// lands on).
async fn ask(c: &Client, base: &str, justification: &str) -> String {
    c.goto(&format!("{base}/console/new")).await.unwrap();
    c.find(Locator::Css("#role option[value='db-read']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for (id, text) in [
        ("scope", "orders"),
        ("principal", PRINCIPAL),
        ("duration", "1h"),
        ("justification", justification),
    ] {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    c.find(Locator::Id("submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css(".state .status"))
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    let Some(id) = url.path().strip_prefix("/console/requests/") else {
        let page = c.find(Locator::Css("main")).await.unwrap().text().await;
        panic!("landed on {url}: {page:?}");
    };
    let id = id.to_owned();
    assert_eq!(id.len(), 26, "{url}");
    id
}

async fn status(c: &Client) -> String {
    c.find(Locator::Css(".state .status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .to_lowercase()
}

/// Reloads the request page until its status reads `want` (the broker grants and revokes on
/// its own ticks, after the click that asked for it).
async fn until_status(c: &Client, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // A reload can collide with a navigation the page began itself (a redirect after a
        // form, its own refresh): that reload is aborted, and the next one reads the page.
        let now = match c.refresh().await {
            Ok(()) => match c.find(Locator::Css(".state .status")).await {
                Ok(e) => e.text().await.map(|t| t.to_lowercase()).unwrap_or_default(),
                Err(e) => format!("(unreadable: {e})"),
            },
            Err(e) => format!("(reload aborted: {e})"),
        };
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {now}, waiting for {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn absent(c: &Client, css: &str) -> bool {
    c.find_all(Locator::Css(css)).await.unwrap().is_empty()
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = screenshots().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    path
}

/// The request's event types, read through the API with a `stint token` bearer.
fn event_types(server: &Server, data: &Path, id: &str) -> Vec<String> {
    let out = Command::new(bin("stint"))
        .args([
            "token",
            "--user",
            "audit@example.com",
            "--groups",
            "audit",
            "--data",
        ])
        .arg(data)
        .output()
        .expect("token");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (code, body) = crate::support::http(
        "GET",
        &format!("{}/requests/{id}", server.api),
        &[("authorization", &format!("Bearer {token}"))],
        "",
    );
    assert_eq!(code, 200, "{body}");
    body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn serve(data: &Path) -> Server {
    Server::start_with(
        data,
        "2026-11-02T09:00:00Z",
        Serve {
            catalog: CATALOG_PATH,
            quiet: true,
            ..Serve::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_asks_bob_approves_and_alice_is_done_all_in_the_browser() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let base = server.api.clone();
    let driver = start_driver();
    let alice = browser(&driver, "alice").await;
    let bob = browser(&driver, "bob").await;

    // Alice signs in and asks for db-read through the form.
    sign_in(&alice, &base, "alice@example.com", "sre").await;
    let id = ask(&alice, &base, "Investigate stuck orders (INC-7)").await;
    assert_eq!(status(&alice).await, "pending");
    assert!(
        absent(&alice, "#approve").await,
        "no approve button on her own request"
    );
    let policy = alice.find(Locator::Css("pre.policy")).await.unwrap();
    assert!(policy.text().await.unwrap().contains("dynamodb:GetItem"));

    // Bob, an approver, finds it in his inbox and approves it.
    sign_in(&bob, &base, "bob@example.com", "db-owners").await;
    let link = bob
        .find(Locator::Css(&format!("a[href='/console/requests/{id}']")))
        .await
        .expect("the request is in Bob's inbox");
    let inbox_png = screenshot(&bob, "inbox").await;
    link.click().await.unwrap();
    bob.wait()
        .for_element(Locator::Id("approve-comment"))
        .await
        .unwrap()
        .send_keys("ok for the incident")
        .await
        .unwrap();
    bob.find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The same page comes back, without the buttons once approved.
    bob.wait()
        .for_element(Locator::Css(
            ".state .status.status-approved, .state .status.status-active",
        ))
        .await
        .unwrap();
    assert_eq!(
        bob.current_url().await.unwrap().path(),
        format!("/console/requests/{id}")
    );

    // Alice sees it active, with its policy and the time left, then says she is done.
    alice
        .goto(&format!("{base}/console/requests/{id}"))
        .await
        .unwrap();
    until_status(&alice, "active").await;
    let heading = alice
        .find(Locator::Css("#policy"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Policy attached");
    let doc = alice
        .find(Locator::Css("pre.policy"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(&doc).expect("the policy is JSON");
    assert!(doc.to_string().contains("table/orders"), "{doc}");
    let left = alice
        .find(Locator::Id("time-left"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(left.ends_with("left"), "{left}");
    let request_png = screenshot(&alice, "request").await;
    let done = alice.find(Locator::Id("revoke")).await.unwrap();
    assert_eq!(done.text().await.unwrap(), "I'm done");
    done.click().await.unwrap();
    alice
        .wait()
        .for_element(Locator::Css(".state .status:not(.status-active)"))
        .await
        .unwrap();
    until_status(&alice, "revoked").await;
    assert!(absent(&alice, "#revoke").await);

    // The store holds each step.
    let types = event_types(&server, data.path(), &id);
    for step in [
        "AccessRequested",
        "AccessApproved",
        "AccessGranted",
        "AccessRevoked",
    ] {
        assert!(types.iter().any(|t| t == step), "{step} in {types:?}");
    }
    for png in [inbox_png, request_png] {
        assert!(std::fs::metadata(png).unwrap().len() > 1000);
    }
    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

/// What a forged or hostile post does: nothing, with a 403, and nothing appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_posts_are_refused_and_hostile_text_stays_text() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let base = server.api.clone();
    let driver = start_driver();
    let alice = browser(&driver, "alice").await;
    sign_in(&alice, &base, "alice@example.com", "sre").await;

    // A justification that is a script renders as text, and no dialog opens.
    let hostile = "<script>alert(1)</script>";
    let id = ask(&alice, &base, hostile).await;
    let shown = alice
        .find(Locator::Css("dd.justification"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown, hostile);
    assert!(
        alice.get_alert_text().await.is_err(),
        "no alert dialog is open"
    );
    let source = alice.source().await.unwrap();
    assert!(source.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Her session cookie and its CSRF token, as a forger holding both would have them.
    let session = alice
        .get_named_cookie("stint_session")
        .await
        .unwrap()
        .value()
        .to_owned();
    let csrf = alice
        .find(Locator::Css("input[name=_csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let before = event_types(&server, data.path(), &id);
    let post = |path: &str, form: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let mut r = agent
            .post(&format!("{base}{path}"))
            .header("cookie", &format!("stint_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .send(form)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let approve = format!("/console/requests/{id}/approve");

    // Approving her own request, with a valid token: the service refuses it.
    let (code, page) = post(&approve, &format!("_csrf={csrf}&comment=me"));
    assert_eq!(code, 403, "{page}");
    assert!(page.contains("self_approval"), "{page}");
    // Without the CSRF token, or with another one, nothing is even tried.
    let (code, page) = post(&format!("/console/requests/{id}/cancel"), "");
    assert_eq!(code, 403, "{page}");
    assert!(page.contains("CSRF"), "{page}");
    let (code, _) = post(
        &format!("/console/requests/{id}/cancel"),
        &format!("_csrf={}", "0".repeat(64)),
    );
    assert_eq!(code, 403);
    assert_eq!(
        event_types(&server, data.path(), &id),
        before,
        "nothing appended"
    );
    for (case, attacker) in [
        (
            "console: approve one's own request by a forged form post",
            "requester",
        ),
        (
            "console: form post without the CSRF token",
            "cross-site page",
        ),
        (
            "console: form post with a CSRF token not of the session",
            "cross-site page",
        ),
    ] {
        stint_tests::proof::attack(case, attacker, false);
    }

    // With her token, cancelling her own request is what the form does.
    let (code, _) = post(
        &format!("/console/requests/{id}/cancel"),
        &format!("_csrf={csrf}"),
    );
    assert_eq!(code, 303);
    let after = event_types(&server, data.path(), &id);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    alice.close().await.unwrap();
}

/// The local OIDC provider as any client sees it, over HTTP: discovery, a code bound to its
/// PKCE challenge and redirect URI, used once, and refresh tokens that rotate.
#[test]
fn the_local_oidc_provider_keeps_codes_to_their_client() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let base = server.api.clone();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let call = |method: &str, path: &str, form: &[(&str, &str)]| {
        let url = format!("{base}{path}");
        let mut r = if method == "GET" {
            agent.get(&url).call().unwrap()
        } else {
            agent.post(&url).send_form(form.iter().copied()).unwrap()
        };
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (
            r.status().as_u16(),
            location,
            r.body_mut().read_to_string().unwrap(),
        )
    };
    let (code, _, body) = call("GET", "/.well-known/openid-configuration", &[]);
    assert_eq!(code, 200);
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["issuer"], base.as_str());
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    let (code, _, jwks) = call("GET", "/.well-known/jwks.json", &[]);
    assert_eq!(code, 200);
    assert!(jwks.contains("\"crv\":\"P-256\""), "{jwks}");

    let verifier = "a-verifier-of-forty-three-characters-or-more-0123";
    let challenge = stint_http::idp::s256(verifier);
    let loopback = "http://127.0.0.1:9/callback";
    let authorize = |redirect: &str| {
        call(
            "POST",
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "stint"),
                ("redirect_uri", redirect),
                ("state", "s1"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("email", "alice@example.com"),
                ("groups", "sre"),
            ],
        )
    };
    // A redirect URI that is neither the console nor loopback gets a page, never a redirect.
    let (code, location, _) = authorize("https://evil.example/cb");
    assert_eq!((code, location), (400, None));
    let code_from = |location: Option<String>| {
        let l = location.expect("a redirect");
        assert!(l.starts_with(loopback) && l.ends_with("&state=s1"), "{l}");
        let raw = l.split("code=").nth(1).unwrap().split('&').next().unwrap();
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .unwrap()
            .into_owned()
    };
    let exchange = |code: &str, verifier: &str, redirect: &str| {
        let (status, _, body) = call(
            "POST",
            "/oidc/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "stint"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect),
            ],
        );
        (status, serde_json::from_str::<Value>(&body).unwrap())
    };
    let (status, location, _) = authorize(loopback);
    assert_eq!(status, 303);
    let c = code_from(location);
    // The wrong verifier spends the code: it cannot be tried again with the right one.
    let (status, body) = exchange(&c, &"x".repeat(43), loopback);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = exchange(&c, verifier, loopback);
    assert_eq!(status, 400, "a code is used once");
    // Another redirect URI than the one authorized is refused.
    let c = code_from(authorize(loopback).1);
    let (status, _) = exchange(&c, verifier, "http://127.0.0.1:10/callback");
    assert_eq!(status, 400);
    // The right verifier and redirect: an ID token the API accepts, and a refresh token.
    let c = code_from(authorize(loopback).1);
    let (status, tokens) = exchange(&c, verifier, loopback);
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let (code, listing) = crate::support::http(
        "GET",
        &format!("{base}/requests"),
        &[("authorization", &format!("Bearer {id_token}"))],
        "",
    );
    assert_eq!(code, 200, "{listing}");
    let refresh = |token: &str| {
        let (status, _, body) = call(
            "POST",
            "/oidc/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "stint"),
                ("refresh_token", token),
            ],
        );
        (status, serde_json::from_str::<Value>(&body).unwrap())
    };
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, again) = refresh(first);
    assert_eq!(status, 200);
    assert!(again["id_token"].is_string());
    let (status, _) = refresh(first);
    assert_eq!(status, 400, "refresh tokens rotate: the old one is spent");

    // The console's callback refuses a state its browser did not start.
    let (status, _, page) = call("GET", "/console/callback?code=abc&state=forged", &[]);
    assert_eq!(status, 400);
    assert!(page.contains("no sign-in was started"), "{page}");
    // A crafted error shows its code only, never the link's own text, on our origin.
    let (status, _, page) = call(
        "GET",
        "/console/callback?error=access_denied&error_description=Call+IT+at+555-0100",
        &[],
    );
    assert_eq!(status, 400);
    assert!(page.contains("(access_denied)"), "{page}");
    assert!(!page.contains("555-0100"), "{page}");
    // The provider's forms are small: a big one is refused before it is kept anywhere.
    let huge = format!("http://127.0.0.1:9/{}", "a".repeat(100_000));
    let (status, location, _) = call(
        "POST",
        "/oidc/authorize",
        &[("client_id", "stint"), ("redirect_uri", &huge)],
    );
    assert_eq!((status, location), (413, None));
}

/// An ID token from `stint serve`'s OIDC provider at `base`, by the code flow with PKCE as a
/// client plays it (for tests that need the issuer's own tokens without a browser).
pub(crate) fn id_token_from(base: &str, email: &str, groups: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let verifier = "a-verifier-of-forty-three-characters-or-more-0123";
    let redirect = "http://127.0.0.1:9/callback";
    let r = agent
        .post(&format!("{base}/oidc/authorize"))
        .send_form([
            ("response_type", "code"),
            ("client_id", "stint"),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("code_challenge", &stint_http::idp::s256(verifier)),
            ("code_challenge_method", "S256"),
            ("email", email),
            ("groups", groups),
        ])
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let raw = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let code = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .unwrap();
    let mut r = agent
        .post(&format!("{base}/oidc/token"))
        .send_form([
            ("grant_type", "authorization_code"),
            ("client_id", "stint"),
            ("code", &code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
        ])
        .unwrap();
    let tokens: Value = r.body_mut().read_json().unwrap();
    tokens["id_token"].as_str().expect("an ID token").to_owned()
}
