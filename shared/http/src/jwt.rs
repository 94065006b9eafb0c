//! Local-mode identity: bearer JWTs with the claims an identity provider's ID token carries
//! (`sub`, `email`, `email_verified`, `groups`), signed HS256 with a key kept in the data
//! folder, and read by the same [`ClaimRules`] as API Gateway's claims.

use super::claims::ClaimRules;
use super::{AuthError, Authenticator, PipelineAuthenticator, PipelineCaller};
use http::request::Parts;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
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

pub struct LocalJwt {
    key: Vec<u8>,
    rules: ClaimRules,
}

impl LocalJwt {
    pub fn new(key: Vec<u8>) -> Self {
        LocalJwt {
            key,
            rules: ClaimRules::default(),
        }
    }

    /// Reads (and mints) the user and groups by `rules` instead of the defaults.
    pub fn with_rules(mut self, rules: ClaimRules) -> Self {
        self.rules = rules;
        self
    }

    /// The key in `<dir>/jwt.key`, made on first use (32 random bytes, hex, mode 0600).
    pub fn load_or_create(dir: &Path) -> std::io::Result<LocalJwt> {
        let path = dir.join("jwt.key");
        if let Ok(hexed) = std::fs::read_to_string(&path) {
            let key = hex::decode(hexed.trim())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            return Ok(LocalJwt::new(key));
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
        Ok(LocalJwt::new(key))
    }

    pub fn issue(
        &self,
        user: &UserId,
        groups: &[GroupName],
        ttl: chrono::TimeDelta,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, AuthError> {
        // A verified email, as an ID token carries it: the rules refuse an unverified one.
        let mut claims = serde_json::json!({
            "sub": user.to_string(),
            "email": user.to_string(),
            "email_verified": true,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now.timestamp(),
            "exp": (now + ttl).timestamp(),
        });
        // Under configured claim names the token carries the user and groups there too.
        claims[self.rules.user_claim.as_str()] = Value::from(user.to_string());
        claims[self.rules.groups_claim.as_str()] =
            Value::from(groups.iter().map(|g| g.to_string()).collect::<Vec<_>>());
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
        let claims: Map<String, Value> = self.verify(parts, ISSUER)?;
        self.rules.identity(&claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, Utc};

    fn parts(token: &str) -> Parts {
        http::Request::builder()
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .expect("a request")
            .into_parts()
            .0
    }

    fn sign(claims: serde_json::Value) -> String {
        let key = EncodingKey::from_secret(b"k").expect("a key");
        encode(&Header::new(Algorithm::HS256), &claims, &key).expect("signed")
    }

    #[test]
    fn minted_tokens_name_a_verified_user_and_others_are_refused() {
        let jwt = LocalJwt::new(b"k".to_vec());
        let now = Utc::now();
        let user = UserId::parse("alice@example.com").unwrap();
        let groups = [GroupName::parse("sre").unwrap()];
        let t = jwt.issue(&user, &groups, TimeDelta::hours(1), now).unwrap();
        let id = jwt.identify(&parts(&t)).unwrap();
        assert_eq!((id.user, id.groups), (user, groups.to_vec()));

        let base = serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now.timestamp() + 60});
        let with = |extra: serde_json::Value| {
            let mut c = base.clone();
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            sign(c)
        };
        for (extra, says) in [
            (serde_json::json!({"sub": "alice"}), "no email claim"),
            (
                serde_json::json!({"email": "alice@example.com"}),
                "no email_verified",
            ),
            (
                serde_json::json!({"email": "alice@example.com", "email_verified": false}),
                "not verified",
            ),
            (
                serde_json::json!({"email": "a@example.com", "email_verified": true, "groups": "[Security Team]"}),
                "space-separated",
            ),
        ] {
            let e = jwt.identify(&parts(&with(extra.clone()))).unwrap_err();
            assert!(e.0.contains(says), "{extra}: {e}");
        }
    }

    #[test]
    fn configured_claim_names_are_minted_and_read() {
        let jwt = LocalJwt::new(b"k".to_vec()).with_rules(ClaimRules {
            user_claim: "upn".into(),
            groups_claim: "roles".into(),
        });
        let user = UserId::parse("bob").unwrap();
        let groups = [GroupName::parse("db-owners").unwrap()];
        let t = jwt
            .issue(&user, &groups, TimeDelta::hours(1), Utc::now())
            .unwrap();
        let id = jwt.identify(&parts(&t)).unwrap();
        assert_eq!((id.user, id.groups), (user, groups.to_vec()));
    }
}
