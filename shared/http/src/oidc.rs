//! The console's view of a company's OpenID Connect issuer in AWS: its discovery document, and
//! ID tokens verified against its JWKS (fetched once, fetched again for a key id it has not
//! seen, at most once a minute), by the same claim rules as the API Gateway authorizer's claims.

use crate::claims::ClaimRules;
use crate::console::TokenVerifier;
use crate::AuthError;
use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use stint_domain::Identity;

/// The parts of an issuer's `/.well-known/openid-configuration` the console uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

fn agent() -> ureq::Agent {
    crate::outbound::agent(Duration::from_secs(5))
}

/// A JSON document over HTTPS, off the async workers (ureq blocks).
async fn get_json<T: serde::de::DeserializeOwned + Send + 'static>(url: &str) -> Result<T, String> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut r = agent()
            .get(&url)
            .call()
            .map_err(|e| format!("{url}: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("{url} answered {}", r.status()));
        }
        r.body_mut()
            .read_json::<T>()
            .map_err(|e| format!("{url}: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Reads the issuer's discovery document; its `issuer` must be the one configured.
pub async fn discover(issuer: &str) -> Result<Discovery, String> {
    let issuer = issuer.trim_end_matches('/');
    let d: Discovery = get_json(&format!("{issuer}/.well-known/openid-configuration")).await?;
    if d.issuer.trim_end_matches('/') != issuer {
        return Err(format!(
            "the discovery document names issuer {} instead of {issuer}",
            d.issuer
        ));
    }
    Ok(d)
}

pub struct JwksVerifier {
    issuer: String,
    audience: String,
    jwks_uri: String,
    rules: ClaimRules,
    keys: Mutex<(JwkSet, Option<Instant>)>,
}

impl JwksVerifier {
    pub fn new(d: &Discovery, audience: &str, rules: ClaimRules) -> Self {
        crate::jwt_crypto::install();
        JwksVerifier {
            issuer: d.issuer.clone(),
            audience: audience.to_owned(),
            jwks_uri: d.jwks_uri.clone(),
            rules,
            keys: Mutex::new((JwkSet { keys: vec![] }, None)),
        }
    }

    fn key(&self, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
        let keys = self.keys.lock().ok()?;
        match kid {
            Some(k) => keys.0.find(k).cloned(),
            None if keys.0.keys.len() == 1 => keys.0.keys.first().cloned(),
            None => None,
        }
    }

    /// Fetches the JWKS unless it was fetched in the last minute (so a flood of tokens with
    /// made-up key ids cannot make us hammer the issuer).
    async fn refresh(&self) -> Result<(), AuthError> {
        let recent = self
            .keys
            .lock()
            .ok()
            .and_then(|k| k.1)
            .is_some_and(|at| at.elapsed() < Duration::from_secs(60));
        if recent {
            return Ok(());
        }
        // Noted before the fetch: a failing or slow issuer is asked at most once a minute too.
        if let Ok(mut k) = self.keys.lock() {
            k.1 = Some(Instant::now());
        }
        let set: JwkSet = get_json(&self.jwks_uri)
            .await
            .map_err(|e| AuthError(format!("the issuer's keys cannot be read: {e}")))?;
        if let Ok(mut k) = self.keys.lock() {
            k.0 = set;
        }
        Ok(())
    }
}

#[async_trait]
impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<(Identity, Map<String, Value>), AuthError> {
        let header = decode_header(token).map_err(|e| AuthError(format!("invalid token: {e}")))?;
        let jwk = match self.key(header.kid.as_deref()) {
            Some(k) => k,
            None => {
                self.refresh().await?;
                self.key(header.kid.as_deref())
                    .ok_or_else(|| AuthError("the token's key is not the issuer's".into()))?
            }
        };
        // The algorithm is the key's, never the token's own say.
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| Algorithm::try_from(a).ok())
            .unwrap_or(header.alg);
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| AuthError(e.to_string()))?;
        // A shared-secret key has no place in an issuer's public JWKS.
        if key.family() != alg.family() || alg.family() == AlgorithmFamily::Hmac {
            return Err(AuthError(
                "the token's algorithm does not fit the issuer's key".into(),
            ));
        }
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.leeway = 5;
        let claims: Map<String, Value> = decode(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| AuthError(format!("invalid token: {e}")))?;
        Ok((self.rules.identity(&claims)?, claims))
    }
}
