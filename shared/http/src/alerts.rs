//! `POST /alerts`: signed alert webhooks (PagerDuty v3, and Stint's generic format). The body's
//! HMAC-SHA256 must match a configured secret, and the alert must be fresh, so a captured
//! request cannot be replayed later.

use super::error::ApiError;
use super::{parse_bytes, Api};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::TimeDelta;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use stint_domain::alert::{self, Parsed};

/// How old (or how far ahead) an alert may be; older ones are refused as replays.
pub const MAX_AGE: TimeDelta = TimeDelta::minutes(5);

pub const PAGERDUTY_HEADER: &str = "x-pagerduty-signature";
pub const GENERIC_HEADER: &str = "x-stint-signature";

/// `v1=<hex HMAC-SHA256 of body>`, as PagerDuty sends it.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC takes keys of any length; an empty signature would match nothing.
        Err(_) => String::new(),
    }
}

/// Whether any `v1=` signature in the header (PagerDuty sends one per secret, comma-separated)
/// matches any secret. The comparison is constant-time.
pub fn verify(header: &str, body: &[u8], secrets: &[Vec<u8>]) -> bool {
    header
        .split(',')
        .filter_map(|p| p.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok())
        .any(|sig| {
            secrets.iter().any(|s| {
                <Hmac<Sha256> as KeyInit>::new_from_slice(s).is_ok_and(|mut mac| {
                    mac.update(body);
                    mac.verify_slice(&sig).is_ok()
                })
            })
        })
}

#[derive(Clone, Copy)]
enum Format {
    PagerDuty,
    Generic,
}

pub(crate) async fn receive(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = parse_bytes(body)?;
    let (format, signature) = match (headers.get(PAGERDUTY_HEADER), headers.get(GENERIC_HEADER)) {
        (Some(h), _) => (Format::PagerDuty, h),
        (None, Some(h)) => (Format::Generic, h),
        (None, None) => {
            return Err(ApiError::Unauthenticated(
                "missing X-PagerDuty-Signature or X-Stint-Signature".into(),
            ))
        }
    };
    if api.alert_secrets.is_empty() {
        return Err(ApiError::Unauthenticated(
            "alert webhooks are not configured on this deployment (no secret)".into(),
        ));
    }
    let signature = signature.to_str().unwrap_or_default();
    if !verify(signature, &bytes, &api.alert_secrets) {
        return Err(ApiError::Unauthenticated(
            "the signature does not match the body".into(),
        ));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad("body", format!("not JSON: {e}")))?;
    let pointer = match format {
        Format::PagerDuty => "/event/occurred_at",
        Format::Generic => "/occurred_at",
    };
    let at = alert::timestamp_at(&value, pointer).map_err(malformed)?;
    let now = api.stint.clock.now();
    if (now - at).abs() > MAX_AGE {
        return Err(ApiError::Unauthenticated(format!(
            "the alert occurred at {at}, more than 5 minutes from now: replays are refused"
        )));
    }
    let parsed = match format {
        Format::PagerDuty => alert::from_pagerduty(&value, &api.stint.catalog),
        Format::Generic => alert::from_generic(&value, &api.stint.catalog),
    }
    .map_err(malformed)?;
    match parsed {
        Parsed::Ignored(reason) => {
            tracing::info!(%reason, "alert ignored");
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "outcome": "ignored", "reason": reason })),
            ))
        }
        Parsed::Alert(a) => {
            let outcome = api.stint.on_alert(&a).await?;
            Ok((
                StatusCode::OK,
                Json(serde_json::to_value(outcome).unwrap_or_default()),
            ))
        }
    }
}

fn malformed(e: alert::AlertError) -> ApiError {
    match e {
        alert::AlertError::Malformed { field, message } => ApiError::bad(field, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_only_their_body_and_secret() {
        let body = br#"{"event":{}}"#;
        let sig = sign(b"s3cret", body);
        assert!(verify(&sig, body, &[b"s3cret".to_vec()]));
        assert!(verify(
            &format!("v1=00ff, {sig}"),
            body,
            &[b"s3cret".to_vec()]
        ));
        assert!(!verify(&sig, br#"{"event":{ }}"#, &[b"s3cret".to_vec()]));
        assert!(!verify(&sig, body, &[b"other".to_vec()]));
        assert!(!verify("v1=zz", body, &[b"s3cret".to_vec()]));
        assert!(!verify(
            &sig.replace("v1=", "v0="),
            body,
            &[b"s3cret".to_vec()]
        ));
    }
}
