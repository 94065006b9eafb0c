//! Slack incoming webhooks over HTTPS: the chat channel of notifications, in AWS and locally.

use async_trait::async_trait;
use std::time::Duration;
use stint_app::ports::{Chat, ProviderError};

/// Posts to Slack incoming webhooks; 429 and 5xx answers are worth retrying.
#[derive(Clone)]
pub struct SlackWebhook {
    agent: ureq::Agent,
}

impl Default for SlackWebhook {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build();
        SlackWebhook {
            agent: config.into(),
        }
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
