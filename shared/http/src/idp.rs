//! `stint serve`'s own OpenID Connect provider, for local mode: discovery, the JWKS, an
//! `/oidc/authorize` page where a developer says who they are, and `/oidc/token` (authorization
//! code with PKCE, and refresh). The console and the CLI sign in against it exactly as they do
//! against a company's issuer in AWS. It vouches for whoever is typed in: local mode only.

use crate::jwt::{LocalJwt, AUDIENCE};
use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stint_app::ports::Clock;
use stint_domain::{GroupName, UserId};

/// How long an authorization code may wait to be exchanged, and how long tokens last.
const CODE_TTL: TimeDelta = TimeDelta::seconds(60);
pub const TOKEN_TTL: TimeDelta = TimeDelta::hours(1);
const REFRESH_TTL: TimeDelta = TimeDelta::hours(12);
/// Where the console's callback lives; its full URL is the only non-loopback redirect allowed.
pub const CONSOLE_CALLBACK: &str = "/console/callback";

#[derive(Debug, Clone)]
struct Authorized {
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    user: UserId,
    groups: Vec<GroupName>,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Refresh {
    user: UserId,
    groups: Vec<GroupName>,
    expires: DateTime<Utc>,
}

/// A device authorization (RFC 8628): its user code, and who approved it once someone has.
#[derive(Debug, Clone)]
struct Device {
    user_code: String,
    expires: DateTime<Utc>,
    approved: Option<(UserId, Vec<GroupName>)>,
}

/// How long a device code lasts, and how often its client may poll (seconds).
const DEVICE_TTL: TimeDelta = TimeDelta::minutes(10);
pub const DEVICE_INTERVAL: i64 = 1;
/// At most this many codes of each kind wait at once: the maps are in memory.
const MAX_PENDING: usize = 10_000;

/// The provider: its signing key, its clock, and the codes and refresh tokens it has issued
/// (in memory: a restart signs everyone out, which is fine for local mode).
#[derive(Clone)]
pub struct Provider {
    jwt: Arc<LocalJwt>,
    clock: Arc<dyn Clock>,
    codes: Arc<Mutex<HashMap<String, Authorized>>>,
    refresh: Arc<Mutex<HashMap<String, Refresh>>>,
    devices: Arc<Mutex<HashMap<String, Device>>>,
}

impl Provider {
    pub fn new(jwt: Arc<LocalJwt>, clock: Arc<dyn Clock>) -> Self {
        Provider {
            jwt,
            clock,
            codes: Arc::default(),
            refresh: Arc::default(),
            devices: Arc::default(),
        }
    }

    fn issuer(&self) -> &str {
        self.jwt.issuer()
    }

    /// The redirect URIs a client may name: the console's callback on this issuer, or a
    /// loopback address on any port (RFC 8252 §7.3, for the CLI).
    fn redirect_allowed(&self, uri: &str) -> bool {
        if uri == format!("{}{CONSOLE_CALLBACK}", self.issuer()) {
            return true;
        }
        let Some(rest) = uri.strip_prefix("http://") else {
            return false;
        };
        let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        };
        matches!(host, "127.0.0.1" | "localhost" | "[::1]")
            && port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok())
            && !rest.contains('@')
    }
}

/// 32 random bytes, base64url: codes, tokens, states, nonces and PKCE verifiers.
pub(crate) fn random_b64() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

fn random_token() -> Result<String, OidcError> {
    random_b64().map_err(OidcError::server)
}

/// `BASE64URL(SHA256(verifier))`, the S256 code challenge (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An OAuth error: JSON for the token endpoint, a page for the browser-facing ones.
#[derive(Debug)]
pub struct OidcError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OidcError {
    fn bad(code: &'static str, description: impl Into<String>) -> Self {
        OidcError {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }
    fn server(description: String) -> Self {
        OidcError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description,
        }
    }
}

impl IntoResponse for OidcError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({ "error": self.code, "error_description": self.description })),
        )
            .into_response()
    }
}

async fn discovery(State(p): State<Provider>) -> impl IntoResponse {
    let iss = p.issuer();
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oidc/authorize"),
        "token_endpoint": format!("{iss}/oidc/token"),
        "device_authorization_endpoint": format!("{iss}/oidc/device"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "claims_supported": ["sub", "email", "email_verified", "groups"],
    }))
}

async fn jwks(State(p): State<Provider>) -> impl IntoResponse {
    Json(p.jwt.jwks())
}

/// What a client sends to `/oidc/authorize`, as query (GET) or form (POST, with the user).
#[derive(Debug, Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
    scope: Option<String>,
    // The picker's own fields.
    email: Option<String>,
    groups: Option<String>,
}

/// Checked before anything is shown or redirected: a redirect URI that is not allowed gets a
/// page, never a redirect (an open redirector would hand codes to anyone).
struct Checked {
    redirect_uri: String,
    state: String,
    challenge: String,
    nonce: Option<String>,
}

fn check(p: &Provider, q: &AuthorizeParams) -> Result<Checked, OidcError> {
    if q.client_id.as_deref() != Some(AUDIENCE) {
        return Err(OidcError::bad(
            "unauthorized_client",
            format!("client_id must be {AUDIENCE}"),
        ));
    }
    let redirect_uri = q.redirect_uri.clone().unwrap_or_default();
    if redirect_uri.len() > 2048 || !p.redirect_allowed(&redirect_uri) {
        return Err(OidcError::bad(
            "invalid_request",
            "redirect_uri must be this issuer's console callback or a loopback address",
        ));
    }
    if q.response_type.as_deref() != Some("code") {
        return Err(OidcError::bad(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let challenge = q.code_challenge.clone().unwrap_or_default();
    if q.code_challenge_method.as_deref() != Some("S256")
        || !(43..=128).contains(&challenge.len())
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(OidcError::bad(
            "invalid_request",
            "PKCE is required: code_challenge (43 to 128 characters) with code_challenge_method S256",
        ));
    }
    let state = q.state.clone().unwrap_or_default();
    if state.is_empty() || state.len() > 512 {
        return Err(OidcError::bad(
            "invalid_request",
            "state is required (at most 512 characters)",
        ));
    }
    let nonce = q.nonce.clone().filter(|n| !n.is_empty());
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(OidcError::bad("invalid_request", "nonce is too long"));
    }
    Ok(Checked {
        redirect_uri,
        state,
        challenge,
        nonce,
    })
}

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (crate::console::head(title)) }
            body { main { (body) } }
        }
    }
}

const CSP: &str = "default-src 'self'; frame-ancestors 'none'; form-action 'self' http://127.0.0.1:* http://localhost:*";

fn html_response(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(m.into_string()),
    )
        .into_response()
}

fn error_page(e: OidcError) -> Response {
    html_response(
        e.status,
        page(
            "Cannot sign in",
            html! {
                h1 { "Cannot sign in" }
                p { (e.description) }
                p { "(" (e.code) ")" }
            },
        ),
    )
}

/// The dev user picker: who you are and your groups, as the company's issuer would say.
async fn authorize_page(State(p): State<Provider>, Query(q): Query<AuthorizeParams>) -> Response {
    let c = match check(&p, &q) {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let hidden = [
        ("response_type", "code".to_owned()),
        ("client_id", AUDIENCE.to_owned()),
        ("redirect_uri", c.redirect_uri),
        ("state", c.state),
        ("code_challenge", c.challenge),
        ("code_challenge_method", "S256".to_owned()),
        ("nonce", c.nonce.unwrap_or_default()),
        ("scope", q.scope.unwrap_or_default()),
    ];
    html_response(
        StatusCode::OK,
        page(
            "Sign in",
            html! {
                h1 { "Sign in to Stint (local)" }
                p { "This is the local identity provider of " code { "stint serve" }
                    ". It signs in whoever you name here; in AWS your company's identity provider does this." }
                form method="post" action="/oidc/authorize" {
                    @for (k, v) in &hidden {
                        input type="hidden" name=(k) value=(v);
                    }
                    p {
                        label for="email" { "Email" }
                        input id="email" name="email" type="email" required autocomplete="username"
                            autofocus placeholder="alice@example.com";
                    }
                    p {
                        label for="groups" { "Groups (comma-separated)" }
                        input id="groups" name="groups" type="text" placeholder="sre, db-owners";
                    }
                    button type="submit" id="sign-in" { "Sign in" }
                }
            },
        ),
    )
}

/// The picker's answer: a one-time code, sent back to the client's redirect URI.
async fn authorize(State(p): State<Provider>, Form(q): Form<AuthorizeParams>) -> Response {
    let c = match check(&p, &q) {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let (user, groups) = match who(q.email.as_deref(), q.groups.as_deref()) {
        Ok(w) => w,
        Err(e) => return error_page(e),
    };
    let code = match random_token() {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let now = p.clock.now();
    if let Ok(mut codes) = p.codes.lock() {
        codes.retain(|_, a| a.expires > now);
        if codes.len() >= MAX_PENDING {
            return error_page(OidcError::bad(
                "temporarily_unavailable",
                "too many sign-ins are waiting",
            ));
        }
        codes.insert(
            code.clone(),
            Authorized {
                redirect_uri: c.redirect_uri.clone(),
                challenge: c.challenge,
                nonce: c.nonce,
                user,
                groups,
                expires: now + CODE_TTL,
            },
        );
    }
    let sep = if c.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let target = format!(
        "{}{sep}code={}&state={}",
        c.redirect_uri,
        enc(&code),
        enc(&c.state)
    );
    Redirect::to(&target).into_response()
}

/// A query parameter's value, percent-encoded.
pub(crate) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Debug, Deserialize)]
pub struct DeviceParams {
    client_id: Option<String>,
}

/// Eight letters from an alphabet without look-alikes, shown as `ABCD-EFGH` (RFC 8628 §6.1).
fn user_code() -> Result<String, OidcError> {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| OidcError::server(format!("no randomness: {e}")))?;
    let letters: String = b
        .iter()
        .map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("{}-{}", &letters[..4], &letters[4..]))
}

/// `POST /oidc/device`: a device code for the CLI to poll with, and a user code for a person
/// to enter at the verification page, on any browser.
async fn device(
    State(p): State<Provider>,
    Form(d): Form<DeviceParams>,
) -> Result<Response, OidcError> {
    if d.client_id.as_deref() != Some(AUDIENCE) {
        return Err(OidcError::bad(
            "invalid_client",
            format!("client_id must be {AUDIENCE}"),
        ));
    }
    let (device_code, user_code) = (random_token()?, user_code()?);
    let now = p.clock.now();
    let mut devices = p
        .devices
        .lock()
        .map_err(|_| OidcError::server("device codes unavailable".into()))?;
    devices.retain(|_, d| d.expires > now);
    if devices.len() >= MAX_PENDING {
        return Err(OidcError::bad("slow_down", "too many sign-ins are waiting"));
    }
    devices.insert(
        device_code.clone(),
        Device {
            user_code: user_code.clone(),
            expires: now + DEVICE_TTL,
            approved: None,
        },
    );
    let verify = format!("{}/oidc/device/verify", p.issuer());
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verify,
            "verification_uri_complete": format!("{verify}?user_code={}", enc(&user_code)),
            "expires_in": DEVICE_TTL.num_seconds(),
            "interval": DEVICE_INTERVAL,
        })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct VerifyParams {
    user_code: Option<String>,
    email: Option<String>,
    groups: Option<String>,
}

/// The verification page: the user code (filled in from the link), and the dev user picker.
async fn device_page(Query(q): Query<VerifyParams>) -> Response {
    html_response(
        StatusCode::OK,
        page(
            "Sign in a device",
            html! {
                h1 { "Sign in the Stint CLI (local)" }
                p { "Check that the code matches the one your terminal shows." }
                form method="post" action="/oidc/device/verify" {
                    p {
                        label for="user_code" { "Code" }
                        input id="user_code" name="user_code" type="text" required
                            value=(q.user_code.unwrap_or_default()) autocomplete="off";
                    }
                    p {
                        label for="email" { "Email" }
                        input id="email" name="email" type="email" required autocomplete="username";
                    }
                    p {
                        label for="groups" { "Groups (comma-separated)" }
                        input id="groups" name="groups" type="text";
                    }
                    button type="submit" id="approve-device" { "Sign in" }
                }
            },
        ),
    )
}

/// The person's answer: the device code whose user code they entered is approved for them.
async fn device_verify(State(p): State<Provider>, Form(q): Form<VerifyParams>) -> Response {
    let entered: String = q
        .user_code
        .unwrap_or_default()
        .to_uppercase()
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect();
    let (user, groups) = match who(q.email.as_deref(), q.groups.as_deref()) {
        Ok(w) => w,
        Err(e) => return error_page(e),
    };
    let now = p.clock.now();
    let approved = p.devices.lock().ok().and_then(|mut devices| {
        devices
            .values_mut()
            .find(|d| {
                d.expires > now && d.approved.is_none() && d.user_code.replace('-', "") == entered
            })
            .map(|d| d.approved = Some((user, groups)))
    });
    match approved {
        Some(()) => html_response(
            StatusCode::OK,
            page(
                "Signed in",
                html! { h1 { "Done" } p { "You may return to your terminal." } },
            ),
        ),
        None => error_page(OidcError::bad(
            "invalid_request",
            "no sign-in waits for that code (it may have expired): start again with stint login --device",
        )),
    }
}

/// Who the picker names: a user and their groups.
fn who(email: Option<&str>, groups: Option<&str>) -> Result<(UserId, Vec<GroupName>), OidcError> {
    if groups.is_some_and(|g| g.len() > 4096 || g.matches(',').count() >= 64) {
        return Err(OidcError::bad(
            "invalid_request",
            "at most 64 groups, 4 KB in all",
        ));
    }
    let user = match email.map(UserId::parse) {
        Some(Ok(u)) => u,
        Some(Err(e)) => return Err(OidcError::bad("invalid_request", e.to_string())),
        None => return Err(OidcError::bad("invalid_request", "email is required")),
    };
    let groups = groups
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(GroupName::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OidcError::bad("invalid_request", e.to_string()))?;
    Ok((user, groups))
}

#[derive(Debug, Deserialize)]
pub struct TokenParams {
    grant_type: Option<String>,
    device_code: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

/// `POST /oidc/token`: a code and its PKCE verifier (or a refresh token) for tokens.
async fn token(
    State(p): State<Provider>,
    Form(t): Form<TokenParams>,
) -> Result<Response, OidcError> {
    if t.client_id.as_deref() != Some(AUDIENCE) {
        return Err(OidcError::bad(
            "invalid_client",
            format!("client_id must be {AUDIENCE}"),
        ));
    }
    let now = p.clock.now();
    let (user, groups, nonce) = match t.grant_type.as_deref() {
        Some("authorization_code") => {
            // One use only: taken out of the map whether or not the rest checks out.
            let a = t
                .code
                .as_deref()
                .and_then(|c| p.codes.lock().ok().and_then(|mut m| m.remove(c)))
                .ok_or_else(|| OidcError::bad("invalid_grant", "unknown or used code"))?;
            if a.expires <= now {
                return Err(OidcError::bad("invalid_grant", "the code has expired"));
            }
            if t.redirect_uri.as_deref() != Some(a.redirect_uri.as_str()) {
                return Err(OidcError::bad(
                    "invalid_grant",
                    "redirect_uri differs from the authorization request's",
                ));
            }
            let verifier = t.code_verifier.unwrap_or_default();
            if !(43..=128).contains(&verifier.len()) || s256(&verifier) != a.challenge {
                return Err(OidcError::bad(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
            (a.user, a.groups, a.nonce)
        }
        Some(DEVICE_GRANT) => {
            let code = t.device_code.unwrap_or_default();
            let mut devices = p
                .devices
                .lock()
                .map_err(|_| OidcError::server("device codes unavailable".into()))?;
            let d = devices
                .get(&code)
                .ok_or_else(|| OidcError::bad("invalid_grant", "unknown device code"))?;
            if d.expires <= now {
                devices.remove(&code);
                return Err(OidcError::bad(
                    "expired_token",
                    "the device code has expired",
                ));
            }
            let Some((user, groups)) = d.approved.clone() else {
                return Err(OidcError::bad(
                    "authorization_pending",
                    "nobody has entered the user code yet",
                ));
            };
            // One use, like an authorization code.
            devices.remove(&code);
            (user, groups, None)
        }
        Some("refresh_token") => {
            let r = t
                .refresh_token
                .as_deref()
                .and_then(|c| p.refresh.lock().ok().and_then(|mut m| m.remove(c)))
                .filter(|r| r.expires > now)
                .ok_or_else(|| {
                    OidcError::bad("invalid_grant", "unknown or expired refresh token")
                })?;
            (r.user, r.groups, None)
        }
        _ => {
            return Err(OidcError::bad(
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or the device code grant",
            ))
        }
    };
    let id_token = p
        .jwt
        .issue_with(&user, &groups, TOKEN_TTL, now, nonce.as_deref())
        .map_err(|e| OidcError::server(e.0))?;
    // Refresh tokens rotate: each use gives a new one and ends the old.
    let refresh = random_token()?;
    if let Ok(mut m) = p.refresh.lock() {
        m.retain(|_, r| r.expires > now);
        // Bounded: the oldest sessions go first when it is full.
        if m.len() >= 10 * MAX_PENDING {
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, r)| r.expires)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(
            refresh.clone(),
            Refresh {
                user,
                groups,
                expires: now + REFRESH_TTL,
            },
        );
    }
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": id_token,
            "id_token": id_token,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL.num_seconds(),
        })),
    )
        .into_response())
}

/// The provider's routes, merged into `stint serve`'s router.
pub fn router(p: Provider) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/oidc/authorize", get(authorize_page).post(authorize))
        .route("/oidc/token", axum::routing::post(token))
        .route("/oidc/device", axum::routing::post(device))
        .route("/oidc/device/verify", get(device_page).post(device_verify))
        // Every form here is small; a big one is only a way to fill memory.
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .with_state(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_domain::checkpoint::PrivateKey;

    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp(1_800_000_000, 0).unwrap()
        }
    }

    fn provider() -> Provider {
        let key = PrivateKey::from_random([3; 32]).unwrap();
        let jwt = LocalJwt::from_key(&key)
            .unwrap()
            .with_issuer("http://127.0.0.1:8787");
        Provider::new(Arc::new(jwt), Arc::new(Fixed))
    }

    #[test]
    fn only_the_console_callback_and_loopback_addresses_may_receive_codes() {
        let p = provider();
        for ok in [
            "http://127.0.0.1:8787/console/callback",
            "http://127.0.0.1:53124/callback",
            "http://localhost:9/",
            "http://[::1]:4000/cb",
            "http://127.0.0.1/cb",
        ] {
            assert!(p.redirect_allowed(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/console/callback",
            "http://127.0.0.1.evil.example/cb",
            "http://evil.example@127.0.0.1:1/",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:/",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!p.redirect_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn the_s256_challenge_is_rfc_7636s() {
        // RFC 7636, Appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
