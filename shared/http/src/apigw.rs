//! Identity from API Gateway's JWT authorizer: the claims it verified, never the body.

use super::{Api, AuthError, Authenticator, PipelineAuthenticator, PipelineCaller};
use http::request::Parts;
use lambda_http::request::RequestContext;
use std::sync::Arc;
use stint_app::Stint;
use stint_domain::{GroupName, Identity, UserId};

/// Reads the user from `user_claim` (falling back to `sub`) and groups from `groups_claim`.
#[derive(Debug, Clone)]
pub struct ApiGatewayClaims {
    pub user_claim: String,
    pub groups_claim: String,
}

impl Default for ApiGatewayClaims {
    fn default() -> Self {
        ApiGatewayClaims {
            user_claim: "email".into(),
            groups_claim: "groups".into(),
        }
    }
}

/// API Gateway flattens array claims to `[a b c]`; tokens may also carry `a,b` or a JSON array.
pub fn parse_groups(raw: &str) -> Vec<String> {
    let t = raw.trim();
    if let Ok(v) = serde_json::from_str::<Vec<String>>(t) {
        return v;
    }
    t.trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim_matches('"'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

type Claims = std::collections::HashMap<String, String>;

fn claims(parts: &Parts) -> Result<&Claims, AuthError> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = parts.extensions.get::<RequestContext>() else {
        return Err(AuthError("no API Gateway request context".into()));
    };
    ctx.authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|j| &j.claims)
        .ok_or_else(|| AuthError("no JWT claims from the authorizer".into()))
}

/// A CI job's claims as GitHub Actions names them: `sub`, `repository`, `ref`, `environment`.
impl PipelineAuthenticator for ApiGatewayClaims {
    fn identify_pipeline(&self, parts: &Parts) -> Result<PipelineCaller, AuthError> {
        let claims = claims(parts)?;
        let get = |k: &str| claims.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let sub = get("sub").ok_or_else(|| AuthError("the token has no sub claim".into()))?;
        Ok(PipelineCaller {
            identity: Identity::new(
                UserId::parse(sub).map_err(|e| AuthError(e.to_string()))?,
                [],
            ),
            repository: get("repository")
                .ok_or_else(|| AuthError("the token has no repository claim".into()))?
                .to_owned(),
            git_ref: get("ref")
                .ok_or_else(|| AuthError("the token has no ref claim".into()))?
                .to_owned(),
            environment: get("environment").map(str::to_owned),
        })
    }
}

impl Authenticator for ApiGatewayClaims {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let claims = claims(parts)?;
        let user = claims
            .get(&self.user_claim)
            .or_else(|| claims.get("sub"))
            .ok_or_else(|| {
                AuthError(format!("the token has no {} or sub claim", self.user_claim))
            })?;
        let user = UserId::parse(user).map_err(|e| AuthError(e.to_string()))?;
        let groups = claims
            .get(&self.groups_claim)
            .map(|g| parse_groups(g))
            .unwrap_or_default();
        let groups = groups.iter().filter_map(|g| GroupName::parse(g).ok());
        Ok(Identity::new(user, groups))
    }
}

/// The HTTP API over the services, trusting API Gateway's JWT authorizer for identity.
pub fn api_from_env(stint: Stint) -> Api {
    let claims = ApiGatewayClaims {
        user_claim: env_or("STINT_USER_CLAIM", "email"),
        groups_claim: env_or("STINT_GROUPS_CLAIM", "groups"),
    };
    Api::new(stint, Arc::new(claims.clone())).with_pipeline_auth(Arc::new(claims))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Serves one API Gateway event through `router` and answers as API Gateway expects: the HTTP
/// half of the request and revoke functions.
pub async fn serve_event(
    router: axum::Router,
    payload: serde_json::Value,
    context: lambda_runtime::Context,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    use tower::ServiceExt;
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_value(payload).map_err(|e| format!("unrecognised event: {e}"))?;
    let adapter = lambda_http::Adapter::from(router);
    let response = adapter
        .oneshot(lambda_runtime::LambdaEvent::new(request, context))
        .await?;
    Ok(serde_json::to_value(response)?)
}

/// The HTTP half of a function that also takes other events, for `stint_aws::lambda`'s
/// `handle_request` and `handle_revoke`.
pub fn edge(
    router: axum::Router,
) -> impl FnOnce(
    serde_json::Value,
    lambda_runtime::Context,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<serde_json::Value, lambda_runtime::Error>>>,
> {
    move |payload, context| Box::pin(serve_event(router, payload, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_claims_in_every_shape() {
        assert_eq!(parse_groups("[sre db-owners]"), ["sre", "db-owners"]);
        assert_eq!(parse_groups(r#"["sre","db-owners"]"#), ["sre", "db-owners"]);
        assert_eq!(parse_groups("sre, db-owners"), ["sre", "db-owners"]);
        assert!(parse_groups("[]").is_empty());
    }
}
