//! Helpers shared by Stint's tests and benchmark: the emulator's endpoint, SDK clients
//! configured for it, fresh isolated tables, and sample events.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use chrono::{DateTime, Utc};
use stint::adapters::dynamodb::DynamoEventStore;
use stint::domain::EventRecord;

/// The environment variable the test harness sets to the running emulator's URL.
pub const ENDPOINT_VAR: &str = "STINT_TEST_AWS_ENDPOINT";

/// The emulator's URL. A test that needs it fails loudly when it is missing; it never skips.
pub fn emulator_endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VAR} is not set: these tests need the AWS emulator. \
             Run them through `infra/scripts/test.sh`, which installs and starts moto."
        )
    })
}

/// SDK configuration pointing every client at the emulator, with dummy credentials.
pub async fn emulator_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "stint-tests",
        ))
        .load()
        .await
}

pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&emulator_config().await)
}

/// A name no other test uses, so tests run in parallel without resetting the emulator.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    )
}

/// A store over a new table of its own.
pub async fn fresh_dynamo_store() -> DynamoEventStore {
    let store = DynamoEventStore::new(dynamodb_client().await, unique_name("events"));
    store
        .create_table()
        .await
        .expect("create the events table in the emulator");
    store
}

/// A plain record for store tests; `n` makes payloads distinct.
pub fn record(n: u64, at: DateTime<Utc>) -> EventRecord {
    EventRecord {
        event_id: ulid::Ulid::generate().to_string(),
        event_type: "TestHappened".into(),
        schema_version: 1,
        occurred_at: at,
        actor: "user:tester".into(),
        payload: serde_json::json!({ "n": n, "note": "contract test" }),
    }
}
