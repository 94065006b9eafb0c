//! One contract, run against every `EventStore`: DynamoDB on the emulator (over HTTP, through
//! the SDK) and the embedded SQLite store on disk. Tampering goes around the adapter, straight
//! to the backend, the way an attacker with table access would.

use crate::support::sixteen_at_once;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::TryStreamExt;
use std::sync::Arc;
use stint_app::ports::{EventStore, StoreError};
use stint_app::verify::verify_period;
use stint_aws::dynamodb::DynamoEventStore;
use stint_domain::log::{chain, verify_stream};
use stint_domain::{Hash, StreamId};
use stint_local::sqlite::SqliteEventStore;
use stint_tests::{fresh_dynamo_store, record};

#[async_trait]
trait Subject: Send + Sync + Sized + 'static {
    /// The store's name in the proof summary.
    const NAME: &'static str;
    async fn open() -> Self;
    fn store(&self) -> Arc<dyn EventStore>;
    /// A new adapter over the same data, as after a process restart.
    async fn reopen(&self) -> Arc<dyn EventStore>;
    async fn raw_put_version(&self, stream: &StreamId, version: u64);
    async fn raw_edit_payload(&self, stream: &StreamId, version: u64, payload: &str);
    async fn raw_delete(&self, stream: &StreamId, version: u64);
    async fn raw_swap(&self, stream: &StreamId, a: u64, b: u64);
}

// --- DynamoDB on the emulator ----------------------------------------------------------------

/// Page size for log reads in these tests.
const PAGE: u16 = 25;

struct Dynamo(DynamoEventStore, aws_sdk_dynamodb::Client);

fn key(stream: &StreamId, version: u64) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("stream".to_owned(), AttributeValue::S(stream.to_string())),
        ("version".to_owned(), AttributeValue::N(version.to_string())),
    ]
    .into()
}

#[async_trait]
impl Subject for Dynamo {
    const NAME: &'static str = "DynamoDB";
    async fn open() -> Self {
        // Small pages: log reads cross page boundaries with a few hundred events.
        Dynamo(
            fresh_dynamo_store().await.with_page_size(PAGE),
            stint_tests::dynamodb_client().await,
        )
    }
    fn store(&self) -> Arc<dyn EventStore> {
        Arc::new(self.0.clone())
    }
    async fn reopen(&self) -> Arc<dyn EventStore> {
        Arc::new(DynamoEventStore::new(
            stint_tests::dynamodb_client().await,
            self.0.table(),
        ))
    }
    async fn raw_put_version(&self, stream: &StreamId, version: u64) {
        let mut item = key(stream, version);
        item.insert("payload".into(), AttributeValue::S("{}".into()));
        self.1
            .put_item()
            .table_name(self.0.table())
            .set_item(Some(item))
            .send()
            .await
            .expect("raw put");
    }
    async fn raw_edit_payload(&self, stream: &StreamId, version: u64, payload: &str) {
        self.1
            .update_item()
            .table_name(self.0.table())
            .set_key(Some(key(stream, version)))
            .update_expression("SET payload = :p")
            .expression_attribute_values(":p", AttributeValue::S(payload.into()))
            .send()
            .await
            .expect("raw update");
    }
    async fn raw_delete(&self, stream: &StreamId, version: u64) {
        self.1
            .delete_item()
            .table_name(self.0.table())
            .set_key(Some(key(stream, version)))
            .send()
            .await
            .expect("raw delete");
    }
    async fn raw_swap(&self, stream: &StreamId, a: u64, b: u64) {
        let get = |v| {
            let c = self.1.clone();
            let t = self.0.table().to_owned();
            let k = key(stream, v);
            async move {
                c.get_item()
                    .table_name(t)
                    .set_key(Some(k))
                    .consistent_read(true)
                    .send()
                    .await
                    .expect("raw get")
                    .item
                    .expect("item exists")
            }
        };
        let (mut ia, mut ib) = (get(a).await, get(b).await);
        ia.insert("version".into(), AttributeValue::N(b.to_string()));
        ib.insert("version".into(), AttributeValue::N(a.to_string()));
        for item in [ia, ib] {
            self.1
                .put_item()
                .table_name(self.0.table())
                .set_item(Some(item))
                .send()
                .await
                .expect("raw put");
        }
    }
}

// --- SQLite on disk --------------------------------------------------------------------------

struct Sqlite(SqliteEventStore, tempfile::TempDir);

impl Sqlite {
    fn path(&self) -> std::path::PathBuf {
        self.1.path().join("events.db")
    }
    /// A second connection that first removes the append-only triggers, as an attacker could.
    fn raw(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.path()).expect("open raw");
        c.execute_batch(
            "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;",
        )
        .expect("drop triggers");
        c
    }
}

#[async_trait]
impl Subject for Sqlite {
    const NAME: &'static str = "the embedded store";
    async fn open() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Sqlite(
            SqliteEventStore::open(&dir.path().join("events.db"))
                .expect("open store")
                .with_page_size(PAGE),
            dir,
        )
    }
    fn store(&self) -> Arc<dyn EventStore> {
        Arc::new(self.0.clone())
    }
    async fn reopen(&self) -> Arc<dyn EventStore> {
        Arc::new(SqliteEventStore::open(&self.path()).expect("reopen"))
    }
    async fn raw_put_version(&self, stream: &StreamId, version: u64) {
        self.raw()
            .execute(
                "INSERT INTO events VALUES (?1, ?2, ?3, 'Planted', 1, '2026-01-01T00:00:00.000000Z', 'user:x', '{}', '', '')",
                rusqlite::params![stream.as_str(), version as i64, ulid::Ulid::generate().to_string()],
            )
            .expect("raw insert");
    }
    async fn raw_edit_payload(&self, stream: &StreamId, version: u64, payload: &str) {
        let n = self
            .raw()
            .execute(
                "UPDATE events SET payload = ?1 WHERE stream = ?2 AND version = ?3",
                rusqlite::params![payload, stream.as_str(), version as i64],
            )
            .expect("raw update");
        assert_eq!(n, 1);
    }
    async fn raw_delete(&self, stream: &StreamId, version: u64) {
        let n = self
            .raw()
            .execute(
                "DELETE FROM events WHERE stream = ?1 AND version = ?2",
                rusqlite::params![stream.as_str(), version as i64],
            )
            .expect("raw delete");
        assert_eq!(n, 1);
    }
    async fn raw_swap(&self, stream: &StreamId, a: u64, b: u64) {
        let c = self.raw();
        let s = stream.as_str();
        c.execute(
            "UPDATE events SET version = -1 WHERE stream = ?1 AND version = ?2",
            rusqlite::params![s, a as i64],
        )
        .expect("swap");
        c.execute(
            "UPDATE events SET version = ?3 WHERE stream = ?1 AND version = ?2",
            rusqlite::params![s, b as i64, a as i64],
        )
        .expect("swap");
        c.execute(
            "UPDATE events SET version = ?2 WHERE stream = ?1 AND version = -1",
            rusqlite::params![s, b as i64],
        )
        .expect("swap");
    }
}

// --- the contract ----------------------------------------------------------------------------

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 23, 59, 0).unwrap()
}
fn new_stream() -> StreamId {
    stint_domain::RequestId::new().stream()
}
fn count_conflicts<T>(results: &[Result<T, StoreError>]) -> usize {
    results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict { .. })))
        .count()
}

async fn round_trip<S: Subject>() {
    let s = S::open().await;
    let store = s.store();
    let stream = new_stream();
    let first = store
        .append(&stream, 0, vec![record(1, t0()), record(2, t0())])
        .await
        .expect("append two");
    assert_eq!(first.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(first[0].prev_hash, Hash::genesis());
    assert_eq!(first[1].prev_hash, first[0].hash);
    let third = store
        .append(&stream, 2, vec![record(3, t0() + Duration::seconds(1))])
        .await
        .expect("append one");
    assert_eq!(
        third[0].prev_hash, first[1].hash,
        "the chain continues across appends"
    );
    let read = store.read_stream(&stream).await.expect("read");
    assert_eq!(
        read,
        [first, third].concat(),
        "what was written is what is read, byte for byte"
    );
    assert_eq!(verify_stream(&read), Ok(()));
    assert_eq!(read[0].record.payload["n"], 1);
    assert!(store
        .read_stream(&new_stream())
        .await
        .expect("read empty")
        .is_empty());
}

async fn stale_expected_version_conflicts<S: Subject>() {
    let s = S::open().await;
    let store = s.store();
    let stream = new_stream();
    store
        .append(&stream, 0, vec![record(1, t0())])
        .await
        .expect("first");
    for stale in [0, 2, 7] {
        let r = store.append(&stream, stale, vec![record(9, t0())]).await;
        assert!(
            matches!(r, Err(StoreError::Conflict { expected, .. }) if expected == stale),
            "expected {stale}: {r:?}"
        );
    }
    assert_eq!(
        store.read_stream(&stream).await.unwrap().len(),
        1,
        "a conflict appends nothing"
    );
}

async fn sixteen_concurrent_appenders_one_wins<S: Subject>() {
    let s = S::open().await;
    let store = s.store();
    let stream = new_stream();
    store
        .append(&stream, 0, vec![record(0, t0())])
        .await
        .expect("seed");
    let results = sixteen_at_once(
        &(store.clone(), stream.clone()),
        |(store, stream), i| async move {
            let evs = vec![record(100 + i, t0()), record(200 + i, t0())];
            store.append(&stream, 1, evs).await
        },
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one winner: {results:?}"
    );
    assert_eq!(
        count_conflicts(&results),
        15,
        "every loser gets a typed conflict"
    );
    let read = store.read_stream(&stream).await.unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(verify_stream(&read), Ok(()));
}

async fn multi_event_append_is_all_or_nothing<S: Subject>() {
    let s = S::open().await;
    let store = s.store();
    let stream = new_stream();
    // Another writer already holds version 3; an append of versions 1..=3 must write none of them.
    s.raw_put_version(&stream, 3).await;
    let r = store
        .append(
            &stream,
            0,
            vec![record(1, t0()), record(2, t0()), record(3, t0())],
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
    let versions: Vec<u64> = store
        .read_stream(&stream)
        .await
        .map(|v| v.iter().map(|e| e.version).collect())
        .unwrap_or_else(|_| vec![3]);
    assert_eq!(versions, [3], "versions 1 and 2 must not have been written");
}

async fn empty_and_oversized_appends_are_refused<S: Subject>() {
    let s = S::open().await;
    let store = s.store();
    let stream = new_stream();
    assert!(matches!(
        store.append(&stream, 0, vec![]).await,
        Err(StoreError::InvalidAppend(_))
    ));
    let many = (0..101).map(|n| record(n, t0())).collect();
    assert!(matches!(
        store.append(&stream, 0, many).await,
        Err(StoreError::InvalidAppend(_))
    ));
    assert!(store.read_stream(&stream).await.unwrap().is_empty());
}

async fn time_range_reads_are_ordered_across_streams_and_days<S: Subject>() {
    let s = S::open().await;
    let store = s.store();
    let (a, b, c) = (new_stream(), new_stream(), new_stream());
    // t0 is 23:59 on 14 March; events straddle midnight and interleave across streams.
    let at = |secs: i64| t0() + Duration::seconds(secs);
    store
        .append(&a, 0, vec![record(1, at(-120)), record(2, at(10))])
        .await
        .unwrap();
    store.append(&b, 0, vec![record(3, at(30))]).await.unwrap();
    store
        .append(&c, 0, vec![record(4, at(59)), record(5, at(61))])
        .await
        .unwrap();
    store
        .append(&b, 1, vec![record(6, at(90)), record(7, at(86_400 + 5))])
        .await
        .unwrap();
    store.append(&a, 2, vec![record(8, at(75))]).await.unwrap();

    let read = |from, to| {
        let store = Arc::clone(&store);
        async move {
            store
                .read_log(from, to)
                .map_ok(|e| e.record.payload["n"].as_u64().unwrap())
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        read(at(-600), at(200_000)).await,
        [1, 2, 3, 4, 5, 8, 6, 7],
        "all, in time order"
    );
    assert_eq!(
        read(at(10), at(61)).await,
        [2, 3, 4],
        "from is inclusive, to exclusive"
    );
    assert_eq!(
        read(at(60), at(86_400)).await,
        [5, 8, 6],
        "only the second day, to the minute"
    );
    assert!(read(at(1_000), at(2_000)).await.is_empty());
    assert!(
        read(at(100), at(10)).await.is_empty(),
        "an inverted range is empty"
    );
}

async fn log_reads_page_through_many_events<S: Subject>() {
    use futures::StreamExt;
    let s = S::open().await;
    let store = s.store();
    // One event per stream, written eight at a time: single puts, in arbitrary completion order.
    let n = 10 * u64::from(PAGE) + 7;
    futures::stream::iter(0..n)
        .map(|i| {
            let store = Arc::clone(&store);
            async move {
                store
                    .append(
                        &new_stream(),
                        0,
                        vec![record(i, t0() + Duration::milliseconds(i as i64))],
                    )
                    .await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .expect("appends");
    let got: Vec<u64> = store
        .read_log(t0(), t0() + Duration::hours(1))
        .map_ok(|e| e.record.payload["n"].as_u64().unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        got,
        (0..n).collect::<Vec<_>>(),
        "{n} events over 11 pages, none lost or repeated"
    );
}

async fn data_survives_a_restart<S: Subject>() {
    let s = S::open().await;
    let stream = new_stream();
    let written = s
        .store()
        .append(&stream, 0, vec![record(1, t0())])
        .await
        .unwrap();
    let reopened = s.reopen().await;
    assert_eq!(reopened.read_stream(&stream).await.unwrap(), written);
    reopened
        .append(&stream, 1, vec![record(2, t0())])
        .await
        .expect("append after restart continues the chain");
    assert_eq!(
        verify_stream(&reopened.read_stream(&stream).await.unwrap()),
        Ok(())
    );
}

/// Three streams of four events in one period; returns the target stream.
async fn seeded<S: Subject>(s: &S) -> StreamId {
    let store = s.store();
    let target = new_stream();
    for stream in [new_stream(), target.clone(), new_stream()] {
        let evs = (0..4)
            .map(|n| record(n, t0() + Duration::seconds(n as i64)))
            .collect();
        store.append(&stream, 0, evs).await.unwrap();
    }
    let v = verify_period(store.as_ref(), t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    assert!(v.verified(), "untouched log verifies: {:?}", v.breaks);
    assert_eq!((v.streams_checked, v.events_in_period), (3, 12));
    target
}

async fn tampering_is_detected_and_named<S: Subject>(tamper: &str) {
    let s = S::open().await;
    let target = seeded(&s).await;
    let store = s.store();
    let before = verify_period(store.as_ref(), t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    let expected_version = match tamper {
        "edit" => {
            s.raw_edit_payload(&target, 2, r#"{"n":1,"note":"nothing to see"}"#)
                .await;
            2
        }
        "delete" => {
            s.raw_delete(&target, 2).await;
            3
        }
        "reorder" => {
            s.raw_swap(&target, 2, 3).await;
            2
        }
        other => panic!("unknown tamper {other}"),
    };
    let after = verify_period(store.as_ref(), t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    let named = after.breaks.len() == 1
        && after.breaks[0].stream.as_str() == target.as_str()
        && after.breaks[0].version == expected_version;
    stint_tests::proof::tampering(&format!("{tamper} in {}", S::NAME), named);
    assert_eq!(
        after.breaks.len(),
        1,
        "{tamper}: exactly the tampered stream fails: {:?}",
        after.breaks
    );
    let b = &after.breaks[0];
    assert_eq!(
        (b.stream.as_str(), b.version),
        (target.as_str(), expected_version),
        "{tamper}: names the first bad event: {b}"
    );
    assert_ne!(
        before.period_digest, after.period_digest,
        "{tamper}: the period digest changes too"
    );
}

/// Builds the same chain the store would, to check the store adds nothing of its own.
async fn stored_hashes_match_an_independent_chain<S: Subject>() {
    let s = S::open().await;
    let stream = new_stream();
    let recs = vec![record(1, t0()), record(2, t0())];
    let stored = s.store().append(&stream, 0, recs.clone()).await.unwrap();
    assert_eq!(stored, chain(&stream, 0, Hash::genesis(), recs));
}

macro_rules! contract {
    ($module:ident, $subject:ty) => {
        mod $module {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn round_trip() {
                super::round_trip::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn stale_expected_version_conflicts() {
                super::stale_expected_version_conflicts::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sixteen_concurrent_appenders_one_wins() {
                super::sixteen_concurrent_appenders_one_wins::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn multi_event_append_is_all_or_nothing() {
                super::multi_event_append_is_all_or_nothing::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn empty_and_oversized_appends_are_refused() {
                super::empty_and_oversized_appends_are_refused::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn time_range_reads_are_ordered_across_streams_and_days() {
                super::time_range_reads_are_ordered_across_streams_and_days::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn log_reads_page_through_many_events() {
                super::log_reads_page_through_many_events::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn data_survives_a_restart() {
                super::data_survives_a_restart::<$subject>().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn an_edited_event_is_detected() {
                super::tampering_is_detected_and_named::<$subject>("edit").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_deleted_event_is_detected() {
                super::tampering_is_detected_and_named::<$subject>("delete").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn reordered_events_are_detected() {
                super::tampering_is_detected_and_named::<$subject>("reorder").await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn stored_hashes_match_an_independent_chain() {
                super::stored_hashes_match_an_independent_chain::<$subject>().await
            }
        }
    };
}

contract!(dynamodb, Dynamo);
contract!(sqlite, Sqlite);

/// The embedded store refuses UPDATE and DELETE through its own connection.
#[tokio::test]
async fn sqlite_refuses_updates_and_deletes_without_dropping_its_triggers() {
    let s = Sqlite::open().await;
    let stream = new_stream();
    s.store()
        .append(&stream, 0, vec![record(1, t0())])
        .await
        .unwrap();
    let c = rusqlite::Connection::open(s.path()).unwrap();
    let upd = c.execute("UPDATE events SET payload = '{}'", []);
    let del = c.execute("DELETE FROM events", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    assert!(del.unwrap_err().to_string().contains("append-only"));
}

/// A failure on the last insert of a multi-event append rolls back the earlier ones.
#[tokio::test]
async fn sqlite_rolls_back_a_partly_inserted_append() {
    let s = Sqlite::open().await;
    let stream = new_stream();
    let dup = record(1, t0());
    s.store()
        .append(&new_stream(), 0, vec![dup.clone()])
        .await
        .unwrap();
    // The third record reuses an event id already stored elsewhere: the unique index fails it.
    let r = s
        .store()
        .append(&stream, 0, vec![record(2, t0()), record(3, t0()), dup])
        .await;
    assert!(r.is_err());
    assert!(
        s.store().read_stream(&stream).await.unwrap().is_empty(),
        "the first two inserts were rolled back"
    );
}
