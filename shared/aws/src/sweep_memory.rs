//! The sweep's cursor in a DynamoDB table of its own (one item), apart from the event table,
//! whose writers may only append.

use crate::capacity::{item_size, CapacityMeter};
use crate::dynamodb::sdk_err;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::sync::Arc;
use stint_app::ports::{StoreError, SweepMemory};
use stint_domain::sweep::SweepCursor;

const KEY: &str = "sweep";
/// Under DynamoDB's 400 KB item limit. A cursor over it (some ten thousand open requests) is
/// saved as a marker that makes the next run read everything, which is correct at any size.
const MAX_CURSOR_BYTES: usize = 350 * 1024;

#[derive(Clone)]
pub struct DynamoSweepMemory {
    client: Client,
    table: String,
    meter: Option<Arc<CapacityMeter>>,
}

impl DynamoSweepMemory {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoSweepMemory {
            client,
            table: table.into(),
            meter: None,
        }
    }

    /// Creates the table as the template declares it (for tests and local set-ups).
    pub async fn create_table(&self) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unavailable(e.to_string());
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| sdk_err("CreateTable", e))?;
        Ok(())
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Counts this table's capacity units too (the cost model).
    pub fn with_meter(mut self, meter: Arc<CapacityMeter>) -> Self {
        self.meter = Some(meter);
        self
    }
}

#[async_trait]
impl SweepMemory for DynamoSweepMemory {
    async fn load(&self) -> Result<Option<SweepCursor>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(KEY.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        if let Some(m) = &self.meter {
            m.read(
                out.item().map(std::slice::from_ref).unwrap_or(&[]),
                true,
                None,
            );
        }
        let Some(text) = out.item().and_then(|i| i.get("cursor")?.as_s().ok()) else {
            return Ok(None);
        };
        match serde_json::from_str(text) {
            Ok(c) => Ok(Some(c)),
            Err(e) => {
                tracing::warn!(error = %e, "stored sweep cursor is not a cursor; ignored");
                Ok(None)
            }
        }
    }

    async fn save(&self, cursor: &SweepCursor) -> Result<(), StoreError> {
        let mut text =
            serde_json::to_string(cursor).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if text.len() > MAX_CURSOR_BYTES {
            tracing::warn!(
                open = cursor.open.len(),
                bytes = text.len(),
                "sweep cursor too large to keep; the next run reads the whole window"
            );
            text = "{}".into();
        }
        let item: HashMap<String, AttributeValue> = HashMap::from([
            ("id".to_owned(), AttributeValue::S(KEY.into())),
            ("cursor".to_owned(), AttributeValue::S(text)),
            (
                "read_to".to_owned(),
                AttributeValue::S(cursor.read_to.to_rfc3339()),
            ),
        ]);
        let size = item_size(&item);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_err("PutItem", e))?;
        if let Some(m) = &self.meter {
            m.write_unindexed(size);
        }
        Ok(())
    }
}
