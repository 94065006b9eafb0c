//! `stint login` and `stint logout`: OpenID Connect authorization code with PKCE and a loopback
//! redirect (RFC 8252) against the profile's issuer, the tokens cached per profile (0600), and
//! the refresh token used when the ID token has expired.

use crate::config::{write_private, Settings};
use crate::Failure;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A sign-in that is missing, expired beyond refresh, or refused.
pub const SIGN_IN: u8 = 6;

fn sign_in(message: impl Into<String>) -> Failure {
    Failure {
        code: SIGN_IN,
        message: message.into(),
    }
}

/// What the cache keeps for a profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cached {
    pub issuer: String,
    pub client_id: String,
    pub id_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds: when the ID token expires.
    pub expires_at: i64,
    pub user: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .build()
        .into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random() -> Result<String, Failure> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Failure::trouble(format!("no randomness: {e}")))?;
    Ok(b64(&b))
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn discover(issuer: &str) -> Result<Value, Failure> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let mut r = agent()
        .get(&url)
        .call()
        .map_err(|e| Failure::trouble(format!("cannot reach the issuer at {url}: {e}")))?;
    if r.status().as_u16() != 200 {
        return Err(Failure::trouble(format!(
            "{url} answered {}: is {issuer} an OpenID Connect issuer? (stint config set issuer <url>)",
            r.status()
        )));
    }
    let d: Value = r
        .body_mut()
        .read_json()
        .map_err(|e| Failure::trouble(format!("{url}: {e}")))?;
    if d["issuer"].as_str().map(|i| i.trim_end_matches('/')) != Some(issuer) {
        return Err(sign_in(format!(
            "{url} names issuer {} instead of {issuer}",
            d["issuer"]
        )));
    }
    Ok(d)
}

/// The claims of a JWT, unverified: the API verifies it; here it only names the user and the
/// expiry, and says plainly when the token cannot be the one the profile expects.
pub fn claims(token: &str) -> Result<Value, Failure> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| sign_in("the issuer's ID token is not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| sign_in("the issuer's ID token is not a JWT"))?;
    serde_json::from_slice(&bytes).map_err(|_| sign_in("the issuer's ID token is not a JWT"))
}

/// Checks what the issuer gave against the profile, with a message a person can act on.
fn check(s: &Settings, token: &str, now: i64) -> Result<(String, i64), Failure> {
    let c = claims(token)?;
    let iss = c["iss"].as_str().unwrap_or_default().trim_end_matches('/');
    if iss != s.issuer {
        return Err(sign_in(format!(
            "the token is from issuer {iss:?}, not the profile's {:?} (stint config set issuer)",
            s.issuer
        )));
    }
    let aud_ok = match &c["aud"] {
        Value::String(a) => *a == s.client_id,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(&s.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(sign_in(format!(
            "the token is for audience {}, not the profile's client id {:?} (stint config set client_id)",
            c["aud"], s.client_id
        )));
    }
    let exp = c["exp"].as_i64().unwrap_or(0);
    if exp <= now {
        return Err(sign_in(
            "the issuer gave a token that has already expired: check this machine's clock",
        ));
    }
    let user = ["email", "preferred_username", "sub"]
        .iter()
        .find_map(|k| c[*k].as_str())
        .unwrap_or("?")
        .to_owned();
    Ok((user, exp))
}

fn token_request(endpoint: &str, form: &[(&str, &str)]) -> Result<Value, Failure> {
    let mut r = agent()
        .post(endpoint)
        .send_form(form.iter().copied())
        .map_err(|e| Failure::trouble(format!("cannot reach {endpoint}: {e}")))?;
    let status = r.status().as_u16();
    let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
    if status != 200 {
        return Err(sign_in(format!(
            "the issuer refused: {} ({})",
            v["error_description"].as_str().unwrap_or("no description"),
            v["error"].as_str().unwrap_or("error")
        )));
    }
    Ok(v)
}

/// Caches what the issuer gave; an issuer that does not rotate refresh tokens leaves `keep`.
fn save(s: &Settings, tokens: &Value, now: i64, keep: Option<&str>) -> Result<Cached, Failure> {
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| sign_in("the issuer gave no ID token (is the openid scope allowed?)"))?;
    let (user, exp) = check(s, id_token, now)?;
    let cached = Cached {
        issuer: s.issuer.clone(),
        client_id: s.client_id.clone(),
        id_token: id_token.to_owned(),
        refresh_token: tokens["refresh_token"].as_str().or(keep).map(str::to_owned),
        expires_at: exp,
        user,
    };
    let text =
        serde_json::to_string_pretty(&cached).map_err(|e| Failure::trouble(e.to_string()))?;
    write_private(&s.token_path(), &text)?;
    Ok(cached)
}

/// Waits for the browser to come back to the loopback listener; answers it with a short page.
fn await_redirect(listener: &TcpListener, state: &str) -> Result<String, Failure> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .map_err(|e| Failure::trouble(format!("waiting for the browser: {e}")))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        // `GET /callback?code=...&state=... HTTP/1.1`
        let target = line.split_whitespace().nth(1).unwrap_or("");
        let Some(query) = target.strip_prefix("/callback?") else {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        };
        let params: Vec<(String, String)> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                (k.to_owned(), v)
            })
            .collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (ok, body) = match (get("code"), get("state"), get("error")) {
            (_, _, Some(e)) => (
                Err(sign_in(format!(
                    "the issuer said {e}: {}",
                    get("error_description").unwrap_or_default()
                ))),
                "Sign-in failed; see the terminal.",
            ),
            (Some(code), Some(st), None) if st == state => {
                (Ok(code), "Signed in to Stint. You can close this tab.")
            }
            _ => (
                Err(sign_in(
                    "the browser came back without this sign-in's state",
                )),
                "Sign-in failed; see the terminal.",
            ),
        };
        let page = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(page.as_bytes());
        return ok;
    }
}

/// `stint login`: prints (and, on a terminal, opens) the issuer's sign-in page, waits for the
/// browser to come back to a loopback port, exchanges the code and caches the tokens.
pub fn login(s: &Settings, open_browser: bool) -> Result<(), Failure> {
    let d = discover(&s.issuer)?;
    let authorize = d["authorization_endpoint"]
        .as_str()
        .ok_or_else(|| sign_in("the issuer names no authorization_endpoint"))?;
    let token_endpoint = d["token_endpoint"]
        .as_str()
        .ok_or_else(|| sign_in("the issuer names no token_endpoint"))?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
        Failure::trouble(format!(
            "no loopback port for the browser to return to: {e}"
        ))
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::trouble(e.to_string()))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (state, verifier, nonce) = (random()?, random()?, random()?);
    let challenge = stint_http::idp::s256(&verifier);
    let url = format!(
        "{authorize}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={challenge}&code_challenge_method=S256",
        enc(&s.client_id),
        enc(&redirect),
        enc("openid email profile offline_access"),
        enc(&state),
        enc(&nonce),
    );
    eprintln!(
        "Sign in to Stint (profile {}) in your browser:\n\n  {url}\n",
        s.profile
    );
    if open_browser {
        for opener in ["xdg-open", "open"] {
            let started = std::process::Command::new(opener)
                .arg(&url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            if started.is_ok() {
                break;
            }
        }
    }
    let code = await_redirect(&listener, &state)?;
    let tokens = token_request(
        token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("client_id", &s.client_id),
            ("code_verifier", &verifier),
        ],
    )?;
    if let Some(id) = tokens["id_token"].as_str() {
        if claims(id)?["nonce"].as_str() != Some(nonce.as_str()) {
            return Err(sign_in("the ID token's nonce is not this sign-in's"));
        }
    }
    let cached = save(s, &tokens, chrono::Utc::now().timestamp(), None)?;
    let until = chrono::DateTime::from_timestamp(cached.expires_at, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    println!(
        "signed in as {} (profile {}; token until {until}{})",
        cached.user,
        s.profile,
        if cached.refresh_token.is_some() {
            ", refreshed after"
        } else {
            ""
        }
    );
    Ok(())
}

/// `stint login --device`: the device authorization grant (RFC 8628), for a machine whose
/// loopback no browser can reach: a code to enter on any browser, while the CLI polls.
pub fn login_device(s: &Settings) -> Result<(), Failure> {
    let d = discover(&s.issuer)?;
    let endpoint = d["device_authorization_endpoint"].as_str().ok_or_else(|| {
        sign_in(format!(
            "{} does not offer the device flow (no device_authorization_endpoint): use `stint login`",
            s.issuer
        ))
    })?;
    let token_endpoint = d["token_endpoint"]
        .as_str()
        .ok_or_else(|| sign_in("the issuer names no token_endpoint"))?;
    let grant = token_request(
        endpoint,
        &[
            ("client_id", &s.client_id),
            ("scope", "openid email profile offline_access"),
        ],
    )?;
    let (Some(device_code), Some(user_code), Some(uri)) = (
        grant["device_code"].as_str(),
        grant["user_code"].as_str(),
        grant["verification_uri"].as_str(),
    ) else {
        return Err(sign_in(
            "the issuer's device authorization answer is incomplete",
        ));
    };
    eprintln!("On any browser, open\n\n  {uri}\n\nand enter the code  {user_code}\n");
    if let Some(complete) = grant["verification_uri_complete"].as_str() {
        eprintln!("(or open {complete})\n");
    }
    let mut interval = grant["interval"].as_u64().unwrap_or(5).max(1);
    let deadline = std::time::Instant::now()
        + Duration::from_secs(grant["expires_in"].as_u64().unwrap_or(600));
    let tokens = loop {
        // The CLI waits as RFC 8628 asks, between polls, for a person at another browser.
        std::thread::sleep(Duration::from_secs(interval));
        if std::time::Instant::now() > deadline {
            return Err(sign_in(
                "nobody entered the code in time: run `stint login --device` again",
            ));
        }
        let mut r = agent()
            .post(token_endpoint)
            .send_form([
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", s.client_id.as_str()),
            ])
            .map_err(|e| Failure::trouble(format!("cannot reach {token_endpoint}: {e}")))?;
        let status = r.status().as_u16();
        let v: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        match (status, v["error"].as_str()) {
            (200, _) => break v,
            (_, Some("authorization_pending")) => {}
            (_, Some("slow_down")) => interval += 5,
            (_, e) => {
                return Err(sign_in(format!(
                    "the issuer refused: {} ({})",
                    v["error_description"].as_str().unwrap_or("no description"),
                    e.unwrap_or("error")
                )))
            }
        }
    };
    let cached = save(s, &tokens, chrono::Utc::now().timestamp(), None)?;
    println!("signed in as {} (profile {})", cached.user, s.profile);
    Ok(())
}

/// `stint logout`: forgets the profile's tokens.
pub fn logout(s: &Settings) -> Result<(), Failure> {
    match std::fs::remove_file(s.token_path()) {
        Ok(()) => println!("signed out (profile {})", s.profile),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("not signed in (profile {})", s.profile)
        }
        Err(e) => {
            return Err(Failure::trouble(format!(
                "{}: {e}",
                s.token_path().display()
            )))
        }
    }
    Ok(())
}

/// The profile's signed-in token, refreshed first when it has expired (or is about to); None
/// when nobody signed in with this profile.
pub fn cached_token(s: &Settings) -> Result<Option<String>, Failure> {
    let path = s.token_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Failure::trouble(format!("{}: {e}", path.display()))),
    };
    let c: Cached = serde_json::from_str(&text)
        .map_err(|_| sign_in(format!("{} is damaged: run `stint login`", path.display())))?;
    if c.issuer != s.issuer || c.client_id != s.client_id {
        return Err(sign_in(format!(
            "the cached sign-in is for {} (client {}), not this profile's issuer {}: run `stint login`",
            c.issuer, c.client_id, s.issuer
        )));
    }
    let now = chrono::Utc::now().timestamp();
    if c.expires_at - 30 > now {
        return Ok(Some(c.id_token));
    }
    let Some(refresh) = c.refresh_token.as_deref() else {
        return Err(sign_in("your sign-in has expired: run `stint login`"));
    };
    let d = discover(&s.issuer)?;
    let endpoint = d["token_endpoint"]
        .as_str()
        .ok_or_else(|| sign_in("the issuer names no token_endpoint"))?;
    let tokens = token_request(
        endpoint,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &s.client_id),
        ],
    )
    .map_err(|e| {
        sign_in(format!(
            "your sign-in has expired and could not be refreshed ({}): run `stint login`",
            e.message
        ))
    })?;
    Ok(Some(save(s, &tokens, now, Some(refresh))?.id_token))
}
