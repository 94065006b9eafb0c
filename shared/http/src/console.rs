//! The web console: server-rendered pages (maud escapes by default) over the same services as
//! the JSON API, signed in with OIDC authorization code and PKCE, the session a signed ID token
//! in an HttpOnly cookie, every form carrying a CSRF token bound to that session.

use crate::error::ApiError;
use crate::jwt::LocalJwt;
use crate::{Api, AuthError};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{KeyInit, Mac};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use stint_app::requests::{ListFilter, NewRequest};
use stint_app::view::RequestView;
use stint_app::Loaded;
use stint_domain::{
    AccessDuration, Identity, Justification, PrincipalArn, RequestId, RoleName, Scope, Source,
    Status, TicketRef,
};

type HmacSha256 = hmac::Hmac<Sha256>;

const SESSION_COOKIE: &str = "stint_session";
const LOGIN_COOKIE: &str = "stint_login";
/// How long a started sign-in may take before its cookie is refused.
const LOGIN_MAX_AGE: i64 = 600;
/// Every console page: nothing from anywhere but this origin, never framed.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
const CSS: &str = include_str!("console/console.css");
const JS: &str = include_str!("console/console.js");

/// Verifies the ID token a session cookie holds: the local provider's key locally, the
/// issuer's JWKS in AWS. The same claim rules as the API apply.
#[async_trait::async_trait]
pub trait TokenVerifier: Send + Sync {
    async fn verify(&self, token: &str) -> Result<(Identity, Map<String, Value>), AuthError>;
}

#[async_trait::async_trait]
impl TokenVerifier for LocalJwt {
    async fn verify(&self, token: &str) -> Result<(Identity, Map<String, Value>), AuthError> {
        self.identify_token(token)
    }
}

/// Where the console signs people in.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub authorize_endpoint: String,
    pub token_endpoint: String,
    pub client_id: String,
    /// This console's `/console/callback`, as the browser reaches it.
    pub redirect_uri: String,
    /// `Secure` cookies: on whenever the console is served over HTTPS.
    pub secure_cookies: bool,
}

pub struct Console {
    cfg: ConsoleConfig,
    verifier: Arc<dyn TokenVerifier>,
    /// Keys the CSRF tokens and the sign-in cookie. Every instance must share it.
    secret: Vec<u8>,
    agent: ureq::Agent,
}

impl Console {
    pub fn new(cfg: ConsoleConfig, verifier: Arc<dyn TokenVerifier>, secret: Vec<u8>) -> Self {
        let agent = crate::outbound::agent(Duration::from_secs(10));
        Console {
            cfg,
            verifier,
            secret,
            agent,
        }
    }

    fn mac(&self, label: &[u8], data: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        m.update(label);
        m.update(&[0]);
        m.update(data);
        m
    }

    /// The CSRF token of a session: an HMAC of its cookie, so it cannot be guessed or reused
    /// with another session.
    fn csrf(&self, session: &str) -> String {
        hex::encode(
            self.mac(b"csrf", session.as_bytes())
                .finalize()
                .into_bytes(),
        )
    }

    fn csrf_ok(&self, session: &str, given: Option<&str>) -> bool {
        let Some(given) = given.and_then(|g| hex::decode(g).ok()) else {
            return false;
        };
        self.mac(b"csrf", session.as_bytes())
            .verify_slice(&given)
            .is_ok()
    }

    /// A cookie's name: over HTTPS with the `__Host-` prefix, which the browser accepts only
    /// from this host, for path `/`, secure; so a sibling subdomain cannot plant one.
    fn name(&self, base: &str) -> String {
        if self.cfg.secure_cookies {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    fn cookie(&self, base: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.cfg.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        let c = format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.name(base)
        );
        HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn read<'a>(&self, headers: &'a HeaderMap, base: &str) -> Option<&'a str> {
        cookie(headers, &self.name(base))
    }
}

/// The one cookie named `name`; none when there is none or more than one (a planted cookie
/// beside ours must not decide who is signed in).
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random() -> Result<String, Page> {
    crate::idp::random_b64().map_err(Page::trouble)
}

/// A page to answer with: HTML with the console's headers, or a redirect.
pub enum Page {
    Html(StatusCode, Markup, Vec<(header::HeaderName, HeaderValue)>),
    Redirect(String, Vec<(header::HeaderName, HeaderValue)>),
}

impl Page {
    fn ok(m: Markup) -> Page {
        Page::Html(StatusCode::OK, m, vec![])
    }
    fn trouble(message: String) -> Page {
        tracing::error!(%message, "console");
        error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut r = match self {
            Page::Html(status, m, extra) => {
                let mut r = (status, Html(m.into_string())).into_response();
                for (k, v) in extra {
                    r.headers_mut().append(k, v);
                }
                r
            }
            Page::Redirect(to, extra) => {
                let mut r = Redirect::to(&to).into_response();
                for (k, v) in extra {
                    r.headers_mut().append(k, v);
                }
                r
            }
        };
        let h = r.headers_mut();
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        r
    }
}

impl From<ApiError> for Page {
    fn from(e: ApiError) -> Page {
        let (status, code, field, message) = e.describe();
        let message = match field {
            Some(f) => format!("{message} (field: {f})"),
            None => message,
        };
        error_page(status, code, &message)
    }
}

fn error_page(status: StatusCode, code: &str, message: &str) -> Page {
    Page::Html(
        status,
        layout(
            None,
            "Refused",
            html! {
                h1 { "That did not happen" }
                p role="alert" class="error" { (message) }
                p { "Reason code: " code { (code) } }
                p { a href="/console" { "Back to the inbox" } }
            },
        ),
        vec![],
    )
}

/// The person looking at a page: their identity, their session token and its CSRF token.
struct Viewer {
    who: Identity,
    csrf: String,
}

fn console(api: &Api) -> Result<&Console, Page> {
    api.console.as_deref().ok_or_else(|| {
        error_page(
            StatusCode::NOT_FOUND,
            "no_console",
            "the console is not set up here",
        )
    })
}

/// The signed-in viewer, or a redirect to sign in (and back to `here` after).
async fn viewer(api: &Api, headers: &HeaderMap, here: &str) -> Result<Viewer, Page> {
    let c = console(api)?;
    let login = || Page::Redirect(format!("/console/login?next={}", enc(here)), vec![]);
    let session = c.read(headers, SESSION_COOKIE).ok_or_else(login)?;
    let (who, _) = c.verifier.verify(session).await.map_err(|_| login())?;
    Ok(Viewer {
        who,
        csrf: c.csrf(session),
    })
}

use crate::idp::enc;

/// Only a console path may be a place to return to after sign-in: no open redirect.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console")
                && !n.contains("//")
                && !n.contains("/.")
                && !n.contains('\\')
                && n.chars().all(|c| !c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

fn at(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The head every page of ours shares (the console's and the local provider's).
pub(crate) fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · Stint" }
        link rel="stylesheet" href="/console/static/console.css";
    }
}

fn layout(v: Option<&Viewer>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (head(title))
                script src="/console/static/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a href="/console" class="brand" { "Stint" }
                        a href="/console" { "Inbox" }
                        a href="/console/mine" { "My requests" }
                        a href="/console/new" { "New request" }
                        a href="/console/reports" { "Reports" }
                    }
                    @if let Some(v) = v {
                        form method="post" action="/console/logout" class="who" {
                            span { "Signed in as " strong { (v.who.user) } }
                            input type="hidden" name="_csrf" value=(v.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

fn status_badge(s: Status) -> Markup {
    // The word is always there: colour only repeats it.
    html! { span class={ "status status-" (s.as_str()) } { (s.as_str()) } }
}

fn request_table(caption: &str, rows: &[RequestView], empty: &str) -> Markup {
    html! {
        @if rows.is_empty() {
            p class="empty" { (empty) }
        } @else {
            table {
                caption { (caption) }
                thead { tr { th scope="col" { "Request" } th scope="col" { "Requester" } th scope="col" { "Role" }
                    th scope="col" { "Scope" } th scope="col" { "Duration" } th scope="col" { "Status" } th scope="col" { "Asked" } } }
                tbody {
                    @for r in rows {
                        @if let Some(req) = &r.state.request {
                            tr {
                                td { a href={ "/console/requests/" (r.id) } { (r.id) } }
                                td { (req.requester) }
                                td { (req.role) @if req.break_glass { " " span class="tag" { "break-glass" } } }
                                td { @if let Some(s) = &req.scope { (s) } @else { "—" } }
                                td { (req.duration) }
                                td { (status_badge(r.state.status)) }
                                td { @if let Some(t) = r.state.requested_at { time datetime=(at(&t)) { (at(&t)) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn listing(
    api: &Api,
    v: &Viewer,
    mine: bool,
    awaiting: bool,
) -> Result<Vec<RequestView>, Page> {
    let filter = ListFilter {
        status: None,
        role: None,
        mine,
        awaiting_me: awaiting,
        days: 30,
        limit: 100,
        cursor: None,
    };
    Ok(api
        .stint
        .list(&v.who, &filter)
        .await
        .map_err(ApiError::from)?
        .requests)
}

async fn root() -> Redirect {
    Redirect::to("/console")
}

async fn inbox(State(api): State<Api>, headers: HeaderMap) -> Result<Page, Page> {
    let v = viewer(&api, &headers, "/console").await?;
    let awaiting = listing(&api, &v, false, true).await?;
    let mine = listing(&api, &v, true, false).await?;
    let active: Vec<RequestView> = mine
        .into_iter()
        .filter(|r| {
            matches!(
                r.state.status,
                Status::Active | Status::Pending | Status::Approved
            )
        })
        .collect();
    Ok(Page::ok(layout(
        Some(&v),
        "Inbox",
        html! {
            h1 { "Inbox" }
            section aria-labelledby="awaiting" {
                h2 id="awaiting" { "Awaiting your decision" }
                (request_table("Requests you may approve or deny", &awaiting, "Nothing awaits your decision."))
            }
            section aria-labelledby="open" {
                h2 id="open" { "Your open requests" }
                (request_table("Your pending and active requests", &active, "You have no open requests."))
            }
        },
    )))
}

async fn mine(State(api): State<Api>, headers: HeaderMap) -> Result<Page, Page> {
    let v = viewer(&api, &headers, "/console/mine").await?;
    let rows = listing(&api, &v, true, false).await?;
    Ok(Page::ok(layout(
        Some(&v),
        "My requests",
        html! {
            h1 { "My requests" }
            p { "The last 30 days." }
            (request_table("Your requests", &rows, "You have made no requests in the last 30 days."))
        },
    )))
}

/// What the viewer may do to a request, by the same rules the services enforce (they check
/// again: a button shown here is a convenience, not a permission).
#[derive(Debug, Default, PartialEq, Eq)]
struct Actions {
    approve: bool,
    cancel: bool,
    revoke: bool,
    extend: bool,
    review: bool,
}

fn actions(api: &Api, who: &Identity, l: &Loaded) -> Actions {
    let Some(req) = &l.state.request else {
        return Actions::default();
    };
    let st = &l.state;
    let role = api.stint.catalog.role(&req.role);
    let mine = req.requester == who.user;
    let approver = role.is_some_and(|r| r.is_approver(who));
    let admin = api.stint.catalog.is_admin(who);
    Actions {
        approve: st.status == Status::Pending
            && !mine
            && approver
            && !st.approvals.contains(&who.user),
        cancel: mine && matches!(st.status, Status::Pending | Status::Approved),
        revoke: st.status == Status::Active && (mine || approver || admin),
        extend: st.status == Status::Active
            && ((mine && role.is_some_and(|r| r.self_extend)) || approver),
        review: req.break_glass
            && !mine
            && approver
            && st.break_glass_reviewed_by.is_none()
            && st.grant.is_some(),
    }
}

/// The policy in IAM (the last one recorded), or the one a pending request would get.
fn policy_of(api: &Api, l: &Loaded) -> Option<(bool, Value)> {
    let recorded = l.events.iter().rev().find_map(|e| {
        matches!(
            e.record.event_type.as_str(),
            "AccessGranted" | "AccessExtended"
        )
        .then(|| e.record.payload.get("policy").cloned())
        .flatten()
    });
    if let Some(p) = recorded {
        return Some((true, p));
    }
    let req = l.state.request.as_ref()?;
    if !matches!(l.state.status, Status::Pending | Status::Approved) {
        return None;
    }
    let role = api.stint.catalog.role(&req.role)?;
    if let Some(ps) = role.identity_center() {
        // No policy: what will be assigned, and where.
        let what = serde_json::json!({ stint_domain::identity_center::KEY: {
            "permission_set": ps, "account": req.principal.account() } });
        return Some((false, what));
    }
    let now = api.stint.clock.now();
    let starts = req.starts_at.map_or(now, |s| s.max(now));
    stint_domain::policy::grant_document(
        role,
        req.scope.as_ref(),
        &req.requester,
        api.stint.catalog.protected(),
        starts,
        starts + req.duration.to_chrono(),
    )
    .ok()
    .map(|p| (false, p))
}

fn left(secs: i64) -> String {
    if secs <= 0 {
        return "expired".into();
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m left")
    } else if m > 0 {
        format!("{m}m {s}s left")
    } else {
        format!("{s}s left")
    }
}

async fn request_page(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Page, Page> {
    let here = format!(
        "/console/requests/{}",
        id.chars().take(40).collect::<String>()
    );
    let v = viewer(&api, &headers, &here).await?;
    let id = RequestId::parse(&id).map_err(|e| ApiError::bad("id", e.to_string()))?;
    let l = api.stint.show(&v.who, id).await.map_err(ApiError::from)?;
    let Some(req) = l.state.request.clone() else {
        return Err(ApiError::App(stint_domain::Rejection::UnknownRequest.into()).into());
    };
    let now = api.stint.clock.now();
    let a = actions(&api, &v.who, &l);
    let policy = policy_of(&api, &l);
    let mine = req.requester == v.who.user;
    let role = api.stint.catalog.role(&req.role);
    let csrf = html! { input type="hidden" name="_csrf" value=(v.csrf); };
    let act = |name: &str| format!("/console/requests/{id}/{name}");
    Ok(Page::ok(layout(
        Some(&v),
        &format!("Request {id}"),
        html! {
            h1 { "Request " code { (id) } }
            p class="state" { "Status: " (status_badge(l.state.status)) }
            @if let Some(g) = &l.state.grant {
                @if l.state.status == Status::Active {
                    p class="expiry" {
                        "Time left: "
                        strong id="time-left" data-expires=(at(&g.expires_at)) data-now=(at(&now)) {
                            (left((g.expires_at - now).num_seconds()))
                        }
                        " (expires " time datetime=(at(&g.expires_at)) { (at(&g.expires_at)) } ")"
                    }
                }
            }
            dl class="facts" {
                dt { "Requester" } dd { (req.requester) }
                dt { "Role" } dd { (req.role) @if let Some(r) = role { " — " (r.description) } }
                dt { "Scope" } dd { @if let Some(s) = &req.scope { (s) } @else { "none" } }
                dt { "Principal" } dd { code { (req.principal) } }
                dt { "Duration" } dd { (req.duration) }
                dt { "Justification" } dd class="justification" { (req.justification.as_str()) }
                @if let Some(t) = &req.ticket { dt { "Ticket" } dd { (t.as_str()) } }
                @if req.break_glass { dt { "Break-glass" } dd { "yes: approved on request, reviewed after" } }
                @if !l.state.approvals.is_empty() {
                    dt { "Approved by" } dd { @for (i, u) in l.state.approvals.iter().enumerate() { @if i > 0 { ", " } (u) } }
                }
                @if let Some(d) = &l.state.decided_by { dt { "Decided by" } dd { (d) } }
            }
            @if a != Actions::default() {
                section aria-labelledby="actions" class="actions" {
                    h2 id="actions" { "Actions" }
                    @if a.approve {
                        form method="post" action=(act("approve")) {
                            (csrf)
                            label for="approve-comment" { "Comment (optional)" }
                            input id="approve-comment" name="comment" type="text" maxlength="1000";
                            button type="submit" id="approve" class="primary" { "Approve" }
                        }
                        form method="post" action=(act("deny")) {
                            (csrf)
                            label for="deny-reason" { "Reason for denying" }
                            input id="deny-reason" name="reason" type="text" maxlength="1000" required;
                            button type="submit" id="deny" class="danger" { "Deny" }
                        }
                    }
                    @if a.cancel {
                        form method="post" action=(act("cancel")) {
                            (csrf)
                            button type="submit" id="cancel" { "Cancel request" }
                        }
                    }
                    @if a.revoke {
                        form method="post" action=(act("revoke")) {
                            (csrf)
                            button type="submit" id="revoke" class="danger" {
                                @if mine { "I'm done" } @else { "Revoke now" }
                            }
                        }
                    }
                    @if a.extend {
                        form method="post" action=(act("extend")) {
                            (csrf)
                            label for="extend-by" { "Extend by (e.g. 30m, 1h)" }
                            input id="extend-by" name="duration" type="text" required pattern="[0-9]+[smhd]([0-9]+[smhd])*";
                            button type="submit" id="extend" { "Extend" }
                        }
                    }
                    @if a.review {
                        form method="post" action=(act("review")) {
                            (csrf)
                            label for="review-note" { "Review note" }
                            input id="review-note" name="note" type="text" maxlength="1000";
                            button type="submit" id="review" { "Mark break-glass reviewed" }
                        }
                    }
                }
            }
            @if let Some((applied, doc)) = &policy {
                section aria-labelledby="policy" {
                    h2 id="policy" { @if *applied { "Policy attached" } @else { "Policy it would attach" } }
                    pre class="policy" tabindex="0" { (serde_json::to_string_pretty(doc).unwrap_or_default()) }
                }
            }
            section aria-labelledby="timeline" {
                h2 id="timeline" { "Timeline" }
                table {
                    caption { "Every event recorded for this request, oldest first" }
                    thead { tr { th scope="col" { "#" } th scope="col" { "Event" } th scope="col" { "When" } th scope="col" { "By" } th scope="col" { "Details" } } }
                    tbody {
                        @for e in &l.events {
                            tr {
                                td { (e.version) }
                                td { (e.record.event_type) }
                                td { time datetime=(at(&e.record.occurred_at)) { (at(&e.record.occurred_at)) } }
                                td { (e.record.actor) }
                                td { details { summary { "payload" } pre { (serde_json::to_string_pretty(&e.record.payload).unwrap_or_default()) } } }
                            }
                        }
                    }
                }
            }
        },
    )))
}

/// What the console's forms send; `_csrf` on every one.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    _csrf: Option<String>,
    comment: Option<String>,
    reason: Option<String>,
    note: Option<String>,
    duration: Option<String>,
}

fn form<T: Default>(f: Result<Form<T>, FormRejection>) -> Result<T, Page> {
    f.map(|Form(t)| t)
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, "invalid_input", &e.body_text()))
}

/// A signed-in viewer whose form carries their session's CSRF token; 403 otherwise.
async fn poster(api: &Api, headers: &HeaderMap, csrf: Option<&str>) -> Result<Viewer, Page> {
    let c = console(api)?;
    let forbidden = |m: &str| error_page(StatusCode::FORBIDDEN, "forbidden", m);
    let session = c
        .read(headers, SESSION_COOKIE)
        .ok_or_else(|| forbidden("not signed in: sign in and try again"))?;
    if !c.csrf_ok(session, csrf) {
        return Err(forbidden(
            "the form's CSRF token is missing or not this session's: reload the page and try again",
        ));
    }
    let (who, _) = c
        .verifier
        .verify(session)
        .await
        .map_err(|_| forbidden("the session has ended: sign in again"))?;
    Ok(Viewer {
        who,
        csrf: c.csrf(session),
    })
}

fn text(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v.filter(|t| !t.trim().is_empty()) {
        None => Ok(None),
        Some(t) => Justification::parse(&t)
            .map(|j| Some(j.as_str().to_owned()))
            .map_err(|e| ApiError::bad(field, e.to_string().replace("justification", field))),
    }
}

async fn act(
    api: Api,
    headers: HeaderMap,
    id: String,
    action: &str,
    f: Result<Form<ActionForm>, FormRejection>,
) -> Result<Page, Page> {
    let f = form(f)?;
    let v = poster(&api, &headers, f._csrf.as_deref()).await?;
    let id = RequestId::parse(&id).map_err(|e| ApiError::bad("id", e.to_string()))?;
    let s = &api.stint;
    let done = match action {
        "approve" => s.approve(id, &v.who, text("comment", f.comment)?).await,
        "deny" => s.deny(id, &v.who, text("reason", f.reason)?).await,
        "cancel" => s.cancel(id, &v.who).await,
        "revoke" => s.revoke_by(id, &v.who).await,
        "review" => {
            s.review_break_glass(id, &v.who, text("note", f.note)?)
                .await
        }
        _ => {
            let by = AccessDuration::parse(f.duration.as_deref().unwrap_or(""))
                .map_err(|e| ApiError::bad("duration", e.to_string()))?;
            s.extend(id, &v.who, by).await
        }
    };
    done.map_err(ApiError::from)?;
    Ok(Page::Redirect(format!("/console/requests/{id}"), vec![]))
}

/// One handler per action, so that each is routed to the function whose rights it needs.
macro_rules! action {
    ($name:ident, $action:literal) => {
        async fn $name(
            State(api): State<Api>,
            headers: HeaderMap,
            Path(id): Path<String>,
            f: Result<Form<ActionForm>, FormRejection>,
        ) -> Result<Page, Page> {
            act(api, headers, id, $action, f).await
        }
    };
}
action!(approve, "approve");
action!(deny, "deny");
action!(cancel, "cancel");
action!(revoke, "revoke");
action!(review, "review");
action!(extend, "extend");

async fn new_form(State(api): State<Api>, headers: HeaderMap) -> Result<Page, Page> {
    let v = viewer(&api, &headers, "/console/new").await?;
    let roles: Vec<(&RoleName, &stint_domain::catalog::Role)> = api
        .stint
        .catalog
        .roles
        .iter()
        .filter(|(_, r)| r.may_request(&v.who))
        .collect();
    let literal = |p: &str| !p.contains('*') && !p.contains('?') && !p.contains('{');
    Ok(Page::ok(layout(
        Some(&v),
        "New request",
        html! {
            h1 { "Ask for access" }
            @if roles.is_empty() {
                p class="empty" { "The catalog lets you request no role." }
            } @else {
                table {
                    caption { "The roles you may request, and their bounds" }
                    thead { tr { th scope="col" { "Role" } th scope="col" { "What it gives" } th scope="col" { "Default" }
                        th scope="col" { "Longest" } th scope="col" { "Scopes" } th scope="col" { "Principals" } } }
                    tbody {
                        @for (name, r) in &roles {
                            tr {
                                th scope="row" { (name) }
                                td { (r.description) }
                                td { (r.default_duration) }
                                td { (r.max_duration) }
                                td { @if r.scopes.is_empty() { "none" } @else { @for (i, s) in r.scopes.iter().enumerate() { @if i > 0 { ", " } code { (s.as_str()) } } } }
                                td { @for (i, p) in r.principals.iter().enumerate() { @if i > 0 { ", " } code { (p.as_str()) } } }
                            }
                        }
                    }
                }
                form method="post" action="/console/new" class="new" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    p {
                        label for="role" { "Role" }
                        select id="role" name="role" required {
                            @for (name, r) in &roles {
                                option value=(name) data-scopes={ "scopes-" (name) } data-principals={ "principals-" (name) }
                                    data-default=(r.default_duration) data-max=(r.max_duration) { (name) }
                            }
                        }
                    }
                    p {
                        label for="scope" { "Scope (if the role takes one)" }
                        input id="scope" name="scope" type="text" list={ "scopes-" (roles[0].0) };
                    }
                    p {
                        label for="principal" { "Principal (the IAM role ARN to attach to)" }
                        input id="principal" name="principal" type="text" required list={ "principals-" (roles[0].0) } size="60";
                    }
                    p {
                        label for="duration" { "Duration" }
                        input id="duration" name="duration" type="text" placeholder=(roles[0].1.default_duration)
                            pattern="[0-9]+[smhd]([0-9]+[smhd])*" aria-describedby="duration-help";
                        span id="duration-help" class="help" { "Leave empty for the role's default; never longer than its longest (see the table)." }
                    }
                    p {
                        label for="justification" { "Justification" }
                        textarea id="justification" name="justification" required maxlength="1000" rows="3" {}
                    }
                    p {
                        label for="ticket" { "Ticket (optional)" }
                        input id="ticket" name="ticket" type="text";
                    }
                    @if roles.iter().any(|(_, r)| r.break_glass) {
                        p {
                            input id="break_glass" name="break_glass" type="checkbox" value="true";
                            label for="break_glass" { "Break-glass: grant now, review after (only roles that allow it)" }
                        }
                    }
                    button type="submit" id="submit" class="primary" { "Ask for access" }
                }
                @for (name, r) in &roles {
                    datalist id={ "scopes-" (name) } { @for s in &r.scopes { @if literal(s.as_str()) { option value=(s.as_str()) {} } } }
                    datalist id={ "principals-" (name) } { @for p in &r.principals { @if literal(p.as_str()) { option value=(p.as_str()) {} } } }
                }
            }
        },
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct NewForm {
    _csrf: Option<String>,
    role: Option<String>,
    scope: Option<String>,
    principal: Option<String>,
    duration: Option<String>,
    justification: Option<String>,
    ticket: Option<String>,
    break_glass: Option<String>,
}

fn field<T>(
    name: &str,
    v: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, ApiError> {
    match v.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => parse(t).map(Some).map_err(|e| ApiError::bad(name, e)),
    }
}

async fn create(
    State(api): State<Api>,
    headers: HeaderMap,
    f: Result<Form<NewForm>, FormRejection>,
) -> Result<Page, Page> {
    let f = form(f)?;
    let v = poster(&api, &headers, f._csrf.as_deref()).await?;
    let required = |n: &str| ApiError::bad(n, format!("{n} is required"));
    let s = |e: &dyn std::fmt::Display| e.to_string();
    let new = NewRequest {
        role: field("role", f.role, |t| RoleName::parse(t).map_err(|e| s(&e)))?
            .ok_or_else(|| required("role"))?,
        scope: field("scope", f.scope, |t| Scope::parse(t).map_err(|e| s(&e)))?,
        principal: field("principal", f.principal, |t| {
            PrincipalArn::parse(t).map_err(|e| s(&e))
        })?
        .ok_or_else(|| required("principal"))?,
        duration: field("duration", f.duration, |t| {
            AccessDuration::parse(t).map_err(|e| s(&e))
        })?,
        justification: Justification::parse(f.justification.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad("justification", e.to_string()))?,
        ticket: field("ticket", f.ticket, |t| {
            TicketRef::parse(t).map_err(|e| s(&e))
        })?,
        starts_at: None,
        break_glass: f.break_glass.as_deref() == Some("true"),
        source: Source::Person,
        accounts: vec![],
        all_accounts: false,
    };
    let l = api
        .stint
        .submit(&v.who, new)
        .await
        .map_err(ApiError::from)?;
    Ok(Page::Redirect(
        format!("/console/requests/{}", l.id),
        vec![],
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    from: Option<String>,
    to: Option<String>,
}

fn day(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match v.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| Some(d.and_utc()))
            .ok_or_else(|| ApiError::bad(name, "a date, YYYY-MM-DD")),
    }
}

/// Reports, for auditors: a period form, and the compliance report for it.
async fn reports(
    State(api): State<Api>,
    headers: HeaderMap,
    q: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Page, Page> {
    let v = viewer(&api, &headers, "/console/reports").await?;
    if !api.stint.catalog.is_auditor(&v.who) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "forbidden",
            "reports are for the auditor and admin groups",
        ));
    }
    let Query(q) =
        q.map_err(|e| error_page(StatusCode::BAD_REQUEST, "invalid_input", &e.body_text()))?;
    let now = api.stint.clock.now();
    let (from, to) = match (day("from", q.from.as_deref())?, day("to", q.to.as_deref())?) {
        (Some(f), Some(t)) => (f, t + chrono::TimeDelta::days(1)),
        _ => {
            let (f, t) = stint_domain::report::last_days(now, 7);
            return Ok(Page::ok(layout(
                Some(&v),
                "Reports",
                html! {
                    h1 { "Compliance reports" }
                    form method="get" action="/console/reports" {
                        p { label for="from" { "From" } input id="from" name="from" type="date" required value=(f.format("%Y-%m-%d")); }
                        p { label for="to" { "To (included)" } input id="to" name="to" type="date" required value=((t - chrono::TimeDelta::days(1)).format("%Y-%m-%d")); }
                        button type="submit" id="show-report" { "Show the report" }
                    }
                    p { "The same report is in the API as " code { "GET /reports?format=csv|json|html" } "." }
                },
            )));
        }
    };
    if from >= to || to - from > chrono::TimeDelta::days(366) {
        return Err(ApiError::bad(
            "from",
            "the period must run forwards and be at most 366 days",
        )
        .into());
    }
    let within = api.stint.catalog.settings.review_within;
    let r = stint_app::report::compile(api.stint.store.as_ref(), from, to, now, within)
        .await
        .map_err(|e| ApiError::App(e.into()))?;
    let doc = stint_app::render::report::to_html(&r);
    // The report is a whole document with its own stylesheet: allowed by its hash, nothing else.
    let style = doc
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(css, _)| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()))
        })
        .unwrap_or_default();
    let csp = format!("default-src 'self'; style-src 'self' 'sha256-{style}'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
    Ok(Page::Html(
        StatusCode::OK,
        maud::PreEscaped(doc),
        vec![(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).map_err(|e| Page::trouble(e.to_string()))?,
        )],
    ))
}

#[derive(Debug, Deserialize)]
pub struct LoginParams {
    next: Option<String>,
}

/// Starts sign-in: a state, a nonce and a PKCE verifier, kept in a short-lived signed cookie,
/// and the browser sent to the issuer.
async fn login(
    State(api): State<Api>,
    q: Result<Query<LoginParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Page, Page> {
    let c = console(&api)?;
    let next = safe_next(q.ok().and_then(|Query(q)| q.next).as_deref());
    let (state, nonce, verifier) = (random()?, random()?, random()?);
    let issued = Utc::now().timestamp();
    let value = format!(
        "{state}.{nonce}.{verifier}.{}.{issued}",
        b64(next.as_bytes())
    );
    let sig = b64(&c.mac(b"login", value.as_bytes()).finalize().into_bytes());
    let cfg = &c.cfg;
    let target = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
        cfg.authorize_endpoint,
        enc(&cfg.client_id),
        enc(&cfg.redirect_uri),
        enc("openid email profile"),
        enc(&state),
        enc(&nonce),
        crate::idp::s256(&verifier),
    );
    Ok(Page::Redirect(
        target,
        vec![(
            header::SET_COOKIE,
            c.cookie(LOGIN_COOKIE, &format!("{value}.{sig}"), LOGIN_MAX_AGE),
        )],
    ))
}

#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The issuer's answer: the code is exchanged (with the PKCE verifier) for an ID token, which
/// is checked like any bearer token and for our nonce, and becomes the session cookie.
async fn callback(
    State(api): State<Api>,
    headers: HeaderMap,
    q: Result<Query<CallbackParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Page, Page> {
    let c = console(&api)?;
    let refuse = |m: &str| error_page(StatusCode::BAD_REQUEST, "sign_in_failed", m);
    let Query(q) = q.map_err(|e| refuse(&e.body_text()))?;
    // Only the error's code, checked to be a token: the page is on our origin, and free text
    // from a link anyone can craft has no place on it.
    if let Some(e) = q.error {
        let code: String = e
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(refuse(&format!(
            "the identity provider did not sign you in ({code})"
        )));
    }
    let raw = c
        .read(&headers, LOGIN_COOKIE)
        .ok_or_else(|| refuse("no sign-in was started in this browser"))?;
    let (value, sig) = raw
        .rsplit_once('.')
        .ok_or_else(|| refuse("the sign-in cookie is malformed"))?;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| refuse("the sign-in cookie is malformed"))?;
    c.mac(b"login", value.as_bytes())
        .verify_slice(&sig)
        .map_err(|_| refuse("the sign-in cookie was not made here"))?;
    let mut parts = value.split('.');
    let (Some(state), Some(nonce), Some(verifier), Some(next), Some(issued), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(refuse("the sign-in cookie is malformed"));
    };
    // A sign-in cookie is good for one sign-in of a few minutes, not for replaying later.
    let age = Utc::now().timestamp() - issued.parse::<i64>().unwrap_or(i64::MIN / 2);
    if !(0..=LOGIN_MAX_AGE).contains(&age) {
        return Err(refuse("this sign-in took too long: start again"));
    }
    if q.state.as_deref() != Some(state) {
        return Err(refuse("the state does not match this browser's sign-in"));
    }
    let code = q.code.ok_or_else(|| refuse("no code came back"))?;
    let agent = c.agent.clone();
    let endpoint = c.cfg.token_endpoint.clone();
    let form = [
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", c.cfg.redirect_uri.clone()),
        ("client_id", c.cfg.client_id.clone()),
        ("code_verifier", verifier.to_owned()),
    ];
    // ureq blocks; keep it off the async workers.
    let answer = tokio::task::spawn_blocking(move || {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        agent.post(&endpoint).send_form(pairs).and_then(|mut r| {
            let status = r.status().as_u16();
            r.body_mut().read_json::<Value>().map(|v| (status, v))
        })
    })
    .await
    .map_err(|e| Page::trouble(e.to_string()))?
    .map_err(|e| refuse(&format!("the token endpoint could not be reached: {e}")))?;
    let (status, body) = answer;
    let id_token = match (status, body.get("id_token").and_then(Value::as_str)) {
        (200, Some(t)) => t.to_owned(),
        _ => {
            return Err(refuse(&format!(
                "the token endpoint refused the code: {}",
                body.get("error_description")
                    .or(body.get("error"))
                    .cloned()
                    .unwrap_or_default()
            )))
        }
    };
    let (_, claims) = c
        .verifier
        .verify(&id_token)
        .await
        .map_err(|e| refuse(&format!("the ID token was refused: {}", e.0)))?;
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(refuse("the ID token's nonce is not this sign-in's"));
    }
    // Token lifetimes are real time, whatever clock the services run on.
    let now = Utc::now().timestamp();
    let max_age = claims
        .get("exp")
        .and_then(Value::as_i64)
        .map_or(3600, |e| (e - now).clamp(60, 12 * 3600));
    let next = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(next)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Ok(Page::Redirect(
        safe_next(next.as_deref()),
        vec![
            (
                header::SET_COOKIE,
                c.cookie(SESSION_COOKIE, &id_token, max_age),
            ),
            (header::SET_COOKIE, c.cookie(LOGIN_COOKIE, "", 0)),
        ],
    ))
}

async fn logout(
    State(api): State<Api>,
    headers: HeaderMap,
    f: Result<Form<ActionForm>, FormRejection>,
) -> Result<Page, Page> {
    let f = form(f)?;
    let c = console(&api)?;
    poster(&api, &headers, f._csrf.as_deref()).await?;
    Ok(Page::Html(
        StatusCode::OK,
        layout(
            None,
            "Signed out",
            html! { h1 { "Signed out" } p { a href="/console/login" { "Sign in again" } } },
        ),
        vec![(header::SET_COOKIE, c.cookie(SESSION_COOKIE, "", 0))],
    ))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        JS,
    )
}

/// The console's routes by the function that serves them in AWS: pages and sign-in with the
/// requests, decisions with the approvals, revoking with the revoke function's IAM rights.
pub(crate) fn routes(part: crate::Part) -> crate::Routes {
    use crate::Part;
    match part {
        Part::Requests => vec![
            ("GET", "/", get(root)),
            ("GET", "/console", get(inbox)),
            ("GET", "/console/mine", get(mine)),
            ("GET", "/console/new", get(new_form)),
            ("POST", "/console/new", post(create)),
            ("GET", "/console/requests/{id}", get(request_page)),
            ("GET", "/console/reports", get(reports)),
            ("GET", "/console/login", get(login)),
            ("GET", "/console/callback", get(callback)),
            ("POST", "/console/logout", post(logout)),
            ("GET", "/console/static/console.css", get(css)),
            ("GET", "/console/static/console.js", get(js)),
        ],
        Part::Decisions => vec![
            ("POST", "/console/requests/{id}/approve", post(approve)),
            ("POST", "/console/requests/{id}/deny", post(deny)),
            ("POST", "/console/requests/{id}/cancel", post(cancel)),
            ("POST", "/console/requests/{id}/extend", post(extend)),
            ("POST", "/console/requests/{id}/review", post(review)),
        ],
        Part::Revoke => vec![("POST", "/console/requests/{id}/revoke", post(revoke))],
        Part::Alerts | Part::Slack => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_returned_to_after_sign_in() {
        assert_eq!(
            safe_next(Some("/console/requests/01J")),
            "/console/requests/01J"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/console",
            "/console//evil.example",
            "/\\evil.example",
            "/requests",
            "/console\n/x",
            "/console/../requests/x",
            "/console/./x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad}");
        }
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn time_left_reads_plainly() {
        assert_eq!(left(0), "expired");
        assert_eq!(left(59), "59s left");
        assert_eq!(left(61), "1m 1s left");
        assert_eq!(left(3 * 3600 + 120), "3h 2m left");
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xstint_session=no; stint_session=yes; other=1"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("yes"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), None);
        // Two of ours (one planted by a sibling site): neither is believed.
        h.append(
            header::COOKIE,
            HeaderValue::from_static("stint_session=planted"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }
}
