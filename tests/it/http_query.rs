//! Query strings through the router: axum's `Query` with typed structs, and every refusal the
//! API's 400 JSON naming the parameter. Local adapters only: no emulator.

use crate::support::HeaderUser;
use axum::body::Body;
use chrono::{TimeZone, Utc};
use http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use stint_app::clock::ManualClock;
use stint_app::{RetryPolicy, Stint};
use stint_domain::Catalog;
use stint_http::{router, Api};
use stint_local::memory::{LocalTimers, RecordingProvider};
use stint_local::sqlite::SqliteEventStore;
use tower::ServiceExt;

struct Harness {
    app: axum::Router,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// The example catalog, with the db-read role renamed `123`: a role name of digits only.
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteEventStore::open(&dir.path().join("events.db")).unwrap());
        let toml = include_str!("../../infra/catalog.example.toml")
            .replace("roles.db-read", "roles.123")
            .replace("role = \"db-read\"", "role = \"123\"");
        let clock: Arc<ManualClock> = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap(),
        ));
        let stint = Stint {
            store: store.clone(),
            catalog: Arc::new(Catalog::from_toml(&toml).unwrap()),
            clock: clock.clone(),
            access: Arc::new(RecordingProvider::new(store, clock)),
            timers: Arc::new(LocalTimers::default()),
            retry: RetryPolicy::IMMEDIATE,
            accounts: None,
            identity_center: None,
        };
        Harness {
            app: router(Api::new(stint, Arc::new(HeaderUser))),
            _dir: dir,
        }
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-user", "alice@example.com")
            .header("x-groups", "sre,audit")
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) }));
        (status, body)
    }

    async fn get(&self, uri: &str) -> (u16, Value) {
        self.call("GET", uri, None).await
    }
}

#[tokio::test]
async fn a_role_of_digits_filters_the_list() {
    let h = Harness::new();
    let (status, body) = h.get("/requests?role=123").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["requests"], json!([]));

    let (status, created) = h
        .call(
            "POST",
            "/requests",
            Some(json!({
                "role": "123",
                "scope": "orders",
                "principal": "arn:aws:iam::123456789012:role/stint/oncall",
                "justification": "stuck orders",
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    for (query, expected) in [
        ("role=123", 1),
        ("role=123&days=7&mine=true&status=pending", 1),
        ("role=db-write", 0),
        ("status=active", 0),
        ("", 1),
    ] {
        let (status, body) = h.get(&format!("/requests?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(
            body["requests"].as_array().map(Vec::len),
            Some(expected),
            "{query}: {body}"
        );
    }
    assert_eq!(
        h.get("/requests?role=123").await.1["requests"][0]["id"],
        created["id"]
    );
}

#[tokio::test]
async fn bad_query_strings_are_400s_naming_the_parameter() {
    let h = Harness::new();
    for (uri, field) in [
        ("/requests?days=abc", Some("days")),
        ("/requests?days=-1", Some("days")),
        ("/requests?mine=yes", Some("mine")),
        ("/requests?status=sleeping", Some("status")),
        ("/requests?role=Not%20A%20Role", Some("role")),
        ("/requests?days=1&days=2", None),
        ("/requests?colour=red", None),
        ("/reports?from=yesterday", Some("from")),
    ] {
        let (status, body) = h.get(uri).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_input")),
            "{uri}: {body}"
        );
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        if field.is_some() {
            assert_eq!(body["field"].as_str(), field, "{uri}: {body}");
        }
    }
    // Range checks after parsing still name their parameter.
    let (status, body) = h.get("/requests?days=0").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("days")));
    let (status, body) = h.get("/reports?format=pdf").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("format")));
    // A percent-encoded offset and a format come through.
    let (status, body) = h
        .get("/reports?from=2026-11-20T00:00:00%2B01:00&to=2026-11-23T00:00:00Z&format=csv")
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn identity_is_checked_before_the_query() {
    let h = Harness::new();
    let req = Request::builder()
        .uri("/requests?days=abc")
        .body(Body::empty())
        .unwrap();
    let resp = h.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
