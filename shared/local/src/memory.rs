//! Local-mode adapters: timers held in process (re-armed from the store after a restart), an
//! access provider that records the policies it would put instead of calling IAM, and a store
//! wrapper that hands each appended event to the in-process bus.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stint_app::ports::{
    AccessProvider, EventStore, LogStream, ProviderError, Scheduler, StoreError, TimerKind,
};
use stint_domain::{EventRecord, PrincipalArn, RequestId, StoredEvent, StreamId};
use tokio::sync::mpsc;

/// One-time timers in memory. The local broker polls `due` on every tick of its clock.
#[derive(Default)]
pub struct LocalTimers {
    timers: Mutex<HashMap<(RequestId, TimerKind), DateTime<Utc>>>,
}

impl LocalTimers {
    /// Removes and returns every timer due at `now`, earliest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<(RequestId, TimerKind)> {
        let mut timers = self.timers.lock().unwrap_or_else(|p| p.into_inner());
        let mut due: Vec<_> = timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, at)| (*at, *k))
            .collect();
        due.sort();
        for (_, k) in &due {
            timers.remove(k);
        }
        due.into_iter().map(|(_, k)| k).collect()
    }
}

#[async_trait]
impl Scheduler for LocalTimers {
    async fn set(
        &self,
        request: RequestId,
        kind: TimerKind,
        at: DateTime<Utc>,
    ) -> Result<(), ProviderError> {
        self.timers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((request, kind), at);
        Ok(())
    }

    async fn clear(&self, request: RequestId, kind: TimerKind) -> Result<bool, ProviderError> {
        Ok(self
            .timers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(request, kind))
            .is_some())
    }
}

/// Writes each policy it would put or delete into the store, as `RecordedPolicyPut` and
/// `RecordedPolicyDeleted` events on stream `recorded#<principal>#<policy>`, and to the log.
/// Nothing in AWS changes: this is local mode without an AWS account.
pub struct RecordingProvider {
    store: Arc<dyn EventStore>,
}

impl RecordingProvider {
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        RecordingProvider { store }
    }

    async fn record(
        &self,
        principal: &PrincipalArn,
        name: &str,
        event_type: &str,
        payload: serde_json::Value,
    ) -> Result<bool, ProviderError> {
        let stream = StreamId::new(format!("recorded#{principal}#{name}"))
            .map_err(ProviderError::Refused)?;
        let store_err = |e: StoreError| ProviderError::Unavailable(e.to_string());
        // A conflict only means two records raced; read again and append after the other.
        for _ in 0..8 {
            let existing = self.store.read_stream(&stream).await.map_err(store_err)?;
            let present = existing
                .last()
                .is_some_and(|e| e.record.event_type == "RecordedPolicyPut");
            let record = EventRecord {
                event_id: ulid::Ulid::generate().to_string(),
                event_type: event_type.to_owned(),
                schema_version: 1,
                occurred_at: stint_app::clock::micros(Utc::now()),
                actor: "system:record-provider".into(),
                payload: payload.clone(),
            };
            match self
                .store
                .append(&stream, existing.len() as u64, vec![record])
                .await
            {
                Ok(_) => {
                    tracing::info!(recorded = true, %principal, policy = name, event_type, document = %payload, "policy recorded, not applied");
                    return Ok(present);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(ProviderError::Unavailable(
            "recording stayed contended".into(),
        ))
    }
}

#[async_trait]
impl AccessProvider for RecordingProvider {
    async fn put_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
        document: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.record(principal, name, "RecordedPolicyPut", serde_json::json!({ "recorded": true, "principal": principal, "policy_name": name, "document": document }))
            .await
            .map(|_| ())
    }

    async fn delete_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
    ) -> Result<bool, ProviderError> {
        self.record(
            principal,
            name,
            "RecordedPolicyDeleted",
            serde_json::json!({ "recorded": true, "principal": principal, "policy_name": name }),
        )
        .await
    }
}

/// An event store that, after each successful append, hands the stored events to the local
/// bus. Events reach the bus only from what was stored, as the stream relay does in AWS; a
/// crash between the two is healed by the sweep at start.
pub struct PublishingStore {
    inner: Arc<dyn EventStore>,
    bus: mpsc::UnboundedSender<StoredEvent>,
}

impl PublishingStore {
    pub fn new(inner: Arc<dyn EventStore>) -> (Self, mpsc::UnboundedReceiver<StoredEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (PublishingStore { inner, bus: tx }, rx)
    }
}

#[async_trait]
impl EventStore for PublishingStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected_version: u64,
        events: Vec<EventRecord>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let stored = self.inner.append(stream, expected_version, events).await?;
        for ev in &stored {
            // A closed receiver means the broker is shutting down; the store already has it.
            let _ = self.bus.send(ev.clone());
        }
        Ok(stored)
    }

    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.read_stream(stream).await
    }

    fn read_log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> LogStream<'_> {
        self.inner.read_log(from, to)
    }
}
