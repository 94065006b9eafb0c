//! The bus port: publishes stored events, as the stream relay does onto EventBridge.

use super::ProviderError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One stored event as it travels on the bus: the EventBridge `detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusMessage {
    pub request_id: Option<String>,
    pub stream: String,
    pub version: u64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: String,
    pub actor: String,
    pub payload: serde_json::Value,
    pub hash: String,
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes the messages in order; the result says, per message, whether it was accepted.
    async fn publish(&self, messages: &[BusMessage]) -> Result<Vec<bool>, ProviderError>;
}
