//! Evidence packs, against DynamoDB on the emulator (checkpoints signed by a KMS P-256 key, kept
//! in an Object Lock bucket) and against the embedded SQLite store (a key file and a folder).
//! The store is tampered with the way an attacker with write access would, a pack is built
//! with `stint evidence`, and `stint verify --evidence` must name what was done; then the pack
//! itself is tampered with. An untouched pack verifies, and its `VERIFY.md` commands
//! (`sha256sum`, `openssl`, `python3`) run as written.

use crate::support::bin;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use stint_app::checkpoint::{self, Anchor};
use stint_app::ports::{CheckpointArchive, CheckpointKey, CheckpointSigner, EventStore};
use stint_aws::dynamodb::DynamoEventStore;
use stint_aws::kms::KmsSigner;
use stint_aws::s3::{S3Checkpoints, SIGNATURE};
use stint_domain::checkpoint::{PrivateKey, SignedCheckpoint};
use stint_domain::evidence::{self as ev, Manifest, PackedEvent};
use stint_domain::log::chain;
use stint_domain::{EventRecord, Hash, StoredEvent, StreamId};
use stint_local::checkpoints::{CheckpointFolder, KeyFileSigner, PUBLIC_KEY_FILE};
use stint_local::sqlite::SqliteEventStore;
use stint_tests::{emulator_env, fresh_dynamo_store, unique_name};

fn utc(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).single().unwrap()
}

/// The period every pack here covers: November 2026.
fn period() -> (DateTime<Utc>, DateTime<Utc>) {
    (utc(2026, 11, 1, 0), utc(2026, 12, 1, 0))
}

fn rec(ty: &str, n: u64, at: DateTime<Utc>) -> EventRecord {
    EventRecord {
        event_id: ulid::Ulid::generate().to_string(),
        event_type: ty.into(),
        schema_version: 1,
        occurred_at: at,
        actor: "user:tester".into(),
        payload: serde_json::json!({ "n": n, "note": "evidence test" }),
    }
}

fn sid(s: &str) -> StreamId {
    StreamId::new(s).unwrap()
}

/// One store with its checkpoint anchor, and the way around its adapter.
#[async_trait]
trait Backend: Send + Sync + Sized {
    const NAME: &'static str;
    /// Whether its checkpoints name their key by fingerprint (`local:<fp>`), not a KMS ARN.
    const KEY_ID_IS_FINGERPRINT: bool;
    async fn open() -> Self;
    fn store(&self) -> &dyn EventStore;
    fn archive(&self) -> &dyn CheckpointArchive;
    fn signer(&self) -> &dyn CheckpointSigner;
    /// A folder for the pack and the trusted key.
    fn dir(&self) -> &Path;
    /// The arguments that point `stint evidence` at this store.
    fn source(&self) -> Vec<String>;
    /// The deployment's public key as an auditor gets it (PEM file).
    fn trusted_key(&self) -> PathBuf {
        self.dir().join("deployment-key.pem")
    }
    /// Overwrites stored events in place (same stream and version).
    async fn raw_overwrite(&self, events: &[StoredEvent]);
    async fn raw_delete(&self, stream: &StreamId, version: u64);
    /// Removes `day` from an event's item; `false` when the store keeps no such attribute.
    async fn raw_blank_day(&self, stream: &StreamId, version: u64) -> bool;
    /// Replaces a stored checkpoint's bytes and signature.
    async fn raw_replace_checkpoint(&self, cp: &SignedCheckpoint);
}

// --- SQLite and a key file ------------------------------------------------------------------

struct Local {
    store: SqliteEventStore,
    archive: CheckpointFolder,
    signer: KeyFileSigner,
    dir: tempfile::TempDir,
}

impl Local {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn raw(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.data().join("events.db")).unwrap();
        c.execute_batch(
            "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;",
        )
        .unwrap();
        c
    }
}

#[async_trait]
impl Backend for Local {
    const NAME: &'static str = "the embedded store";
    const KEY_ID_IS_FINGERPRINT: bool = true;
    async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = SqliteEventStore::open(&data.join("events.db")).unwrap();
        let signer = KeyFileSigner::open_or_create(&data).unwrap();
        std::fs::copy(
            data.join(PUBLIC_KEY_FILE),
            dir.path().join("deployment-key.pem"),
        )
        .unwrap();
        Local {
            store,
            archive: CheckpointFolder::new(&data),
            signer,
            dir,
        }
    }
    fn store(&self) -> &dyn EventStore {
        &self.store
    }
    fn archive(&self) -> &dyn CheckpointArchive {
        &self.archive
    }
    fn signer(&self) -> &dyn CheckpointSigner {
        &self.signer
    }
    fn dir(&self) -> &Path {
        self.dir.path()
    }
    fn source(&self) -> Vec<String> {
        vec!["--data".into(), self.data().display().to_string()]
    }
    async fn raw_overwrite(&self, events: &[StoredEvent]) {
        let c = self.raw();
        for e in events {
            let n = c
                .execute(
                    "UPDATE events SET payload = ?1, prev_hash = ?2, hash = ?3 WHERE stream = ?4 AND version = ?5",
                    rusqlite::params![
                        e.record.payload.to_string(),
                        e.prev_hash.as_str(),
                        e.hash.as_str(),
                        e.stream.as_str(),
                        e.version as i64
                    ],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
    }
    async fn raw_delete(&self, stream: &StreamId, version: u64) {
        let n = self
            .raw()
            .execute(
                "DELETE FROM events WHERE stream = ?1 AND version = ?2",
                rusqlite::params![stream.as_str(), version as i64],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    async fn raw_blank_day(&self, _: &StreamId, _: u64) -> bool {
        false // its time index is `occurred_at` itself, which the hash covers
    }
    async fn raw_replace_checkpoint(&self, cp: &SignedCheckpoint) {
        let dir = self.data().join("checkpoints");
        std::fs::write(dir.join(format!("{:012}.json", cp.seq)), &cp.bytes).unwrap();
        std::fs::write(dir.join(format!("{:012}.sig", cp.seq)), &cp.signature).unwrap();
    }
}

// --- DynamoDB, KMS and S3 on the emulator ---------------------------------------------------

struct Cloud {
    store: DynamoEventStore,
    dynamo: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    bucket: String,
    archive: S3Checkpoints,
    signer: KmsSigner,
    key_id: String,
    dir: tempfile::TempDir,
}

/// A bucket with Object Lock, as the template makes the report bucket.
async fn locked_bucket(s3: &aws_sdk_s3::Client) -> String {
    let bucket = unique_name("stint-archive");
    s3.create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    bucket
}

/// An asymmetric P-256 signing key, as the template makes the checkpoint key.
async fn signing_key(kms: &aws_sdk_kms::Client) -> String {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    kms.create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("stint checkpoints (test)")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

fn item_key(stream: &StreamId, version: u64) -> HashMap<String, AttributeValue> {
    [
        ("stream".to_owned(), AttributeValue::S(stream.to_string())),
        ("version".to_owned(), AttributeValue::N(version.to_string())),
    ]
    .into()
}

#[async_trait]
impl Backend for Cloud {
    const NAME: &'static str = "DynamoDB";
    const KEY_ID_IS_FINGERPRINT: bool = false;
    async fn open() -> Self {
        let sdk = stint_tests::emulator_config().await;
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let bucket = locked_bucket(&s3).await;
        let key_id = signing_key(&aws_sdk_kms::Client::new(&sdk)).await;
        let signer = KmsSigner::new(aws_sdk_kms::Client::new(&sdk), key_id.clone());
        let dir = tempfile::tempdir().unwrap();
        let public = signer.public_key().await.unwrap();
        std::fs::write(dir.path().join("deployment-key.pem"), public.to_pem()).unwrap();
        Cloud {
            store: fresh_dynamo_store().await,
            dynamo: stint_tests::dynamodb_client().await,
            archive: S3Checkpoints::new(s3.clone(), bucket.clone()),
            s3,
            bucket,
            signer,
            key_id,
            dir,
        }
    }
    fn store(&self) -> &dyn EventStore {
        &self.store
    }
    fn archive(&self) -> &dyn CheckpointArchive {
        &self.archive
    }
    fn signer(&self) -> &dyn CheckpointSigner {
        &self.signer
    }
    fn dir(&self) -> &Path {
        self.dir.path()
    }
    fn source(&self) -> Vec<String> {
        vec![
            "--table".into(),
            self.store.table().into(),
            "--bucket".into(),
            self.bucket.clone(),
            "--key-id".into(),
            self.key_id.clone(),
        ]
    }
    async fn raw_overwrite(&self, events: &[StoredEvent]) {
        for e in events {
            let mut item = self
                .dynamo
                .get_item()
                .table_name(self.store.table())
                .set_key(Some(item_key(&e.stream, e.version)))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .expect("the item exists");
            item.insert(
                "payload".into(),
                AttributeValue::S(e.record.payload.to_string()),
            );
            item.insert(
                "prev_hash".into(),
                AttributeValue::S(e.prev_hash.to_string()),
            );
            item.insert("hash".into(), AttributeValue::S(e.hash.to_string()));
            self.dynamo
                .put_item()
                .table_name(self.store.table())
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        }
    }
    async fn raw_delete(&self, stream: &StreamId, version: u64) {
        self.dynamo
            .delete_item()
            .table_name(self.store.table())
            .set_key(Some(item_key(stream, version)))
            .send()
            .await
            .unwrap();
    }
    async fn raw_blank_day(&self, stream: &StreamId, version: u64) -> bool {
        // An empty string is not allowed as an index key, so blanking it means removing it:
        // the event drops out of the time index.
        self.dynamo
            .update_item()
            .table_name(self.store.table())
            .set_key(Some(item_key(stream, version)))
            .update_expression("REMOVE #d")
            .expression_attribute_names("#d", "day")
            .send()
            .await
            .unwrap();
        true
    }
    async fn raw_replace_checkpoint(&self, cp: &SignedCheckpoint) {
        // Object Lock keeps every version, but a new version becomes the one read.
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(format!("checkpoints/{:012}.json", cp.seq))
            .metadata(SIGNATURE, hex::encode(&cp.signature))
            .body(cp.bytes.clone().into())
            .send()
            .await
            .unwrap();
    }
}

// --- The world: streams around a period, and three checkpoints --------------------------------

/// Seeds the store and writes the checkpoints:
/// - `test#old` (October), then checkpoint 1 (31 October);
/// - `test#a` v1-2, `test#b` v1-2, `catalog` v1 (`CatalogChanged`), then checkpoint 2 (15 Nov);
/// - `test#a` v3 (`GrantReviewed`), `test#c` v1-2, then checkpoint 3 (1 December, 05:00);
/// - `test#b` v3 on 2 December, after every checkpoint.
async fn seed<B: Backend>(b: &B) {
    let s = b.store();
    let anchor = Anchor {
        archive: b.archive(),
        signer: b.signer(),
    };
    let append = |stream: &'static str, after: u64, recs: Vec<EventRecord>| async move {
        s.append(&sid(stream), after, recs).await.unwrap();
    };
    append(
        "test#old",
        0,
        vec![
            rec("TestHappened", 1, utc(2026, 10, 20, 9)),
            rec("TestHappened", 2, utc(2026, 10, 20, 10)),
        ],
    )
    .await;
    let cp = checkpoint::write(
        s,
        anchor,
        utc(2026, 10, 31, 12),
        checkpoint::Scope::Everything,
        true,
    )
    .await
    .unwrap();
    assert_eq!(cp.map(|c| c.seq), Some(1));
    append(
        "test#a",
        0,
        vec![
            rec("TestHappened", 1, utc(2026, 11, 10, 9)),
            rec("TestHappened", 2, utc(2026, 11, 10, 10)),
        ],
    )
    .await;
    append(
        "catalog",
        0,
        vec![rec(ev::CATALOG_EVENT, 1, utc(2026, 11, 11, 9))],
    )
    .await;
    append(
        "test#b",
        0,
        vec![
            rec("TestHappened", 1, utc(2026, 11, 12, 9)),
            rec("TestHappened", 2, utc(2026, 11, 12, 10)),
        ],
    )
    .await;
    let cp = checkpoint::write(
        s,
        anchor,
        utc(2026, 11, 15, 0),
        checkpoint::Scope::Everything,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        cp.map(|c| c.heads.len()),
        Some(3),
        "test#a, test#b and catalog moved"
    );
    append(
        "test#a",
        2,
        vec![rec(ev::REVIEW_EVENT, 3, utc(2026, 11, 20, 9))],
    )
    .await;
    append(
        "test#c",
        0,
        vec![
            rec("TestHappened", 1, utc(2026, 11, 21, 9)),
            rec("TestHappened", 2, utc(2026, 11, 21, 10)),
        ],
    )
    .await;
    let cp = checkpoint::write(
        s,
        anchor,
        utc(2026, 12, 1, 5),
        checkpoint::Scope::Everything,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        cp.map(|c| c.heads.len()),
        Some(2),
        "test#a and test#c moved"
    );
    append(
        "test#b",
        2,
        vec![rec("TestHappened", 3, utc(2026, 12, 2, 9))],
    )
    .await;
}

fn stint(args: &[String], env: bool) -> (i32, String) {
    let mut cmd = Command::new(bin("stint"));
    cmd.args(args);
    if env {
        cmd.envs(emulator_env());
    }
    let out = cmd.output().expect("run stint");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `stint evidence` for November into `<dir>/<name>`; returns the pack's bytes.
fn build<B: Backend>(b: &B, name: &str) -> Vec<u8> {
    let (from, to) = period();
    let out = b.dir().join(name);
    let mut args: Vec<String> = vec![
        "evidence".into(),
        "--from".into(),
        from.to_rfc3339(),
        "--to".into(),
        to.to_rfc3339(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(b.source());
    let (code, text) = stint(&args, true);
    assert_eq!(code, 0, "stint evidence: {text}");
    std::fs::read(out).unwrap()
}

/// `stint verify --evidence` on `bytes`, with the trusted key unless `trusted` is false.
fn verify<B: Backend>(b: &B, bytes: &[u8], trusted: bool) -> (i32, String) {
    let path = b
        .dir()
        .join(format!("check-{}.tar.gz", ulid::Ulid::generate()));
    std::fs::write(&path, bytes).unwrap();
    let mut args = vec![
        "verify".to_owned(),
        "--evidence".into(),
        path.display().to_string(),
    ];
    if trusted {
        args.extend(["--public-key".into(), b.trusted_key().display().to_string()]);
    }
    stint(&args, false)
}

/// Records the case and asserts `stint verify --evidence` failed with exit 4 naming each of
/// `names` (a finding or problem kind with its stream, checkpoint or file).
fn expect_named(case: &str, (code, out): (i32, String), names: &[&str]) {
    let named = code == 4 && names.iter().all(|n| out.contains(n));
    stint_tests::proof::tampering(case, named);
    assert_eq!(code, 4, "{case}: {out}");
    for n in names {
        assert!(out.contains(n), "{case}: {n:?} not named in:\n{out}");
    }
}

// --- The pack as files, for tampering with it ---------------------------------------------------

fn unpack(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(MultiGzDecoder::new(bytes));
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        out.push((name, body));
    }
    out
}

fn repack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, name, body.as_slice()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

fn file<'a>(files: &'a mut [(String, Vec<u8>)], name: &str) -> &'a mut Vec<u8> {
    &mut files.iter_mut().find(|(n, _)| n == name).unwrap().1
}

/// What a careful forger does last: the manifest's hashes and counts, and `SHA256SUMS`, made
/// to match the files again.
fn remanifest(files: &mut [(String, Vec<u8>)]) {
    let mut m = Manifest::parse(file(files, ev::MANIFEST)).unwrap();
    let events = file(files, ev::EVENTS).clone();
    let lines: Vec<PackedEvent> = events
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let (from, to) = (m.from, m.to);
    m.counts.events = lines.len() as u64;
    m.counts.streams = lines
        .iter()
        .map(|l| l.stream.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    m.counts.events_in_period = lines
        .iter()
        .filter(|l| {
            let at = DateTime::parse_from_rfc3339(&l.occurred_at).unwrap();
            at >= from && at < to
        })
        .count() as u64;
    m.files = files
        .iter()
        .filter(|(n, _)| n != ev::MANIFEST && n != ev::SUMS)
        .map(|(n, b)| (n.clone(), ev::sha256_hex(b)))
        .collect();
    *file(files, ev::MANIFEST) = m.to_bytes();
    let all = files
        .iter()
        .filter(|(n, _)| n != ev::SUMS)
        .map(|(n, b)| (n.clone(), ev::sha256_hex(b)))
        .collect();
    *file(files, ev::SUMS) = ev::sums(&all).into_bytes();
}

/// Rewrites the lines of `events.jsonl` through `f` (`None` drops the line).
fn edit_events(files: &mut [(String, Vec<u8>)], f: impl Fn(PackedEvent) -> Option<PackedEvent>) {
    let events = file(files, ev::EVENTS);
    let out: Vec<u8> = events
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| f(serde_json::from_slice(l).unwrap()))
        .flat_map(|p| p.to_line())
        .collect();
    *events = out;
}

/// A stream rewritten consistently inside the pack: payload of version 2 changed, every hash
/// from there recomputed; the review line that is its version 3 follows.
fn rewrite_in_pack(files: &mut [(String, Vec<u8>)], stream: &str) {
    let lines: Vec<PackedEvent> = file(files, ev::EVENTS)
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let mut records: Vec<_> = lines
        .iter()
        .filter(|l| l.stream == stream)
        .map(|l| l.to_scanned().unwrap())
        .collect();
    records[1].event.record.payload = serde_json::json!({"n": 2, "note": "nothing happened"});
    let rechained = chain(
        &sid(stream),
        0,
        Hash::genesis(),
        records.iter().map(|s| s.event.record.clone()).collect(),
    );
    let replaced: HashMap<u64, PackedEvent> = rechained
        .iter()
        .zip(&records)
        .map(|(e, old)| {
            let mut s = old.clone();
            s.event = e.clone();
            (e.version, PackedEvent::from_scanned(&s))
        })
        .collect();
    let review = replaced.get(&3).cloned();
    edit_events(files, |l| {
        Some(if l.stream == stream {
            replaced[&l.version].clone()
        } else {
            l
        })
    });
    if let Some(r) = review.filter(|r| r.event_type == ev::REVIEW_EVENT) {
        *file(files, ev::REVIEWS) = r.to_line();
    }
}

// --- The cases ----------------------------------------------------------------------------------

async fn an_untouched_pack_verifies_and_holds_the_period<B: Backend>() {
    let b = B::open().await;
    seed(&b).await;
    let bytes = build(&b, "pack.tar.gz");
    let (code, out) = verify(&b, &bytes, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.trim_end().ends_with("verified"), "{out}");
    assert!(out.contains("checked with the trusted key"), "{out}");
    assert!(
        out.contains("1 event(s) after checkpoint 3"),
        "test#b v3 is after the last checkpoint: {out}"
    );
    let files = unpack(&bytes);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for must in [
        ev::VERIFY_MD,
        ev::MANIFEST,
        ev::SUMS,
        ev::KEY,
        ev::REPORT_CSV,
        ev::REPORT_JSON,
        ev::REPORT_HTML,
        ev::REVIEWS,
        ev::CATALOG_CHANGES,
        ev::EVENTS,
        "checkpoints/000000000001.json",
        "checkpoints/000000000001.sig",
        "checkpoints/000000000003.sig",
    ] {
        assert!(names.contains(&must), "{must} in {names:?}");
    }
    let m = Manifest::parse(&files.iter().find(|(n, _)| n == ev::MANIFEST).unwrap().1).unwrap();
    assert_eq!(m.checkpoints, vec![1, 2, 3]);
    assert_eq!(
        (m.counts.events, m.counts.streams, m.counts.events_in_period),
        (11, 5, 8),
        "whole streams: test#old (listed by checkpoint 1), test#a, test#b (with its December event), test#c, catalog"
    );
    assert_eq!((m.counts.reviews, m.counts.catalog_changes), (1, 1));
    let text =
        |n: &str| String::from_utf8(files.iter().find(|(x, _)| x == n).unwrap().1.clone()).unwrap();
    assert!(text(ev::REVIEWS).contains("\"stream\":\"test#a\",\"version\":3"));
    assert!(text(ev::CATALOG_CHANGES).contains("\"stream\":\"catalog\""));
    let events = text(ev::EVENTS);
    if B::NAME == "DynamoDB" {
        assert!(
            events.contains("\"day\":\"2026-11-10\""),
            "index attributes: {events}"
        );
    } else {
        assert!(!events.contains("\"day\""), "SQLite keeps none");
    }
    // The same pack without a trusted key verifies too, and says whose key it used.
    let (code, out) = verify(&b, &bytes, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the pack's own key"), "{out}");
    // --json, like the rest of the CLI.
    let path = b.dir().join("pack.tar.gz");
    let (code, out) = stint(
        &[
            "--json".into(),
            "verify".into(),
            "--evidence".into(),
            path.display().to_string(),
            "--public-key".into(),
            b.trusted_key().display().to_string(),
        ],
        false,
    );
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["audit"]["events"], 11);
    assert_eq!(v["key"]["trusted"], true);
}

async fn store_tampering_is_named_by_the_pack<B: Backend>(tamper: &str) {
    let b = B::open().await;
    seed(&b).await;
    let s = b.store();
    let names: Vec<&str> = match tamper {
        "rewrite" => {
            let mut records: Vec<_> = s
                .read_stream(&sid("test#a"))
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.record)
                .collect();
            records[1].payload = serde_json::json!({"n": 2, "note": "nothing happened"});
            let rewritten = chain(&sid("test#a"), 0, Hash::genesis(), records);
            b.raw_overwrite(&rewritten[1..]).await;
            vec!["rewritten_stream in test#a", "(checkpoint 2)"]
        }
        "delete tail" => {
            b.raw_delete(&sid("test#c"), 2).await;
            vec!["deleted_tail in test#c at version 2 (checkpoint 3)"]
        }
        "delete stream" => {
            for v in 1..=3 {
                b.raw_delete(&sid("test#b"), v).await;
            }
            vec!["deleted_stream in test#b (checkpoint 2)"]
        }
        "blank day" => {
            assert!(b.raw_blank_day(&sid("test#a"), 1).await);
            vec!["index_changed in test#a at version 1"]
        }
        "edit checkpoint" => {
            let mut cp = b.archive().list().await.unwrap().remove(1);
            let text = String::from_utf8(cp.bytes).unwrap();
            assert!(text.contains("\"version\": 2"));
            cp.bytes = text
                .replacen("\"version\": 2", "\"version\": 1", 1)
                .into_bytes();
            b.raw_replace_checkpoint(&cp).await;
            vec![
                "bad_signature (checkpoint 2)",
                "checkpoint_chain_broken (checkpoint 3)",
            ]
        }
        "swap signatures" => {
            let all = b.archive().list().await.unwrap();
            let (mut two, mut three) = (all[1].clone(), all[2].clone());
            std::mem::swap(&mut two.signature, &mut three.signature);
            b.raw_replace_checkpoint(&two).await;
            b.raw_replace_checkpoint(&three).await;
            vec![
                "bad_signature (checkpoint 2)",
                "bad_signature (checkpoint 3)",
            ]
        }
        other => panic!("unknown tamper {other}"),
    };
    let bytes = build(&b, "pack.tar.gz");
    expect_named(
        &format!("stint verify --evidence, {tamper} in {}", B::NAME),
        verify(&b, &bytes, true),
        &names,
    );
}

async fn pack_tampering_is_named<B: Backend>(tamper: &str) {
    let b = B::open().await;
    seed(&b).await;
    let bytes = build(&b, "pack.tar.gz");
    let mut files = unpack(&bytes);
    let (trusted, names): (bool, Vec<&str>) = match tamper {
        "edit event" => {
            edit_events(&mut files, |mut l| {
                if l.stream == "test#c" && l.version == 1 {
                    l.payload = serde_json::json!({"n": 1, "note": "routine"});
                }
                Some(l)
            });
            (
                true,
                vec![
                    "hash_mismatch in events.jsonl",
                    "edited_event in test#c at version 1",
                ],
            )
        }
        "edit event, manifest redone" => {
            edit_events(&mut files, |mut l| {
                if l.stream == "test#c" && l.version == 1 {
                    l.payload = serde_json::json!({"n": 1, "note": "routine"});
                }
                Some(l)
            });
            remanifest(&mut files);
            (true, vec!["edited_event in test#c at version 1"])
        }
        "edit checkpoint" => {
            let cp = file(&mut files, "checkpoints/000000000002.json");
            let text = String::from_utf8(cp.clone()).unwrap();
            *cp = text
                .replacen("\"version\": 2", "\"version\": 1", 1)
                .into_bytes();
            remanifest(&mut files);
            (true, vec!["bad_signature (checkpoint 2)"])
        }
        "drop a stream" => {
            edit_events(&mut files, |l| (l.stream != "test#c").then_some(l));
            remanifest(&mut files);
            (true, vec!["deleted_stream in test#c (checkpoint 3)"])
        }
        "rewrite a stream consistently" => {
            rewrite_in_pack(&mut files, "test#a");
            remanifest(&mut files);
            (true, vec!["rewritten_stream in test#a"])
        }
        "swap the key" => {
            swap_key(&mut files);
            (
                true,
                vec![
                    "key_mismatch in checkpoint-key.pem",
                    "bad_signature (checkpoint 1)",
                    "bad_signature (checkpoint 3)",
                ],
            )
        }
        other => panic!("unknown tamper {other}"),
    };
    let forged = repack(&files);
    expect_named(
        &format!("stint verify --evidence, pack: {tamper} ({})", B::NAME),
        verify(&b, &forged, trusted),
        &names,
    );
}

/// The forger's own key: every checkpoint re-signed with it, and it put in the pack.
fn swap_key(files: &mut [(String, Vec<u8>)]) {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(&ulid::Ulid::generate().to_bytes());
    seed[31] = 1;
    let forger = PrivateKey::from_random(seed).unwrap();
    let names: Vec<String> = files
        .iter()
        .filter_map(|(n, _)| {
            n.strip_suffix(".json")
                .filter(|_| n.starts_with("checkpoints/"))
        })
        .map(str::to_owned)
        .collect();
    for stem in names {
        let bytes = file(files, &format!("{stem}.json")).clone();
        *file(files, &format!("{stem}.sig")) = forger.sign(&bytes);
    }
    *file(files, ev::KEY) = forger.public().to_pem().into_bytes();
    let mut m = Manifest::parse(file(files, ev::MANIFEST)).unwrap();
    m.key_fingerprint = forger.public().fingerprint();
    *file(files, ev::MANIFEST) = m.to_bytes();
    remanifest(files);
}

/// The attacks on the pack itself: each must be caught with the deployment's key in hand.
async fn attacks_on_the_pack<B: Backend>() {
    let b = B::open().await;
    seed(&b).await;
    let bytes = build(&b, "pack.tar.gz");

    // Forged: the store rewritten, then a pack whose events, manifest and checkpoints are all
    // the forger's, signed with their own key.
    let mut files = unpack(&bytes);
    rewrite_in_pack(&mut files, "test#a");
    swap_key(&mut files);
    let (code, out) = verify(&b, &repack(&files), true);
    let caught = code == 4 && out.contains("key_mismatch") && out.contains("bad_signature");
    stint_tests::proof::attack(
        &format!(
            "forged evidence pack re-signed with the forger's key ({})",
            B::NAME
        ),
        "someone with write access to the table and the pack",
        !caught,
    );
    assert!(caught, "{out}");

    // Without the deployment's key, the forged pack still fails on the heads it kept; a
    // swapped key alone is what a KMS pack checked that way cannot catch, and the output says so.
    let (code, out) = verify(&b, &repack(&files), false);
    assert!(
        code == 4 && out.contains("rewritten_stream in test#a"),
        "the real heads in the re-signed checkpoints still name the rewrite: {out}"
    );
    let mut clean = unpack(&bytes);
    swap_key(&mut clean);
    let (code, out) = verify(&b, &repack(&clean), false);
    if B::KEY_ID_IS_FINGERPRINT {
        // A local checkpoint names its key by fingerprint: even the pack's own key is caught.
        assert!(
            code == 4 && out.contains("key_mismatch in checkpoints/000000000001.json"),
            "{out}"
        );
    } else {
        assert!(
            code == 0 && out.contains("checked with the pack's own key"),
            "without --public-key a KMS pack's key is all there is, and the output says so: {out}"
        );
    }
    let (code, out) = verify(&b, &repack(&clean), true);
    let caught = code == 4 && out.contains("key_mismatch in checkpoint-key.pem");
    stint_tests::proof::attack(
        &format!("evidence pack with a swapped key ({})", B::NAME),
        "someone who can replace the pack",
        !caught,
    );
    assert!(caught, "{out}");

    // Truncated: half the bytes.
    let (code, out) = verify(&b, &bytes[..bytes.len() / 2], true);
    let caught = code == 4 && out.contains("unreadable");
    stint_tests::proof::tampering(
        &format!("stint verify --evidence, truncated pack ({})", B::NAME),
        caught,
    );
    stint_tests::proof::attack(
        &format!("truncated evidence pack ({})", B::NAME),
        "someone who can replace the pack",
        !caught,
    );
    assert!(caught, "{out}");

    // An extra file slipped in, and a file given twice.
    let mut files = unpack(&bytes);
    files.push(("notes.txt".into(), b"trust me".to_vec()));
    let dup = files
        .iter()
        .find(|(n, _)| n == ev::REVIEWS)
        .unwrap()
        .clone();
    files.push(dup);
    let (code, out) = verify(&b, &repack(&files), true);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("unlisted_file in notes.txt"), "{out}");
    assert!(out.contains("duplicate_file in reviews.jsonl"), "{out}");

    // A review decision dropped from reviews.jsonl (manifest redone): events.jsonl has it.
    let mut files = unpack(&bytes);
    file(&mut files, ev::REVIEWS).clear();
    let mut m = Manifest::parse(file(&mut files, ev::MANIFEST)).unwrap();
    m.counts.reviews = 0;
    *file(&mut files, ev::MANIFEST) = m.to_bytes();
    remanifest(&mut files);
    let (code, out) = verify(&b, &repack(&files), true);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("selection_mismatch in reviews.jsonl"), "{out}");
}

/// Runs every shell block of the pack's `VERIFY.md` as written, in a folder holding the pack
/// as `pack.tar.gz` and the deployment's key as `deployment-key.pem`.
/// `strict`: stop at the first command that fails, as for an untouched pack.
fn run_verify_md(bytes: &[u8], trusted_key: &Path, strict: bool) -> (bool, String) {
    let md = unpack(bytes)
        .into_iter()
        .find(|(n, _)| n == ev::VERIFY_MD)
        .map(|(_, b)| String::from_utf8(b).unwrap())
        .expect("VERIFY.md");
    let mut script = String::from(if strict { "set -e\n" } else { "" });
    let mut inside = false;
    for line in md.lines() {
        match (inside, line) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, l) => {
                script.push_str(l);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(script.contains("openssl dgst -sha256 -verify checkpoint-key.pem -signature"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.tar.gz"), bytes).unwrap();
    std::fs::copy(trusted_key, dir.path().join("deployment-key.pem")).unwrap();
    for tool in [
        "/usr/bin/openssl",
        "/usr/bin/python3",
        "/usr/bin/sha256sum",
        "/usr/bin/tar",
    ] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is needed to check VERIFY.md's commands"
        );
    }
    let stint_dir = bin("stint").parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        stint_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn verify_md_commands_work_as_written<B: Backend>() {
    let b = B::open().await;
    seed(&b).await;
    let bytes = build(&b, "pack.tar.gz");
    let (ok, out) = run_verify_md(&bytes, &b.trusted_key(), true);
    assert!(ok, "{out}");
    assert!(out.contains("\nverified\n"), "stint verify: {out}");
    let fp = Manifest::parse(
        &unpack(&bytes)
            .into_iter()
            .find(|(n, _)| n == ev::MANIFEST)
            .unwrap()
            .1,
    )
    .unwrap()
    .key_fingerprint;
    assert_eq!(
        out.matches(&format!("{fp}\n")).count(),
        2,
        "both keys' fingerprints: {out}"
    );
    assert_eq!(
        out.matches(": OK\n").count(),
        unpack(&bytes).len() - 1,
        "sha256sum -c: {out}"
    );
    for seq in 1..=3 {
        assert!(
            out.contains(&format!("checkpoints/{seq:012}.json: Verified OK")),
            "openssl on checkpoint {seq}: {out}"
        );
    }
    assert!(out.contains("events verified"), "{out}");

    // Tampered, the same commands say so: an edited checkpoint fails openssl, an edited event
    // fails the script.
    let mut files = unpack(&bytes);
    let cp = file(&mut files, "checkpoints/000000000002.json");
    *cp = String::from_utf8(cp.clone())
        .unwrap()
        .replacen("\"version\": 2", "\"version\": 1", 1)
        .into_bytes();
    edit_events(&mut files, |mut l| {
        if l.stream == "test#c" && l.version == 1 {
            l.payload = serde_json::json!({"n": 1, "note": "routine"});
        }
        Some(l)
    });
    remanifest(&mut files);
    let (_, out) = run_verify_md(&repack(&files), &b.trusted_key(), false);
    let named = out.contains("bad_signature (checkpoint 2)")
        && out.contains("checkpoints/000000000002.json: Verification failure")
        && out.contains("checkpoints/000000000001.json: Verified OK")
        && out.contains("test#c version 1: its content does not match its hash (edited)");
    stint_tests::proof::tampering(
        &format!(
            "VERIFY.md by hand (openssl, python3), edited checkpoint and event ({})",
            B::NAME
        ),
        named,
    );
    assert!(named, "{out}");
}

macro_rules! cases {
    ($module:ident, $backend:ty) => {
        mod $module {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_untouched_pack_verifies_and_holds_the_period() {
                super::an_untouched_pack_verifies_and_holds_the_period::<$backend>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_stream_rewritten_consistently_is_named() {
                super::store_tampering_is_named_by_the_pack::<$backend>("rewrite").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_deleted_last_event_is_named() {
                super::store_tampering_is_named_by_the_pack::<$backend>("delete tail").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_deleted_stream_is_named() {
                super::store_tampering_is_named_by_the_pack::<$backend>("delete stream").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_edited_checkpoint_is_named() {
                super::store_tampering_is_named_by_the_pack::<$backend>("edit checkpoint").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn swapped_checkpoint_signatures_are_named() {
                super::store_tampering_is_named_by_the_pack::<$backend>("swap signatures").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_event_edited_in_the_pack_is_named() {
                super::pack_tampering_is_named::<$backend>("edit event").await;
                super::pack_tampering_is_named::<$backend>("edit event, manifest redone").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_checkpoint_edited_in_the_pack_is_named() {
                super::pack_tampering_is_named::<$backend>("edit checkpoint").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_stream_dropped_from_the_pack_is_named() {
                super::pack_tampering_is_named::<$backend>("drop a stream").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_stream_rewritten_in_the_pack_is_named() {
                super::pack_tampering_is_named::<$backend>("rewrite a stream consistently").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_swapped_key_is_named() {
                super::pack_tampering_is_named::<$backend>("swap the key").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn attacks_on_the_pack_are_caught() {
                super::attacks_on_the_pack::<$backend>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn verify_md_commands_work_as_written() {
                super::verify_md_commands_work_as_written::<$backend>().await
            }
        }
    };
}

cases!(sqlite, Local);
cases!(dynamodb, Cloud);

/// `day` removed from one event in DynamoDB: the time index no longer finds it, and the pack
/// names it (SQLite has no such attribute: its time index is the hashed `occurred_at`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_day_in_dynamodb_is_named() {
    store_tampering_is_named_by_the_pack::<Cloud>("blank day").await
}

/// The report function's monthly run: the last whole month's pack archived under Object Lock.
/// Then a period whose end no checkpoint reaches yet, delivered twice: the first run writes a
/// checkpoint and archives the pack, the second adds neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_pack_is_archived_once_under_object_lock() {
    let b = Cloud::open().await;
    seed(&b).await;
    let clock = stint_app::clock::ManualClock::new(utc(2026, 12, 3, 6));
    let anchor = Anchor {
        archive: &b.archive,
        signer: &b.signer,
    };
    let archive = stint_aws::s3::S3Archive::new(b.s3.clone(), b.bucket.clone());
    let event = |payload: serde_json::Value| {
        lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default())
    };
    let run = |payload: serde_json::Value| {
        stint_aws::lambda::handle_evidence(&b.store, anchor, &archive, &clock, event(payload))
    };
    let stored = |key: String| {
        let s3 = b.s3.clone();
        let bucket = b.bucket.clone();
        async move {
            s3.get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes()
                .to_vec()
        }
    };
    let key = b.signer.public_key().await.unwrap();

    // The schedule's input: November, which checkpoint 3 (1 December 05:00) already closes.
    let scheduled = serde_json::json!({ "evidence": true });
    assert!(stint_aws::lambda::is_evidence_run(&scheduled));
    assert!(!stint_aws::lambda::is_evidence_run(&serde_json::json!({})));
    let month = run(scheduled).await.unwrap();
    assert_eq!(
        month["archive_key"],
        "evidence/2026-11-01T000000Z_2026-12-01T000000Z.tar.gz"
    );
    assert_eq!(month["archived"], true);
    assert!(month["checkpoint"].is_null(), "none needed: {month}");
    let pack = stored(month["archive_key"].as_str().unwrap().into()).await;
    assert_eq!(ev::sha256_hex(&pack), month["sha256"].as_str().unwrap());
    let v = stint_app::evidence::verify_pack(&pack, Some(&key));
    assert!(v.verified, "{:#?} {:#?}", v.problems, v.audit.findings);
    assert_eq!(v.audit.last_checkpoint, Some(3));

    // 1 to 3 December: test#b's event of 2 December is after every checkpoint.
    let days = serde_json::json!({
        "evidence": true, "from": "2026-12-01T00:00:00Z", "to": "2026-12-03T00:00:00Z"
    });
    let first = run(days.clone()).await.unwrap();
    let second = run(days).await.unwrap();
    assert_eq!(
        (first["archived"].as_bool(), second["archived"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        first["checkpoint"], 4,
        "the period's end anchored first: {first}"
    );
    assert!(second["checkpoint"].is_null(), "{second}");
    let versions =
        b.s3.list_object_versions()
            .bucket(&b.bucket)
            .prefix("evidence/")
            .send()
            .await
            .unwrap();
    assert_eq!(versions.versions().len(), 2, "two packs, one version each");
    let pack = stored(first["archive_key"].as_str().unwrap().into()).await;
    let v = stint_app::evidence::verify_pack(&pack, Some(&key));
    assert!(v.verified, "{:#?} {:#?}", v.problems, v.audit.findings);
    assert_eq!(v.audit.last_checkpoint, Some(4));
    assert_eq!(
        v.audit.events_after_last_checkpoint, 0,
        "everything anchored"
    );
    let extra =
        usize::from(second["archived"] == true) + usize::from(!second["checkpoint"].is_null());
    stint_tests::proof::duplicates("monthly evidence pack", 2, extra);
}

/// `stint evidence` against a real `stint serve` data folder, with `--checkpoint`: the pack of
/// a day with one grant verifies and its report has the request.
#[test]
fn stint_evidence_packs_a_served_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let server = crate::support::Server::start(&data, "2026-11-29T09:00:00Z");
        let as_user = |user: &str, groups: &str, args: &[&str]| {
            let token = Command::new(bin("stint"))
                .args(["token", "--user", user, "--groups", groups, "--data"])
                .arg(&data)
                .output()
                .unwrap();
            let out = Command::new(bin("stint"))
                .env("STINT_API", &server.api)
                .env(
                    "STINT_TOKEN",
                    String::from_utf8(token.stdout).unwrap().trim(),
                )
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let created = as_user(
            "alice",
            "sre",
            &[
                "--json",
                "request",
                "db-read",
                "--scope",
                "orders",
                "--for",
                "1h",
                "--reason",
                "stuck orders",
                "--principal",
                "arn:aws:iam::123456789012:role/stint/oncall",
            ],
        );
        let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        as_user("bob", "db-owners", &["approve", &id]);
        server.stop();
    }
    let out = dir.path().join("day.tar.gz");
    let args = [
        "evidence",
        "--from",
        "2026-11-29T00:00:00Z",
        "--to",
        "2026-11-30T00:00:00Z",
        "--checkpoint",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, text) = stint(&args.map(String::from), false);
    assert_eq!(code, 0, "{text}");
    // `stint serve` anchors what it finds at start (its recorded catalog), so the pack's own
    // checkpoint is the first or the second.
    assert!(
        text.contains("checkpoint 1 written") || text.contains("checkpoint 2 written"),
        "{text}"
    );
    let (code, text) = stint(
        &[
            "verify".into(),
            "--evidence".into(),
            out.display().to_string(),
            "--public-key".into(),
            data.join(PUBLIC_KEY_FILE).display().to_string(),
        ],
        false,
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.ends_with("verified\n"), "{text}");
    let files = unpack(&std::fs::read(&out).unwrap());
    let csv = String::from_utf8(
        files
            .iter()
            .find(|(n, _)| n == ev::REPORT_CSV)
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(
        csv.contains("db-read") && csv.contains("stuck orders"),
        "{csv}"
    );

    // Bad input: a reversed period, and a pack that is not one.
    let (code, text) = stint(
        &[
            "evidence",
            "--from",
            "2026-11-30T00:00:00Z",
            "--to",
            "2026-11-29T00:00:00Z",
            "--data",
            data.to_str().unwrap(),
        ]
        .map(String::from),
        false,
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--from"), "{text}");
    let junk = dir.path().join("junk.tar.gz");
    std::fs::write(&junk, b"not a pack").unwrap();
    let (code, text) = stint(
        &[
            "verify".into(),
            "--evidence".into(),
            junk.display().to_string(),
        ],
        false,
    );
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("unreadable"), "{text}");
    let (code, text) = stint(
        &[
            "verify".into(),
            "--evidence".into(),
            dir.path().join("missing.tar.gz").display().to_string(),
        ],
        false,
    );
    assert_eq!(code, 2, "{text}");
}

/// Checkpoint signatures from KMS and from a key file are the same algorithm: a record of the
/// key type, so `openssl` reads both keys the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_and_key_file_signatures_verify_alike() {
    let cloud = Cloud::open().await;
    let local = Local::open().await;
    for (name, signer) in [
        ("kms", cloud.signer() as &dyn CheckpointSigner),
        ("file", local.signer()),
    ] {
        let bytes = format!("{{\"test\": \"{name}\"}}\n").into_bytes();
        let sig = signer.sign(&bytes).await.unwrap();
        let key = signer.public_key().await.unwrap();
        assert_eq!(key.verify(&bytes, &sig), Ok(()), "{name}");
    }
}
