//! The chat ports: post a message to an incoming webhook (Slack), and Slack's Web API with the
//! bot token, for messages with buttons and the approvals clicked on them.

use super::ProviderError;
use async_trait::async_trait;
use serde_json::Value;

#[async_trait]
pub trait Chat: Send + Sync {
    /// Posts `message` (a Block Kit JSON payload) to `webhook`.
    async fn post(&self, webhook: &str, message: &serde_json::Value) -> Result<(), ProviderError>;
}

/// Slack's Web API, called with the bot token. An answer of `{"ok": false, "error": ...}` is an
/// error (`Refused` naming the method and Slack's error code; `ratelimited` is `Throttled`).
/// The typed calls Stint makes are in [`crate::slack`].
#[async_trait]
pub trait SlackApi: Send + Sync {
    /// A read method (`users.info`, `users.lookupByEmail`, `usergroups.users.list`), its
    /// arguments sent as form fields; the answer's JSON.
    async fn read(&self, method: &str, args: &[(&str, &str)]) -> Result<Value, ProviderError>;
    /// A write method (`chat.postMessage`, `chat.update`, `views.open`), with a JSON body.
    async fn write(&self, method: &str, body: &Value) -> Result<Value, ProviderError>;
    /// Posts `body` to an interaction's `response_url` (an ephemeral answer to the clicker).
    async fn respond(&self, response_url: &str, body: &Value) -> Result<(), ProviderError>;
}
