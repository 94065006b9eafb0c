//! Evidence packs: what one holds (its manifest and file names), how an event is written into
//! it and read back, which checkpoints cover a period, the checks on the manifest, and the
//! `VERIFY.md` an auditor follows. Pure; building and reading the archive is the app's.

use crate::audit::{IndexAttrs, ScannedEvent};
use crate::checkpoint::Checkpoint;
use crate::log::{time_key, EventRecord, Hash, StoredEvent, StreamId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// The format tag of a pack's manifest; a reader refuses any other.
pub const FORMAT: &str = "stint-evidence/1";

pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";
pub const VERIFY_MD: &str = "VERIFY.md";
pub const REPORT_CSV: &str = "report.csv";
pub const REPORT_JSON: &str = "report.json";
pub const REPORT_HTML: &str = "report.html";
pub const EVENTS: &str = "events.jsonl";
pub const REVIEWS: &str = "reviews.jsonl";
pub const CATALOG_CHANGES: &str = "catalog-changes.jsonl";
pub const KEY: &str = "checkpoint-key.pem";

/// The event types copied into `reviews.jsonl` and `catalog-changes.jsonl`, chosen by name so
/// a pack carries them whichever build wrote them.
pub const REVIEW_EVENT: &str = "GrantReviewed";
pub const CATALOG_EVENT: &str = "CatalogChanged";

/// `checkpoints/<seq>.json` or `.sig`, zero-padded so a listing sorts by sequence.
pub fn checkpoint_file(seq: u64, ext: &str) -> String {
    format!("checkpoints/{seq:012}.{ext}")
}

/// The sequence number and extension of a `checkpoints/` file name.
pub fn parse_checkpoint_file(name: &str) -> Option<(u64, &str)> {
    let rest = name.strip_prefix("checkpoints/")?;
    let (seq, ext) = rest.split_once('.')?;
    if seq.len() != 12 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((seq.parse().ok()?, ext))
}

/// Lower-case hex SHA-256, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One line of `events.jsonl`: the event as stored, flat, with the index attributes the store
/// keeps beside it. `occurred_at` is written exactly as the hash covers it (micro-seconds, Z).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackedEvent {
    pub stream: String,
    pub version: u64,
    pub event_id: String,
    pub event_type: String,
    pub schema_version: u16,
    pub occurred_at: String,
    pub actor: String,
    pub payload: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
    /// Absent: the store keeps no such attribute (SQLite). `null`: DynamoDB's item lacks it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub day: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub log_sk: Option<Option<String>>,
}

/// A field that is there, even as `null`, is `Some`; a missing one falls to `default`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl PackedEvent {
    pub fn from_scanned(ev: &ScannedEvent) -> PackedEvent {
        let e = &ev.event;
        let r = &e.record;
        PackedEvent {
            stream: e.stream.to_string(),
            version: e.version,
            event_id: r.event_id.clone(),
            event_type: r.event_type.clone(),
            schema_version: r.schema_version,
            occurred_at: time_key(&r.occurred_at),
            actor: r.actor.clone(),
            payload: r.payload.clone(),
            prev_hash: e.prev_hash.to_string(),
            hash: e.hash.to_string(),
            day: ev.index.as_ref().map(|i| i.day.clone()),
            log_sk: ev.index.as_ref().map(|i| i.log_sk.clone()),
        }
    }

    pub fn to_scanned(&self) -> Result<ScannedEvent, String> {
        let occurred_at = DateTime::parse_from_rfc3339(&self.occurred_at)
            .map_err(|e| format!("occurred_at {:?}: {e}", self.occurred_at))?
            .with_timezone(&Utc);
        let index = match (&self.day, &self.log_sk) {
            (None, None) => None,
            (day, log_sk) => Some(IndexAttrs {
                day: day.clone().flatten(),
                log_sk: log_sk.clone().flatten(),
            }),
        };
        Ok(ScannedEvent {
            event: StoredEvent {
                stream: StreamId::new(self.stream.clone())?,
                version: self.version,
                record: EventRecord {
                    event_id: self.event_id.clone(),
                    event_type: self.event_type.clone(),
                    schema_version: self.schema_version,
                    occurred_at,
                    actor: self.actor.clone(),
                    payload: self.payload.clone(),
                },
                prev_hash: Hash(self.prev_hash.clone()),
                hash: Hash(self.hash.clone()),
            },
            index,
        })
    }

    /// One line of JSON, with its newline.
    pub fn to_line(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec(self).unwrap_or_default(); // plain data always serialises
        b.push(b'\n');
        b
    }
}

/// The checkpoints that cover `from..to`, given every checkpoint's sequence number and time
/// (`None` when it cannot be read): from the last one at or before `from` (or the first there
/// is) to the first one at or after `to` (or the last there is), with every one between, read
/// or not, so a damaged checkpoint goes into the pack to be named rather than left out.
pub fn covering(
    checkpoints: &[(u64, Option<DateTime<Utc>>)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<u64> {
    let mut sorted = checkpoints.to_vec();
    sorted.sort_by_key(|c| c.0);
    if sorted.is_empty() {
        return vec![];
    }
    let lo = sorted
        .iter()
        .rposition(|c| c.1.is_some_and(|at| at <= from))
        .unwrap_or(0);
    let hi = sorted
        .iter()
        .position(|c| c.1.is_some_and(|at| at >= to))
        .unwrap_or(sorted.len() - 1)
        .max(lo);
    sorted[lo..=hi].iter().map(|c| c.0).collect()
}

/// The last whole calendar month (UTC) before `now`: what the monthly pack covers.
pub fn last_month(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    use chrono::{Datelike, Months, NaiveDate};
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(now);
    (first - Months::new(1), first)
}

/// The streams whose events a pack must carry whole so its checkpoints can be checked: every
/// stream a checkpoint lists.
pub fn listed_streams<'a>(checkpoints: impl IntoIterator<Item = &'a Checkpoint>) -> Vec<StreamId> {
    let mut out: Vec<StreamId> = checkpoints
        .into_iter()
        .flat_map(|c| c.heads.iter().map(|h| h.stream.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// How many of each thing the pack holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Counts {
    /// Lines of `events.jsonl`.
    pub events: u64,
    /// Streams in `events.jsonl`.
    pub streams: u64,
    /// Events with `from <= occurred_at < to`.
    pub events_in_period: u64,
    pub report_rows: u64,
    pub reviews: u64,
    pub catalog_changes: u64,
}

/// `manifest.json`: the period, the counts, and the SHA-256 of every other file but
/// `SHA256SUMS` (which lists this one too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub counts: Counts,
    /// The sequence numbers of the checkpoints in the pack.
    pub checkpoints: Vec<u64>,
    /// The time of the last checkpoint in the pack: events after it are not yet anchored.
    pub anchored_until: Option<DateTime<Utc>>,
    /// Fingerprint of `checkpoint-key.pem` (first 16 hex digits of SHA-256 over its DER).
    pub key_fingerprint: String,
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(self).unwrap_or_default(); // plain data always serialises
        b.push(b'\n');
        b
    }
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.format != FORMAT {
            return Err(format!("format {:?}, not {FORMAT}", m.format));
        }
        Ok(m)
    }
}

/// `SHA256SUMS` in the form `sha256sum -c` reads: every file but itself, sorted by name.
pub fn sums(files: &BTreeMap<String, String>) -> String {
    files
        .iter()
        .filter(|(name, _)| name.as_str() != SUMS)
        .map(|(name, hash)| format!("{hash}  {name}\n"))
        .collect()
}

/// What is wrong with the pack itself, beside what the audit of its events finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not a gzip-compressed tar, or cut short.
    Unreadable,
    /// `manifest.json` is missing or cannot be read.
    ManifestMalformed,
    /// A file the manifest lists is not in the pack.
    MissingFile,
    /// A file in the pack the manifest does not list.
    UnlistedFile,
    /// A file whose SHA-256 differs from the manifest's (or `SHA256SUMS`').
    HashMismatch,
    /// The same name twice in the archive: which copy a reader sees depends on the tool.
    DuplicateFile,
    /// A line of a `.jsonl` file that is not an event.
    BadLine,
    /// A count in the manifest differs from what the files hold.
    CountMismatch,
    /// The key in the pack is not the trusted key, or a checkpoint names another key.
    KeyMismatch,
    /// The pack carries no checkpoint, or lacks one its run needs at the period's start.
    Unanchored,
    /// `reviews.jsonl` or `catalog-changes.jsonl` differs from the events of that type in
    /// `events.jsonl` for the period.
    SelectionMismatch,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::ManifestMalformed => "manifest_malformed",
            ProblemKind::MissingFile => "missing_file",
            ProblemKind::UnlistedFile => "unlisted_file",
            ProblemKind::HashMismatch => "hash_mismatch",
            ProblemKind::DuplicateFile => "duplicate_file",
            ProblemKind::BadLine => "bad_line",
            ProblemKind::CountMismatch => "count_mismatch",
            ProblemKind::KeyMismatch => "key_mismatch",
            ProblemKind::Unanchored => "unanchored",
            ProblemKind::SelectionMismatch => "selection_mismatch",
        }
    }
}

/// One problem with the pack, naming the file where it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackProblem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub detail: String,
}

impl PackProblem {
    pub fn new(kind: ProblemKind, file: Option<&str>, detail: impl Into<String>) -> Self {
        PackProblem {
            kind,
            file: file.map(str::to_owned),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for PackProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.as_str())?;
        if let Some(file) = &self.file {
            write!(f, " in {file}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Compares the files found (name to SHA-256) with the manifest's list and with `SHA256SUMS`.
pub fn check_files(
    manifest: &Manifest,
    sums_text: Option<&str>,
    found: &BTreeMap<String, String>,
) -> Vec<PackProblem> {
    let mut out = Vec::new();
    for (name, want) in &manifest.files {
        match found.get(name) {
            None => out.push(PackProblem::new(
                ProblemKind::MissingFile,
                Some(name),
                "the manifest lists it, the pack does not hold it",
            )),
            Some(got) if got != want => out.push(PackProblem::new(
                ProblemKind::HashMismatch,
                Some(name),
                format!("its SHA-256 is {got}, the manifest says {want}: it was changed"),
            )),
            Some(_) => {}
        }
    }
    for name in found.keys() {
        if name != MANIFEST && name != SUMS && !manifest.files.contains_key(name) {
            out.push(PackProblem::new(
                ProblemKind::UnlistedFile,
                Some(name),
                "the manifest does not list it",
            ));
        }
    }
    match sums_text {
        None => out.push(PackProblem::new(
            ProblemKind::MissingFile,
            Some(SUMS),
            "the pack has no SHA256SUMS",
        )),
        Some(text) => {
            let mut listed = BTreeMap::new();
            for line in text.lines() {
                match line.split_once("  ") {
                    Some((hash, name)) => {
                        listed.insert(name.to_owned(), hash.to_owned());
                    }
                    None => out.push(PackProblem::new(
                        ProblemKind::BadLine,
                        Some(SUMS),
                        format!("{line:?} is not `<sha256>  <file>`"),
                    )),
                }
            }
            let expected: BTreeMap<String, String> = found
                .iter()
                .filter(|(n, _)| n.as_str() != SUMS)
                .map(|(n, h)| (n.clone(), h.clone()))
                .collect();
            if listed != expected {
                let differ: Vec<&str> = expected
                    .keys()
                    .chain(listed.keys())
                    .filter(|n| listed.get(*n) != expected.get(*n))
                    .map(String::as_str)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                out.push(PackProblem::new(
                    ProblemKind::HashMismatch,
                    Some(SUMS),
                    format!("it does not match the files for {}", differ.join(", ")),
                ));
            }
        }
    }
    out
}

/// An instant as the pack writes it for people: `2026-11-01T00:00:00Z`.
pub fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The `VERIFY.md` of a pack: what it holds, and how to check it with `stint` or by hand with
/// `sha256sum`, `openssl` and `python3`. Every shell block runs as written inside the
/// folder holding `pack.tar.gz` and the deployment's key, `deployment-key.pem`.
pub fn verify_md(m: &Manifest) -> String {
    let range = match (m.checkpoints.first(), m.checkpoints.last()) {
        (Some(a), Some(b)) if a == b => format!("checkpoint {a}"),
        (Some(a), Some(b)) => format!("checkpoints {a} to {b}"),
        _ => "no checkpoint".into(),
    };
    let anchored = match m.anchored_until {
        Some(at) if at >= m.to => format!(
            "The last checkpoint ({}) is at or after the period's end, so every event of the \
             period is anchored by a signed checkpoint.",
            utc(at)
        ),
        Some(at) => format!(
            "The last checkpoint was written at {}, before the period's end: events after it are \
             chained but not anchored, so deleting them would not show here. Ask for a pack \
             built after the next checkpoint.",
            utc(at)
        ),
        None => "No checkpoint covers this period: its events are chained but not anchored, \
                 and a consistent rewrite would not show."
            .into(),
    };
    VERIFY_TEMPLATE
        .replace("{from}", &utc(m.from))
        .replace("{to}", &utc(m.to))
        .replace("{generated}", &utc(m.generated_at))
        .replace("{events}", &m.counts.events.to_string())
        .replace("{streams}", &m.counts.streams.to_string())
        .replace("{in_period}", &m.counts.events_in_period.to_string())
        .replace("{reviews}", &m.counts.reviews.to_string())
        .replace("{catalog}", &m.counts.catalog_changes.to_string())
        .replace("{range}", &range)
        .replace("{anchored}", &anchored)
        .replace("{fp}", &m.key_fingerprint)
}

const VERIFY_TEMPLATE: &str = r##"# Verifying this Stint evidence pack

Access evidence for **{from} to {to}** (the end not included), built at {generated}.

- {events} events in {streams} streams, {in_period} of them in the period;
- {reviews} access-review decisions and {catalog} catalog changes in the period;
- {range}, signed with the key whose fingerprint is `{fp}`.

{anchored}

| File | What it is |
| --- | --- |
| `report.csv`, `report.json`, `report.html` | The compliance report for the period |
| `events.jsonl` | Every event, whole stream by whole stream, of each stream that changed in the period or that a checkpoint here lists: one JSON object a line with its `prev_hash` and `hash`, and on DynamoDB the index attributes `day` and `log_sk` |
| `reviews.jsonl` | The access-review decisions (`GrantReviewed`) made in the period |
| `catalog-changes.jsonl` | The catalog changes (`CatalogChanged`) made in the period |
| `checkpoints/<seq>.json`, `checkpoints/<seq>.sig` | The signed checkpoints covering the period: the last one at or before its start, every one inside it, the first one at or after its end |
| `checkpoint-key.pem` | The public key the checkpoints verify with |
| `manifest.json` | The period, the counts and the SHA-256 of every file |
| `SHA256SUMS` | The same hashes, for `sha256sum -c` |

A checkpoint lists the head (stream, version, hash) of every stream that moved since the one
before, and names the one before by its SHA-256. Each event's hash covers its content and the
hash before it. So an event edited, deleted or rewritten after a checkpoint, or a stream left
out of `events.jsonl`, no longer matches a signed checkpoint.

Do not trust `checkpoint-key.pem` because it is in the pack: whoever could forge the pack could
put their own key in it. Get the deployment's public key yourself (`aws kms get-public-key` for
the stack output `CheckpointKeyArn`, `GET /checkpoints/key`, or `checkpoint-key.pub.pem` in the
data folder of `stint serve`) and save it as `deployment-key.pem` beside `pack.tar.gz`.

## With Stint (no network, no AWS access)

```sh
stint verify --evidence pack.tar.gz --public-key deployment-key.pem
```

It prints `verified` and exits 0, or prints each finding naming the stream, the version, the
checkpoint or the file, and exits 4.

## By hand

Unpack, and check that the pack's key is the deployment's: both lines must print `{fp}`.

```sh
mkdir pack && tar -xzf pack.tar.gz -C pack && cd pack
for k in checkpoint-key.pem ../deployment-key.pem; do
  openssl pkey -pubin -in "$k" -outform DER | sha256sum | cut -c1-16
done
```

Check that no file changed since the pack was built: every line must end in `OK`.

```sh
sha256sum -c SHA256SUMS
```

Check every checkpoint's signature. A signature (ECDSA P-256 with SHA-256, DER) covers the
lower-case hex SHA-256 of the checkpoint file: its 64 characters, with no newline. Each
checkpoint must print `Verified OK`.

```sh
for c in checkpoints/*.json; do
  printf %s "$(sha256sum "$c" | cut -c1-64)" > "${c%.json}.message"
  printf '%s: ' "$c"
  openssl dgst -sha256 -verify checkpoint-key.pem -signature "${c%.json}.sig" "${c%.json}.message"
done
```

Check the checkpoint chain: each checkpoint's `"prev"` must be the SHA-256 printed for the
one before it (the first one's predecessor is outside the pack).

```sh
sha256sum checkpoints/*.json
grep -H '"prev"' checkpoints/*.json
```

Check every event's hash and link, the index attributes, and every checkpoint's heads against
the events. An event's hash is the SHA-256 of its `prev_hash` (64 hex characters) followed by
the compact JSON of `stream`, `version`, `event_id`, `event_type`, `schema_version`,
`occurred_at`, `actor` and `payload` in that order, with the payload's keys sorted. It must
print `events verified`.

```sh
python3 - <<'PY'
import glob, hashlib, json
def q(s): return json.dumps(s, ensure_ascii=False)
def canonical(e):
    return ('{"stream":%s,"version":%d,"event_id":%s,"event_type":%s,"schema_version":%d,'
            '"occurred_at":%s,"actor":%s,"payload":%s}' % (
        q(e["stream"]), e["version"], q(e["event_id"]), q(e["event_type"]),
        e["schema_version"], q(e["occurred_at"]), q(e["actor"]),
        json.dumps(e["payload"], ensure_ascii=False, separators=(",", ":"), sort_keys=True),
    )).encode()
seen, problems = {}, []
for line in open("events.jsonl", encoding="utf-8"):
    e = json.loads(line)
    at = "%s version %d" % (e["stream"], e["version"])
    if e["version"] > 1 and (e["stream"], e["version"] - 1) not in seen:
        problems.append(at + ": the event before it is missing")
    elif e["prev_hash"] != seen.get((e["stream"], e["version"] - 1), "0" * 64):
        problems.append(at + ": prev_hash does not link to the event before it")
    if hashlib.sha256(e["prev_hash"].encode() + canonical(e)).hexdigest() != e["hash"]:
        problems.append(at + ": its content does not match its hash (edited)")
    if "day" in e and (e["day"], e["log_sk"]) != (e["occurred_at"][:10], e["occurred_at"] + "#" + e["event_id"]):
        problems.append(at + ": day or log_sk changed (hidden from the time index)")
    seen[(e["stream"], e["version"])] = e["hash"]
for path in sorted(glob.glob("checkpoints/*.json")):
    for h in json.load(open(path, encoding="utf-8"))["heads"]:
        if seen.get((h["stream"], h["version"])) != h["hash"]:
            problems.append("%s version %d: not as %s recorded it (rewritten or deleted)"
                            % (h["stream"], h["version"], path))
print("\n".join(problems) or "events verified")
PY
```

`stint verify --evidence` also checks each checkpoint's Merkle root over its heads, that
`reviews.jsonl` and `catalog-changes.jsonl` are exactly the events of those types in the
period, and the counts in `manifest.json`.
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{chain, day_key};
    use serde_json::json;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + h * 3600, 0).unwrap()
    }

    #[test]
    fn the_covering_checkpoints_run_from_the_last_before_to_the_first_after() {
        let cps: Vec<_> = (1..=6).map(|s| (s, Some(at(s as i64 * 10)))).collect();
        // Period 25h..45h: 20h is the last at or before, 30h and 40h inside, 50h the first after.
        assert_eq!(covering(&cps, at(25), at(45)), vec![2, 3, 4, 5]);
        // Boundaries count: a checkpoint at the start or at the end is the one on that side.
        assert_eq!(covering(&cps, at(20), at(40)), vec![2, 3, 4]);
        // Nothing before: start at the first; nothing after: end at the last.
        assert_eq!(covering(&cps, at(0), at(15)), vec![1, 2]);
        assert_eq!(covering(&cps, at(55), at(90)), vec![5, 6]);
        assert_eq!(covering(&cps, at(70), at(90)), vec![6]);
        assert_eq!(covering(&[], at(0), at(1)), Vec::<u64>::new());
    }

    #[test]
    fn the_monthly_pack_covers_the_last_whole_month() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            last_month(t("2026-12-01T05:00:00Z")),
            (t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            last_month(t("2027-01-15T23:59:59Z")),
            (t("2026-12-01T00:00:00Z"), t("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn an_unreadable_checkpoint_inside_the_run_is_carried_not_dropped() {
        let mut cps: Vec<_> = (1..=5).map(|s| (s, Some(at(s as i64 * 10)))).collect();
        cps[2].1 = None; // checkpoint 3 was edited into garbage
        assert_eq!(covering(&cps, at(25), at(35)), vec![2, 3, 4]);
        cps[3].1 = None; // and 4: the first after is now 5
        assert_eq!(covering(&cps, at(25), at(35)), vec![2, 3, 4, 5]);
    }

    fn scanned(index: Option<IndexAttrs>) -> ScannedEvent {
        let rec = EventRecord {
            event_id: "01JDQ3Z6W4X9V8T7S6R5Q4P3N2".into(),
            event_type: "AccessRequested".into(),
            schema_version: 1,
            occurred_at: DateTime::from_timestamp(1_790_000_000, 123_456_000).unwrap(),
            actor: "user:alice".into(),
            payload: json!({ "why": "stuck \"orders\" ü\n", "n": 3 }),
        };
        let s = StreamId::new("request#x").unwrap();
        ScannedEvent {
            event: chain(&s, 0, Hash::genesis(), vec![rec]).remove(0),
            index,
        }
    }

    #[test]
    fn an_event_round_trips_through_its_line_with_and_without_index_attributes() {
        for index in [
            None,
            Some(IndexAttrs {
                day: Some("2026-09-21".into()),
                log_sk: Some("x".into()),
            }),
            Some(IndexAttrs {
                day: None,
                log_sk: Some("x".into()),
            }),
        ] {
            let ev = scanned(index.clone());
            let line = PackedEvent::from_scanned(&ev).to_line();
            let back: PackedEvent = serde_json::from_slice(&line).unwrap();
            assert_eq!(
                back.to_scanned().unwrap(),
                ev,
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
        let line = String::from_utf8(PackedEvent::from_scanned(&scanned(None)).to_line()).unwrap();
        assert!(!line.contains("\"day\""), "SQLite keeps no day: {line}");
        assert!(line.contains("\"occurred_at\":\"2026-09-21T"), "{line}");
        assert!(
            line.contains(".123456Z\""),
            "micro-seconds as hashed: {line}"
        );
        let dynamo = scanned(Some(IndexAttrs {
            day: None,
            log_sk: None,
        }));
        let line = String::from_utf8(PackedEvent::from_scanned(&dynamo).to_line()).unwrap();
        assert!(line.contains("\"day\":null"), "{line}");
        assert_eq!(day_key(&dynamo.event.record.occurred_at), "2026-09-21");
    }

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            from: at(0),
            to: at(24),
            generated_at: at(30),
            counts: Counts::default(),
            checkpoints: vec![4, 5],
            anchored_until: Some(at(25)),
            key_fingerprint: "0123456789abcdef".into(),
            files: [("a.txt", "aa"), ("b.txt", "bb")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
        }
    }

    fn found(m: &Manifest) -> BTreeMap<String, String> {
        let mut f = m.files.clone();
        f.insert(MANIFEST.into(), "mm".into());
        f
    }

    #[test]
    fn files_that_match_the_manifest_and_the_sums_pass() {
        let m = manifest();
        let f = found(&m);
        assert_eq!(check_files(&m, Some(&sums(&f)), &f), vec![]);
        assert_eq!(
            sums(&f),
            "aa  a.txt\nbb  b.txt\nmm  manifest.json\n",
            "sha256sum's format"
        );
    }

    #[test]
    fn a_changed_missing_or_extra_file_is_named() {
        let m = manifest();
        let mut f = found(&m);
        let sums_text = sums(&f);
        f.insert("a.txt".into(), "zz".into());
        f.remove("b.txt");
        f.insert("c.txt".into(), "cc".into());
        let kinds: Vec<_> = check_files(&m, Some(&sums_text), &f)
            .into_iter()
            .map(|p| (p.kind, p.file.unwrap()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ProblemKind::HashMismatch, "a.txt".into()),
                (ProblemKind::MissingFile, "b.txt".into()),
                (ProblemKind::UnlistedFile, "c.txt".into()),
                (ProblemKind::HashMismatch, SUMS.into()),
            ]
        );
        let f = found(&m);
        assert_eq!(
            check_files(&m, None, &f)[0].kind,
            ProblemKind::MissingFile,
            "SHA256SUMS is required"
        );
    }

    #[test]
    fn checkpoint_file_names_sort_and_parse_back() {
        assert_eq!(checkpoint_file(7, "sig"), "checkpoints/000000000007.sig");
        assert_eq!(
            parse_checkpoint_file("checkpoints/000000000007.json"),
            Some((7, "json"))
        );
        assert_eq!(parse_checkpoint_file("checkpoints/7.json"), None);
        assert_eq!(parse_checkpoint_file("checkpoints/../x.json"), None);
    }

    #[test]
    fn verify_md_names_the_period_the_key_and_the_commands() {
        let text = verify_md(&manifest());
        assert!(text.contains("checkpoints 4 to 5"));
        assert!(text.contains("`0123456789abcdef`"));
        assert!(text.contains("stint verify --evidence pack.tar.gz --public-key"));
        assert!(text.contains("openssl dgst -sha256 -verify checkpoint-key.pem -signature"));
        assert!(text.contains("at or after the period's end"));
        for slot in [
            "{from}",
            "{to}",
            "{generated}",
            "{events}",
            "{streams}",
            "{in_period}",
            "{reviews}",
            "{catalog}",
            "{range}",
            "{anchored}",
            "{fp}",
        ] {
            assert!(!text.contains(slot), "{slot} is filled");
        }
        let mut early = manifest();
        early.anchored_until = Some(at(10));
        assert!(verify_md(&early).contains("not anchored"));
    }
}
