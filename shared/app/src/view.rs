//! What the API shows of a request: its folded state and its timeline.

use super::service::Loaded;
use serde::Serialize;
use stint_domain::{RequestId, RequestState, StoredEvent};

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: String,
    pub actor: String,
    pub payload: serde_json::Value,
}

impl From<&StoredEvent> for TimelineEntry {
    fn from(e: &StoredEvent) -> Self {
        TimelineEntry {
            version: e.version,
            event_type: e.record.event_type.clone(),
            occurred_at: stint_domain::log::time_key(&e.record.occurred_at),
            actor: e.record.actor.clone(),
            payload: e.record.payload.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: RequestId,
    #[serde(flatten)]
    pub state: RequestState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
}

impl RequestView {
    pub fn with_timeline(l: &Loaded) -> Self {
        RequestView {
            id: l.id,
            state: l.state.clone(),
            timeline: Some(l.events.iter().map(TimelineEntry::from).collect()),
        }
    }
    pub fn summary(id: RequestId, state: RequestState) -> Self {
        RequestView {
            id,
            state,
            timeline: None,
        }
    }
}
