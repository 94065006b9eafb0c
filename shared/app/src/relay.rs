//! The stream relay: every stored event, as read from the store's change stream, goes onto the
//! bus in stream order. The mapping lives here so it is tested code, not template text.

use crate::ports::{BusMessage, EventBus, ProviderError};
use stint_domain::StoredEvent;

/// The bus message for one stored event: its `type` becomes the EventBridge detail-type and the
/// readable payload travels as JSON, so rules can match on its fields.
pub fn bus_message(ev: &StoredEvent) -> BusMessage {
    BusMessage {
        request_id: ev.stream.request_id().map(|id| id.to_string()),
        stream: ev.stream.to_string(),
        version: ev.version,
        event_id: ev.record.event_id.clone(),
        event_type: ev.record.event_type.clone(),
        occurred_at: stint_domain::log::time_key(&ev.record.occurred_at),
        actor: ev.record.actor.clone(),
        payload: ev.record.payload.clone(),
        hash: ev.hash.to_string(),
    }
}

/// Publishes `events` in order. Returns how many leading events were accepted: the caller
/// reports the first one not accepted so the stream redelivers from there, in order.
pub async fn relay(bus: &dyn EventBus, events: &[StoredEvent]) -> Result<usize, ProviderError> {
    let messages: Vec<BusMessage> = events.iter().map(bus_message).collect();
    let accepted = bus.publish(&messages).await?;
    Ok(accepted.iter().take_while(|ok| **ok).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use stint_domain::log::{chain, EventRecord};
    use stint_domain::{Hash, RequestId};

    #[test]
    fn messages_carry_type_ids_and_the_readable_payload() {
        let id = RequestId::new();
        let rec = EventRecord {
            event_id: "e1".into(),
            event_type: "AccessApproved".into(),
            schema_version: 1,
            occurred_at: chrono::Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap(),
            actor: "user:bob".into(),
            payload: serde_json::json!({ "approvers": ["bob"], "rule": null }),
        };
        let ev = &chain(&id.stream(), 0, Hash::genesis(), vec![rec])[0];
        let m = bus_message(ev);
        assert_eq!(m.request_id, Some(id.to_string()));
        assert_eq!((m.event_type.as_str(), m.version), ("AccessApproved", 1));
        assert_eq!(m.payload["approvers"][0], "bob");
        assert_eq!(m.occurred_at, "2026-05-01T10:00:00.000000Z");
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["type"], "AccessApproved");
    }
}
