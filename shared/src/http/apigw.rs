//! Identity from API Gateway's JWT authorizer: the claims it verified, never the body.

use super::{AuthError, Authenticator, PipelineAuthenticator, PipelineCaller};
use crate::domain::{GroupName, Identity, UserId};
use http::request::Parts;
use lambda_http::request::RequestContext;

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
