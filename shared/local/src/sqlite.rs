//! The embedded event store for local mode: SQLite on disk (WAL, synchronous FULL), with
//! triggers that refuse UPDATE and DELETE so the file stays append-only through Stint.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use stint_app::ports::{check_append, EventStore, LogStream, RawScanStream, StoreError};
use stint_domain::audit::RawScanned;
use stint_domain::log::{chain, time_key, RawEvent};
use stint_domain::{EventRecord, Hash, StoredEvent, StreamId};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    stream         TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    event_id       TEXT    NOT NULL UNIQUE,
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    occurred_at    TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    PRIMARY KEY (stream, version)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (occurred_at, event_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event store is append-only'); END;
"#;

const PAGE: i64 = 1_000;

#[derive(Clone)]
pub struct SqliteEventStore {
    conn: Arc<Mutex<Connection>>,
    page_size: i64,
}

impl SqliteEventStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        // FULL: a commit that returned is on disk, so nothing acknowledged is lost on power loss.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(SqliteEventStore {
            conn: Arc::new(Mutex::new(conn)),
            page_size: PAGE,
        })
    }

    /// Smaller pages, so tests can cross page boundaries with few events.
    pub fn with_page_size(mut self, rows: u16) -> Self {
        self.page_size = i64::from(rows.max(1));
        self
    }

    /// Runs blocking SQLite work off the async runtime's worker threads.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Unavailable("store lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Throttled(e.to_string())
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn row_to_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredEvent, StoreError>> {
    let stream: String = row.get(0)?;
    let version: i64 = row.get(1)?;
    let occurred_at: String = row.get(5)?;
    let payload: String = row.get(7)?;
    let schema_version: i64 = row.get(4)?;
    let record = (|| {
        Ok::<_, StoreError>(EventRecord {
            event_id: row.get(2).map_err(db_err)?,
            event_type: row.get(3).map_err(db_err)?,
            schema_version: u16::try_from(schema_version)
                .map_err(|_| StoreError::Corrupt("schema_version".into()))?,
            occurred_at: DateTime::parse_from_rfc3339(&occurred_at)
                .map_err(|e| StoreError::Corrupt(format!("occurred_at: {e}")))?
                .with_timezone(&Utc),
            actor: row.get(6).map_err(db_err)?,
            payload: serde_json::from_str(&payload)
                .map_err(|e| StoreError::Corrupt(format!("payload: {e}")))?,
        })
    })();
    Ok(record.and_then(|record| {
        Ok(StoredEvent {
            stream: StreamId::new(stream).map_err(StoreError::Corrupt)?,
            version: u64::try_from(version).map_err(|_| StoreError::Corrupt("version".into()))?,
            record,
            prev_hash: Hash(row.get(8).map_err(db_err)?),
            hash: Hash(row.get(9).map_err(db_err)?),
        })
    }))
}

/// Where a scan page ends: the row's own (stream, version) values, whatever their type, so a
/// damaged row cannot stop the pagination.
type PageKey = (rusqlite::types::Value, rusqlite::types::Value);

/// The page key of a row read as text: its raw key when that was damaged, else the text read.
fn page_key((raw, damaged): &(RawScanned, Option<PageKey>)) -> PageKey {
    use rusqlite::types::Value;
    damaged.clone().unwrap_or_else(|| {
        (
            Value::Text(raw.event.stream.clone()),
            Value::Integer(raw.event.version as i64),
        )
    })
}

/// A row as stored text, read leniently: a column that is not what the store writes (a blob, a
/// number where text belongs, text where a number belongs) becomes `damage`, which the audit
/// names, instead of an error that would end the scan. The local index is `occurred_at` text.
fn row_to_raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<(RawScanned, Option<PageKey>)> {
    use rusqlite::types::ValueRef;
    let mut damage = Vec::new();
    let mut text = |i: usize, name: &str| -> rusqlite::Result<String> {
        Ok(match row.get_ref(i)? {
            ValueRef::Text(t) => match std::str::from_utf8(t) {
                Ok(t) => t.to_owned(),
                Err(_) => {
                    damage.push(format!("{name} is not UTF-8"));
                    String::new()
                }
            },
            other => {
                damage.push(format!("{name} is {:?}, not text", other.data_type()));
                String::new()
            }
        })
    };
    let event = RawEvent {
        stream: text(0, "stream")?,
        version: 0,
        event_id: text(2, "event_id")?,
        event_type: text(3, "type")?,
        schema_version: 0,
        occurred_at: text(5, "occurred_at")?,
        actor: text(6, "actor")?,
        payload: text(7, "payload")?,
        prev_hash: text(8, "prev_hash")?,
        hash: text(9, "hash")?,
    };
    let number = |i: usize| match row.get_ref(i) {
        Ok(ValueRef::Integer(n)) => Some(n),
        _ => None,
    };
    let version = number(1).and_then(|n| u64::try_from(n).ok());
    let schema_version = number(4).and_then(|n| u16::try_from(n).ok());
    if version.is_none() {
        damage.push("version is not a positive integer".into());
    }
    if schema_version.is_none() {
        damage.push("schema_version is not a 16-bit integer".into());
    }
    // Only a row whose key columns are damaged needs its raw key kept: one allocation less a row.
    let key_damaged = !matches!(row.get_ref(0)?, ValueRef::Text(t) if std::str::from_utf8(t).is_ok())
        || version.is_none();
    let key = if key_damaged {
        Some((row.get(0)?, row.get(1)?))
    } else {
        None
    };
    let raw = RawScanned {
        event: RawEvent {
            version: version.unwrap_or(0),
            schema_version: schema_version.unwrap_or(0),
            ..event
        },
        index: None,
        damage: (!damage.is_empty()).then(|| damage.join("; ")),
    };
    Ok((raw, key))
}

const COLUMNS: &str =
    "stream, version, event_id, type, schema_version, occurred_at, actor, payload, prev_hash, hash";

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected_version: u64,
        events: Vec<EventRecord>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        check_append(&events)?;
        let stream = stream.clone();
        self.with_conn(move |conn| {
            // IMMEDIATE takes the write lock up front, so the head read and the inserts are one step.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_err)?;
            let head: Option<(i64, String)> = tx
                .query_row(
                    "SELECT version, hash FROM events WHERE stream = ?1 ORDER BY version DESC LIMIT 1",
                    params![stream.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err)?;
            let conflict = |actual| StoreError::Conflict { stream: stream.to_string(), expected: expected_version, actual };
            let prev = match head {
                None if expected_version == 0 => Hash::genesis(),
                Some((v, hash)) if v as u64 == expected_version => Hash(hash),
                other => return Err(conflict(other.map(|(v, _)| v as u64))),
            };
            let stored = chain(&stream, expected_version, prev, events);
            {
                let mut insert = tx
                    .prepare_cached(&format!("INSERT INTO events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))
                    .map_err(db_err)?;
                for ev in &stored {
                    let r = &ev.record;
                    insert
                        .execute(params![
                            ev.stream.as_str(),
                            ev.version as i64,
                            r.event_id,
                            r.event_type,
                            r.schema_version,
                            time_key(&r.occurred_at),
                            r.actor,
                            r.payload.to_string(),
                            ev.prev_hash.as_str(),
                            ev.hash.as_str(),
                        ])
                        .map_err(|e| match e.sqlite_error_code() {
                            // A key taken by another process is a lost race; the transaction rolls back on drop.
                            Some(rusqlite::ErrorCode::ConstraintViolation) => conflict(None),
                            _ => db_err(e),
                        })?;
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(stored)
        })
        .await
    }

    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        let stream = stream.clone();
        self.with_conn(move |conn| {
            let mut q = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE stream = ?1 ORDER BY version"
                ))
                .map_err(db_err)?;
            let rows = q
                .query_map(params![stream.as_str()], row_to_event)
                .map_err(db_err)?;
            rows.map(|r| r.map_err(db_err).and_then(|x| x)).collect()
        })
        .await
    }

    fn read_log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> LogStream<'_> {
        struct Cursor {
            after: Option<(String, String)>,
            buffer: VecDeque<StoredEvent>,
            done: bool,
        }
        let (lo, hi) = (time_key(&from), time_key(&to));
        let page_size = self.page_size;
        let cursor = Cursor {
            after: None,
            buffer: VecDeque::new(),
            done: false,
        };
        Box::pin(futures::stream::unfold(cursor, move |mut c| {
            let (lo, hi) = (lo.clone(), hi.clone());
            async move {
                loop {
                    if let Some(ev) = c.buffer.pop_front() {
                        return Some((Ok(ev), c));
                    }
                    if c.done {
                        return None;
                    }
                    let (after, lo, hi) = (c.after.clone(), lo.clone(), hi.clone());
                    // Keyset pagination: each page starts after the last (occurred_at, event_id) seen.
                    let page = self
                        .with_conn(move |conn| {
                            let (a_at, a_id) = after.unwrap_or((String::new(), String::new()));
                            let mut q = conn
                                .prepare_cached(&format!(
                                    "SELECT {COLUMNS} FROM events
                                     WHERE occurred_at >= ?1 AND occurred_at < ?2 AND (occurred_at, event_id) > (?3, ?4)
                                     ORDER BY occurred_at, event_id LIMIT ?5"
                                ))
                                .map_err(db_err)?;
                            let rows = q.query_map(params![lo, hi, a_at, a_id, page_size], row_to_event).map_err(db_err)?;
                            rows.map(|r| r.map_err(db_err).and_then(|x| x)).collect::<Result<Vec<_>, _>>()
                        })
                        .await;
                    match page {
                        Ok(events) => {
                            c.done = (events.len() as i64) < page_size;
                            if let Some(last) = events.last() {
                                c.after = Some((
                                    time_key(&last.record.occurred_at),
                                    last.record.event_id.clone(),
                                ));
                            }
                            c.buffer.extend(events);
                        }
                        Err(e) => {
                            c.done = true;
                            return Some((Err(e), c));
                        }
                    }
                }
            }
        }))
    }

    fn scan_raw(&self) -> RawScanStream<'_> {
        // Keyset pagination on the primary key: (stream, version) order, the table itself.
        // Rows stay text: the audit hashes what is stored, and decodes only what fails.
        let page_size = self.page_size;
        let cursor: (Option<PageKey>, VecDeque<RawScanned>, bool) = (None, VecDeque::new(), false);
        Box::pin(futures::stream::unfold(
            cursor,
            move |(mut after, mut buffer, mut done)| async move {
                loop {
                    if let Some(ev) = buffer.pop_front() {
                        return Some((Ok(ev), (after, buffer, done)));
                    }
                    if done {
                        return None;
                    }
                    let a = after.clone();
                    let page = self
                        .with_conn(move |conn| {
                            use rusqlite::types::Value;
                            let (a_stream, a_version) =
                                a.unwrap_or((Value::Text(String::new()), Value::Integer(-1)));
                            let mut q = conn
                                .prepare_cached(&format!(
                                    "SELECT {COLUMNS} FROM events WHERE (stream, version) > (?1, ?2)
                                     ORDER BY stream, version LIMIT ?3"
                                ))
                                .map_err(db_err)?;
                            let rows = q
                                .query_map(params![a_stream, a_version, page_size], row_to_raw)
                                .map_err(db_err)?;
                            rows.map(|r| r.map_err(db_err))
                                .collect::<Result<Vec<_>, _>>()
                        })
                        .await;
                    match page {
                        Ok(rows) => {
                            done = (rows.len() as i64) < page_size;
                            if let Some(last) = rows.last() {
                                after = Some(page_key(last));
                            }
                            buffer.extend(rows.into_iter().map(|(ev, _)| ev));
                        }
                        Err(e) => return Some((Err(e), (after, buffer, true))),
                    }
                }
            },
        ))
    }
}
