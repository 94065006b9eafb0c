//! The HTTP API: one axum router over the application services. API Gateway reaches it through
//! `apigw::serve_event`; a local server can run the same router. The API has one definition.

pub mod alerts;
pub mod apigw;
pub mod claims;
pub mod console;
pub mod error;
pub mod idp;
pub mod jwt;
pub mod jwt_crypto;
pub mod oidc;
pub mod outbound;
pub mod pipeline;
pub mod slack;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use error::ApiError;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use stint_app::requests::{ListFilter, NewRequest};
use stint_app::view::RequestView;
use stint_app::{AppError, Loaded, Stint};
use stint_domain::catalog::ACCOUNT_PLACEHOLDER;
use stint_domain::org::AccountId;
use stint_domain::{
    AccessDuration, Identity, Justification, Period, PrincipalArn, Rejection, RequestId,
    ReviewComment, RoleName, Scope, Source, Status, TicketRef, Verdict,
};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Bodies up to this size are read whole before a 413, so the client always gets the answer
/// (closing on a half-sent body makes its write fail instead); larger ones are cut off at once.
pub const DRAIN_LIMIT: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Who is calling, from something a trusted party verified (authorizer claims, a signed token).
pub trait Authenticator: Send + Sync {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError>;
}

/// A CI job, from its OIDC token: the subject and the claims automatic approval matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineCaller {
    pub identity: Identity,
    pub repository: String,
    pub git_ref: String,
    pub environment: Option<String>,
}

/// Verifies CI jobs' tokens (a second issuer, e.g. GitHub Actions) for the `/pipeline` routes.
pub trait PipelineAuthenticator: Send + Sync {
    fn identify_pipeline(&self, parts: &Parts) -> Result<PipelineCaller, AuthError>;
}

#[derive(Clone)]
pub struct Api {
    pub stint: Stint,
    pub auth: Arc<dyn Authenticator>,
    /// None: the `/pipeline` routes answer 401.
    pub pipeline_auth: Option<Arc<dyn PipelineAuthenticator>>,
    /// HMAC secrets for `POST /alerts`; none: the route answers 401.
    pub alert_secrets: Arc<Vec<Vec<u8>>>,
    /// The public key of the signed checkpoints, for `GET /checkpoints/key`; none: 404.
    pub checkpoint_key: Option<Arc<dyn stint_app::ports::CheckpointKey>>,
    /// The web console; none: its pages answer 404.
    pub console: Option<Arc<console::Console>>,
    /// The Slack app for `POST /slack/interactions`; none: the route answers 401.
    pub slack: Option<Arc<slack::SlackApp>>,
}

impl Api {
    pub fn new(stint: Stint, auth: Arc<dyn Authenticator>) -> Api {
        Api {
            stint,
            auth,
            pipeline_auth: None,
            alert_secrets: Arc::new(vec![]),
            checkpoint_key: None,
            console: None,
            slack: None,
        }
    }

    pub fn with_console(mut self, console: console::Console) -> Api {
        self.console = Some(Arc::new(console));
        self
    }

    pub fn with_slack(mut self, app: slack::SlackApp) -> Api {
        self.slack = Some(Arc::new(app));
        self
    }

    pub fn with_checkpoint_key(mut self, key: Arc<dyn stint_app::ports::CheckpointKey>) -> Api {
        self.checkpoint_key = Some(key);
        self
    }

    pub fn with_pipeline_auth(mut self, auth: Arc<dyn PipelineAuthenticator>) -> Api {
        self.pipeline_auth = Some(auth);
        self
    }

    pub fn with_alert_secrets(mut self, secrets: Vec<Vec<u8>>) -> Api {
        self.alert_secrets = Arc::new(secrets);
        self
    }
}

/// The caller's identity, or 401.
pub struct Caller(pub Identity);

impl axum::extract::FromRequestParts<Api> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, ApiError> {
        api.auth
            .identify(parts)
            .map(Caller)
            .map_err(|e| ApiError::Unauthenticated(e.0))
    }
}

/// The body's bytes, or 413 when it is over the limit.
fn parse_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let bytes = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge(BODY_LIMIT),
        other => ApiError::BadInput {
            field: None,
            message: other.body_text(),
        },
    })?;
    if bytes.len() > BODY_LIMIT {
        return Err(ApiError::TooLarge(BODY_LIMIT));
    }
    Ok(bytes)
}

/// Parses a JSON body; the error names the field at fault (`duration`, `scope`...).
fn parse_body<T: DeserializeOwned + Default>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = parse_bytes(body)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != ".").then_some(path);
        ApiError::BadInput {
            field,
            message: inner.to_string(),
        }
    })
}

fn request_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw).map_err(|e| ApiError::bad("id", e.to_string()))
}

/// `POST /requests`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    role: Option<RoleName>,
    scope: Option<Scope>,
    /// An IAM role ARN; with `accounts` or `all_accounts`, its account is written `{account}`
    /// (or is any account: each listed account replaces it).
    principal: Option<String>,
    /// Several accounts of the role, each granted on its own under one approval.
    accounts: Option<Vec<AccountId>>,
    /// Every account the role covers now.
    #[serde(default)]
    all_accounts: bool,
    duration: Option<AccessDuration>,
    justification: Option<Justification>,
    ticket: Option<TicketRef>,
    start: Option<DateTime<Utc>>,
    #[serde(default)]
    break_glass: bool,
}

impl CreateBody {
    /// The request the body asks for, or 400 naming the first required field left out.
    fn into_request(self, source: Source) -> Result<NewRequest, ApiError> {
        let required = |field: &str| ApiError::bad(field, format!("{field} is required"));
        // `"accounts": []` says "these accounts" and names none.
        if self.accounts.as_ref().is_some_and(Vec::is_empty) {
            return Err(ApiError::bad("accounts", "name at least one account"));
        }
        let accounts = self.accounts.unwrap_or_default();
        let several = !accounts.is_empty() || self.all_accounts;
        let raw = self.principal.ok_or_else(|| required("principal"))?;
        let principal = match raw.contains(ACCOUNT_PLACEHOLDER) {
            true if !several => {
                return Err(ApiError::bad(
                    "principal",
                    "{account} in the principal needs accounts or all_accounts",
                ))
            }
            // Each account replaces it; the first (or a placeholder, for all) makes it an ARN.
            true => raw.replace(
                ACCOUNT_PLACEHOLDER,
                accounts.first().map_or("000000000000", |a| a.as_str()),
            ),
            false => raw,
        };
        let principal = PrincipalArn::parse(&principal)
            .map_err(|e| ApiError::bad("principal", e.to_string()))?;
        Ok(NewRequest {
            role: self.role.ok_or_else(|| required("role"))?,
            scope: self.scope,
            principal,
            duration: self.duration,
            justification: self
                .justification
                .ok_or_else(|| required("justification"))?,
            ticket: self.ticket,
            starts_at: self.start,
            break_glass: self.break_glass,
            source,
            accounts,
            all_accounts: self.all_accounts,
        })
    }
}

async fn create(
    State(api): State<Api>,
    Caller(who): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let b: CreateBody = parse_body(body)?;
    let new = b.into_request(Source::Person)?;
    let loaded = api.stint.submit(&who, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(RequestView::with_timeline(&loaded)),
    ))
}

/// `GET /roles`: the roles the caller may request, with their scopes, principals and bounds.
async fn roles(State(api): State<Api>, Caller(who): Caller) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "roles": stint_app::view::requestable(&api.stint.catalog, &who)
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsQuery {
    role: Option<RoleName>,
}

/// `GET /accounts?role=R`: the accounts each role that names some resolves to now, through
/// Organizations. Each caller sees the roles they may request or approve; admins and auditors
/// see every role.
async fn accounts(
    State(api): State<Api>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<AccountsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let catalog = &api.stint.catalog;
    let sees = |name: &RoleName| {
        catalog.is_auditor(&who)
            || catalog
                .role(name)
                .is_some_and(|r| r.may_request(&who) || r.is_approver(&who))
    };
    if let Some(name) = &q.role {
        if catalog.role(name).is_some() && !sees(name) {
            return Err(ApiError::App(
                Rejection::NotAllowedToRequest(name.clone()).into(),
            ));
        }
    }
    let mut roles = api.stint.role_accounts(q.role.as_ref()).await?;
    roles.retain(|r| sees(&r.role));
    Ok(Json(serde_json::json!({ "roles": roles })))
}

async fn show(
    State(api): State<Api>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    let loaded = api.stint.show(&who, request_id(&id)?).await?;
    Ok(Json(RequestView::with_timeline(&loaded)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<Status>,
    role: Option<RoleName>,
    mine: Option<bool>,
    awaiting: Option<bool>,
    days: Option<u32>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    State(api): State<Api>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    use stint_app::requests::{
        DEFAULT_LIST_DAYS, DEFAULT_LIST_LIMIT, MAX_LIST_DAYS, MAX_LIST_LIMIT,
    };
    let days = q.days.unwrap_or(DEFAULT_LIST_DAYS);
    if days == 0 || days > MAX_LIST_DAYS {
        return Err(ApiError::bad(
            "days",
            format!("days must be 1 to {MAX_LIST_DAYS}"),
        ));
    }
    let limit = match q.limit.map(usize::try_from) {
        None => DEFAULT_LIST_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIST_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad(
                "limit",
                format!("limit must be 1 to {MAX_LIST_LIMIT}"),
            ))
        }
    };
    let cursor = q
        .cursor
        .as_deref()
        .map(cursor::decode)
        .transpose()
        .map_err(|e| ApiError::bad("cursor", e))?;
    let filter = ListFilter {
        status: q.status,
        role: q.role,
        mine: q.mine.unwrap_or(false),
        awaiting_me: q.awaiting.unwrap_or(false),
        days,
        limit,
        cursor,
    };
    let page = api.stint.list(&who, &filter).await?;
    let mut out = serde_json::json!({ "requests": page.requests });
    if let Some(c) = page.next_cursor {
        out["next_cursor"] = cursor::encode(&c).into();
    }
    Ok(Json(out))
}

/// `next_cursor`: opaque to clients (hex over a versioned text), so its shape can change.
/// Nothing in it is trusted: the service bounds its window again and shows only what the
/// caller may see, so a forged cursor reads no more than a first page could.
mod cursor {
    use chrono::{DateTime, Utc};
    use stint_app::requests::ListCursor;
    use stint_domain::RequestId;

    const MAX_LEN: usize = 512;

    pub fn encode(c: &ListCursor) -> String {
        hex::encode(format!(
            "v1|{}|{}|{}",
            c.from.timestamp_millis(),
            c.to.timestamp_millis(),
            c.after
        ))
    }

    pub fn decode(raw: &str) -> Result<ListCursor, String> {
        let bad = || "not a cursor this API gave (pass next_cursor back as it came)".to_owned();
        if raw.len() > MAX_LEN {
            return Err(bad());
        }
        let text = hex::decode(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let mut parts = text.split('|');
        let (Some("v1"), Some(from), Some(to), Some(after), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let time = |ms: &str| {
            ms.parse::<i64>()
                .ok()
                .and_then(DateTime::<Utc>::from_timestamp_millis)
        };
        Ok(ListCursor {
            from: time(from).ok_or_else(bad)?,
            to: time(to).ok_or_else(bad)?,
            after: RequestId::parse(after).map_err(|_| bad())?,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn cursors_round_trip_and_anything_else_is_refused() {
            let c = ListCursor {
                from: DateTime::from_timestamp_millis(1_795_000_000_000).unwrap(),
                to: DateTime::from_timestamp_millis(1_796_000_000_000).unwrap(),
                after: RequestId::new(),
            };
            assert_eq!(decode(&encode(&c)), Ok(c));
            for bad in [
                "",
                "zz",
                "abc",
                &hex::encode("v2|1|2|01J00000000000000000000000"),
                &hex::encode("v1|1|2"),
                &hex::encode("v1|x|2|01J00000000000000000000000"),
                &hex::encode("v1|1|2|not-a-ulid"),
                &hex::encode("v1|1|2|01J00000000000000000000000|extra"),
                &"0".repeat(600),
            ] {
                assert!(decode(bad).is_err(), "{bad}");
            }
        }
    }
}

/// A query string deserialized into `T` by axum's `Query`, or the API's 400 naming the
/// parameter at fault. Extracted after `Caller`, so a missing identity is still a 401 first.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| query_error(&e))
    }
}

/// axum keeps serde_path_to_error's error inside its rejection; that error knows the parameter.
fn query_error(e: &QueryRejection) -> ApiError {
    let at_fault = std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .find_map(|e| e.downcast_ref::<serde_path_to_error::Error<serde::de::value::Error>>());
    match at_fault {
        Some(p) => {
            let path = p.path().to_string();
            ApiError::BadInput {
                field: (path != ".").then_some(path),
                message: p.inner().to_string(),
            }
        }
        None => ApiError::BadInput {
            field: None,
            message: e.body_text(),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    comment: Option<String>,
    reason: Option<String>,
    note: Option<String>,
}

/// Free text on decisions: bounded like a justification.
fn note(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(t) => Justification::parse(&t)
            .map(|j| Some(j.as_str().to_owned()))
            .map_err(|e| ApiError::bad(field, e.to_string().replace("justification", field))),
    }
}

/// What every decision route takes: the caller, the request id from the path, and an optional
/// JSON body, extracted in that order so a missing identity is a 401 before anything else.
struct Decision<T> {
    who: Identity,
    id: RequestId,
    body: T,
}

impl<T: DeserializeOwned + Default> axum::extract::FromRequest<Api> for Decision<T> {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, api: &Api) -> Result<Self, ApiError> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = req.into_parts();
        let Caller(who) = Caller::from_request_parts(&mut parts, api).await?;
        let Path(id) = Path::<String>::from_request_parts(&mut parts, api)
            .await
            .map_err(|e| ApiError::bad("id", e.body_text()))?;
        let id = request_id(&id)?;
        let bytes = Bytes::from_request(axum::extract::Request::from_parts(parts, body), api).await;
        Ok(Decision {
            who,
            id,
            body: parse_body(bytes)?,
        })
    }
}

fn view(loaded: Result<Loaded, AppError>) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(RequestView::with_timeline(&loaded?)))
}

async fn approve(
    State(api): State<Api>,
    d: Decision<NoteBody>,
) -> Result<Json<RequestView>, ApiError> {
    view(
        api.stint
            .approve(d.id, &d.who, note("comment", d.body.comment)?)
            .await,
    )
}

async fn deny(
    State(api): State<Api>,
    d: Decision<NoteBody>,
) -> Result<Json<RequestView>, ApiError> {
    view(
        api.stint
            .deny(d.id, &d.who, note("reason", d.body.reason)?)
            .await,
    )
}

async fn cancel(
    State(api): State<Api>,
    d: Decision<NoteBody>,
) -> Result<Json<RequestView>, ApiError> {
    view(api.stint.cancel(d.id, &d.who).await)
}

async fn revoke(
    State(api): State<Api>,
    d: Decision<NoteBody>,
) -> Result<Json<RequestView>, ApiError> {
    view(api.stint.revoke_by(d.id, &d.who).await)
}

async fn review(
    State(api): State<Api>,
    d: Decision<NoteBody>,
) -> Result<Json<RequestView>, ApiError> {
    view(
        api.stint
            .review_break_glass(d.id, &d.who, note("note", d.body.note)?)
            .await,
    )
}

// --- access reviews --------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewsQuery {
    period: Option<Period>,
}

/// `GET /reviews?period=YYYY-MM`: the period's grants the caller may see, each with its review
/// and whether the caller may make it, and coverage per role. Default: the current month.
async fn reviews(
    State(api): State<Api>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<ReviewsQuery>,
) -> Result<Json<stint_app::reviews::ReviewListing>, ApiError> {
    let period = q
        .period
        .unwrap_or_else(|| Period::of(api.stint.clock.now()));
    Ok(Json(api.stint.reviews(&who, period).await?))
}

/// `POST /reviews/{id}`: `{"verdict": "appropriate"|"inappropriate", "comment"?, "period"?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    verdict: Option<Verdict>,
    comment: Option<ReviewComment>,
    /// The period the reviewer means; refused unless it is the grant's own.
    period: Option<Period>,
}

async fn review_grant(
    State(api): State<Api>,
    d: Decision<ReviewBody>,
) -> Result<Json<RequestView>, ApiError> {
    let verdict = d.body.verdict.ok_or_else(|| {
        ApiError::bad(
            "verdict",
            "verdict is required: appropriate or inappropriate",
        )
    })?;
    view(
        api.stint
            .review_grant(d.id, &d.who, verdict, d.body.comment, d.body.period)
            .await,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    duration: Option<AccessDuration>,
}

async fn extend(
    State(api): State<Api>,
    d: Decision<ExtendBody>,
) -> Result<Json<RequestView>, ApiError> {
    let by = d
        .body
        .duration
        .ok_or_else(|| ApiError::bad("duration", "duration is required"))?;
    view(api.stint.extend(d.id, &d.who, by).await)
}

async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(uri.path().chars().take(200).collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    format: Option<String>,
}

/// `GET /reports`: the compliance report for a period, for auditors and admins.
async fn report(
    State(api): State<Api>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<axum::response::Response, ApiError> {
    if !api.stint.catalog.is_auditor(&who) {
        return Err(ApiError::Forbidden(
            "reports are for the auditor and admin groups".into(),
        ));
    }
    let now = api.stint.clock.now();
    let (default_from, default_to) = stint_domain::report::last_days(now, 7);
    let (from, to) = (q.from.unwrap_or(default_from), q.to.unwrap_or(default_to));
    if from >= to || to - from > chrono::TimeDelta::days(366) {
        return Err(ApiError::bad(
            "from",
            "the period must run forwards and be at most 366 days",
        ));
    }
    let within = api.stint.catalog.settings.review_within;
    let r = stint_app::report::compile(api.stint.store.as_ref(), from, to, now, within)
        .await
        .map_err(|e| ApiError::App(e.into()))?;
    let (ctype, body) = match q.format.as_deref().unwrap_or("json") {
        "json" => (
            "application/json",
            serde_json::to_string(&r).unwrap_or_default(),
        ),
        "csv" => (
            "text/csv; charset=utf-8",
            stint_app::render::report::to_csv(&r)
                .map_err(|e| ApiError::bad("format", e.to_string()))?,
        ),
        "html" => (
            "text/html; charset=utf-8",
            stint_app::render::report::to_html(&r),
        ),
        other => {
            return Err(ApiError::bad(
                "format",
                format!("{other:?} is not csv, json or html"),
            ))
        }
    };
    Ok(([(http::header::CONTENT_TYPE, ctype)], body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    format: Option<String>,
}

/// `GET /stats`: p50, p90 and p99 of time to approve, approved-to-granted and revoke lag per
/// role and source, for auditors and admins. Default window: the last seven whole days.
async fn stats(
    State(api): State<Api>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<axum::response::Response, ApiError> {
    if !api.stint.catalog.is_auditor(&who) {
        return Err(ApiError::Forbidden(
            "service levels are for the auditor and admin groups".into(),
        ));
    }
    let (default_from, default_to) = stint_domain::report::last_days(api.stint.clock.now(), 7);
    let (from, to) = (q.from.unwrap_or(default_from), q.to.unwrap_or(default_to));
    if let Some(problem) = stint_app::stats::window_problem(from, to) {
        return Err(ApiError::bad("from", problem));
    }
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv") {
        return Err(ApiError::bad(
            "format",
            format!("{format:?} is not json or csv"),
        ));
    }
    let got = stint_app::stats::compile(api.stint.store.as_ref(), from, to)
        .await
        .map_err(|e| ApiError::App(e.into()))?;
    if format == "csv" {
        let body = stint_app::render::report::stats_csv(&got.levels)
            .map_err(|e| ApiError::bad("format", e.to_string()))?;
        return Ok((
            [(http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            body,
        )
            .into_response());
    }
    Ok(Json(got).into_response())
}

/// The checkpoints' public key, for auditors to verify checkpoints and evidence packs with.
/// Public by nature, so no token is needed; it says which algorithm and gives a fingerprint.
async fn checkpoint_key(State(api): State<Api>) -> Result<Json<serde_json::Value>, ApiError> {
    let source = api.checkpoint_key.as_ref().ok_or_else(|| {
        ApiError::NotFound("/checkpoints/key (no checkpoint key is set up)".into())
    })?;
    let key = source
        .public_key()
        .await
        .map_err(|e| ApiError::App(AppError::Provider(e)))?;
    Ok(Json(serde_json::json!({
        "algorithm": stint_domain::checkpoint::ALGORITHM,
        "fingerprint": key.fingerprint(),
        "public_key_pem": key.to_pem(),
    })))
}

async fn openapi() -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/yaml")], OPENAPI)
}

/// The API's OpenAPI 3.1 description, served at `GET /openapi.yaml`.
pub const OPENAPI: &str = include_str!("../../../infra/openapi.yaml");

/// Which function serves a route in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Requests,
    Decisions,
    Revoke,
    Alerts,
    Slack,
}

pub(crate) type Routes = Vec<(&'static str, &'static str, MethodRouter<Api>)>;

/// The `request` function's routes. One list per function, so that a function's binary links
/// only its own handlers.
fn requests_routes() -> Routes {
    vec![
        ("POST", "/requests", post(create)),
        ("GET", "/requests", get(list)),
        ("GET", "/requests/{id}", get(show)),
        ("GET", "/roles", get(roles)),
        ("GET", "/accounts", get(accounts)),
        ("GET", "/openapi.yaml", get(openapi)),
        ("GET", "/reports", get(report)),
        ("GET", "/checkpoints/key", get(checkpoint_key)),
        ("GET", "/reviews", get(reviews)),
        ("GET", "/stats", get(stats)),
        ("POST", "/pipeline/requests", post(pipeline::create)),
        ("GET", "/pipeline/requests/{id}", get(pipeline::show)),
    ]
}

/// The `approve` function's routes.
fn decisions_routes() -> Routes {
    vec![
        ("POST", "/requests/{id}/approve", post(approve)),
        ("POST", "/requests/{id}/deny", post(deny)),
        ("POST", "/requests/{id}/cancel", post(cancel)),
        ("POST", "/requests/{id}/extend", post(extend)),
        ("POST", "/requests/{id}/review", post(review)),
        ("POST", "/reviews/{id}", post(review_grant)),
    ]
}

/// The `alerts` function's route: signed webhooks, authenticated by their HMAC.
fn alerts_routes() -> Routes {
    vec![("POST", "/alerts", post(alerts::receive))]
}

/// Slack's interactions: signed by Slack, authenticated by their HMAC, not by a token.
fn slack_routes() -> Routes {
    vec![("POST", "/slack/interactions", post(slack::interactions))]
}

/// The `revoke` function's routes.
fn revoke_routes() -> Routes {
    vec![
        ("POST", "/requests/{id}/revoke", post(revoke)),
        (
            "POST",
            "/pipeline/requests/{id}/revoke",
            post(pipeline::revoke),
        ),
    ]
}

/// Every route: method, path, the function that serves it, the handler. The routers and the
/// OpenAPI check are both built from these lists.
fn table() -> Vec<(&'static str, &'static str, Part, MethodRouter<Api>)> {
    let tag = |part: Part, routes: Routes| {
        routes
            .into_iter()
            .map(move |(m, p, h)| (m, p, part, h))
            .collect::<Vec<_>>()
    };
    [
        tag(Part::Requests, requests_routes()),
        tag(Part::Decisions, decisions_routes()),
        tag(Part::Revoke, revoke_routes()),
        tag(Part::Alerts, alerts_routes()),
        tag(Part::Slack, slack_routes()),
    ]
    .concat()
}

/// (method, path) of every route, for checking against the OpenAPI description.
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table().into_iter().map(|(m, p, _, _)| (m, p)).collect()
}

const PARTS: [Part; 4] = [Part::Requests, Part::Decisions, Part::Revoke, Part::Alerts];

/// (method, path, function) of every route, the console's included, for checking against the
/// template.
pub fn route_parts() -> Vec<(&'static str, &'static str, Part)> {
    let console = PARTS.into_iter().flat_map(|part| {
        console::routes(part)
            .into_iter()
            .map(move |(m, p, _)| (m, p, part))
    });
    table()
        .into_iter()
        .map(|(m, p, part, _)| (m, p, part))
        .chain(console)
        .collect()
}

/// (method, path) of the console's routes: HTML pages behind a session cookie, not the JSON API.
pub fn console_route_list() -> Vec<(&'static str, &'static str)> {
    PARTS
        .into_iter()
        .flat_map(console::routes)
        .map(|(m, p, _)| (m, p))
        .collect()
}

/// A function's routes, and the console's routes of the same part when the console is set up.
fn with_console(part: Part, mut own: Routes, api: &Api) -> Routes {
    if api.console.is_some() {
        own.extend(console::routes(part));
    }
    own
}

fn routes(routes: Routes, api: Api) -> Router {
    routes
        .into_iter()
        .fold(Router::new(), |r, (_, path, handler)| {
            r.route(path, handler)
        })
        .fallback(no_route)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(DRAIN_LIMIT))
        .with_state(api)
}

/// The `request` function's routes: ask for access, read requests, the API description.
pub fn requests_router(api: Api) -> Router {
    routes(with_console(Part::Requests, requests_routes(), &api), api)
}

/// The `approve` function's routes: every decision on an existing request.
pub fn decisions_router(api: Api) -> Router {
    routes(with_console(Part::Decisions, decisions_routes(), &api), api)
}

/// The `alerts` function's HTTP route.
pub fn alerts_router(api: Api) -> Router {
    routes(alerts_routes(), api)
}

/// The `revoke` function's HTTP route.
pub fn revoke_router(api: Api) -> Router {
    routes(with_console(Part::Revoke, revoke_routes(), &api), api)
}

/// The Slack interactions route.
pub fn slack_router(api: Api) -> Router {
    routes(slack_routes(), api)
}

/// The whole API, for a process that serves every route (local mode, tests), and the console
/// when one is set up.
pub fn router(api: Api) -> Router {
    let mut all: Routes = table().into_iter().map(|(m, p, _, h)| (m, p, h)).collect();
    if api.console.is_some() {
        all.extend(PARTS.into_iter().flat_map(console::routes));
    }
    routes(all, api)
}
