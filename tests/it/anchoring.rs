//! Signed checkpoints against tampering by whoever can write the store: a stream rewritten
//! consistently, a deleted tail, a deleted stream, a blanked `day`, an edited checkpoint and a
//! swapped signature — each named by the audit, the report and `stint verify`, in DynamoDB on
//! the emulator (KMS key, Object Lock bucket) and in the embedded store (key file, folder).

use crate::support::bin;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use stint_app::checkpoint::{self, Anchor};
use stint_app::ports::{CheckpointArchive, CheckpointKey, EventStore};
use stint_app::report::compile_audited;
use stint_aws::dynamodb::DynamoEventStore;
use stint_aws::kms::KmsSigner;
use stint_aws::s3::{S3Checkpoints, SIGNATURE};
use stint_domain::audit::{AuditReport, FindingKind};
use stint_domain::log::chain;
use stint_domain::report::Finding;
use stint_domain::{Hash, StreamId};
use stint_local::checkpoints::{CheckpointFolder, KeyFileSigner};
use stint_local::sqlite::SqliteEventStore;
use stint_tests::{emulator_config, emulator_env, record, unique_name};

fn at(min: i64) -> DateTime<Utc> {
    stint_tests::t0() + TimeDelta::minutes(min)
}

fn stream(n: usize) -> StreamId {
    StreamId::new(format!("request#anchoring-{n}")).unwrap()
}

/// Three streams of three events each.
async fn seed(store: &dyn EventStore) {
    for s in 0..3 {
        for v in 0..3u64 {
            store
                .append(&stream(s), v, vec![record(v, at(s as i64 * 10 + v as i64))])
                .await
                .unwrap();
        }
    }
}

/// What the audit, the report and the CLI each said about one tampering.
struct Seen {
    audit: AuditReport,
    report_names_it: bool,
    cli: (i32, String),
}

impl Seen {
    fn names(&self, kind: FindingKind, stream: Option<&str>, checkpoint: Option<u64>) -> bool {
        let in_audit = self.audit.findings.iter().any(|f| {
            f.kind == kind
                && (stream.is_none() || f.stream.as_deref() == stream)
                && (checkpoint.is_none() || f.checkpoint == checkpoint)
        });
        let needle = stream.map_or(kind.as_str().to_owned(), |s| {
            format!("{} in {s}", kind.as_str())
        });
        in_audit && self.report_names_it && self.cli.0 == 4 && self.cli.1.contains(&needle)
    }
}

async fn report_names(store: &dyn EventStore, audit: &AuditReport, kind: FindingKind) -> bool {
    let within = stint_domain::AccessDuration::parse("14d").unwrap();
    let r = compile_audited(store, at(0), at(24 * 60), at(24 * 60), within, Some(audit))
        .await
        .unwrap();
    !r.verified
        && r.findings
            .iter()
            .any(|f| matches!(f, Finding::Tampered { tamper, .. } if *tamper == kind))
}

fn run_stint(args: &[&str], aws: bool) -> (i32, String) {
    let mut cmd = Command::new(bin("stint"));
    cmd.args(args).env_remove("STINT_TOKEN");
    if aws {
        cmd.envs(emulator_env());
    }
    let out = cmd.output().expect("run stint");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

// ---- DynamoDB on the emulator, KMS and an Object Lock bucket ----

struct Deployment {
    store: DynamoEventStore,
    dynamo: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    bucket: String,
    checkpoints: S3Checkpoints,
    signer: KmsSigner,
}

impl Deployment {
    /// Given a table with three streams and one signed checkpoint over them.
    async fn given() -> Deployment {
        let sdk = emulator_config().await;
        let store = stint_tests::fresh_dynamo_store().await;
        seed(&store).await;
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let bucket = unique_name("stint-archive");
        s3.create_bucket()
            .bucket(&bucket)
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .unwrap();
        let kms = aws_sdk_kms::Client::new(&sdk);
        let key = kms
            .create_key()
            .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
            .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap();
        let key_id = key.key_metadata().unwrap().arn().unwrap().to_owned();
        let d = Deployment {
            dynamo: stint_tests::dynamodb_client().await,
            checkpoints: S3Checkpoints::new(s3.clone(), &bucket),
            signer: KmsSigner::new(kms, key_id),
            store,
            s3,
            bucket,
        };
        d.checkpoint(at(60), false)
            .await
            .expect("the first checkpoint");
        d
    }

    async fn checkpoint(&self, now: DateTime<Utc>, force: bool) -> Option<u64> {
        self.checkpoint_of(checkpoint::Scope::Recent, now, force)
            .await
    }

    async fn checkpoint_of(
        &self,
        scope: checkpoint::Scope,
        now: DateTime<Utc>,
        force: bool,
    ) -> Option<u64> {
        let anchor = Anchor {
            archive: &self.checkpoints,
            signer: &self.signer,
        };
        checkpoint::write(&self.store, anchor, now, scope, force)
            .await
            .unwrap()
            .map(|c| c.seq)
    }

    async fn items(&self, s: &StreamId) -> Vec<HashMap<String, AttributeValue>> {
        self.dynamo
            .query()
            .table_name(self.store.table())
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_values(":s", AttributeValue::S(s.to_string()))
            .send()
            .await
            .unwrap()
            .items()
            .to_vec()
    }

    async fn delete(&self, s: &StreamId, version: u64) {
        self.dynamo
            .delete_item()
            .table_name(self.store.table())
            .key("stream", AttributeValue::S(s.to_string()))
            .key("version", AttributeValue::N(version.to_string()))
            .send()
            .await
            .unwrap();
    }

    async fn seen(&self, kind: FindingKind) -> Seen {
        let key = self.signer.public_key().await.unwrap();
        let audit = checkpoint::audit(&self.store, &self.checkpoints, Some(&key))
            .await
            .unwrap();
        let report_names_it = report_names(&self.store, &audit, kind).await;
        let (table, bucket, key_id) = (
            self.store.table().to_owned(),
            self.bucket.clone(),
            self.signer_key_id(),
        );
        let cli = tokio::task::spawn_blocking(move || {
            run_stint(
                &[
                    "verify", "--table", &table, "--bucket", &bucket, "--key-id", &key_id,
                ],
                true,
            )
        })
        .await
        .unwrap();
        Seen {
            audit,
            report_names_it,
            cli,
        }
    }

    fn signer_key_id(&self) -> String {
        use stint_app::ports::CheckpointSigner;
        self.signer.key_id()
    }

    async fn put_checkpoint_object(&self, seq: u64, body: Vec<u8>, signature: &[u8]) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(format!("checkpoints/{seq:012}.json"))
            .metadata(SIGNATURE, hex::encode(signature))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
}

fn record_case(case: &str, seen: &Seen, named: bool) {
    stint_tests::proof::tampering(case, named);
    assert!(
        named,
        "{case}: audit {:#?}\nreport names it: {}\ncli: {:?}",
        seen.audit.findings, seen.report_names_it, seen.cli
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_untouched_verifies_everywhere() {
    let d = Deployment::given().await;
    let key = d.signer.public_key().await.unwrap();
    let audit = checkpoint::audit(&d.store, &d.checkpoints, Some(&key))
        .await
        .unwrap();
    assert!(audit.verified(), "{:#?}", audit.findings);
    assert_eq!(
        (audit.events, audit.streams, audit.last_checkpoint),
        (9, 3, Some(1))
    );
    let (table, bucket, key_id) = (
        d.store.table().to_owned(),
        d.bucket.clone(),
        d.signer_key_id(),
    );
    let (code, out) = tokio::task::spawn_blocking(move || {
        run_stint(
            &[
                "verify", "--table", &table, "--bucket", &bucket, "--key-id", &key_id,
            ],
            true,
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 streams, 9 events") && out.contains("verified"),
        "{out}"
    );
    // Nothing moved: the schedule's next run writes nothing; a report's run always writes one.
    assert_eq!(d.checkpoint(at(75), false).await, None);
    assert_eq!(d.checkpoint(at(76), true).await, Some(2));
    d.store
        .append(&stream(0), 3, vec![record(9, at(80))])
        .await
        .unwrap();
    assert_eq!(d.checkpoint(at(90), false).await, Some(3));
    // An event appended with a time long before the last checkpoint (a retried write, a slow
    // clock) is outside the schedule's window; the next full run (every report) anchors it.
    d.store
        .append(&stream(1), 3, vec![record(9, at(-600))])
        .await
        .unwrap();
    assert_eq!(d.checkpoint(at(105), false).await, None);
    assert_eq!(
        d.checkpoint_of(checkpoint::Scope::Everything, at(106), false)
            .await,
        Some(4)
    );
    assert_eq!(
        d.checkpoint_of(checkpoint::Scope::Everything, at(107), false)
            .await,
        None,
        "a full run lists only what moved since any checkpoint listed it"
    );
    let listed = d.checkpoints.list().await.unwrap();
    assert_eq!(
        listed[3]
            .parse()
            .unwrap()
            .heads
            .iter()
            .map(|h| (h.stream.to_string(), h.version))
            .collect::<Vec<_>>(),
        [(stream(1).to_string(), 4)]
    );
    let third = listed[2].parse().unwrap();
    assert_eq!(
        third
            .heads
            .iter()
            .map(|h| (h.stream.to_string(), h.version))
            .collect::<Vec<_>>(),
        [(stream(0).to_string(), 4)],
        "only the head that moved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_a_stream_rewritten_consistently_is_named() {
    let d = Deployment::given().await;
    let s = stream(1);
    let events = d.store.read_stream(&s).await.unwrap();
    let mut records: Vec<_> = events.into_iter().map(|e| e.record).collect();
    records[0].payload = serde_json::json!({ "n": 0, "note": "rewritten" });
    // Every hash recomputed: the chain itself verifies.
    let rewritten = chain(&s, 0, Hash::genesis(), records);
    assert!(stint_domain::log::verify_stream(&rewritten).is_ok());
    for (mut item, ev) in d.items(&s).await.into_iter().zip(&rewritten) {
        item.insert(
            "payload".into(),
            AttributeValue::S(ev.record.payload.to_string()),
        );
        item.insert(
            "prev_hash".into(),
            AttributeValue::S(ev.prev_hash.to_string()),
        );
        item.insert("hash".into(), AttributeValue::S(ev.hash.to_string()));
        d.dynamo
            .put_item()
            .table_name(d.store.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let seen = d.seen(FindingKind::RewrittenStream).await;
    let named = seen.names(FindingKind::RewrittenStream, Some(s.as_str()), Some(1));
    record_case(
        "stream rewritten consistently, DynamoDB (audit, report, stint verify --table)",
        &seen,
        named,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_a_deleted_tail_is_named() {
    let d = Deployment::given().await;
    d.delete(&stream(2), 3).await;
    let seen = d.seen(FindingKind::DeletedTail).await;
    let named = seen.names(FindingKind::DeletedTail, Some(stream(2).as_str()), Some(1));
    record_case(
        "last event deleted, DynamoDB (audit, report, stint verify --table)",
        &seen,
        named,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_a_deleted_stream_is_named() {
    let d = Deployment::given().await;
    for v in 1..=3 {
        d.delete(&stream(0), v).await;
    }
    let seen = d.seen(FindingKind::DeletedStream).await;
    let named = seen.names(
        FindingKind::DeletedStream,
        Some(stream(0).as_str()),
        Some(1),
    );
    record_case(
        "whole stream deleted, DynamoDB (audit, report, stint verify --table)",
        &seen,
        named,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_a_removed_day_is_named_and_the_event_had_left_the_index() {
    let d = Deployment::given().await;
    let s = stream(1);
    let before = d.store.read_log(at(0), at(60)).count().await;
    // DynamoDB refuses an empty string in an index key, so "blanking" `day` removes it.
    d.dynamo
        .update_item()
        .table_name(d.store.table())
        .key("stream", AttributeValue::S(s.to_string()))
        .key("version", AttributeValue::N("2".into()))
        .update_expression("REMOVE #d")
        .expression_attribute_names("#d", "day")
        .send()
        .await
        .unwrap();
    let after = d.store.read_log(at(0), at(60)).count().await;
    assert_eq!(
        (before, after),
        (9, 8),
        "the edit hides the event from the time index"
    );
    let seen = d.seen(FindingKind::IndexChanged).await;
    let named = seen.names(FindingKind::IndexChanged, Some(s.as_str()), None);
    record_case(
        "day removed, DynamoDB (audit, report, stint verify --table)",
        &seen,
        named,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_an_edited_checkpoint_is_named() {
    let d = Deployment::given().await;
    let first = d.checkpoints.latest().await.unwrap().unwrap();
    // Object Lock keeps the original version; the edit is a new version, which a reader gets.
    let edited = String::from_utf8(first.bytes.clone())
        .unwrap()
        .replace("\"version\": 3", "\"version\": 2")
        .into_bytes();
    assert_ne!(edited, first.bytes);
    d.put_checkpoint_object(1, edited, &first.signature).await;
    let seen = d.seen(FindingKind::BadSignature).await;
    let named = seen.names(FindingKind::BadSignature, None, Some(1));
    record_case(
        "checkpoint edited, S3 (audit, report, stint verify --table)",
        &seen,
        named,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_a_swapped_signature_is_named() {
    let d = Deployment::given().await;
    d.store
        .append(&stream(0), 3, vec![record(9, at(70))])
        .await
        .unwrap();
    d.checkpoint(at(80), false)
        .await
        .expect("a second checkpoint");
    let all = d.checkpoints.list().await.unwrap();
    d.put_checkpoint_object(1, all[0].bytes.clone(), &all[1].signature)
        .await;
    let seen = d.seen(FindingKind::BadSignature).await;
    let named = seen.names(FindingKind::BadSignature, None, Some(1));
    record_case(
        "checkpoint signature swapped, S3 (audit, report, stint verify --table)",
        &seen,
        named,
    );
}

/// The report function on its 15-minute schedule: the same delivery twice writes one checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_schedule_is_idempotent_under_duplicate_delivery() {
    let d = Deployment::given().await;
    d.store
        .append(&stream(0), 3, vec![record(9, at(70))])
        .await
        .unwrap();
    let (a, b) = tokio::join!(d.checkpoint(at(80), false), d.checkpoint(at(80), false));
    let written = [a, b].iter().flatten().count();
    assert_eq!(d.checkpoints.list().await.unwrap().len(), 2);
    assert_eq!(
        d.checkpoint(at(81), false).await,
        None,
        "redelivered later: nothing moved"
    );
    stint_tests::proof::duplicates(
        "checkpoint schedule delivered twice at once",
        3,
        written - 1,
    );
    assert_eq!(written, 1);
}

/// An attribute of another type (a map where the payload's text belongs) used to end the scan
/// with an error; now it is named, and the rest of the audit still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_an_attribute_of_another_type_is_named_and_the_audit_goes_on() {
    let d = Deployment::given().await;
    let s = stream(0);
    let mut item = d.items(&s).await.remove(0);
    item.insert("payload".into(), AttributeValue::M(HashMap::new()));
    d.dynamo
        .put_item()
        .table_name(d.store.table())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    d.delete(&stream(2), 3).await;
    let key = d.signer.public_key().await.unwrap();
    let audit = checkpoint::audit(&d.store, &d.checkpoints, Some(&key))
        .await
        .expect("the audit finishes");
    let named = audit.findings.iter().any(|f| {
        f.kind == FindingKind::EditedEvent
            && f.stream.as_deref() == Some(s.as_str())
            && f.detail.contains("payload is a map")
    }) && audit.findings.iter().any(|f| {
        f.kind == FindingKind::DeletedTail && f.stream.as_deref() == Some(stream(2).as_str())
    });
    let case = "an attribute turned into a map beside a deleted tail, DynamoDB (audit)";
    stint_tests::proof::tampering(case, named);
    assert!(named, "{case}: {:#?}", audit.findings);
}

// ---- The embedded store: a key file and a folder in the data folder ----

struct Local {
    dir: tempfile::TempDir,
}

impl Local {
    async fn given() -> Local {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteEventStore::open(&dir.path().join("events.db")).unwrap();
        seed(&store).await;
        drop(store);
        let l = Local { dir };
        let (code, out) = l.stint(&["checkpoint"]);
        assert!(code == 0 && out.contains("checkpoint 1 written"), "{out}");
        l
    }
    fn data(&self) -> &Path {
        self.dir.path()
    }
    fn stint(&self, args: &[&str]) -> (i32, String) {
        let mut all = args.to_vec();
        all.extend(["--data", self.data().to_str().unwrap()]);
        run_stint(&all, false)
    }
    fn sql(&self, statements: &str) {
        let db = rusqlite::Connection::open(self.data().join("events.db")).unwrap();
        db.execute_batch(
            "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;",
        )
        .unwrap();
        db.execute_batch(statements).unwrap();
    }
    fn store(&self) -> SqliteEventStore {
        SqliteEventStore::open(&self.data().join("events.db")).unwrap()
    }
    /// The audit of the whole store against the checkpoints, with the key beside them.
    async fn audit(&self, store: &SqliteEventStore) -> AuditReport {
        let key = KeyFileSigner::open_or_create(self.data())
            .unwrap()
            .public_key()
            .await
            .unwrap();
        checkpoint::audit(store, &CheckpointFolder::new(self.data()), Some(&key))
            .await
            .expect("the audit finishes")
    }
    async fn seen(&self, kind: FindingKind) -> Seen {
        let store = self.store();
        let audit = self.audit(&store).await;
        let report_names_it = report_names(&store, &audit, kind).await;
        Seen {
            audit,
            report_names_it,
            cli: self.stint(&["verify"]),
        }
    }
    fn checkpoint_file(&self, seq: u64, ext: &str) -> std::path::PathBuf {
        self.data()
            .join("checkpoints")
            .join(format!("{seq:012}.{ext}"))
    }
}

#[tokio::test]
async fn embedded_untouched_verifies() {
    let l = Local::given().await;
    let (code, out) = l.stint(&["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 streams, 9 events") && out.contains("verified"),
        "{out}"
    );
    let (_, again) = l.stint(&["checkpoint"]);
    assert!(again.contains("nothing moved"), "{again}");
}

#[tokio::test]
async fn embedded_a_stream_rewritten_consistently_is_named() {
    let l = Local::given().await;
    let s = stream(1);
    let store = SqliteEventStore::open(&l.data().join("events.db")).unwrap();
    let mut records: Vec<_> = store
        .read_stream(&s)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record)
        .collect();
    drop(store);
    records[0].payload = serde_json::json!({ "n": 0, "note": "rewritten" });
    let rewritten = chain(&s, 0, Hash::genesis(), records);
    let sql: String = rewritten
        .iter()
        .map(|e| {
            format!(
                "UPDATE events SET payload = '{}', prev_hash = '{}', hash = '{}' WHERE stream = '{}' AND version = {};",
                e.record.payload, e.prev_hash, e.hash, s, e.version
            )
        })
        .collect();
    l.sql(&sql);
    let seen = l.seen(FindingKind::RewrittenStream).await;
    let named = seen.names(FindingKind::RewrittenStream, Some(s.as_str()), Some(1));
    record_case(
        "stream rewritten consistently, embedded store (audit, report, stint verify)",
        &seen,
        named,
    );
}

#[tokio::test]
async fn embedded_a_deleted_tail_is_named() {
    let l = Local::given().await;
    l.sql(&format!(
        "DELETE FROM events WHERE stream = '{}' AND version = 3;",
        stream(2)
    ));
    let seen = l.seen(FindingKind::DeletedTail).await;
    let named = seen.names(FindingKind::DeletedTail, Some(stream(2).as_str()), Some(1));
    record_case(
        "last event deleted, embedded store (audit, report, stint verify)",
        &seen,
        named,
    );
}

#[tokio::test]
async fn embedded_a_deleted_stream_is_named() {
    let l = Local::given().await;
    l.sql(&format!(
        "DELETE FROM events WHERE stream = '{}';",
        stream(0)
    ));
    let seen = l.seen(FindingKind::DeletedStream).await;
    let named = seen.names(
        FindingKind::DeletedStream,
        Some(stream(0).as_str()),
        Some(1),
    );
    record_case(
        "whole stream deleted, embedded store (audit, report, stint verify)",
        &seen,
        named,
    );
}

/// Text that no longer parses used to stop the audit at the first such row, so it could hide
/// everything after it. Now it is one more edited event, and the audit goes on.
#[tokio::test]
async fn embedded_unreadable_text_is_named_and_hides_nothing_after_it() {
    let l = Local::given().await;
    l.sql(&format!(
        "UPDATE events SET payload = '{{not json' WHERE stream = '{}' AND version = 1;
         UPDATE events SET actor = x'00ff' WHERE stream = '{}' AND version = 2;
         DELETE FROM events WHERE stream = '{}' AND version = 3;",
        stream(0),
        stream(1),
        stream(2)
    ));
    let audit = l.audit(&l.store()).await;
    let edited = audit.findings.iter().any(|f| {
        f.kind == FindingKind::EditedEvent
            && f.stream.as_deref() == Some(stream(0).as_str())
            && f.detail.contains("cannot be read")
    });
    let blob = audit.findings.iter().any(|f| {
        f.kind == FindingKind::EditedEvent
            && f.stream.as_deref() == Some(stream(1).as_str())
            && f.detail.contains("actor is Blob")
    });
    let deleted = audit.findings.iter().any(|f| {
        f.kind == FindingKind::DeletedTail && f.stream.as_deref() == Some(stream(2).as_str())
    });
    let (code, out) = l.stint(&["verify"]);
    let named = edited
        && blob
        && deleted
        && code == 4
        && out.contains(&format!("edited_event in {}", stream(0)))
        && out.contains(&format!("deleted_tail in {}", stream(2)));
    record_unreadable_case(&audit, &out, named);
}

fn record_unreadable_case(audit: &AuditReport, cli: &str, named: bool) {
    let case =
        "unparseable event text and a blob beside a deleted tail, embedded store (audit, stint verify)";
    stint_tests::proof::tampering(case, named);
    assert!(named, "{case}: audit {:#?}\ncli: {cli}", audit.findings);
}

/// A damaged key column (the stream name made a blob) must not stop the scan's pagination:
/// one row a page, every event is still read.
#[tokio::test]
async fn embedded_a_damaged_key_column_does_not_stop_the_scan() {
    let l = Local::given().await;
    l.sql(&format!(
        "UPDATE events SET stream = x'00ff' WHERE stream = '{}' AND version = 2;",
        stream(1)
    ));
    let audit = l.audit(&l.store().with_page_size(1)).await;
    assert_eq!(audit.events, 9, "{:#?}", audit.findings);
    assert!(
        audit
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::EditedEvent && f.detail.contains("stream is Blob")),
        "{:#?}",
        audit.findings
    );
}

#[tokio::test]
async fn embedded_an_edited_checkpoint_is_named() {
    let l = Local::given().await;
    let path = l.checkpoint_file(1, "json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"version\": 3", "\"version\": 2")).unwrap();
    let seen = l.seen(FindingKind::BadSignature).await;
    let named = seen.names(FindingKind::BadSignature, None, Some(1));
    record_case(
        "checkpoint edited, embedded store (audit, report, stint verify)",
        &seen,
        named,
    );
}

#[tokio::test]
async fn embedded_a_swapped_signature_is_named() {
    let l = Local::given().await;
    let store = SqliteEventStore::open(&l.data().join("events.db")).unwrap();
    store
        .append(&stream(0), 3, vec![record(9, at(70))])
        .await
        .unwrap();
    drop(store);
    let (code, out) = l.stint(&["checkpoint"]);
    assert!(code == 0 && out.contains("checkpoint 2 written"), "{out}");
    let (one, two) = (l.checkpoint_file(1, "sig"), l.checkpoint_file(2, "sig"));
    let (a, b) = (std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
    std::fs::write(&one, b).unwrap();
    std::fs::write(&two, a).unwrap();
    let seen = l.seen(FindingKind::BadSignature).await;
    let named = seen.names(FindingKind::BadSignature, None, Some(1))
        && seen.names(FindingKind::BadSignature, None, Some(2));
    record_case(
        "checkpoint signatures swapped, embedded store (audit, report, stint verify)",
        &seen,
        named,
    );
}

/// A checkpoint re-signed with a new key file (someone with the folder replaced the key): a
/// trusted copy of the public key still finds it.
#[tokio::test]
async fn embedded_a_replaced_key_is_caught_by_a_trusted_copy_of_the_public_key() {
    let l = Local::given().await;
    let trusted = l.dir.path().join("trusted.pub.pem");
    std::fs::copy(l.data().join("checkpoint-key.pub.pem"), &trusted).unwrap();
    // The forger deletes the store's tail, removes key and checkpoints, and starts again.
    l.sql(&format!(
        "DELETE FROM events WHERE stream = '{}' AND version = 3;",
        stream(2)
    ));
    std::fs::remove_file(l.data().join("checkpoint-key.pem")).unwrap();
    std::fs::remove_file(l.data().join("checkpoint-key.pub.pem")).unwrap();
    std::fs::remove_dir_all(l.data().join("checkpoints")).unwrap();
    let (code, _) = l.stint(&["checkpoint"]);
    assert_eq!(code, 0);
    let (code, out) = l.stint(&["verify"]);
    assert_eq!(
        code, 0,
        "with the forged key beside them, the forgery passes: {out}"
    );
    let (code, out) = l.stint(&["verify", "--public-key", trusted.to_str().unwrap()]);
    let named = code == 4 && out.contains("bad_signature") && out.contains("(checkpoint 1)");
    stint_tests::proof::tampering(
        "checkpoints re-signed with a new key, caught by a trusted public key",
        named,
    );
    assert!(named, "{out}");
}
