//! The event-store port: append with an expected version, read one stream, read the log by time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use stint_domain::audit::{RawScanned, ScannedEvent};
use stint_domain::{EventRecord, StoredEvent, StreamId};

/// Infrastructure failures of a store. A `Conflict` is the one a caller resolves by reloading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "stream {stream} is not at version {expected} (found {actual:?}): reload and decide again"
    )]
    Conflict {
        stream: String,
        expected: u64,
        actual: Option<u64>,
    },
    #[error("the store is throttling: {0}")]
    Throttled(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored item is malformed: {0}")]
    Corrupt(String),
    #[error("invalid append: {0}")]
    InvalidAppend(String),
}

impl StoreError {
    /// Whether trying again (after a reload, for a conflict) can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict { .. } | StoreError::Throttled(_) | StoreError::Unavailable(_)
        )
    }
}

pub type LogStream<'a> = BoxStream<'a, Result<StoredEvent, StoreError>>;
pub type ScanStream<'a> = BoxStream<'a, Result<ScannedEvent, StoreError>>;
pub type RawScanStream<'a> = BoxStream<'a, Result<RawScanned, StoreError>>;

/// Most events one append may carry (DynamoDB transactions take at most 100 items).
pub const MAX_APPEND: usize = 100;

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends `events` after `expected_version`, all or nothing, chaining their hashes.
    /// Another writer having appended since gives `StoreError::Conflict`.
    async fn append(
        &self,
        stream: &StreamId,
        expected_version: u64,
        events: Vec<EventRecord>,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Every event of one stream, in version order.
    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredEvent>, StoreError>;

    /// One stream, in version order, with the index attributes stored beside each event, as
    /// an evidence pack carries it. A store whose index is the hashed time itself has none.
    async fn read_stream_indexed(
        &self,
        stream: &StreamId,
    ) -> Result<Vec<ScannedEvent>, StoreError> {
        Ok(self
            .read_stream(stream)
            .await?
            .into_iter()
            .map(|event| ScannedEvent { event, index: None })
            .collect())
    }

    /// Every event with `from <= occurred_at < to`, across streams, in time order, page by page.
    fn read_log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> LogStream<'_>;

    /// Every event in the store as stored text, with the index attributes stored beside it,
    /// in no set order across streams: what an audit reads. Never goes through the index it
    /// checks.
    fn scan_raw(&self) -> RawScanStream<'_>;

    /// [`scan_raw`](Self::scan_raw), decoded.
    fn scan(&self) -> ScanStream<'_> {
        self.scan_raw()
            .and_then(|raw| async move { raw.decode().map_err(StoreError::Corrupt) })
            .boxed()
    }
}

/// The checks every adapter makes before it writes.
pub fn check_append(events: &[EventRecord]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Err(StoreError::InvalidAppend("no events to append".into()));
    }
    if events.len() > MAX_APPEND {
        return Err(StoreError::InvalidAppend(format!(
            "{} events; at most {MAX_APPEND} per append",
            events.len()
        )));
    }
    Ok(())
}
