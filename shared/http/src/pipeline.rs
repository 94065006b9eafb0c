//! `/pipeline/...`: CI jobs ask for access with their OIDC token, read their request while they
//! wait for the grant, and revoke it when their step is done. A catalog rule approves the
//! request when the token's claims match; otherwise it waits for a person.

use super::error::ApiError;
use super::{parse_body, request_id, Api};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use stint_app::view::RequestView;
use stint_domain::{
    AccessDuration, Justification, PrincipalArn, Rejection, RoleName, Scope, Source, Status,
    TicketRef,
};

/// The CI job calling, or 401.
pub struct Job(pub super::PipelineCaller);

impl FromRequestParts<Api> for Job {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, ApiError> {
        let auth = api.pipeline_auth.as_ref().ok_or_else(|| {
            ApiError::Unauthenticated("pipeline tokens are not accepted on this deployment".into())
        })?;
        auth.identify_pipeline(parts)
            .map(Job)
            .map_err(|e| ApiError::Unauthenticated(e.0))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelineBody {
    role: Option<RoleName>,
    scope: Option<Scope>,
    principal: Option<PrincipalArn>,
    duration: Option<AccessDuration>,
    justification: Option<Justification>,
    /// The pull request or ticket the job works for.
    ticket: Option<TicketRef>,
}

pub(crate) async fn create(
    State(api): State<Api>,
    Job(job): Job,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    let b: PipelineBody = parse_body(body)?;
    let ticket = b.ticket.ok_or_else(|| {
        ApiError::bad(
            "ticket",
            "a pipeline request names its pull request or ticket",
        )
    })?;
    let new = super::CreateBody {
        role: b.role,
        scope: b.scope,
        principal: b.principal.map(|p| p.to_string()),
        duration: b.duration,
        justification: b.justification,
        ticket: Some(ticket),
        start: None,
        break_glass: false,
        accounts: None,
        all_accounts: false,
    }
    .into_request(Source::Pipeline {
        repository: job.repository,
        git_ref: job.git_ref,
        environment: job.environment,
    })?;
    let loaded = api.stint.submit(&job.identity, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(RequestView::with_timeline(&loaded)),
    ))
}

/// A job sees only its own requests; anyone else's do not exist for it.
async fn own(
    api: &Api,
    job: &super::PipelineCaller,
    id: &str,
) -> Result<stint_app::Loaded, ApiError> {
    let loaded = api.stint.get(request_id(id)?).await?;
    let mine = loaded
        .state
        .request
        .as_ref()
        .is_some_and(|r| r.requester == job.identity.user);
    if !mine {
        return Err(ApiError::App(Rejection::UnknownRequest.into()));
    }
    Ok(loaded)
}

pub(crate) async fn show(
    State(api): State<Api>,
    Job(job): Job,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(RequestView::with_timeline(
        &own(&api, &job, &id).await?,
    )))
}

pub(crate) async fn revoke(
    State(api): State<Api>,
    Job(job): Job,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    let loaded = own(&api, &job, &id).await?;
    // A job that gives up before anyone approved cancels instead: its clean-up step is one call.
    let done = if loaded.state.status == Status::Pending {
        api.stint.cancel(loaded.id, &job.identity).await?
    } else {
        api.stint.revoke_by(loaded.id, &job.identity).await?
    };
    Ok(Json(RequestView::with_timeline(&done)))
}
