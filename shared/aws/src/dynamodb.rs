//! The DynamoDB event store: one item per event, conditional puts for optimistic concurrency,
//! and a day-partitioned GSI for time-range reads without a scan.

use crate::capacity::{item_size, CapacityMeter};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, PointInTimeRecoverySpecification, Projection, ProjectionType, Put,
    ReturnConsumedCapacity, ScalarAttributeType, StreamSpecification, StreamViewType,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Days, NaiveDate, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use stint_app::ports::{check_append, EventStore, LogStream, RawScanStream, StoreError};
use stint_domain::audit::{IndexAttrs, RawScanned, ScannedEvent};
use stint_domain::log::{chain, day_key, time_key, RawEvent};
use stint_domain::{EventRecord, Hash, StoredEvent, StreamId};

/// The name of the GSI that partitions the log by day.
pub const DAY_INDEX: &str = "by_day";
/// Items per page of a log read; DynamoDB caps a page at 1 MB whatever this says.
const PAGE: i32 = 500;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoEventStore {
    client: Client,
    table: String,
    page_size: i32,
    /// Counts capacity units for the cost model; None in production.
    meter: Option<Arc<CapacityMeter>>,
}

impl DynamoEventStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoEventStore {
            client,
            table: table.into(),
            page_size: PAGE,
            meter: None,
        }
    }

    /// Counts every request's capacity units into `meter`, asking DynamoDB for what it
    /// consumed (`ReturnConsumedCapacity`), for the cost model.
    pub fn with_meter(mut self, meter: Arc<CapacityMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    fn consumed(&self) -> Option<ReturnConsumedCapacity> {
        self.meter.as_ref().map(|_| ReturnConsumedCapacity::Total)
    }

    /// Smaller pages, so tests can cross page boundaries with few events.
    pub fn with_page_size(mut self, items: u16) -> Self {
        self.page_size = i32::from(items.max(1));
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table as DESIGN.md describes it (the SAM template declares the same), for
    /// tests and local use. Point-in-time recovery and deletion protection are on; no TTL.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str, t: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .map_err(build_err)
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(build_err)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(DAY_INDEX)
            .key_schema(key("day", KeyType::Hash)?)
            .key_schema(key("log_sk", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_err)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("stream", ScalarAttributeType::S)?)
            .attribute_definitions(attr("version", ScalarAttributeType::N)?)
            .attribute_definitions(attr("day", ScalarAttributeType::S)?)
            .attribute_definitions(attr("log_sk", ScalarAttributeType::S)?)
            .key_schema(key("stream", KeyType::Hash)?)
            .key_schema(key("version", KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .map_err(build_err)?,
            )
            .deletion_protection_enabled(true)
            .send()
            .await
            .map_err(|e| sdk_err("CreateTable", e))?;
        self.client
            .update_continuous_backups()
            .table_name(&self.table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| sdk_err("UpdateContinuousBackups", e))?;
        Ok(())
    }

    /// The stream's last version and hash, read with strong consistency.
    async fn head(&self, stream: &StreamId) -> Result<Option<(u64, Hash)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "stream")
            .expression_attribute_values(":s", AttributeValue::S(stream.to_string()))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .set_return_consumed_capacity(self.consumed())
            .send()
            .await
            .map_err(|e| sdk_err("Query", e))?;
        if let Some(m) = &self.meter {
            m.read(out.items(), true, out.consumed_capacity());
        }
        match out.items().first() {
            None => Ok(None),
            Some(item) => from_item(item).map(|ev| Some((ev.version, ev.hash))),
        }
    }

    async fn query_page(
        &self,
        day: &str,
        lo: &str,
        hi: &str,
        start: Option<Item>,
    ) -> Result<(Vec<StoredEvent>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DAY_INDEX)
            .key_condition_expression("#d = :d AND #k BETWEEN :lo AND :hi")
            .expression_attribute_names("#d", "day")
            .expression_attribute_names("#k", "log_sk")
            .expression_attribute_values(":d", AttributeValue::S(day.to_owned()))
            .expression_attribute_values(":lo", AttributeValue::S(lo.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(hi.to_owned()))
            .set_exclusive_start_key(start)
            .limit(self.page_size)
            .set_return_consumed_capacity(self.consumed())
            .send()
            .await
            .map_err(|e| sdk_err("Query", e))?;
        if let Some(m) = &self.meter {
            m.read(out.items(), false, out.consumed_capacity());
        }
        let events = out
            .items()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((events, out.last_evaluated_key().cloned()))
    }
}

#[async_trait]
impl EventStore for DynamoEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected_version: u64,
        events: Vec<EventRecord>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        check_append(&events)?;
        let conflict = |actual| StoreError::Conflict {
            stream: stream.to_string(),
            expected: expected_version,
            actual,
        };
        // The first append needs no read: the condition on version 1 settles any race.
        let prev = if expected_version == 0 {
            Hash::genesis()
        } else {
            match self.head(stream).await? {
                Some((v, hash)) if v == expected_version => hash,
                other => return Err(conflict(other.map(|(v, _)| v))),
            }
        };
        let stored = chain(stream, expected_version, prev, events);
        let condition = "attribute_not_exists(#v)";
        if let [single] = stored.as_slice() {
            let item = to_item(single);
            let sizes = self.meter.as_ref().map(|_| [item_size(&item)]);
            let out = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .expression_attribute_names("#v", "version")
                .set_return_consumed_capacity(self.consumed())
                .send()
                .await
                .map_err(|e| match e.code() {
                    Some("ConditionalCheckFailedException") => conflict(None),
                    _ => sdk_err("PutItem", e),
                })?;
            if let (Some(m), Some(sizes)) = (&self.meter, sizes) {
                let reported: Vec<_> = out.consumed_capacity().into_iter().cloned().collect();
                m.write(&sizes, false, &reported);
            }
        } else {
            let mut sizes = Vec::new();
            let mut req = self
                .client
                .transact_write_items()
                .set_return_consumed_capacity(self.consumed());
            for ev in &stored {
                let item = to_item(ev);
                if self.meter.is_some() {
                    sizes.push(item_size(&item));
                }
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .expression_attribute_names("#v", "version")
                    .build()
                    .map_err(build_err)?;
                req = req.transact_items(TransactWriteItem::builder().put(put).build());
            }
            let out = req
                .send()
                .await
                .map_err(|e| transact_err(e, conflict(None)))?;
            if let Some(m) = &self.meter {
                m.write(&sizes, true, out.consumed_capacity());
            }
        }
        Ok(stored)
    }

    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        self.query_stream(stream, from_item).await
    }

    async fn read_stream_indexed(
        &self,
        stream: &StreamId,
    ) -> Result<Vec<ScannedEvent>, StoreError> {
        // Read as a scan reads: an item whose `day` or `log_sk` was removed still reads.
        self.query_stream(stream, scanned_from_item).await
    }

    fn read_log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> LogStream<'_> {
        struct Cursor {
            days: VecDeque<String>,
            day: Option<(String, Option<Item>)>,
            buffer: VecDeque<StoredEvent>,
            failed: bool,
        }
        let (lo, hi) = (time_key(&from), time_key(&to));
        let cursor = Cursor {
            days: days_between(from, to),
            day: None,
            buffer: VecDeque::new(),
            failed: false,
        };
        Box::pin(futures::stream::unfold(cursor, move |mut c| {
            let (lo, hi) = (lo.clone(), hi.clone());
            async move {
                loop {
                    if c.failed {
                        return None;
                    }
                    if let Some(ev) = c.buffer.pop_front() {
                        return Some((Ok(ev), c));
                    }
                    // Next page of the current day, or the first page of the next day.
                    let (day, start) = match c.day.take() {
                        Some((day, Some(key))) => (day, Some(key)),
                        _ => (c.days.pop_front()?, None),
                    };
                    match self.query_page(&day, &lo, &hi, start).await {
                        Ok((events, next)) => {
                            c.buffer.extend(events);
                            c.day = Some((day, next));
                        }
                        Err(e) => {
                            c.failed = true;
                            return Some((Err(e), c));
                        }
                    }
                }
            }
        }))
    }

    fn scan_raw(&self) -> RawScanStream<'_> {
        // All segments at once, their pages merged as they arrive: a scan of the whole table is
        // bound by round trips, not by the items' size.
        let segments = (0..SCAN_SEGMENTS).map(|segment| {
            futures::stream::unfold(Some(None), move |next: Option<Option<Item>>| async move {
                let start = next?;
                match self.scan_page(segment, start).await {
                    Ok((events, more)) => Some((Ok(events), more.map(Some))),
                    Err(e) => Some((Err(e), None)),
                }
            })
        });
        Box::pin(
            futures::stream::select_all(segments.map(Box::pin))
                .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok)))
                .try_flatten(),
        )
    }
}

/// Segments of a full-table scan read at once; each is paged on its own.
const SCAN_SEGMENTS: i32 = 4;

impl DynamoEventStore {
    /// Every item of one stream, in version order, read with `read`.
    async fn query_stream<T>(
        &self,
        stream: &StreamId,
        read: fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#s = :s")
                .expression_attribute_names("#s", "stream")
                .expression_attribute_values(":s", AttributeValue::S(stream.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .set_return_consumed_capacity(self.consumed())
                .send()
                .await
                .map_err(|e| sdk_err("Query", e))?;
            if let Some(m) = &self.meter {
                m.read(page.items(), true, page.consumed_capacity());
            }
            for item in page.items() {
                out.push(read(item)?);
            }
            match page.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return Ok(out),
            }
        }
    }

    async fn scan_page(
        &self,
        segment: i32,
        start: Option<Item>,
    ) -> Result<(Vec<RawScanned>, Option<Item>), StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment)
            .total_segments(SCAN_SEGMENTS)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .set_return_consumed_capacity(self.consumed())
            .send()
            .await
            .map_err(|e| sdk_err("Scan", e))?;
        if let Some(m) = &self.meter {
            m.read(out.items(), true, out.consumed_capacity());
        }
        let events = out.items().iter().map(raw_from_item).collect();
        Ok((events, out.last_evaluated_key().cloned()))
    }
}

/// The UTC days a half-open range touches.
fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> VecDeque<String> {
    let mut days = VecDeque::new();
    if to <= from {
        return days;
    }
    let last: NaiveDate = (to - chrono::TimeDelta::microseconds(1)).date_naive();
    let mut d = from.date_naive();
    while d <= last {
        days.push_back(d.format("%Y-%m-%d").to_string());
        match d.checked_add_days(Days::new(1)) {
            Some(n) => d = n,
            None => break,
        }
    }
    days
}

/// An event as one DynamoDB item; also the shape of a stream record's NEW_IMAGE.
#[derive(Serialize, Deserialize)]
struct EventItem {
    stream: String,
    version: u64,
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    schema_version: u16,
    occurred_at: String,
    actor: String,
    /// Readable JSON text, not a blob.
    payload: String,
    prev_hash: String,
    hash: String,
    // Index attributes, outside the hash: an item that lost them still reads as its event (the
    // audit reads them apart and names the change).
    #[serde(default)]
    day: String,
    #[serde(default)]
    log_sk: String,
}

fn to_item(ev: &StoredEvent) -> Item {
    let r = &ev.record;
    let at = time_key(&r.occurred_at);
    let item = EventItem {
        stream: ev.stream.to_string(),
        version: ev.version,
        event_id: r.event_id.clone(),
        event_type: r.event_type.clone(),
        schema_version: r.schema_version,
        occurred_at: at.clone(),
        actor: r.actor.clone(),
        payload: r.payload.to_string(),
        prev_hash: ev.prev_hash.to_string(),
        hash: ev.hash.to_string(),
        day: day_key(&r.occurred_at),
        log_sk: format!("{at}#{}", r.event_id),
    };
    serde_dynamo::to_item(item).unwrap_or_default() // plain strings and numbers always convert
}

/// An event as a scan reads it: `day` and `log_sk` kept as found (even missing), for the audit.
fn scanned_from_item(item: &Item) -> Result<ScannedEvent, StoreError> {
    raw_from_item(item).decode().map_err(StoreError::Corrupt)
}

/// As [`scanned_from_item`], the event's fields left as stored text for the audit to hash, read
/// leniently: an attribute that is missing or of another type becomes `damage`, which the audit
/// names, instead of an error that would end the scan.
fn raw_from_item(item: &Item) -> RawScanned {
    let mut damage = Vec::new();
    let mut text = |k: &str| match item.get(k) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => {
            damage.push(format!("{k} is {}", kind_of(other)));
            String::new()
        }
    };
    let event = RawEvent {
        stream: text("stream"),
        version: 0,
        event_id: text("event_id"),
        event_type: text("type"),
        schema_version: 0,
        occurred_at: text("occurred_at"),
        actor: text("actor"),
        payload: text("payload"),
        prev_hash: text("prev_hash"),
        hash: text("hash"),
    };
    let number = |k: &str| match item.get(k) {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    };
    let version = number("version");
    let schema_version = number("schema_version").and_then(|n| u16::try_from(n).ok());
    if version.is_none() {
        damage.push("version is not a whole number".into());
    }
    if schema_version.is_none() {
        damage.push("schema_version is not a 16-bit whole number".into());
    }
    // Index attributes are not part of the event: whatever they became, the event still reads.
    let index_text = |k: &str| match item.get(k) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    RawScanned {
        event: RawEvent {
            version: version.unwrap_or(0),
            schema_version: schema_version.unwrap_or(0),
            ..event
        },
        index: Some(IndexAttrs {
            day: index_text("day"),
            log_sk: index_text("log_sk"),
        }),
        damage: (!damage.is_empty()).then(|| damage.join("; ")),
    }
}

fn kind_of(v: Option<&AttributeValue>) -> &'static str {
    match v {
        None => "missing",
        Some(AttributeValue::S(_)) => "a string",
        Some(AttributeValue::N(_)) => "a number",
        Some(AttributeValue::B(_)) => "binary",
        Some(AttributeValue::M(_)) => "a map",
        Some(AttributeValue::L(_)) => "a list",
        Some(AttributeValue::Bool(_)) => "a boolean",
        Some(AttributeValue::Null(_)) => "null",
        Some(_) => "of another type",
    }
}

fn from_item(item: &Item) -> Result<StoredEvent, StoreError> {
    let it: EventItem = serde_dynamo::from_item(item.clone())
        .map_err(|e| StoreError::Corrupt(format!("event item: {e}")))?;
    from_event_item(it)
}

/// Reads the event in a DynamoDB stream record's NEW_IMAGE, as the relay receives it.
pub fn event_from_stream_image(image: serde_dynamo::Item) -> Result<StoredEvent, StoreError> {
    let it: EventItem = serde_dynamo::from_item(image)
        .map_err(|e| StoreError::Corrupt(format!("stream image: {e}")))?;
    from_event_item(it)
}

fn from_event_item(it: EventItem) -> Result<StoredEvent, StoreError> {
    let corrupt = |what: &str, e: String| {
        StoreError::Corrupt(format!("{} v{} {what}: {e}", it.stream, it.version))
    };
    let occurred_at = DateTime::parse_from_rfc3339(&it.occurred_at)
        .map_err(|e| corrupt("occurred_at", e.to_string()))?
        .with_timezone(&Utc);
    let payload =
        serde_json::from_str(&it.payload).map_err(|e| corrupt("payload", e.to_string()))?;
    let stream = StreamId::new(it.stream.clone()).map_err(|e| corrupt("stream", e))?;
    Ok(StoredEvent {
        stream,
        version: it.version,
        record: EventRecord {
            event_id: it.event_id,
            event_type: it.event_type,
            schema_version: it.schema_version,
            occurred_at,
            actor: it.actor,
            payload,
        },
        prev_hash: Hash(it.prev_hash),
        hash: Hash(it.hash),
    })
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::InvalidAppend(e.to_string())
}

/// Throttling is retryable and says so; anything else from the service is "unavailable".
pub(crate) fn sdk_err<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    op: &str,
    e: SdkError<E, R>,
) -> StoreError {
    let code = e.code().unwrap_or_default().to_owned();
    let msg = format!("{op}: {code} {}", e.message().unwrap_or_default());
    match (code.as_str(), &e) {
        (
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
            _,
        ) => StoreError::Throttled(msg),
        (_, SdkError::ServiceError(_)) => StoreError::Unavailable(msg),
        _ => StoreError::Unavailable(format!("{op}: {e:?}")),
    }
}

fn transact_err<R: std::fmt::Debug>(
    e: SdkError<TransactWriteItemsError, R>,
    conflict: StoreError,
) -> StoreError {
    if let SdkError::ServiceError(se) = &e {
        if let TransactWriteItemsError::TransactionCanceledException(tc) = se.err() {
            let codes: Vec<&str> = tc
                .cancellation_reasons()
                .iter()
                .filter_map(|r| r.code())
                .collect();
            if codes
                .iter()
                .any(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict")
            {
                return conflict;
            }
            if codes
                .iter()
                .any(|c| *c == "ThrottlingError" || *c == "ProvisionedThroughputExceeded")
            {
                return StoreError::Throttled(format!("TransactWriteItems: {codes:?}"));
            }
        }
    }
    if e.code() == Some("TransactionConflictException") {
        return conflict;
    }
    sdk_err("TransactWriteItems", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_between_covers_each_touched_day_once() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            days_between(t("2026-01-01T23:00:00Z"), t("2026-01-03T00:00:00Z")),
            ["2026-01-01", "2026-01-02"]
        );
        assert_eq!(
            days_between(t("2026-01-01T23:00:00Z"), t("2026-01-01T23:30:00Z")),
            ["2026-01-01"]
        );
        assert!(days_between(t("2026-01-02T00:00:00Z"), t("2026-01-01T00:00:00Z")).is_empty());
    }
}
