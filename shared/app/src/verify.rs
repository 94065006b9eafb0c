//! Chain verification over a period: every stream touched in the period is verified whole,
//! and a digest of the period's events is computed for auditors to compare copies.

use crate::ports::{EventStore, StoreError};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use std::collections::BTreeSet;
use stint_domain::log::{verify_stream, ChainBreak, PeriodDigest};
use stint_domain::{Event, Hash, RequestState, StoredEvent, StreamId};

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub streams_checked: usize,
    pub events_in_period: u64,
    /// SHA-256 over the hashes of the period's events, in log order.
    pub period_digest: Hash,
    /// The first bad event of each broken stream; empty means verified.
    pub breaks: Vec<ChainBreak>,
}

impl Verification {
    pub fn verified(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Reads the period through the time index, then each touched stream whole: verifies its
/// chain and hands its events to `visit`. Memory grows with streams, not events.
/// A request stream's state from its events, for readers of a period (reports, service
/// levels); an event that cannot be read is noted in `undecodable` and the stream is skipped.
pub fn fold_request(
    stream: &StreamId,
    events: &[StoredEvent],
    undecodable: &mut Vec<ChainBreak>,
) -> Option<RequestState> {
    let mut state = RequestState::default();
    for e in events {
        match Event::from_record(&e.record) {
            Ok(ev) => state = stint_domain::apply(state, &ev),
            Err(err) => {
                undecodable.push(ChainBreak {
                    stream: stream.to_string(),
                    version: e.version,
                    event_id: e.record.event_id.clone(),
                    problem: format!("cannot be read: {}", err.reason),
                });
                return None;
            }
        }
    }
    Some(state)
}

/// Adds each unreadable stream to `breaks`, unless the chain check already named it.
pub fn merge_breaks(breaks: &mut Vec<ChainBreak>, undecodable: Vec<ChainBreak>) {
    for u in undecodable {
        if !breaks.iter().any(|b| b.stream == u.stream) {
            breaks.push(u);
        }
    }
}

pub async fn scan_period(
    store: &dyn EventStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut visit: impl FnMut(&StreamId, &[StoredEvent]),
) -> Result<Verification, StoreError> {
    let mut streams = BTreeSet::<StreamId>::new();
    let mut digest = PeriodDigest::default();
    let mut events_in_period = 0u64;
    let mut log = store.read_log(from, to);
    while let Some(ev) = log.try_next().await? {
        digest.push(&ev);
        events_in_period += 1;
        if !streams.contains(&ev.stream) {
            streams.insert(ev.stream.clone());
        }
    }
    let mut breaks = Vec::new();
    for stream in &streams {
        let events = store.read_stream(stream).await?;
        if let Err(b) = verify_stream(&events) {
            breaks.push(b);
        }
        visit(stream, &events);
    }
    Ok(Verification {
        streams_checked: streams.len(),
        events_in_period,
        period_digest: digest.finish(),
        breaks,
    })
}

/// Verifies every stream with an event in `from..to`.
pub async fn verify_period(
    store: &dyn EventStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Verification, StoreError> {
    scan_period(store, from, to, |_, _| {}).await
}
