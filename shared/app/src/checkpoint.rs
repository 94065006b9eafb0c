//! Anchoring the store: writing signed checkpoints of the stream heads, and auditing the whole
//! store against them.

use crate::ports::{CheckpointArchive, CheckpointSigner, EventStore, ProviderError, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use std::collections::BTreeMap;
use stint_domain::audit::{check_raw, AuditReport, Auditor, Checked, RawScanned};
use stint_domain::checkpoint::{self, Checkpoint, Head, PublicKey, SignedCheckpoint};
use stint_domain::StreamId;

/// How far before the previous checkpoint the next one reads the log: an event's time is set
/// when it is decided, and its append may land a little later.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(15);

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the latest checkpoint cannot be built on: {0}")]
    Corrupt(String),
}

/// Where checkpoints are signed and kept.
#[derive(Clone, Copy)]
pub struct Anchor<'a> {
    pub archive: &'a dyn CheckpointArchive,
    pub signer: &'a dyn CheckpointSigner,
}

/// Which events a checkpoint run looks at for heads that moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The log since shortly before the latest checkpoint: cheap, for the frequent schedule.
    /// An event appended with a time older than that window waits for the next full run.
    Recent,
    /// Every event, against every head any checkpoint listed: for reports and local mode.
    Everything,
}

/// Writes the next checkpoint: the heads that moved since they were last listed. Returns
/// `None` when nothing moved (unless `force`), or when another writer took the number first.
pub async fn write(
    store: &dyn EventStore,
    anchor: Anchor<'_>,
    now: DateTime<Utc>,
    scope: Scope,
    force: bool,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let (latest, listed) = match scope {
        Scope::Recent => {
            let latest = anchor.archive.latest().await?;
            let parsed = parse(latest.as_ref())?;
            let listed = checkpoint::listed_heads(parsed.iter());
            (latest.zip(parsed), listed)
        }
        Scope::Everything => {
            let all = anchor.archive.list().await?;
            let parsed = all
                .iter()
                .map(|s| s.parse().map_err(CheckpointError::Corrupt))
                .collect::<Result<Vec<_>, _>>()?;
            let listed = checkpoint::listed_heads(parsed.iter());
            (all.last().cloned().zip(parsed.last().cloned()), listed)
        }
    };
    let prev = latest.as_ref().map(|(s, c)| (c, s));
    let observed = match (scope, prev) {
        (Scope::Recent, Some((cp, _))) => {
            let events: Vec<_> = store
                .read_log(cp.at - OVERLAP, now + TimeDelta::seconds(1))
                .try_collect()
                .await?;
            checkpoint::heads_of(&events)
        }
        // The first checkpoint, and every full run, cover everything in the store.
        _ => {
            let mut heads = BTreeMap::<StreamId, Head>::new();
            let mut scan = store.scan();
            while let Some(ev) = scan.try_next().await? {
                checkpoint::note_head(&mut heads, &ev.event);
            }
            heads
        }
    };
    let Some(cp) =
        checkpoint::next_after(prev, &listed, observed, now, &anchor.signer.key_id(), force)
    else {
        return Ok(None);
    };
    let bytes = cp.to_bytes();
    let signature = anchor.signer.sign(&bytes).await?;
    let signed = SignedCheckpoint {
        seq: cp.seq,
        bytes,
        signature,
    };
    if !anchor.archive.put(&signed).await? {
        tracing::info!(seq = cp.seq, "another writer took this checkpoint number");
        return Ok(None);
    }
    tracing::info!(seq = cp.seq, heads = cp.heads.len(), "checkpoint written");
    Ok(Some(cp))
}

fn parse(s: Option<&SignedCheckpoint>) -> Result<Option<Checkpoint>, CheckpointError> {
    s.map(|s| s.parse().map_err(CheckpointError::Corrupt))
        .transpose()
}

/// Audits every event of the store and the checkpoint chain with `key`: edits, gaps, index
/// attributes, rewrites, deleted tails and streams, and the checkpoints themselves.
pub async fn audit(
    store: &dyn EventStore,
    archive: &dyn CheckpointArchive,
    key: Option<&PublicKey>,
) -> Result<AuditReport, CheckpointError> {
    let checkpoints = archive.list().await?;
    Ok(audit_with(store, &checkpoints, key).await?)
}

/// [`audit`] against checkpoints already read (an evidence pack carries its own).
pub async fn audit_with(
    store: &dyn EventStore,
    checkpoints: &[SignedCheckpoint],
    key: Option<&PublicKey>,
) -> Result<AuditReport, StoreError> {
    let mut auditor = Auditor::default();
    let mut scan = store.scan_raw().try_chunks(CHUNK);
    let mut hashing: Option<tokio::task::JoinHandle<Vec<Checked>>> = None;
    while let Some(chunk) = scan.try_next().await.map_err(|e| e.1)? {
        // Hashing is the cost of an audit: hash this chunk on a blocking thread while the
        // store reads the next one.
        let next = tokio::task::spawn_blocking(move || check_chunk(&chunk));
        if let Some(done) = hashing.replace(next) {
            collect(&mut auditor, done).await?;
        }
    }
    if let Some(done) = hashing {
        collect(&mut auditor, done).await?;
    }
    Ok(auditor.finish(checkpoints, key))
}

/// Events hashed per hand-off between the reading and the hashing thread.
const CHUNK: usize = 4096;

fn check_chunk(chunk: &[RawScanned]) -> Vec<Checked> {
    let mut buf = Vec::with_capacity(1024);
    chunk.iter().map(|ev| check_raw(ev, &mut buf)).collect()
}

async fn collect(
    auditor: &mut Auditor,
    hashing: tokio::task::JoinHandle<Vec<Checked>>,
) -> Result<(), StoreError> {
    match hashing.await {
        Ok(checked) => {
            checked.into_iter().for_each(|c| auditor.push_raw(c));
            Ok(())
        }
        // A panic in hashing is a bug; surface it rather than report a clean audit.
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(StoreError::Unavailable(format!("audit stopped: {e}"))),
        },
    }
}
