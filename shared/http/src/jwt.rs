//! Local-mode identity: bearer JWTs with the same claims API Gateway's authorizer passes on
//! (`sub`, `email`, `groups`), signed HS256 with a key kept in the data folder.

use super::{AuthError, Authenticator, PipelineAuthenticator, PipelineCaller};
use http::request::Parts;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::Path;
use stint_domain::{GroupName, Identity, UserId};

pub const ISSUER: &str = "stint-local";
pub const AUDIENCE: &str = "stint";
/// The second issuer: CI jobs, standing in locally for e.g. GitHub Actions' OIDC tokens.
pub const PIPELINE_ISSUER: &str = "stint-local-ci";

/// A CI job's claims, named as GitHub Actions names them.
#[derive(Debug, Serialize, Deserialize)]
pub struct PipelineClaims {
    pub sub: String,
    pub repository: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    email: String,
    groups: Vec<String>,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

pub struct LocalJwt {
    key: Vec<u8>,
}

impl LocalJwt {
    pub fn new(key: Vec<u8>) -> Self {
        LocalJwt { key }
    }

    /// The key in `<dir>/jwt.key`, made on first use (32 random bytes, hex, mode 0600).
    pub fn load_or_create(dir: &Path) -> std::io::Result<LocalJwt> {
        let path = dir.join("jwt.key");
        if let Ok(hexed) = std::fs::read_to_string(&path) {
            let key = hex::decode(hexed.trim())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            return Ok(LocalJwt { key });
        }
        std::fs::create_dir_all(dir)?;
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
        std::fs::write(&path, hex::encode(&key))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(LocalJwt { key })
    }

    pub fn issue(
        &self,
        user: &UserId,
        groups: &[GroupName],
        ttl: chrono::TimeDelta,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, AuthError> {
        let claims = Claims {
            sub: user.to_string(),
            email: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        };
        let key = EncodingKey::from_secret(&self.key).map_err(|e| AuthError(e.to_string()))?;
        encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(|e| AuthError(e.to_string()))
    }
}

impl LocalJwt {
    /// A CI job's token from the second issuer.
    pub fn issue_pipeline(
        &self,
        repository: &str,
        git_ref: &str,
        environment: Option<&str>,
        ttl: chrono::TimeDelta,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, AuthError> {
        let sub = match environment {
            Some(e) => format!("repo:{repository}:environment:{e}"),
            None => format!("repo:{repository}:ref:{git_ref}"),
        };
        let claims = PipelineClaims {
            sub,
            repository: repository.into(),
            git_ref: git_ref.into(),
            environment: environment.map(str::to_owned),
            iss: PIPELINE_ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        };
        let key = EncodingKey::from_secret(&self.key).map_err(|e| AuthError(e.to_string()))?;
        encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(|e| AuthError(e.to_string()))
    }

    fn verify<T: serde::de::DeserializeOwned>(
        &self,
        parts: &Parts,
        issuer: &str,
    ) -> Result<T, AuthError> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| AuthError("missing Authorization: Bearer token".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| AuthError("Authorization must be `Bearer <token>`".into()))?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[issuer]);
        v.set_audience(&[AUDIENCE]);
        v.leeway = 5;
        let key = DecodingKey::from_secret(&self.key).map_err(|e| AuthError(e.to_string()))?;
        decode::<T>(token.trim(), &key, &v)
            .map(|d| d.claims)
            .map_err(|e| AuthError(format!("invalid token: {e}")))
    }
}

impl PipelineAuthenticator for LocalJwt {
    fn identify_pipeline(&self, parts: &Parts) -> Result<PipelineCaller, AuthError> {
        let c: PipelineClaims = self.verify(parts, PIPELINE_ISSUER)?;
        Ok(PipelineCaller {
            identity: Identity::new(
                UserId::parse(&c.sub).map_err(|e| AuthError(e.to_string()))?,
                [],
            ),
            repository: c.repository,
            git_ref: c.git_ref,
            environment: c.environment,
        })
    }
}

impl Authenticator for LocalJwt {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let claims: Claims = self.verify(parts, ISSUER)?;
        let user = UserId::parse(&claims.email).map_err(|e| AuthError(e.to_string()))?;
        Ok(Identity::new(
            user,
            claims
                .groups
                .iter()
                .filter_map(|g| GroupName::parse(g).ok()),
        ))
    }
}
