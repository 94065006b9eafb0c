//! Whole-store audit: every event's hash, every stream's chain, the index attributes, and the
//! store against the signed checkpoints. Events are pushed one at a time; memory holds two
//! digests per event, not the events.

use crate::checkpoint::{merkle_root, Checkpoint, PublicKey, SignedCheckpoint};
use crate::log::{day_key, link, time_key, Hash, RawEvent, StoredEvent, StreamId};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The index attributes a store keeps beside an event (DynamoDB's `day` and `log_sk`); `None`
/// for a store whose index is the hashed `occurred_at` itself (SQLite).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexAttrs {
    pub day: Option<String>,
    pub log_sk: Option<String>,
}

/// An event as a full scan reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedEvent {
    pub event: StoredEvent,
    pub index: Option<IndexAttrs>,
}

/// An event as a full scan reads it, undecoded: the audit hashes the stored text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawScanned {
    pub event: RawEvent,
    pub index: Option<IndexAttrs>,
    /// Why a field could not be read as the text or number a store writes (a blob, a map, a
    /// missing attribute); the fields it names are then blank. The audit reports it as an
    /// edited event and goes on, so one damaged row cannot stop it.
    pub damage: Option<String>,
}

impl RawScanned {
    /// The decoded event, for callers that read what it says rather than check it.
    pub fn decode(self) -> Result<ScannedEvent, String> {
        let (stream, version) = (self.event.stream.clone(), self.event.version);
        if let Some(damage) = self.damage {
            return Err(format!("{stream} v{version}: {damage}"));
        }
        Ok(ScannedEvent {
            event: self
                .event
                .decode()
                .map_err(|e| format!("{stream} v{version} {e}"))?,
            index: self.index,
        })
    }
}

impl From<&ScannedEvent> for RawScanned {
    fn from(ev: &ScannedEvent) -> Self {
        RawScanned {
            event: RawEvent::from_stored(&ev.event),
            index: ev.index.clone(),
            damage: None,
        }
    }
}

/// What kind of tampering (or damage) a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An event's content no longer matches its hash.
    EditedEvent,
    /// Versions missing or out of order, or a `prev_hash` that does not link.
    BrokenChain,
    /// The stream's event at a checkpointed version has another hash: rewritten after it.
    RewrittenStream,
    /// The stream ends before the version a checkpoint recorded.
    DeletedTail,
    /// A checkpoint recorded the stream; the store has none of it.
    DeletedStream,
    /// `day` or `log_sk` differ from what the event's time and id give: hidden from the index.
    IndexChanged,
    /// A checkpoint is missing, or does not name its predecessor's digest.
    CheckpointChainBroken,
    /// A checkpoint's signature does not verify with the deployment's key.
    BadSignature,
    /// A checkpoint cannot be read, or its root does not match its heads.
    CheckpointMalformed,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::EditedEvent => "edited_event",
            FindingKind::BrokenChain => "broken_chain",
            FindingKind::RewrittenStream => "rewritten_stream",
            FindingKind::DeletedTail => "deleted_tail",
            FindingKind::DeletedStream => "deleted_stream",
            FindingKind::IndexChanged => "index_changed",
            FindingKind::CheckpointChainBroken => "checkpoint_chain_broken",
            FindingKind::BadSignature => "bad_signature",
            FindingKind::CheckpointMalformed => "checkpoint_malformed",
        }
    }
}

/// One thing wrong, naming the stream, the version and the checkpoint where they apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<u64>,
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.as_str())?;
        if let Some(s) = &self.stream {
            write!(f, " in {s}")?;
        }
        if let Some(v) = self.version {
            write!(f, " at version {v}")?;
        }
        if let Some(c) = self.checkpoint {
            write!(f, " (checkpoint {c})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// The outcome of an audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub events: u64,
    pub streams: usize,
    pub checkpoints: usize,
    /// The last checkpoint whose signature verified: events after it are chained but not yet
    /// anchored, so deleting them would show only at the next checkpoint.
    pub last_checkpoint: Option<u64>,
    pub last_checkpoint_at: Option<chrono::DateTime<chrono::Utc>>,
    pub events_after_last_checkpoint: u64,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn verified(&self) -> bool {
        self.findings.is_empty()
    }
    /// The findings of one kind, for tests and summaries.
    pub fn of(&self, kind: FindingKind) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.kind == kind).collect()
    }
}

type Digest = [u8; 32];

fn digest(h: &Hash) -> Option<Digest> {
    digest_of(h.as_str())
}

fn digest_of(hex_text: &str) -> Option<Digest> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok().map(|_| out)
}

struct Link {
    version: u64,
    prev: Option<Digest>,
    hash: Option<Digest>,
    at: chrono::DateTime<chrono::Utc>,
}

/// Checks one event by itself: its content against its hash, and its index attributes.
/// Pure and independent of every other event, so callers may run it on several threads.
pub fn check_event(ev: &ScannedEvent) -> Vec<Finding> {
    let e = &ev.event;
    let mut out = Vec::new();
    let at = |kind, detail: String| Finding {
        kind,
        stream: Some(e.stream.to_string()),
        version: Some(e.version),
        checkpoint: None,
        detail,
    };
    if link(&e.prev_hash, &e.stream, e.version, &e.record) != e.hash {
        out.push(at(
            FindingKind::EditedEvent,
            format!(
                "event {} does not match its hash: its content was edited",
                e.record.event_id
            ),
        ));
    }
    if let Some(ix) = &ev.index {
        out.extend(index_findings(
            ix,
            &e.stream,
            e.version,
            &e.record.occurred_at,
            &e.record.event_id,
        ));
    }
    out
}

/// `day` and `log_sk` against what the event's time and id give.
fn index_findings(
    ix: &IndexAttrs,
    stream: &StreamId,
    version: u64,
    occurred_at: &chrono::DateTime<chrono::Utc>,
    event_id: &str,
) -> Vec<Finding> {
    let at = |detail: String| Finding {
        kind: FindingKind::IndexChanged,
        stream: Some(stream.to_string()),
        version: Some(version),
        checkpoint: None,
        detail,
    };
    let mut out = Vec::new();
    let day = day_key(occurred_at);
    let sk = format!("{}#{event_id}", time_key(occurred_at));
    if ix.day.as_deref() != Some(day.as_str()) {
        out.push(at(format!(
            "day is {:?}, but the event occurred on {day}: the time index no longer finds it",
            ix.day.as_deref().unwrap_or("(missing)")
        )));
    }
    if ix.log_sk.as_deref() != Some(sk.as_str()) {
        out.push(at(format!(
            "log_sk is {:?}, expected {sk:?}: the time index no longer finds it",
            ix.log_sk.as_deref().unwrap_or("(missing)")
        )));
    }
    out
}

/// One event checked by itself, reduced to its findings and the link the chain check needs.
pub struct Checked {
    link: Option<(StreamId, Link)>,
    findings: Vec<Finding>,
}

/// [`check_event`] over the stored text. An untouched event is hashed as stored, without
/// parsing its payload; any other is decoded and checked in its canonical form, so the
/// outcome is the same as decoding first. `buf` is scratch space reused across events.
pub fn check_raw(ev: &RawScanned, buf: &mut Vec<u8>) -> Checked {
    let e = &ev.event;
    if ev.damage.is_none() && e.text_matches_hash(buf) {
        // The text is what was hashed, so it is canonical: `occurred_at` is a time key.
        let at = chrono::DateTime::parse_from_rfc3339(&e.occurred_at);
        if let (Ok(stream), Ok(at)) = (StreamId::new(e.stream.clone()), at) {
            let at = at.with_timezone(&chrono::Utc);
            let findings = match &ev.index {
                Some(ix) => index_findings(ix, &stream, e.version, &at, &e.event_id),
                None => Vec::new(),
            };
            let link = Link {
                version: e.version,
                prev: digest_of(&e.prev_hash),
                hash: digest_of(&e.hash),
                at,
            };
            return Checked {
                link: Some((stream, link)),
                findings,
            };
        }
    }
    match ev.clone().decode() {
        Ok(decoded) => {
            let mut findings = check_event(&decoded);
            let canonical = time_key(&decoded.event.record.occurred_at);
            if ev.index.is_none() && e.occurred_at != canonical {
                // Where the time text is the index (SQLite orders the log by it), the same
                // instant written another way moves the event in or out of a period.
                findings.push(Finding {
                    kind: FindingKind::IndexChanged,
                    stream: Some(e.stream.clone()),
                    version: Some(e.version),
                    checkpoint: None,
                    detail: format!(
                        "occurred_at is stored as {:?}, not {canonical:?}: the time index orders by that text",
                        e.occurred_at
                    ),
                });
            }
            Checked {
                findings,
                link: Some((decoded.event.stream.clone(), Link::of(&decoded.event))),
            }
        }
        // Unreadable text was not written by a store: name it, and keep its place in the
        // chain when the stream name still reads.
        Err(why) => Checked {
            findings: vec![Finding {
                kind: FindingKind::EditedEvent,
                stream: Some(e.stream.clone()),
                version: Some(e.version),
                checkpoint: None,
                detail: format!(
                    "event {} cannot be read ({why}): its content was edited",
                    e.event_id
                ),
            }],
            link: StreamId::new(e.stream.clone()).ok().map(|s| {
                let link = Link {
                    version: e.version,
                    prev: digest_of(&e.prev_hash),
                    hash: digest_of(&e.hash),
                    // Unknown time: counted as after the last checkpoint, not hidden before it.
                    at: chrono::DateTime::<chrono::Utc>::MAX_UTC,
                };
                (s, link)
            }),
        },
    }
}

impl Link {
    fn of(ev: &StoredEvent) -> Link {
        Link {
            version: ev.version,
            prev: digest(&ev.prev_hash),
            hash: digest(&ev.hash),
            at: ev.record.occurred_at,
        }
    }
}

/// Collects the chain links of every stream; [`Auditor::finish`] checks them and the checkpoints.
#[derive(Default)]
pub struct Auditor {
    streams: HashMap<StreamId, Vec<Link>>,
    findings: Vec<Finding>,
    events: u64,
}

impl Auditor {
    /// Checks the event itself and keeps its link for the chain check.
    pub fn push(&mut self, ev: &ScannedEvent) {
        let found = check_event(ev);
        self.push_checked(&ev.event, found);
    }

    /// As [`push`](Self::push), with [`check_event`] already run (perhaps on another thread).
    pub fn push_checked(&mut self, ev: &StoredEvent, found: Vec<Finding>) {
        self.push_raw(Checked {
            link: Some((ev.stream.clone(), Link::of(ev))),
            findings: found,
        });
    }

    /// Keeps an event checked by [`check_raw`] (perhaps on another thread).
    pub fn push_raw(&mut self, checked: Checked) {
        self.events += 1;
        self.findings.extend(checked.findings);
        if let Some((stream, link)) = checked.link {
            self.streams.entry(stream).or_default().push(link);
        }
    }

    /// Checks every chain, then the checkpoints (chain, signatures, roots) and the store
    /// against every head they recorded.
    pub fn finish(self, checkpoints: &[SignedCheckpoint], key: Option<&PublicKey>) -> AuditReport {
        self.finish_from(checkpoints, key, 1)
    }

    /// As [`finish`](Self::finish) over a run of checkpoints that starts at `first` (an
    /// evidence pack carries only those covering its period): the run must be unbroken from
    /// `first`, whose own link to its predecessor cannot be checked here.
    pub fn finish_from(
        mut self,
        checkpoints: &[SignedCheckpoint],
        key: Option<&PublicKey>,
        first: u64,
    ) -> AuditReport {
        let mut findings = std::mem::take(&mut self.findings);
        for (stream, links) in &mut self.streams {
            links.sort_by_key(|l| l.version);
            if let Some(f) = check_chain(stream, links) {
                findings.push(f);
            }
        }
        let (trusted, mut cp_findings) = check_checkpoints(checkpoints, key, first);
        findings.append(&mut cp_findings);
        let mut last: Option<&Checkpoint> = None;
        // Each stream's latest checkpointed head; earlier heads are checked as they come.
        let mut reported = std::collections::HashSet::new();
        for cp in &trusted {
            for h in &cp.heads {
                if let Some(f) = self.check_head(cp.seq, h) {
                    if reported.insert((f.kind, h.stream.clone())) {
                        findings.push(f);
                    }
                }
            }
            last = Some(cp);
        }
        let after = last.map_or(self.events, |cp| {
            self.streams
                .values()
                .flat_map(|ls| ls.iter())
                .filter(|l| l.at >= cp.at)
                .count() as u64
        });
        findings.sort_by(|a, b| {
            (a.stream.as_deref(), a.kind, a.version).cmp(&(b.stream.as_deref(), b.kind, b.version))
        });
        // One finding per stream and kind is enough to name it; a rewrite touches many events.
        findings.dedup_by(|a, b| a.kind == b.kind && a.stream.is_some() && a.stream == b.stream);
        AuditReport {
            events: self.events,
            streams: self.streams.len(),
            checkpoints: checkpoints.len(),
            last_checkpoint: last.map(|c| c.seq),
            last_checkpoint_at: last.map(|c| c.at),
            events_after_last_checkpoint: after,
            findings,
        }
    }

    fn check_head(&self, seq: u64, h: &crate::checkpoint::Head) -> Option<Finding> {
        let f = |kind, version, detail: String| Finding {
            kind,
            stream: Some(h.stream.to_string()),
            version,
            checkpoint: Some(seq),
            detail,
        };
        let Some(links) = self.streams.get(&h.stream) else {
            return Some(f(
                FindingKind::DeletedStream,
                None,
                format!(
                    "checkpoint {seq} recorded the stream at version {}; the store has no event of it",
                    h.version
                ),
            ));
        };
        let last = links.last().map_or(0, |l| l.version);
        match links.iter().find(|l| l.version == h.version) {
            None if last < h.version => Some(f(
                FindingKind::DeletedTail,
                Some(last + 1),
                format!(
                    "the stream ends at version {last}, but checkpoint {seq} recorded version {}: events were deleted from its end",
                    h.version
                ),
            )),
            None => Some(f(
                FindingKind::DeletedTail,
                Some(h.version),
                format!("version {} recorded by checkpoint {seq} is missing", h.version),
            )),
            Some(l) if l.hash != digest(&h.hash) => Some(f(
                FindingKind::RewrittenStream,
                Some(h.version),
                format!(
                    "version {} has another hash than checkpoint {seq} recorded: the stream was rewritten after it",
                    h.version
                ),
            )),
            Some(_) => None,
        }
    }
}

fn check_chain(stream: &StreamId, links: &[Link]) -> Option<Finding> {
    let mut prev = digest(&Hash::genesis());
    for (i, l) in links.iter().enumerate() {
        let expected = i as u64 + 1;
        let problem = if l.version != expected {
            Some(format!(
                "expected version {expected}: an event before it is missing or out of order"
            ))
        } else if l.prev != prev || l.prev.is_none() {
            Some("prev_hash does not match the previous event's hash".to_owned())
        } else {
            None
        };
        if let Some(detail) = problem {
            return Some(Finding {
                kind: FindingKind::BrokenChain,
                stream: Some(stream.to_string()),
                version: Some(l.version),
                checkpoint: None,
                detail,
            });
        }
        prev = l.hash;
    }
    None
}

/// Checks the checkpoint chain; returns the checkpoints whose signature verified (in order)
/// and what is wrong with the rest.
fn check_checkpoints(
    checkpoints: &[SignedCheckpoint],
    key: Option<&PublicKey>,
    first: u64,
) -> (Vec<Checkpoint>, Vec<Finding>) {
    let mut sorted: Vec<&SignedCheckpoint> = checkpoints.iter().collect();
    sorted.sort_by_key(|c| c.seq);
    let mut trusted = Vec::new();
    let mut findings = Vec::new();
    let f = |kind, seq: u64, detail: String| Finding {
        kind,
        stream: None,
        version: None,
        checkpoint: Some(seq),
        detail,
    };
    let mut prev: Option<&SignedCheckpoint> = None;
    let mut by_seq = BTreeMap::new();
    for c in &sorted {
        by_seq.insert(c.seq, *c);
    }
    for c in sorted {
        let expected = prev.map_or(first, |p| p.seq + 1);
        if c.seq != expected {
            findings.push(f(
                FindingKind::CheckpointChainBroken,
                c.seq,
                format!("checkpoint {expected} to {} missing", c.seq - 1),
            ));
        }
        let verified = match key {
            Some(k) => k.verify(&c.bytes, &c.signature),
            None => Err("no public key was given to verify it with".into()),
        };
        if let Err(e) = verified {
            findings.push(f(FindingKind::BadSignature, c.seq, e));
            prev = Some(c);
            continue;
        }
        let cp = match c.parse() {
            Ok(cp) => cp,
            Err(e) => {
                findings.push(f(FindingKind::CheckpointMalformed, c.seq, e));
                prev = Some(c);
                continue;
            }
        };
        if cp.root != merkle_root(&cp.heads) {
            findings.push(f(
                FindingKind::CheckpointMalformed,
                c.seq,
                "its root does not match its heads".into(),
            ));
        }
        let prev_digest = by_seq.get(&(c.seq.wrapping_sub(1))).map(|p| p.digest());
        match (&cp.prev, prev_digest, c.seq) {
            (None, _, 1) => {}
            (Some(_), None, seq) if seq == first => {} // its predecessor is outside the run
            (Some(named), Some(actual), _) if *named == actual => {}
            (Some(_), Some(_), _) => findings.push(f(
                FindingKind::CheckpointChainBroken,
                c.seq,
                format!(
                    "it does not name checkpoint {} as it is stored: that one was changed or replaced",
                    c.seq - 1
                ),
            )),
            (_, None, _) => {} // the gap is reported above
            (None, Some(_), _) => findings.push(f(
                FindingKind::CheckpointChainBroken,
                c.seq,
                "it names no previous checkpoint".into(),
            )),
        }
        trusted.push(cp);
        prev = Some(c);
    }
    (trusted, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{self, PrivateKey};
    use crate::log::{chain, EventRecord};
    use chrono::DateTime;
    use serde_json::json;

    fn rec(n: u32) -> EventRecord {
        EventRecord {
            event_id: format!("e{n}"),
            event_type: "Test".into(),
            schema_version: 1,
            occurred_at: DateTime::from_timestamp(1_790_000_000 + i64::from(n) * 60, 0).unwrap(),
            actor: "user:alice".into(),
            payload: json!({ "n": n }),
        }
    }

    fn stream(name: &str, n: u32) -> Vec<StoredEvent> {
        let s = StreamId::new(name).unwrap();
        chain(&s, 0, Hash::genesis(), (1..=n).map(rec).collect())
    }

    fn indexed(ev: &StoredEvent) -> ScannedEvent {
        ScannedEvent {
            event: ev.clone(),
            index: Some(IndexAttrs {
                day: Some(day_key(&ev.record.occurred_at)),
                log_sk: Some(format!(
                    "{}#{}",
                    time_key(&ev.record.occurred_at),
                    ev.record.event_id
                )),
            }),
        }
    }

    struct World {
        key: PrivateKey,
        events: Vec<ScannedEvent>,
        checkpoints: Vec<SignedCheckpoint>,
    }

    impl World {
        /// Given two streams and a checkpoint over them.
        fn given() -> World {
            let mut w = World {
                key: PrivateKey::from_random([3u8; 32]).unwrap(),
                events: stream("request#a", 3)
                    .iter()
                    .chain(stream("request#b", 2).iter())
                    .map(indexed)
                    .collect(),
                checkpoints: vec![],
            };
            w.checkpoint();
            w
        }
        fn checkpoint(&mut self) {
            let heads = checkpoint::heads_of(self.events.iter().map(|e| &e.event));
            let prev = self
                .checkpoints
                .last()
                .map(|s| (s.parse().unwrap(), s.clone()));
            let cp = checkpoint::next(
                prev.as_ref().map(|(c, s)| (c, s)),
                heads,
                DateTime::from_timestamp(1_790_100_000, 0).unwrap(),
                "local:test",
                true,
            )
            .unwrap();
            let bytes = cp.to_bytes();
            self.checkpoints.push(SignedCheckpoint {
                seq: cp.seq,
                signature: self.key.sign(&bytes),
                bytes,
            });
        }
        /// Audits the decoded events and the stored text; both must say the same.
        fn audit(&self) -> AuditReport {
            let mut a = Auditor::default();
            for e in &self.events {
                a.push(e);
            }
            let decoded = a.finish(&self.checkpoints, Some(&self.key.public()));
            let raw = self.audit_raw(self.events.iter().map(RawScanned::from).collect());
            assert_eq!(raw.findings, decoded.findings);
            assert_eq!(
                (raw.events, raw.streams, raw.events_after_last_checkpoint),
                (
                    decoded.events,
                    decoded.streams,
                    decoded.events_after_last_checkpoint
                )
            );
            decoded
        }
        fn audit_raw(&self, events: Vec<RawScanned>) -> AuditReport {
            let mut a = Auditor::default();
            let mut buf = Vec::new();
            for e in &events {
                a.push_raw(check_raw(e, &mut buf));
            }
            a.finish(&self.checkpoints, Some(&self.key.public()))
        }
        fn only(&self, kind: FindingKind) -> Finding {
            let r = self.audit();
            assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
            assert_eq!(r.findings[0].kind, kind, "{:#?}", r.findings);
            r.findings[0].clone()
        }
    }

    #[test]
    fn an_untouched_store_verifies() {
        let r = World::given().audit();
        assert!(r.verified(), "{:#?}", r.findings);
        assert_eq!((r.events, r.streams, r.last_checkpoint), (5, 2, Some(1)));
    }

    #[test]
    fn a_stream_rewritten_consistently_is_found_against_the_checkpoint() {
        let mut w = World::given();
        let s = StreamId::new("request#a").unwrap();
        let mut records: Vec<_> = stream("request#a", 3)
            .into_iter()
            .map(|e| e.record)
            .collect();
        records[1].payload = json!({ "n": 99 });
        let rewritten = chain(&s, 0, Hash::genesis(), records);
        w.events.retain(|e| e.event.stream != s);
        w.events.extend(rewritten.iter().map(indexed));
        let f = w.only(FindingKind::RewrittenStream);
        assert_eq!(
            (f.stream.as_deref(), f.version, f.checkpoint),
            (Some("request#a"), Some(3), Some(1))
        );
    }

    #[test]
    fn a_deleted_tail_is_found() {
        let mut w = World::given();
        w.events
            .retain(|e| !(e.event.stream.as_str() == "request#a" && e.event.version == 3));
        let f = w.only(FindingKind::DeletedTail);
        assert_eq!(
            (f.stream.as_deref(), f.version),
            (Some("request#a"), Some(3))
        );
    }

    #[test]
    fn a_deleted_stream_is_found() {
        let mut w = World::given();
        w.events.retain(|e| e.event.stream.as_str() != "request#b");
        let f = w.only(FindingKind::DeletedStream);
        assert_eq!(f.stream.as_deref(), Some("request#b"));
    }

    #[test]
    fn a_blank_day_is_found() {
        let mut w = World::given();
        w.events[1].index.as_mut().unwrap().day = Some(String::new());
        let f = w.only(FindingKind::IndexChanged);
        assert_eq!(
            (f.stream.as_deref(), f.version),
            (Some("request#a"), Some(2))
        );
        w.events[1].index.as_mut().unwrap().day = None;
        w.only(FindingKind::IndexChanged);
    }

    #[test]
    fn an_edited_checkpoint_is_found() {
        let mut w = World::given();
        let text = String::from_utf8(w.checkpoints[0].bytes.clone()).unwrap();
        w.checkpoints[0].bytes = text
            .replace("\"version\": 3", "\"version\": 2")
            .into_bytes();
        let f = w.only(FindingKind::BadSignature);
        assert_eq!(f.checkpoint, Some(1));
    }

    #[test]
    fn a_swapped_signature_is_found() {
        let mut w = World::given();
        w.checkpoint();
        let (a, b) = (
            w.checkpoints[0].signature.clone(),
            w.checkpoints[1].signature.clone(),
        );
        w.checkpoints[0].signature = b;
        w.checkpoints[1].signature = a;
        let r = w.audit();
        assert_eq!(
            r.of(FindingKind::BadSignature).len(),
            2,
            "{:#?}",
            r.findings
        );
    }

    #[test]
    fn a_checkpoint_re_signed_by_another_key_is_found() {
        let mut w = World::given();
        let other = PrivateKey::from_random([5u8; 32]).unwrap();
        w.checkpoints[0].signature = other.sign(&w.checkpoints[0].bytes);
        w.only(FindingKind::BadSignature);
    }

    #[test]
    fn a_removed_or_replaced_checkpoint_breaks_the_checkpoint_chain() {
        let mut w = World::given();
        w.checkpoint();
        w.checkpoint();
        let mut gap = World {
            checkpoints: w.checkpoints.clone(),
            events: w.events.clone(),
            key: PrivateKey::from_random([3u8; 32]).unwrap(),
        };
        gap.checkpoints.remove(1);
        let f = gap.only(FindingKind::CheckpointChainBroken);
        assert_eq!(f.checkpoint, Some(3));
        // A validly signed but different checkpoint 2 (the signer re-issued history).
        let mut replaced = w;
        let other = checkpoint::next(
            None,
            BTreeMap::new(),
            DateTime::from_timestamp(1, 0).unwrap(),
            "k",
            true,
        )
        .unwrap();
        let mut other = other;
        other.seq = 2;
        other.prev = Some(replaced.checkpoints[0].digest());
        let bytes = other.to_bytes();
        replaced.checkpoints[1] = SignedCheckpoint {
            seq: 2,
            signature: replaced.key.sign(&bytes),
            bytes,
        };
        let f = replaced.only(FindingKind::CheckpointChainBroken);
        assert_eq!(f.checkpoint, Some(3));
    }

    #[test]
    fn a_run_of_checkpoints_from_a_later_one_verifies_on_its_own() {
        let mut w = World::given();
        w.checkpoint();
        w.checkpoint();
        let run = w.checkpoints[1..].to_vec();
        let mut a = Auditor::default();
        for e in &w.events {
            a.push(e);
        }
        let r = a.finish_from(&run, Some(&w.key.public()), 2);
        assert!(r.verified(), "{:#?}", r.findings);
        let mut a = Auditor::default();
        for e in &w.events {
            a.push(e);
        }
        let r = a.finish_from(&w.checkpoints[2..], Some(&w.key.public()), 2);
        assert_eq!(r.of(FindingKind::CheckpointChainBroken).len(), 1);
    }

    #[test]
    fn an_edited_event_and_a_gap_are_named() {
        let mut w = World::given();
        w.events[0].event.record.payload = json!({ "n": 42 });
        let r = w.audit();
        assert_eq!(r.of(FindingKind::EditedEvent).len(), 1, "{:#?}", r.findings);
        let mut w = World::given();
        w.events.remove(1);
        let r = w.audit();
        assert_eq!(r.of(FindingKind::BrokenChain)[0].version, Some(3));
    }

    #[test]
    fn events_after_the_last_checkpoint_are_counted_not_reported() {
        let mut w = World::given();
        let s = StreamId::new("request#a").unwrap();
        let last = w
            .events
            .iter()
            .rev()
            .find(|e| e.event.stream == s)
            .unwrap()
            .event
            .clone();
        let mut r = rec(4);
        r.occurred_at = DateTime::from_timestamp(1_790_200_000, 0).unwrap();
        let more = chain(&s, 3, last.hash, vec![r]);
        w.events.push(indexed(&more[0]));
        let r = w.audit();
        assert!(r.verified(), "{:#?}", r.findings);
        assert_eq!(r.events_after_last_checkpoint, 1);
    }

    #[test]
    fn reformatted_stored_text_that_means_the_same_verifies() {
        let w = World::given();
        let mut raw: Vec<RawScanned> = w.events.iter().map(RawScanned::from).collect();
        raw[0].event.payload = raw[0].event.payload.replace(',', " ,\n ");
        let r = w.audit_raw(raw);
        assert!(r.verified(), "{:#?}", r.findings);
    }

    #[test]
    fn unreadable_stored_text_is_an_edit_not_an_abort() {
        let w = World::given();
        let mut raw: Vec<RawScanned> = w.events.iter().map(RawScanned::from).collect();
        raw[1].event.payload = "{not json".into();
        raw[3].event.occurred_at = "yesterday".into(); // the other stream: one finding per stream and kind
        let r = w.audit_raw(raw);
        let edited = r.of(FindingKind::EditedEvent);
        assert_eq!(edited.len(), 2, "{:#?}", r.findings);
        assert!(edited.iter().all(|f| f.detail.contains("cannot be read")));
        assert_eq!(r.events, 5, "every event is still counted and chained");
    }

    #[test]
    fn the_same_instant_stored_as_other_text_is_an_index_change_where_the_text_is_the_index() {
        let w = World::given();
        let mut raw: Vec<RawScanned> = w.events.iter().map(RawScanned::from).collect();
        // SQLite: no separate index attributes; the log is ordered by this text.
        raw[0].index = None;
        let t = raw[0].event.occurred_at.clone();
        raw[0].event.occurred_at = t.replace('Z', "+00:00");
        let r = w.audit_raw(raw);
        assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
        assert_eq!(r.findings[0].kind, FindingKind::IndexChanged);
    }

    #[test]
    fn a_field_that_cannot_be_read_at_all_is_an_edit_not_an_abort() {
        let w = World::given();
        let mut raw: Vec<RawScanned> = w.events.iter().map(RawScanned::from).collect();
        raw[4].damage = Some("payload is a blob, not text".into());
        let r = w.audit_raw(raw);
        assert_eq!(r.of(FindingKind::EditedEvent).len(), 1, "{:#?}", r.findings);
        assert!(r.findings[0].detail.contains("payload is a blob"));
        assert_eq!(r.events, 5);
    }
}
