//! The stored form of events and the hash chain that makes any edit, deletion or reordering
//! of a stream detectable. Pure: hashing is computation, not I/O.

use super::ids::RequestId;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// An event-store stream name, such as `request#01J...`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamId(String);

impl StreamId {
    pub fn for_request(id: RequestId) -> Self {
        StreamId(format!("{}{id}", crate::streams::REQUEST))
    }
    /// The stream listing the requests an alert opened, named by a digest of its key.
    pub fn for_alert(digest: &[u8; 16]) -> Self {
        StreamId(format!("{}{}", crate::streams::ALERT, hex::encode(digest)))
    }
    /// The deployment's catalog history: one stream per store.
    pub fn for_catalog() -> Self {
        StreamId(format!("{}deployment", crate::streams::CATALOG))
    }
    /// Any non-empty printable name; the store treats streams as opaque.
    pub fn new(raw: impl Into<String>) -> Result<Self, String> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > 200 || raw.chars().any(char::is_control) {
            return Err(format!("{raw:?} is not a stream name"));
        }
        Ok(StreamId(raw))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn request_id(&self) -> Option<RequestId> {
        self.0
            .strip_prefix(crate::streams::REQUEST)
            .and_then(|s| RequestId::parse(s).ok())
    }
}
impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event as the store keeps it: readable JSON payload plus the envelope fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub event_id: String,
    pub event_type: String,
    pub schema_version: u16,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub payload: serde_json::Value,
}

/// The one textual form of a timestamp in the store: fixed width, so strings sort by time.
pub fn time_key(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The calendar day (UTC) an instant falls on, as the log index partitions it.
pub fn day_key(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A SHA-256 digest in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hash(pub String);

impl Hash {
    /// The `prev_hash` of a stream's first event.
    pub fn genesis() -> Hash {
        Hash("0".repeat(64))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event with its place in a stream and its link in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub stream: StreamId,
    pub version: u64,
    pub record: EventRecord,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// Canonical bytes: fixed field order, payload keys sorted (serde_json's map is a BTreeMap).
/// The stream and version are inside, so moving an event to another place breaks its hash.
fn canonical(stream: &StreamId, version: u64, r: &EventRecord) -> Vec<u8> {
    #[derive(Serialize)]
    struct Canonical<'a> {
        stream: &'a str,
        version: u64,
        event_id: &'a str,
        event_type: &'a str,
        schema_version: u16,
        occurred_at: String,
        actor: &'a str,
        payload: &'a serde_json::Value,
    }
    serde_json::to_vec(&Canonical {
        stream: stream.as_str(),
        version,
        event_id: &r.event_id,
        event_type: &r.event_type,
        schema_version: r.schema_version,
        occurred_at: time_key(&r.occurred_at),
        actor: &r.actor,
        payload: &r.payload,
    })
    .unwrap_or_default() // serialising plain strings and a Value cannot fail
}

/// hash = SHA-256(prev_hash || canonical event).
pub fn link(prev: &Hash, stream: &StreamId, version: u64, record: &EventRecord) -> Hash {
    let mut h = Sha256::new();
    h.update(prev.0.as_bytes());
    h.update(canonical(stream, version, record));
    Hash(hex::encode(h.finalize()))
}

/// An event exactly as a store keeps it, every field as stored text: what an audit reads, so
/// it hashes the stored bytes without decoding them first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub stream: String,
    pub version: u64,
    pub event_id: String,
    pub event_type: String,
    pub schema_version: u16,
    /// As stored: [`time_key`] text.
    pub occurred_at: String,
    pub actor: String,
    /// As stored: the payload's canonical JSON text.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

impl RawEvent {
    /// The stored form of a decoded event: what the stores write.
    pub fn from_stored(ev: &StoredEvent) -> RawEvent {
        RawEvent {
            stream: ev.stream.as_str().to_owned(),
            version: ev.version,
            event_id: ev.record.event_id.clone(),
            event_type: ev.record.event_type.clone(),
            schema_version: ev.record.schema_version,
            occurred_at: time_key(&ev.record.occurred_at),
            actor: ev.record.actor.clone(),
            payload: ev.record.payload.to_string(),
            prev_hash: ev.prev_hash.0.clone(),
            hash: ev.hash.0.clone(),
        }
    }

    /// The event with its time and payload parsed; the error names the field that is not.
    pub fn decode(self) -> Result<StoredEvent, String> {
        let occurred_at = DateTime::parse_from_rfc3339(&self.occurred_at)
            .map_err(|e| format!("occurred_at: {e}"))?
            .with_timezone(&Utc);
        let payload = serde_json::from_str(&self.payload).map_err(|e| format!("payload: {e}"))?;
        Ok(StoredEvent {
            stream: StreamId::new(self.stream)?,
            version: self.version,
            record: EventRecord {
                event_id: self.event_id,
                event_type: self.event_type,
                schema_version: self.schema_version,
                occurred_at,
                actor: self.actor,
                payload,
            },
            prev_hash: Hash(self.prev_hash),
            hash: Hash(self.hash),
        })
    }

    /// Whether the stored text hashes to the stored hash as it is. Stores write the canonical
    /// form, so this holds for every untouched event without parsing the payload; a `false`
    /// is only a reason to decode and hash the canonical form (see [`link`]).
    pub fn text_matches_hash(&self, buf: &mut Vec<u8>) -> bool {
        use std::io::Write;
        buf.clear();
        let s = |buf: &mut Vec<u8>, v: &str| {
            // Writing a str to a Vec cannot fail; the escaping is serde_json's, as in `canonical`.
            let _ = serde_json::to_writer(&mut *buf, v);
        };
        buf.extend_from_slice(b"{\"stream\":");
        s(buf, &self.stream);
        let _ = write!(buf, ",\"version\":{},\"event_id\":", self.version);
        s(buf, &self.event_id);
        buf.extend_from_slice(b",\"event_type\":");
        s(buf, &self.event_type);
        let _ = write!(
            buf,
            ",\"schema_version\":{},\"occurred_at\":",
            self.schema_version
        );
        s(buf, &self.occurred_at);
        buf.extend_from_slice(b",\"actor\":");
        s(buf, &self.actor);
        buf.extend_from_slice(b",\"payload\":");
        buf.extend_from_slice(self.payload.as_bytes());
        buf.push(b'}');
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(&buf[..]);
        let mut hex_out = [0u8; 64];
        hex::encode_to_slice(h.finalize(), &mut hex_out).is_ok()
            && hex_out[..] == *self.hash.as_bytes()
    }
}

/// Chains new records onto a stream whose head is (`version`, `prev`).
pub fn chain(
    stream: &StreamId,
    mut version: u64,
    mut prev: Hash,
    records: Vec<EventRecord>,
) -> Vec<StoredEvent> {
    records
        .into_iter()
        .map(|record| {
            version += 1;
            let hash = link(&prev, stream, version, &record);
            let ev = StoredEvent {
                stream: stream.clone(),
                version,
                record,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            };
            prev = hash;
            ev
        })
        .collect()
}

/// The first event at which a chain stops holding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("chain broken in {stream} at version {version} (event {event_id}): {problem}")]
pub struct ChainBreak {
    pub stream: String,
    pub version: u64,
    pub event_id: String,
    pub problem: String,
}

/// Verifies one whole stream, read in version order from version 1.
pub fn verify_stream(events: &[StoredEvent]) -> Result<(), ChainBreak> {
    let mut prev = Hash::genesis();
    for (i, ev) in events.iter().enumerate() {
        let expected_version = i as u64 + 1;
        let fail = |problem: String| ChainBreak {
            stream: ev.stream.to_string(),
            version: ev.version,
            event_id: ev.record.event_id.clone(),
            problem,
        };
        if ev.version != expected_version {
            return Err(fail(format!("expected version {expected_version}: an event before it is missing or out of order")));
        }
        if ev.prev_hash != prev {
            return Err(fail(
                "prev_hash does not match the previous event's hash".into(),
            ));
        }
        if link(&prev, &ev.stream, ev.version, &ev.record) != ev.hash {
            return Err(fail(
                "content does not match its hash: the event was edited".into(),
            ));
        }
        prev = ev.hash.clone();
    }
    Ok(())
}

/// SHA-256 over the period's event hashes in log order, each recomputed from the event's
/// content: two copies of a period compare with one value, and an edit changes it.
#[derive(Default)]
pub struct PeriodDigest(Sha256);

impl PeriodDigest {
    pub fn push(&mut self, ev: &StoredEvent) {
        self.0.update(
            link(&ev.prev_hash, &ev.stream, ev.version, &ev.record)
                .0
                .as_bytes(),
        );
    }
    pub fn finish(self) -> Hash {
        Hash(hex::encode(self.0.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn rec(n: u32) -> EventRecord {
        EventRecord {
            event_id: format!("e{n}"),
            event_type: "Test".into(),
            schema_version: 1,
            occurred_at: DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
            actor: "user:alice".into(),
            payload: json!({ "n": n, "b": "x" }),
        }
    }

    fn stream() -> Vec<StoredEvent> {
        let s = StreamId::new("request#x").unwrap();
        chain(&s, 0, Hash::genesis(), (1..=4).map(rec).collect())
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_stream(&stream()), Ok(()));
    }

    #[test]
    fn an_edit_is_named() {
        let mut s = stream();
        s[2].record.payload = json!({ "n": 99, "b": "x" });
        let e = verify_stream(&s).unwrap_err();
        assert_eq!((e.version, e.event_id.as_str()), (3, "e3"));
    }

    #[test]
    fn a_deletion_is_named() {
        let mut s = stream();
        s.remove(1);
        let e = verify_stream(&s).unwrap_err();
        assert_eq!(e.version, 3);
    }

    #[test]
    fn a_reorder_is_named() {
        let mut s = stream();
        let (a, b) = (s[1].record.clone(), s[2].record.clone());
        s[1].record = b;
        s[2].record = a;
        assert_eq!(verify_stream(&s).unwrap_err().version, 2);
    }

    #[test]
    fn payload_key_order_does_not_matter() {
        let s = stream();
        let mut t = s.clone();
        t[0].record.payload = serde_json::from_str(r#"{"b":"x","n":1}"#).unwrap();
        assert_eq!(verify_stream(&t), Ok(()));
    }

    #[test]
    fn stored_text_hashes_as_the_canonical_form() {
        let mut buf = Vec::new();
        for ev in stream() {
            let raw = RawEvent::from_stored(&ev);
            assert!(raw.text_matches_hash(&mut buf));
            assert_eq!(raw.decode().unwrap(), ev);
        }
    }

    #[test]
    fn edited_or_reformatted_text_does_not_match_as_it_is() {
        let mut buf = Vec::new();
        let ev = &stream()[0];
        let mut raw = RawEvent::from_stored(ev);
        raw.payload = raw.payload.replace(':', ": ");
        assert!(
            !raw.text_matches_hash(&mut buf),
            "reformatted: decode and hash the canonical form"
        );
        let mut raw = RawEvent::from_stored(ev);
        raw.actor.push('x');
        assert!(!raw.text_matches_hash(&mut buf));
    }

    proptest::proptest! {
        /// The fast path must agree with `link` for any text: escapes, quotes, non-ASCII.
        #[test]
        fn text_hash_agrees_with_link(
            stream in "[^\\p{Cc}]{1,40}",
            id in "\\PC{0,30}",
            actor in "\\PC{0,30}",
            key in "\\PC{0,10}",
            value in proptest::prelude::any::<String>(),
            n in proptest::prelude::any::<i64>(),
            version in 1u64..u64::MAX,
        ) {
            let stream = StreamId::new(stream).unwrap();
            let record = EventRecord {
                event_id: id,
                event_type: "AccessRequested".into(),
                schema_version: 1,
                occurred_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
                actor,
                payload: json!({ key: value, "n": n, "x": [1.5, null, true] }),
            };
            let ev = &chain(&stream, version - 1, Hash::genesis(), vec![record])[0];
            proptest::prop_assert!(RawEvent::from_stored(ev).text_matches_hash(&mut Vec::new()));
        }
    }
}
