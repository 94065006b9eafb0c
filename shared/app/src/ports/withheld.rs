//! The ports a function gets for what its role may not do: they refuse, so the code matches
//! the template's policy and the binary links no client (or append path) it cannot use.

use super::{
    AccessProvider, EventStore, LogStream, ProviderError, RawScanStream, ScanStream, Scheduler,
    StoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stint_domain::audit::ScannedEvent;
use stint_domain::budget::InlinePolicy;
use stint_domain::timer::TimerKind;
use stint_domain::{EventRecord, StoredEvent, StreamId};
use stint_domain::{PrincipalArn, RequestId};

/// Refuses IAM or Scheduler calls in a function whose role has neither (`what` names it).
#[derive(Debug, Clone, Copy)]
pub struct Withheld {
    pub what: &'static str,
}

impl Withheld {
    fn refuse<T>(&self, call: &str) -> Result<T, ProviderError> {
        Err(ProviderError::Refused(format!(
            "{call}: {} is not this function's to call (its role does not allow it)",
            self.what
        )))
    }
}

#[async_trait]
impl AccessProvider for Withheld {
    async fn put_policy(
        &self,
        _: &PrincipalArn,
        _: &str,
        _: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.refuse("PutRolePolicy")
    }
    async fn delete_policy(&self, _: &PrincipalArn, _: &str) -> Result<bool, ProviderError> {
        self.refuse("DeleteRolePolicy")
    }
    async fn resolve(&self, _: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        self.refuse("GetRole")
    }
    async fn inline_policies(&self, _: &PrincipalArn) -> Result<Vec<InlinePolicy>, ProviderError> {
        self.refuse("ListRolePolicies")
    }
}

#[async_trait]
impl Scheduler for Withheld {
    async fn set(&self, _: RequestId, _: TimerKind, _: DateTime<Utc>) -> Result<(), ProviderError> {
        self.refuse("CreateSchedule")
    }
    async fn clear(&self, _: RequestId, _: TimerKind) -> Result<bool, ProviderError> {
        self.refuse("DeleteSchedule")
    }
}

/// Reads through `S` and refuses every append: for the report function, whose role holds no
/// `PutItem`, so its binary links no append either.
pub struct ReadOnly<S>(pub S);

#[async_trait]
impl<S: EventStore> EventStore for ReadOnly<S> {
    async fn append(
        &self,
        stream: &StreamId,
        _: u64,
        _: Vec<EventRecord>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Err(StoreError::InvalidAppend(format!(
            "{stream}: this function reads the event store and may not write it"
        )))
    }
    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        self.0.read_stream(stream).await
    }
    async fn read_stream_indexed(
        &self,
        stream: &StreamId,
    ) -> Result<Vec<ScannedEvent>, StoreError> {
        self.0.read_stream_indexed(stream).await
    }
    fn read_log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> LogStream<'_> {
        self.0.read_log(from, to)
    }
    fn scan_raw(&self) -> RawScanStream<'_> {
        self.0.scan_raw()
    }
    fn scan(&self) -> ScanStream<'_> {
        self.0.scan()
    }
}
