//! Evidence packs: one tar.gz an auditor checks offline. Building reads the period's streams
//! whole, the checkpoints covering it and the report; verifying needs no store and no network:
//! the manifest's hashes, then the whole-store audit over the pack's events and checkpoints.

use crate::checkpoint::{Anchor, CheckpointError};
use crate::ports::{Archive, CheckpointArchive, EventStore, ProviderError, StoreError};
use crate::render::report::{to_csv, to_html};
use crate::report::compile;
use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read};
use stint_domain::audit::{AuditReport, Auditor, ScannedEvent};
use stint_domain::checkpoint::{PublicKey, SignedCheckpoint};
use stint_domain::evidence::{
    self as ev, check_files, checkpoint_file, covering, listed_streams, parse_checkpoint_file,
    sha256_hex, Counts, Manifest, PackProblem, PackedEvent, ProblemKind,
};
use stint_domain::log::link;
use stint_domain::StreamId;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("building the pack: {0}")]
    Build(String),
}

/// A built pack: the tar.gz and what its manifest says.
#[derive(Debug, Clone)]
pub struct Pack {
    pub bytes: Vec<u8>,
    pub manifest: Manifest,
}

/// Where a period's pack is archived, next to its report.
pub fn archive_key(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!(
        "evidence/{}_{}.tar.gz",
        from.format("%Y-%m-%dT%H%M%SZ"),
        to.format("%Y-%m-%dT%H%M%SZ")
    )
}

/// What archiving a period's pack did.
#[derive(Debug, Clone, Serialize)]
pub struct Archived {
    pub archive_key: String,
    /// False when a pack for the period was archived already (a redelivered run): the first
    /// one stands, as Object Lock would keep it anyway.
    pub archived: bool,
    /// The checkpoint written first, if one was.
    pub checkpoint: Option<u64>,
    pub bytes: usize,
    pub sha256: String,
    pub events: u64,
    pub checkpoints: Vec<u64>,
}

/// Anchors the period's end (a checkpoint, unless the latest one is already at or after `to`),
/// builds the pack of `from..to` and archives it once under [`archive_key`].
pub async fn archive_pack(
    store: &dyn EventStore,
    anchor: Anchor<'_>,
    archive: &dyn Archive,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    review_within: stint_domain::AccessDuration,
) -> Result<Archived, EvidenceError> {
    let latest_at = match anchor.archive.latest().await? {
        Some(s) => Some(s.parse().map_err(CheckpointError::Corrupt)?.at),
        None => None,
    };
    // Only when no checkpoint reaches the period's end yet; a rerun then finds one.
    let written = if latest_at.is_none_or(|at| at < to) {
        crate::checkpoint::write(
            store,
            anchor,
            now,
            crate::checkpoint::Scope::Everything,
            true,
        )
        .await?
    } else {
        None
    };
    let key = anchor.signer.public_key().await?;
    let pack = build_pack(store, anchor.archive, &key, from, to, now, review_within).await?;
    let archive_key = archive_key(from, to);
    let sha256 = sha256_hex(&pack.bytes);
    let bytes = pack.bytes.len();
    let archived = archive
        .put_new(&archive_key, pack.bytes, "application/gzip")
        .await?;
    tracing::info!(
        archive_key,
        archived,
        bytes,
        sha256,
        "evidence pack archived"
    );
    Ok(Archived {
        archive_key,
        archived,
        checkpoint: written.map(|c| c.seq),
        bytes,
        sha256,
        events: pack.manifest.counts.events,
        checkpoints: pack.manifest.checkpoints,
    })
}

/// Streams read from the store at once while building.
const READ_AHEAD: usize = 8;

/// Builds the evidence pack of `from..to`: the report, every stream touched in the period or
/// listed by a covering checkpoint (whole), the review decisions and catalog changes of the
/// period, the covering checkpoints with their signatures, the public key, the manifest,
/// `SHA256SUMS` and `VERIFY.md`.
pub async fn build_pack(
    store: &dyn EventStore,
    archive: &dyn CheckpointArchive,
    key: &PublicKey,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    review_within: stint_domain::AccessDuration,
) -> Result<Pack, EvidenceError> {
    if from >= to {
        return Err(EvidenceError::Build(format!(
            "the period must start before it ends ({from} is not before {to})"
        )));
    }
    let all = archive.list().await?;
    let times: Vec<_> = all
        .iter()
        .map(|c| (c.seq, c.parse().ok().map(|cp| cp.at)))
        .collect();
    let chosen: BTreeSet<u64> = covering(&times, from, to).into_iter().collect();
    let checkpoints: Vec<&SignedCheckpoint> =
        all.iter().filter(|c| chosen.contains(&c.seq)).collect();
    let parsed: Vec<_> = checkpoints.iter().filter_map(|c| c.parse().ok()).collect();

    let mut streams: BTreeSet<StreamId> = listed_streams(&parsed).into_iter().collect();
    let mut log = store.read_log(from, to);
    while let Some(e) = log.try_next().await? {
        streams.insert(e.stream);
    }
    drop(log);
    let read: Vec<Vec<ScannedEvent>> = futures::stream::iter(
        streams
            .iter()
            .map(|s| async move { store.read_stream_indexed(s).await }),
    )
    .buffered(READ_AHEAD)
    .try_collect()
    .await?;

    let in_period = |e: &ScannedEvent| {
        let at = e.event.record.occurred_at;
        at >= from && at < to
    };
    let mut counts = Counts::default();
    let (mut events, mut reviews, mut changes) = (Vec::new(), Vec::new(), Vec::new());
    for stream in &read {
        if !stream.is_empty() {
            counts.streams += 1;
        }
        for e in stream {
            let line = PackedEvent::from_scanned(e).to_line();
            counts.events += 1;
            if in_period(e) {
                counts.events_in_period += 1;
                match e.event.record.event_type.as_str() {
                    ev::REVIEW_EVENT => reviews.extend_from_slice(&line),
                    ev::CATALOG_EVENT => changes.extend_from_slice(&line),
                    _ => {}
                }
            }
            events.extend_from_slice(&line);
        }
    }
    counts.reviews = count_lines(&reviews);
    counts.catalog_changes = count_lines(&changes);

    let report = compile(store, from, to, now, review_within).await?;
    counts.report_rows = report.rows.len() as u64;
    let build = |e: &dyn std::fmt::Display| EvidenceError::Build(e.to_string());
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        ev::REPORT_CSV.into(),
        to_csv(&report).map_err(|e| build(&e))?.into_bytes(),
    );
    files.insert(
        ev::REPORT_JSON.into(),
        serde_json::to_vec_pretty(&report).map_err(|e| build(&e))?,
    );
    files.insert(ev::REPORT_HTML.into(), to_html(&report).into_bytes());
    files.insert(ev::EVENTS.into(), events);
    files.insert(ev::REVIEWS.into(), reviews);
    files.insert(ev::CATALOG_CHANGES.into(), changes);
    files.insert(ev::KEY.into(), key.to_pem().into_bytes());
    for c in &checkpoints {
        files.insert(checkpoint_file(c.seq, "json"), c.bytes.clone());
        files.insert(checkpoint_file(c.seq, "sig"), c.signature.clone());
    }
    let mut manifest = Manifest {
        format: ev::FORMAT.into(),
        from,
        to,
        generated_at: now,
        counts,
        checkpoints: checkpoints.iter().map(|c| c.seq).collect(),
        anchored_until: parsed.iter().map(|c| c.at).max(),
        key_fingerprint: key.fingerprint(),
        files: BTreeMap::new(),
    };
    files.insert(ev::VERIFY_MD.into(), ev::verify_md(&manifest).into_bytes());
    manifest.files = files
        .iter()
        .map(|(n, b)| (n.clone(), sha256_hex(b)))
        .collect();
    files.insert(ev::MANIFEST.into(), manifest.to_bytes());
    let hashes: BTreeMap<String, String> = files
        .iter()
        .map(|(n, b)| (n.clone(), sha256_hex(b)))
        .collect();
    files.insert(ev::SUMS.into(), ev::sums(&hashes).into_bytes());

    let bytes = write_tar(files, now).map_err(|e| build(&e))?;
    tracing::info!(
        from = %from,
        to = %to,
        events = manifest.counts.events,
        streams = manifest.counts.streams,
        checkpoints = manifest.checkpoints.len(),
        bytes = bytes.len(),
        "evidence pack built"
    );
    Ok(Pack { bytes, manifest })
}

fn count_lines(b: &[u8]) -> u64 {
    b.iter().filter(|c| **c == b'\n').count() as u64
}

/// The files in the order an auditor meets them, under fixed owners, modes and times, so the
/// same content gives the same archive.
fn write_tar(mut files: BTreeMap<String, Vec<u8>>, at: DateTime<Utc>) -> std::io::Result<Vec<u8>> {
    let first = [
        ev::VERIFY_MD,
        ev::MANIFEST,
        ev::SUMS,
        ev::KEY,
        ev::REPORT_HTML,
        ev::REPORT_CSV,
        ev::REPORT_JSON,
        ev::REVIEWS,
        ev::CATALOG_CHANGES,
    ];
    let mut ordered: Vec<(String, Vec<u8>)> = Vec::new();
    for name in first {
        if let Some(b) = files.remove(name) {
            ordered.push((name.to_owned(), b));
        }
    }
    let events = files.remove(ev::EVENTS);
    ordered.extend(files); // the checkpoints, in sequence order
    if let Some(b) = events {
        ordered.push((ev::EVENTS.to_owned(), b));
    }
    let mtime = u64::try_from(at.timestamp()).unwrap_or(0);
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_size(0);
    dir.set_mode(0o755);
    dir.set_mtime(mtime);
    tar.append_data(&mut dir, "checkpoints/", std::io::empty())?;
    for (name, body) in ordered {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        tar.append_data(&mut h, &name, body.as_slice())?;
    }
    tar.into_inner()?.finish()
}

/// Which key the checkpoints were checked with.
#[derive(Debug, Clone, Serialize)]
pub struct KeyUsed {
    /// Fingerprint of the key the signatures were checked with.
    pub fingerprint: Option<String>,
    /// Fingerprint of `checkpoint-key.pem` in the pack.
    pub pack_fingerprint: Option<String>,
    /// Whether the key was given by the caller (`--public-key`) rather than taken from the pack.
    pub trusted: bool,
}

/// The outcome of verifying a pack.
#[derive(Debug, Clone, Serialize)]
pub struct PackVerification {
    pub verified: bool,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub key: KeyUsed,
    /// What is wrong with the pack itself: its files, manifest, key and selections.
    pub problems: Vec<PackProblem>,
    /// The audit of the pack's events against its checkpoints.
    pub audit: AuditReport,
}

/// A file other than `events.jsonl` larger than this is refused rather than held in memory.
const MAX_FILE: u64 = 512 * 1024 * 1024;
/// Bad lines reported one by one before the rest are counted.
const MAX_BAD_LINES: usize = 10;

/// What was read from `events.jsonl` besides the audit's links.
#[derive(Default)]
struct EventsSeen {
    lines: u64,
    streams: HashSet<StreamId>,
    /// Each event's time, to count the period's once the manifest names it.
    times: Vec<DateTime<Utc>>,
    /// Events of the selected types: (type, time, hash).
    selected: Vec<(String, DateTime<Utc>, String)>,
    bad: Vec<PackProblem>,
    bad_count: usize,
}

impl EventsSeen {
    fn bad_line(&mut self, file: &str, n: u64, detail: String) {
        self.bad_count += 1;
        if self.bad.len() < MAX_BAD_LINES {
            self.bad.push(PackProblem::new(
                ProblemKind::BadLine,
                Some(file),
                format!("line {n}: {detail}"),
            ));
        }
    }
}

/// Verifies a pack with no store and no network. The checkpoints are checked with `trusted`
/// when given (and the pack's own key compared with it), else with the key in the pack.
pub fn verify_pack(bytes: &[u8], trusted: Option<&PublicKey>) -> PackVerification {
    let mut problems = Vec::new();
    let mut auditor = Auditor::default();
    let mut seen = EventsSeen::default();
    let mut hashes: BTreeMap<String, String> = BTreeMap::new();
    let mut small: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Err(e) = read_pack(bytes, &mut auditor, &mut seen, &mut hashes, &mut small) {
        problems.push(e);
    }
    problems.append(&mut seen.bad);
    if seen.bad_count > MAX_BAD_LINES {
        problems.push(PackProblem::new(
            ProblemKind::BadLine,
            Some(ev::EVENTS),
            format!("{} more bad lines", seen.bad_count - MAX_BAD_LINES),
        ));
    }

    let manifest = match small.get(ev::MANIFEST).map(|b| Manifest::parse(b)) {
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            problems.push(PackProblem::new(
                ProblemKind::ManifestMalformed,
                Some(ev::MANIFEST),
                format!("it cannot be read: {e}"),
            ));
            None
        }
        None => {
            problems.push(PackProblem::new(
                ProblemKind::ManifestMalformed,
                Some(ev::MANIFEST),
                "the pack has no manifest",
            ));
            None
        }
    };
    if let Some(m) = &manifest {
        let sums = small
            .get(ev::SUMS)
            .map(|b| String::from_utf8_lossy(b).into_owned());
        problems.extend(check_files(m, sums.as_deref(), &hashes));
    }

    // The key: the caller's when given, compared with the pack's.
    let pack_key = match small.get(ev::KEY) {
        Some(pem) => match PublicKey::from_pem(&String::from_utf8_lossy(pem)) {
            Ok(k) => Some(k),
            Err(e) => {
                problems.push(PackProblem::new(ProblemKind::KeyMismatch, Some(ev::KEY), e));
                None
            }
        },
        None => None,
    };
    if let (Some(t), Some(p)) = (trusted, &pack_key) {
        if t.fingerprint() != p.fingerprint() {
            problems.push(PackProblem::new(
                ProblemKind::KeyMismatch,
                Some(ev::KEY),
                format!(
                    "the pack's key is {}, not the trusted key {}: the checkpoints were checked with the trusted key",
                    p.fingerprint(),
                    t.fingerprint()
                ),
            ));
        }
    }
    if let (Some(m), Some(p)) = (&manifest, &pack_key) {
        if m.key_fingerprint != p.fingerprint() {
            problems.push(PackProblem::new(
                ProblemKind::KeyMismatch,
                Some(ev::MANIFEST),
                format!(
                    "the manifest names key {}, the pack holds {}",
                    m.key_fingerprint,
                    p.fingerprint()
                ),
            ));
        }
    }
    let used = trusted.cloned().or_else(|| pack_key.clone());

    // The checkpoints: each .json with its .sig.
    let mut checkpoints: BTreeMap<u64, SignedCheckpoint> = BTreeMap::new();
    let mut sigs: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for (name, body) in &small {
        match parse_checkpoint_file(name) {
            Some((seq, "json")) => {
                checkpoints.insert(
                    seq,
                    SignedCheckpoint {
                        seq,
                        bytes: body.clone(),
                        signature: Vec::new(),
                    },
                );
            }
            Some((seq, "sig")) => {
                sigs.insert(seq, body.clone());
            }
            _ => {}
        }
    }
    for (seq, sig) in sigs {
        match checkpoints.get_mut(&seq) {
            Some(c) => c.signature = sig,
            None => problems.push(PackProblem::new(
                ProblemKind::MissingFile,
                Some(&checkpoint_file(seq, "json")),
                "its signature is in the pack, the checkpoint is not",
            )),
        }
    }
    let checkpoints: Vec<SignedCheckpoint> = checkpoints.into_values().collect();
    if let Some(k) = &used {
        let local = format!("local:{}", k.fingerprint());
        for c in &checkpoints {
            if let Ok(cp) = c.parse() {
                if cp.key_id.starts_with("local:") && cp.key_id != local {
                    problems.push(PackProblem::new(
                        ProblemKind::KeyMismatch,
                        Some(&checkpoint_file(c.seq, "json")),
                        format!("it names key {}, not {local}", cp.key_id),
                    ));
                }
            }
        }
    }
    let first = checkpoints.first().map_or(1, |c| c.seq);
    match (checkpoints.first(), &manifest) {
        (None, _) => problems.push(PackProblem::new(
            ProblemKind::Unanchored,
            None,
            "the pack holds no checkpoint: nothing anchors its events, and a consistent rewrite would not show",
        )),
        (Some(c), Some(m)) if c.seq > 1 => {
            // Checkpoint times only grow, so the one before the first in the pack would cover
            // the period's start too: a pack starting after it lacks that one.
            if let Ok(cp) = c.parse() {
                if cp.at > m.from {
                    problems.push(PackProblem::new(
                        ProblemKind::Unanchored,
                        Some(&checkpoint_file(c.seq - 1, "json")),
                        format!(
                            "the pack's first checkpoint, {}, was written after the period's start, so checkpoint {} belongs in the pack and is missing",
                            c.seq,
                            c.seq - 1
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    let audit = auditor.finish_from(&checkpoints, used.as_ref(), first);

    if let Some(m) = &manifest {
        let in_period = |at: &DateTime<Utc>| *at >= m.from && *at < m.to;
        let period_events = seen.times.iter().filter(|t| in_period(t)).count() as u64;
        let count = |what: &str, claimed: u64, found: u64| {
            (claimed != found).then(|| {
                PackProblem::new(
                    ProblemKind::CountMismatch,
                    Some(ev::MANIFEST),
                    format!("it counts {claimed} {what}, the pack holds {found}"),
                )
            })
        };
        problems.extend(count("events", m.counts.events, seen.lines));
        problems.extend(count(
            "streams",
            m.counts.streams,
            seen.streams.len() as u64,
        ));
        problems.extend(count(
            "events in the period",
            m.counts.events_in_period,
            period_events,
        ));
        let seqs: Vec<u64> = checkpoints.iter().map(|c| c.seq).collect();
        if m.checkpoints != seqs {
            problems.push(PackProblem::new(
                ProblemKind::CountMismatch,
                Some(ev::MANIFEST),
                format!(
                    "it lists checkpoints {:?}, the pack holds {:?}",
                    m.checkpoints, seqs
                ),
            ));
        }
        for (file, ty, claimed) in [
            (ev::REVIEWS, ev::REVIEW_EVENT, m.counts.reviews),
            (
                ev::CATALOG_CHANGES,
                ev::CATALOG_EVENT,
                m.counts.catalog_changes,
            ),
        ] {
            let expected: BTreeSet<&str> = seen
                .selected
                .iter()
                .filter(|(t, at, _)| t == ty && in_period(at))
                .map(|(_, _, h)| h.as_str())
                .collect();
            let (listed, mut found) = selection(file, small.get(file).map(Vec::as_slice));
            problems.append(&mut found);
            problems.extend(count(file, claimed, listed.len() as u64));
            let listed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
            if listed != expected {
                problems.push(PackProblem::new(
                    ProblemKind::SelectionMismatch,
                    Some(file),
                    format!(
                        "it holds {} events; events.jsonl has {} {ty} events in the period, {} of them missing here and {} here that are not among them",
                        listed.len(),
                        expected.len(),
                        expected.difference(&listed).count(),
                        listed.difference(&expected).count()
                    ),
                ));
            }
        }
        if let Some(report) = small.get(ev::REPORT_JSON) {
            let rows = serde_json::from_slice::<serde_json::Value>(report)
                .ok()
                .and_then(|v| v.get("rows").and_then(|r| r.as_array()).map(Vec::len));
            match rows {
                Some(n) => problems.extend(count("report rows", m.counts.report_rows, n as u64)),
                None => problems.push(PackProblem::new(
                    ProblemKind::BadLine,
                    Some(ev::REPORT_JSON),
                    "it is not a report",
                )),
            }
        }
    }

    problems.sort_by(|a, b| (a.kind, &a.file).cmp(&(b.kind, &b.file)));
    PackVerification {
        verified: problems.is_empty() && audit.verified(),
        from: manifest.as_ref().map(|m| m.from),
        to: manifest.as_ref().map(|m| m.to),
        key: KeyUsed {
            fingerprint: used.as_ref().map(PublicKey::fingerprint),
            pack_fingerprint: pack_key.as_ref().map(PublicKey::fingerprint),
            trusted: trusted.is_some(),
        },
        problems,
        audit,
    }
}

/// The hashes of the events listed in `reviews.jsonl` or `catalog-changes.jsonl`, each line
/// checked to be the event it says (its content gives its hash).
fn selection(file: &str, body: Option<&[u8]>) -> (Vec<String>, Vec<PackProblem>) {
    let (mut hashes, mut problems) = (Vec::new(), Vec::new());
    for (i, line) in body.unwrap_or_default().split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed = serde_json::from_slice::<PackedEvent>(line)
            .map_err(|e| e.to_string())
            .and_then(|p| p.to_scanned());
        match parsed {
            Ok(s) => {
                let e = &s.event;
                if link(&e.prev_hash, &e.stream, e.version, &e.record) != e.hash {
                    problems.push(PackProblem::new(
                        ProblemKind::SelectionMismatch,
                        Some(file),
                        format!(
                            "line {}: {} version {} does not match its hash: it was edited",
                            i + 1,
                            e.stream,
                            e.version
                        ),
                    ));
                }
                hashes.push(e.hash.to_string());
            }
            Err(e) => problems.push(PackProblem::new(
                ProblemKind::BadLine,
                Some(file),
                format!("line {}: {e}", i + 1),
            )),
        }
    }
    (hashes, problems)
}

/// Reads every entry: `events.jsonl` streamed into the auditor, the rest kept (they are small),
/// each file's SHA-256 taken as it is read. Stops at the first unreadable entry.
fn read_pack(
    bytes: &[u8],
    auditor: &mut Auditor,
    seen: &mut EventsSeen,
    hashes: &mut BTreeMap<String, String>,
    small: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), PackProblem> {
    let unreadable = |e: std::io::Error| {
        PackProblem::new(
            ProblemKind::Unreadable,
            None,
            format!("the pack is not a whole tar.gz (cut short or damaged): {e}"),
        )
    };
    let mut archive = tar::Archive::new(MultiGzDecoder::new(bytes));
    for entry in archive.entries().map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let raw = entry
            .path()
            .map_err(unreadable)?
            .to_string_lossy()
            .into_owned();
        let name = raw.trim_start_matches("./").to_owned();
        match entry.header().entry_type() {
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            other => {
                return Err(PackProblem::new(
                    ProblemKind::UnlistedFile,
                    Some(&name),
                    format!("a {other:?} entry, not a file: a pack holds only files"),
                ))
            }
        }
        if name.is_empty() || name.starts_with('/') || name.split('/').any(|p| p == "..") {
            return Err(PackProblem::new(
                ProblemKind::UnlistedFile,
                Some(&name),
                "a path outside the pack",
            ));
        }
        if hashes.contains_key(&name) {
            seen.bad.push(PackProblem::new(
                ProblemKind::DuplicateFile,
                Some(&name),
                "the archive holds this name more than once: tools disagree on which copy is read",
            ));
        }
        let mut reader = Hashing::new(entry);
        if name == ev::EVENTS {
            read_events(&mut reader, auditor, seen).map_err(unreadable)?;
        } else {
            if reader.inner.header().size().unwrap_or(0) > MAX_FILE {
                return Err(PackProblem::new(
                    ProblemKind::Unreadable,
                    Some(&name),
                    format!("larger than {MAX_FILE} bytes"),
                ));
            }
            let mut body = Vec::new();
            reader.read_to_end(&mut body).map_err(unreadable)?;
            small.insert(name.clone(), body);
        }
        hashes.insert(name, reader.finish());
    }
    Ok(())
}

fn read_events(
    reader: &mut impl Read,
    auditor: &mut Auditor,
    seen: &mut EventsSeen,
) -> std::io::Result<()> {
    let mut lines = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        n += 1;
        let parsed = serde_json::from_slice::<PackedEvent>(&line)
            .map_err(|e| e.to_string())
            .and_then(|p| p.to_scanned());
        match parsed {
            Ok(s) => {
                seen.lines += 1;
                let r = &s.event.record;
                seen.times.push(r.occurred_at);
                if r.event_type == ev::REVIEW_EVENT || r.event_type == ev::CATALOG_EVENT {
                    seen.selected.push((
                        r.event_type.clone(),
                        r.occurred_at,
                        s.event.hash.to_string(),
                    ));
                }
                if !seen.streams.contains(&s.event.stream) {
                    seen.streams.insert(s.event.stream.clone());
                }
                auditor.push(&s);
            }
            Err(e) => seen.bad_line(ev::EVENTS, n, e),
        }
    }
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    digest: sha2::Sha256,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            digest: sha2::Digest::new(),
        }
    }
    /// Reads what is left (so the hash covers the whole entry) and returns the hex digest.
    fn finish(mut self) -> String {
        let _ = std::io::copy(&mut self, &mut std::io::sink());
        hex_digest(self.digest)
    }
}

fn hex_digest(d: sha2::Sha256) -> String {
    use std::fmt::Write;
    sha2::Digest::finalize(d)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.digest, &buf[..n]);
        Ok(n)
    }
}
