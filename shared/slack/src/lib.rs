//! Slack over HTTPS: incoming webhooks (the chat channel of notifications), and the Web API
//! with the bot token (messages with buttons, and what approvals from them need), in AWS and
//! locally.

use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;
use stint_app::ports::{Chat, ProviderError, SlackApi};

/// An agent for Slack: every status answered as a response, ten seconds at most, over rustls
/// with the ring provider the functions' AWS SDK clients use too (one TLS stack per function).
fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Posts to Slack incoming webhooks; 429 and 5xx answers are worth retrying.
#[derive(Clone)]
pub struct SlackWebhook {
    agent: ureq::Agent,
}

impl Default for SlackWebhook {
    fn default() -> Self {
        SlackWebhook { agent: agent() }
    }
}

#[async_trait]
impl Chat for SlackWebhook {
    async fn post(&self, webhook: &str, message: &serde_json::Value) -> Result<(), ProviderError> {
        let agent = self.agent.clone();
        let url = webhook.to_owned();
        let body = message.to_string();
        // ureq blocks; keep it off the async workers.
        let answer = tokio::task::spawn_blocking(move || {
            agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body)
                .map(|mut r| {
                    let status = r.status().as_u16();
                    let text = r.body_mut().read_to_string().unwrap_or_default();
                    (status, text)
                })
        })
        .await
        .map_err(|e| ProviderError::Unavailable(format!("webhook task: {e}")))?;
        // The webhook URL is a secret: errors name the host only.
        let host = webhook.split('/').nth(2).unwrap_or("webhook").to_owned();
        match answer {
            Ok((200..=299, _)) => Ok(()),
            Ok((429, t)) => Err(ProviderError::Throttled(format!("{host}: 429 {t}"))),
            Ok((s @ 500..=599, t)) => Err(ProviderError::Unavailable(format!("{host}: {s} {t}"))),
            Ok((s, t)) => Err(ProviderError::Refused(format!("{host}: {s} {t}"))),
            Err(e) => Err(ProviderError::Unavailable(format!("{host}: {e}"))),
        }
    }
}

/// Where Slack's Web API is; `STINT_SLACK_API_URL` points it at a stand-in in tests.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Slack's Web API with a bot token. The token goes in the `Authorization` header only; errors
/// and `Debug` never show it.
#[derive(Clone)]
pub struct SlackWebApi {
    agent: ureq::Agent,
    base_url: String,
    token: String,
}

impl std::fmt::Debug for SlackWebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackWebApi")
            .field("base_url", &self.base_url)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl SlackWebApi {
    pub fn new(base_url: &str, token: &str) -> SlackWebApi {
        SlackWebApi {
            agent: agent(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// From `STINT_SLACK_API_URL` (default [`DEFAULT_API_URL`]) and the given token.
    pub fn from_env(token: &str) -> SlackWebApi {
        let base = std::env::var("STINT_SLACK_API_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        SlackWebApi::new(&base, token)
    }

    async fn call(&self, method: &str, request: Request) -> Result<Value, ProviderError> {
        let agent = self.agent.clone();
        let url = format!("{}/{method}", self.base_url);
        let auth = format!("Bearer {}", self.token);
        // ureq blocks; keep it off the async workers.
        let answer = tokio::task::spawn_blocking(move || {
            let post = agent.post(&url).header("authorization", &auth);
            let sent = match request {
                Request::Form(fields) => post.send_form(fields),
                Request::Json(body) => post
                    .header("content-type", "application/json; charset=utf-8")
                    .send(body),
            };
            sent.map(|mut r| {
                let status = r.status().as_u16();
                let text = r.body_mut().read_to_string().unwrap_or_default();
                (status, text)
            })
        })
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{method}: task: {e}")))?;
        let (status, text) =
            answer.map_err(|e| ProviderError::Unavailable(format!("{method}: {e}")))?;
        match status {
            200..=299 => {}
            429 => return Err(ProviderError::Throttled(format!("{method}: 429"))),
            500..=599 => return Err(ProviderError::Unavailable(format!("{method}: {status}"))),
            s => return Err(ProviderError::Refused(format!("{method}: HTTP {s}"))),
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|_| ProviderError::Unavailable(format!("{method}: the answer is not JSON")))?;
        slack_ok(method, v)
    }
}

/// The Web API port for `token`, at `STINT_SLACK_API_URL` (default Slack's own).
pub fn bot_from_env(token: &str) -> std::sync::Arc<dyn SlackApi> {
    std::sync::Arc::new(SlackWebApi::from_env(token))
}

enum Request {
    Form(Vec<(String, String)>),
    Json(String),
}

/// Slack answers 200 with `{"ok": false, "error": "..."}` when it refuses: an error here, retried
/// only when Slack says it is rate limited or having trouble.
pub fn slack_ok(method: &str, v: Value) -> Result<Value, ProviderError> {
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(v);
    }
    let error = v
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("no ok in the answer")
        .to_owned();
    Err(match error.as_str() {
        "ratelimited" => ProviderError::Throttled(format!("{method}: {error}")),
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            ProviderError::Unavailable(format!("{method}: {error}"))
        }
        _ => ProviderError::Refused(format!("{method}: {error}")),
    })
}

#[async_trait]
impl SlackApi for SlackWebApi {
    async fn read(&self, method: &str, args: &[(&str, &str)]) -> Result<Value, ProviderError> {
        let fields = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.call(method, Request::Form(fields)).await
    }

    async fn write(&self, method: &str, body: &Value) -> Result<Value, ProviderError> {
        self.call(method, Request::Json(body.to_string())).await
    }

    async fn respond(&self, response_url: &str, body: &Value) -> Result<(), ProviderError> {
        // A response URL is Slack's, signed into the payload; it takes no token.
        SlackWebhook {
            agent: self.agent.clone(),
        }
        .post(response_url, body)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slack_refusals_are_errors_and_only_rate_limits_and_outages_are_retried() {
        assert!(slack_ok("chat.update", json!({"ok": true, "ts": "1"})).is_ok());
        let refused = slack_ok(
            "chat.update",
            json!({"ok": false, "error": "message_not_found"}),
        );
        assert_eq!(
            refused,
            Err(ProviderError::Refused(
                "chat.update: message_not_found".into()
            ))
        );
        assert!(slack_ok("x", json!({"ok": false, "error": "ratelimited"}))
            .unwrap_err()
            .is_retryable());
        assert!(
            slack_ok("x", json!({"ok": false, "error": "internal_error"}))
                .unwrap_err()
                .is_retryable()
        );
        assert!(!slack_ok("x", json!({})).unwrap_err().is_retryable());
    }

    #[test]
    fn the_token_is_never_shown() {
        let api = SlackWebApi::new("https://slack.example/api/", "xoxb-secret-token");
        let shown = format!("{api:?}");
        assert!(!shown.contains("xoxb"), "{shown}");
        assert!(shown.contains("https://slack.example/api"), "{shown}");
    }
}
