//! Identity from API Gateway's JWT authorizer: the claims it verified, never the body.

use super::claims::ClaimRules;
use super::{Api, AuthError, Authenticator, PipelineAuthenticator, PipelineCaller};
use http::request::Parts;
use lambda_http::request::RequestContext;
use std::sync::Arc;
use stint_app::Stint;
use stint_domain::{Identity, UserId};

/// Reads the user and groups from the authorizer's claims by [`ClaimRules`]: one user claim,
/// no fallback, a verified email, groups read without guessing.
#[derive(Debug, Clone, Default)]
pub struct ApiGatewayClaims {
    pub rules: ClaimRules,
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
        // API Gateway hands every claim on as a string (`"true"`, `[a b]`); the rules read
        // those shapes as a decoded token's JSON values would be read.
        let claims: serde_json::Map<String, serde_json::Value> = claims(parts)?
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        self.rules.identity(&claims)
    }
}

/// The HTTP API over the services, trusting API Gateway's JWT authorizer for identity.
pub fn api_from_env(stint: Stint) -> Api {
    let claims = ApiGatewayClaims {
        rules: ClaimRules::from_env(),
    };
    Api::new(stint, Arc::new(claims.clone())).with_pipeline_auth(Arc::new(claims))
}

/// [`api_from_env`] with the console's routes when it is set up ([`console_from_env`]). A
/// console that cannot be set up (the issuer unreachable, no secret) is logged and left out:
/// the function's own work, revoking above all, must not wait on the console's issuer.
pub async fn api_with_console(stint: Stint, secret: Option<Vec<u8>>) -> Api {
    let api = api_from_env(stint);
    match console_from_env(secret).await {
        Ok(Some(c)) => api.with_console(c),
        Ok(None) => api,
        Err(e) => {
            tracing::error!(error = %e, "the console is not served: its setup failed");
            api
        }
    }
}

/// The console in AWS, when `STINT_CONSOLE_URL` (the API's public URL) is set: sign-in against
/// `STINT_OIDC_ISSUER` (the issuer the authorizer trusts) as client `STINT_OIDC_CLIENT_ID`, its
/// ID tokens verified against the issuer's JWKS by the authorizer's claim rules, and `secret`
/// (shared by every instance) keying the CSRF tokens. Reads the issuer's discovery document.
pub async fn console_from_env(
    secret: Option<Vec<u8>>,
) -> Result<Option<crate::console::Console>, String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let Some(url) = var("STINT_CONSOLE_URL") else {
        return Ok(None);
    };
    let url = url.trim_end_matches('/').to_owned();
    let issuer = var("STINT_OIDC_ISSUER").ok_or("the console needs STINT_OIDC_ISSUER")?;
    let client_id = var("STINT_OIDC_CLIENT_ID").ok_or("the console needs STINT_OIDC_CLIENT_ID")?;
    let secret = secret.filter(|s| s.len() >= 32).ok_or(
        "the console needs a secret of at least 32 bytes (STINT_CONSOLE_SECRET_PARAMETER)",
    )?;
    let d = crate::oidc::discover(&issuer).await?;
    let verifier = crate::oidc::JwksVerifier::new(&d, &client_id, ClaimRules::from_env());
    Ok(Some(crate::console::Console::new(
        crate::console::ConsoleConfig {
            authorize_endpoint: d.authorization_endpoint,
            token_endpoint: d.token_endpoint,
            client_id,
            redirect_uri: format!("{url}{}", crate::idp::CONSOLE_CALLBACK),
            secure_cookies: url.starts_with("https://"),
        },
        Arc::new(verifier),
        secret,
    )))
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
/// `handle_request`, `handle_alerts` and `handle_revoke`.
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
