//! How failures become HTTP answers: always JSON `{"error", "message", "field"?}`, with the
//! status that says whose fault it is. Bad input never gives a 500.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stint_app::ports::StoreError;
use stint_app::AppError;
use stint_domain::Rejection;

#[derive(Debug)]
pub enum ApiError {
    /// The request itself is malformed; `field` names what is wrong.
    BadInput {
        field: Option<String>,
        message: String,
    },
    Unauthenticated(String),
    Forbidden(String),
    TooLarge(usize),
    NotFound(String),
    MethodNotAllowed,
    App(AppError),
}

impl ApiError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadInput {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

/// The status, the stable error code and the field (if one is at fault) for a rejection.
fn rejection(r: &Rejection) -> (StatusCode, &'static str, Option<&'static str>) {
    use Rejection::*;
    match r {
        UnknownRole(_) => (StatusCode::BAD_REQUEST, "unknown_role", Some("role")),
        ScopeNotAllowed { .. } => (StatusCode::BAD_REQUEST, "scope_not_allowed", Some("scope")),
        PrincipalNotAllowed(_) => (
            StatusCode::BAD_REQUEST,
            "principal_not_allowed",
            Some("principal"),
        ),
        AccountNotAllowed { .. } => (
            StatusCode::BAD_REQUEST,
            "account_not_allowed",
            Some("principal"),
        ),
        StartInPast => (StatusCode::BAD_REQUEST, "start_in_past", Some("start")),
        StartTooFar { .. } => (StatusCode::BAD_REQUEST, "start_too_far", Some("start")),
        Invalid(_) => (StatusCode::BAD_REQUEST, "invalid", None),
        NotAllowedToRequest(_) => (
            StatusCode::FORBIDDEN,
            "not_allowed_to_request",
            Some("role"),
        ),
        BreakGlassNotAllowed(_) => (
            StatusCode::FORBIDDEN,
            "break_glass_not_allowed",
            Some("break_glass"),
        ),
        SelfApproval => (StatusCode::FORBIDDEN, "self_approval", None),
        NotApprover(_) => (StatusCode::FORBIDDEN, "not_an_approver", None),
        NotRequester => (StatusCode::FORBIDDEN, "not_the_requester", None),
        NotPermittedToRevoke => (StatusCode::FORBIDDEN, "not_permitted_to_revoke", None),
        ExtensionNeedsApproval => (StatusCode::FORBIDDEN, "extension_needs_approval", None),
        UnknownRequest => (StatusCode::NOT_FOUND, "not_found", Some("id")),
        AlreadyExists => (StatusCode::CONFLICT, "already_exists", None),
        WrongState { .. } => (StatusCode::CONFLICT, "wrong_state", None),
        NotYetDue(_) => (StatusCode::CONFLICT, "not_yet_due", None),
        NotGranted => (StatusCode::CONFLICT, "not_granted", Some("id")),
        SelfReview => (StatusCode::FORBIDDEN, "self_review", None),
        AlreadyReviewed { .. } => (StatusCode::CONFLICT, "already_reviewed", None),
        CommentRequired => (StatusCode::BAD_REQUEST, "comment_required", Some("comment")),
        WrongPeriod { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_period",
            Some("period"),
        ),
        OverMaxDuration { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "over_max_duration",
            Some("duration"),
        ),
        OverMaxTotal { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "over_max_total_duration",
            Some("duration"),
        ),
    }
}

impl ApiError {
    /// The status, the stable code, the field at fault and the message: the JSON body's parts,
    /// which the console shows as a page.
    pub fn describe(&self) -> (StatusCode, &'static str, Option<String>, String) {
        match self {
            ApiError::BadInput { field, message } => (
                StatusCode::BAD_REQUEST,
                "invalid_input",
                field.clone(),
                message.clone(),
            ),
            ApiError::Unauthenticated(m) => {
                (StatusCode::UNAUTHORIZED, "unauthenticated", None, m.clone())
            }
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", None, m.clone()),
            ApiError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                None,
                format!("the body is over the {limit}-byte limit"),
            ),
            ApiError::NotFound(path) => (
                StatusCode::NOT_FOUND,
                "no_route",
                None,
                format!("no route for {path}"),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                None,
                "method not allowed here".into(),
            ),
            ApiError::App(AppError::Rejected(r)) => {
                let (s, c, f) = rejection(r);
                (s, c, f.map(str::to_owned), r.to_string())
            }
            ApiError::App(
                AppError::Store(StoreError::Throttled(_) | StoreError::Unavailable(_))
                | AppError::Contended { .. },
            ) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
                "the store is busy; try again".into(),
            ),
            ApiError::App(AppError::Provider(p)) if p.is_retryable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
                "a provider is busy; try again".into(),
            ),
            ApiError::App(e) => {
                tracing::error!(error = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    None,
                    "internal error".into(),
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field, message) = self.describe();
        let mut body = json!({ "error": code, "message": message });
        if let Some(f) = field {
            body["field"] = json!(f);
        }
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        resp
    }
}
