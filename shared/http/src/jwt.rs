//! Local-mode identity: bearer JWTs with the claims an identity provider's ID token carries
//! (`sub`, `email`, `email_verified`, `groups`), signed ES256 with a P-256 key kept in the data
//! folder (published as a JWKS by `stint serve`'s OIDC provider), and read by the same
//! [`ClaimRules`] as API Gateway's claims.

use super::claims::ClaimRules;
use super::{AuthError, Authenticator, PipelineAuthenticator, PipelineCaller};
use http::request::Parts;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::Path;
use stint_domain::checkpoint::PrivateKey;
use stint_domain::{GroupName, Identity, UserId};

/// The issuer of tokens minted offline by `stint token`; `stint serve` also names itself by its
/// URL (its OIDC issuer) and accepts both, as both are signed with the same key.
pub const ISSUER: &str = "stint-local";
/// The API's audience, which is also the OIDC client id of the console and the CLI.
pub const AUDIENCE: &str = "stint";
/// The second issuer: CI jobs, standing in locally for e.g. GitHub Actions' OIDC tokens.
pub const PIPELINE_ISSUER: &str = "stint-local-ci";
/// The signing key's file in the data folder (PKCS#8 PEM, mode 0600).
pub const KEY_FILE: &str = "oidc-key.pem";

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
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
    /// The first one is written into tokens issued here; all are accepted.
    issuers: Vec<String>,
    rules: ClaimRules,
}

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

impl LocalJwt {
    pub fn from_key(key: &PrivateKey) -> std::io::Result<Self> {
        crate::jwt_crypto::install();
        let pem = key.to_pem().map_err(invalid)?;
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(invalid)?;
        let decoding =
            DecodingKey::from_ec_pem(key.public().to_pem().as_bytes()).map_err(invalid)?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(invalid)?;
        jwk.common.key_id = Some(key.public().fingerprint());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(LocalJwt {
            encoding,
            decoding,
            jwk,
            issuers: vec![ISSUER.to_owned()],
            rules: ClaimRules::default(),
        })
    }

    /// Reads (and mints) the user and groups by `rules` instead of the defaults.
    pub fn with_rules(mut self, rules: ClaimRules) -> Self {
        self.rules = rules;
        self
    }

    /// Names this issuer `url` (the OIDC provider's issuer) in the tokens it issues from now on;
    /// tokens `stint token` minted offline (issuer `stint-local`) stay valid.
    pub fn with_issuer(mut self, url: &str) -> Self {
        self.issuers.insert(0, url.trim_end_matches('/').to_owned());
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuers[0]
    }

    /// The public key as a JWKS, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// The key in `<dir>/oidc-key.pem`, made on first use (a P-256 key, mode 0600).
    pub fn load_or_create(dir: &Path) -> std::io::Result<LocalJwt> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => return LocalJwt::from_key(&PrivateKey::from_pem(&pem).map_err(invalid)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        let key = loop {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
            if let Some(k) = PrivateKey::from_random(seed) {
                break k;
            }
        };
        let pem = key.to_pem().map_err(invalid)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(mut f) => {
                f.write_all(pem.as_bytes())?;
                f.sync_all()?;
                LocalJwt::from_key(&key)
            }
            // Two processes raced to make it (serve and `stint token`): use the one that won.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let pem = std::fs::read_to_string(&path)?;
                LocalJwt::from_key(&PrivateKey::from_pem(&pem).map_err(invalid)?)
            }
            Err(e) => Err(e),
        }
    }

    fn header(&self) -> Header {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = self.jwk.common.key_id.clone();
        h
    }

    pub fn issue(
        &self,
        user: &UserId,
        groups: &[GroupName],
        ttl: chrono::TimeDelta,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, AuthError> {
        self.issue_with(user, groups, ttl, now, None)
    }

    /// An ID token as the OIDC provider returns it: the user's claims, and the client's nonce.
    pub fn issue_with(
        &self,
        user: &UserId,
        groups: &[GroupName],
        ttl: chrono::TimeDelta,
        now: chrono::DateTime<chrono::Utc>,
        nonce: Option<&str>,
    ) -> Result<String, AuthError> {
        // A verified email, as an ID token carries it: the rules refuse an unverified one.
        let mut claims = serde_json::json!({
            "sub": user.to_string(),
            "email": user.to_string(),
            "email_verified": true,
            "iss": self.issuer(),
            "aud": AUDIENCE,
            "iat": now.timestamp(),
            "exp": (now + ttl).timestamp(),
        });
        if let Some(n) = nonce {
            claims["nonce"] = Value::from(n);
        }
        // Under configured claim names the token carries the user and groups there too.
        claims[self.rules.user_claim.as_str()] = Value::from(user.to_string());
        claims[self.rules.groups_claim.as_str()] =
            Value::from(groups.iter().map(|g| g.to_string()).collect::<Vec<_>>());
        encode(&self.header(), &claims, &self.encoding).map_err(|e| AuthError(e.to_string()))
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
        encode(&self.header(), &claims, &self.encoding).map_err(|e| AuthError(e.to_string()))
    }

    fn verify<T: serde::de::DeserializeOwned>(
        &self,
        parts: &Parts,
        issuers: &[&str],
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
        self.verify_str(token.trim(), issuers)
    }

    fn verify_str<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuers: &[&str],
    ) -> Result<T, AuthError> {
        // ES256 only: a token naming another algorithm (HS256 with the public key, `none`) is
        // refused before its signature is looked at.
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(issuers);
        v.set_audience(&[AUDIENCE]);
        v.leeway = 5;
        decode::<T>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| AuthError(format!("invalid token: {e}")))
    }

    /// The person a token names (the console's session cookie carries one), by the same
    /// rules as a bearer token.
    pub fn identify_token(&self, token: &str) -> Result<(Identity, Map<String, Value>), AuthError> {
        let issuers: Vec<&str> = self.issuers.iter().map(String::as_str).collect();
        let claims: Map<String, Value> = self.verify_str(token, &issuers)?;
        Ok((self.rules.identity(&claims)?, claims))
    }
}

impl PipelineAuthenticator for LocalJwt {
    fn identify_pipeline(&self, parts: &Parts) -> Result<PipelineCaller, AuthError> {
        let c: PipelineClaims = self.verify(parts, &[PIPELINE_ISSUER])?;
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
        let issuers: Vec<&str> = self.issuers.iter().map(String::as_str).collect();
        let claims: Map<String, Value> = self.verify(parts, &issuers)?;
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

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from_random([seed; 32]).expect("a valid scalar")
    }

    fn local() -> LocalJwt {
        LocalJwt::from_key(&key(7)).unwrap()
    }

    fn sign(claims: serde_json::Value) -> String {
        let jwt = local();
        encode(&jwt.header(), &claims, &jwt.encoding).expect("signed")
    }

    #[test]
    fn tokens_from_another_key_or_algorithm_or_issuer_are_refused() {
        let now = Utc::now();
        let user = UserId::parse("alice@example.com").unwrap();
        let other = LocalJwt::from_key(&key(9)).unwrap();
        let t = other.issue(&user, &[], TimeDelta::hours(1), now).unwrap();
        assert!(local().identify(&parts(&t)).is_err(), "another key");
        // HS256 keyed with the public key's PEM: the classic confusion, refused by algorithm.
        let claims = serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now.timestamp() + 60,
            "email": "alice@example.com", "email_verified": true});
        let public = key(7).public().to_pem();
        let hs = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(public.as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(local().identify(&parts(&hs)).is_err(), "HS256");
        // The URL issuer is accepted only once the provider names itself so.
        let named = local().with_issuer("http://127.0.0.1:8787/");
        let t = named.issue(&user, &[], TimeDelta::hours(1), now).unwrap();
        assert!(named.identify(&parts(&t)).is_ok());
        assert!(local()
            .identify(&parts(&t))
            .unwrap_err()
            .0
            .contains("invalid token"));
        // Expired beyond the leeway.
        let t = local()
            .issue(&user, &[], TimeDelta::seconds(-60), now)
            .unwrap();
        assert!(local().identify(&parts(&t)).is_err(), "expired");
        // The JWKS publishes the one key, with its id, and verifies what it signs.
        let jwks = named.jwks();
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(
            jwks.keys[0].common.key_id,
            Some(key(7).public().fingerprint())
        );
    }

    #[test]
    fn minted_tokens_name_a_verified_user_and_others_are_refused() {
        let jwt = local();
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
        let jwt = local().with_rules(ClaimRules {
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
