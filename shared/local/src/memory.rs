//! Local-mode adapters: timers held in process (re-armed from the store after a restart), an
//! access provider that records the policies it would put instead of calling IAM, and a store
//! wrapper that hands each appended event to the in-process bus.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stint_app::execute::{execute, load, ConflictPolicy};
use stint_app::ports::{
    AccessProvider, Clock, EventStore, LogStream, ProviderError, Scheduler, StoreError, TimerKind,
};
use stint_app::AppError;
use stint_domain::budget::InlinePolicy;
use stint_domain::recorded::{Attached, RecordCommand, RecordedPolicies, Via};
use stint_domain::{EventRecord, PrincipalArn, RequestId, StoredEvent, StreamId};
use tokio::sync::{mpsc, Notify};

/// One-time timers in memory. The local broker sleeps until `next_due` and is woken by
/// `changed` when a timer is set, so it never polls for them.
#[derive(Default)]
pub struct LocalTimers {
    timers: Mutex<HashMap<(RequestId, TimerKind), DateTime<Utc>>>,
    changed: Notify,
}

impl LocalTimers {
    /// The earliest time a timer is set for, if any.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let timers = self.timers.lock().unwrap_or_else(|p| p.into_inner());
        timers.values().min().copied()
    }

    /// Resolves once a timer was set since the last call returned (a stored permit: a set
    /// between two waits is not lost).
    pub async fn changed(&self) {
        self.changed.notified().await
    }

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
        self.changed.notify_one();
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
/// Each record names the account, the member role that would be assumed there and the
/// session, as the AWS provider would call it.
#[derive(Clone)]
pub struct RecordingProvider {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    /// The hub's account and the member role's ARN pattern (`{account}` filled in); `None`:
    /// one account, every call with the hub's own credentials.
    member: Option<(String, String)>,
    session: Option<String>,
}

impl RecordingProvider {
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>) -> Self {
        RecordingProvider {
            store,
            clock,
            member: None,
            session: None,
        }
    }

    /// Records calls outside `hub_account` as made through `member_role_arn` (with
    /// `{account}` for the principal's account), as the member-account provider would.
    pub fn across_accounts(mut self, hub_account: &str, member_role_arn: &str) -> Self {
        self.member = Some((hub_account.to_owned(), member_role_arn.to_owned()));
        self
    }

    fn via(&self, principal: &PrincipalArn) -> Via {
        let account = principal.account();
        let assumed_role = self
            .member
            .as_ref()
            .filter(|(hub, _)| hub != account)
            .map(|(_, arn)| arn.replace("{account}", account));
        Via {
            account: Some(account.to_owned()),
            assumed_role,
            session: self.session.clone(),
        }
    }

    /// Records the call; answers whether the policy was attached before it.
    async fn record(
        &self,
        principal: &PrincipalArn,
        name: &str,
        command: RecordCommand,
    ) -> Result<bool, ProviderError> {
        let stream = Self::stream(principal)?;
        let store_err = |e: AppError| ProviderError::Unavailable(e.to_string());
        let before = load::<RecordedPolicies>(self.store.as_ref(), &stream)
            .await
            .map_err(|e| store_err(e.into()))?
            .state;
        execute::<RecordedPolicies>(
            self.store.as_ref(),
            self.clock.as_ref(),
            &ConflictPolicy::default(),
            &stream,
            &command,
            |now| now,
        )
        .await
        .map_err(|e| store_err(e.into()))?;
        tracing::info!(recorded = true, %principal, policy = name, ?command, "policy recorded, not applied");
        Ok(before.0.contains_key(name))
    }

    fn stream(principal: &PrincipalArn) -> Result<StreamId, ProviderError> {
        StreamId::new(format!("{}{principal}", stint_domain::streams::RECORDED))
            .map_err(ProviderError::Refused)
    }

    async fn attached(&self, principal: &PrincipalArn) -> Result<Attached, ProviderError> {
        load::<RecordedPolicies>(self.store.as_ref(), &Self::stream(principal)?)
            .await
            .map(|l| l.state)
            .map_err(|e| ProviderError::Unavailable(AppError::from(e).to_string()))
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
        let command = RecordCommand::Put {
            principal: principal.clone(),
            name: name.to_owned(),
            document: document.clone(),
            via: self.via(principal),
        };
        self.record(principal, name, command).await.map(|_| ())
    }

    async fn delete_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
    ) -> Result<bool, ProviderError> {
        let command = RecordCommand::Delete {
            principal: principal.clone(),
            name: name.to_owned(),
            via: self.via(principal),
        };
        self.record(principal, name, command).await
    }

    /// Local mode has no IAM: every principal the catalog allows resolves to itself.
    async fn resolve(&self, principal: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        Ok(Some(principal.to_string()))
    }

    async fn inline_policies(
        &self,
        principal: &PrincipalArn,
    ) -> Result<Vec<InlinePolicy>, ProviderError> {
        Ok(self
            .attached(principal)
            .await?
            .0
            .into_iter()
            .map(|(name, size)| InlinePolicy { name, size })
            .collect())
    }

    fn with_session(&self, session: &str) -> Option<Arc<dyn AccessProvider>> {
        let mut named = self.clone();
        named.session = Some(session.to_owned());
        Some(Arc::new(named))
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
    async fn read_stream_indexed(
        &self,
        stream: &StreamId,
    ) -> Result<Vec<stint_domain::audit::ScannedEvent>, StoreError> {
        self.inner.read_stream_indexed(stream).await
    }

    fn read_log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> LogStream<'_> {
        self.inner.read_log(from, to)
    }

    fn scan_raw(&self) -> stint_app::ports::RawScanStream<'_> {
        self.inner.scan_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_app::clock::ManualClock;
    use stint_domain::recorded::RecordedEvent;

    fn arn(a: &str) -> PrincipalArn {
        PrincipalArn::parse(a).unwrap()
    }

    #[tokio::test]
    async fn every_put_and_delete_records_its_account_assumed_role_and_session() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn EventStore> =
            Arc::new(crate::sqlite::SqliteEventStore::open(&dir.path().join("e.db")).unwrap());
        let clock = Arc::new(ManualClock::new(
            DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        ));
        let provider = RecordingProvider::new(store.clone(), clock).across_accounts(
            "111111111111",
            "arn:aws:iam::{account}:role/stint-hub/stint-target",
        );
        let session = provider.with_session("stint-01JREQUEST").unwrap();
        let hub = arn("arn:aws:iam::111111111111:role/stint/oncall");
        let member = arn("arn:aws:iam::222222222222:role/stint/oncall");
        session
            .put_policy(&member, "stint-x", &serde_json::json!({}))
            .await
            .unwrap();
        session.delete_policy(&member, "stint-x").await.unwrap();
        provider
            .put_policy(&hub, "stint-y", &serde_json::json!({}))
            .await
            .unwrap();
        let via = |p: &PrincipalArn| {
            let store = store.clone();
            let stream = RecordingProvider::stream(p).unwrap();
            async move {
                store
                    .read_stream(&stream)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| {
                        let body: RecordedEvent = serde_json::from_value(serde_json::json!({
                            "type": e.record.event_type, "payload": e.record.payload
                        }))
                        .unwrap();
                        match body {
                            RecordedEvent::RecordedPolicyPut { via, .. }
                            | RecordedEvent::RecordedPolicyDeleted { via, .. } => via,
                        }
                    })
                    .collect::<Vec<_>>()
            }
        };
        let member_via = Via {
            account: Some("222222222222".into()),
            assumed_role: Some("arn:aws:iam::222222222222:role/stint-hub/stint-target".into()),
            session: Some("stint-01JREQUEST".into()),
        };
        assert_eq!(via(&member).await, [member_via.clone(), member_via]);
        // The hub's own account: its own credentials, no role assumed, no session named.
        let hub_via = Via {
            account: Some("111111111111".into()),
            assumed_role: None,
            session: None,
        };
        assert_eq!(via(&hub).await, [hub_via]);
    }
}
