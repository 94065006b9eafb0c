//! The EventBridge bus: stored events published to the custom bus `stint`, ten per call.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use stint_app::ports::{BusMessage, EventBus, ProviderError};

/// The `source` of every event Stint puts on its bus.
pub const SOURCE: &str = "stint";

#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBridgeBus {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, messages: &[BusMessage]) -> Result<Vec<bool>, ProviderError> {
        let mut accepted = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .map(|m| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE)
                        .detail_type(&m.event_type)
                        .detail(serde_json::to_string(m).unwrap_or_default())
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| provider_err("PutEvents", e))?;
            let results = out.entries();
            for i in 0..chunk.len() {
                accepted.push(results.get(i).is_some_and(|r| r.error_code().is_none()));
            }
        }
        Ok(accepted)
    }
}
