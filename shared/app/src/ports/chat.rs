//! The chat port: post a message to an incoming webhook (Slack).

use super::ProviderError;
use async_trait::async_trait;

#[async_trait]
pub trait Chat: Send + Sync {
    /// Posts `message` (a Block Kit JSON payload) to `webhook`.
    async fn post(&self, webhook: &str, message: &serde_json::Value) -> Result<(), ProviderError>;
}
