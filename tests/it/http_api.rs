//! The HTTP API as API Gateway drives it: sample events from `events/` go through
//! the functions' request conversion (`stint_http::apigw::to_request`) into the one router, with identity from the JWT
//! authorizer's claims. Every refusal is JSON with the right status and appends nothing.

use crate::support::call_router;
use chrono::Duration;
use serde_json::{json, Value};
use stint_http::router;
use stint_tests::aws::Fixture;
use stint_tests::{sample, t0};

struct Harness {
    f: Fixture,
    app: axum::Router,
}

impl Harness {
    async fn new() -> Harness {
        let f = Fixture::new(t0()).await;
        let app = router(f.api());
        Harness { f, app }
    }

    async fn call(&self, event: &Value) -> (u16, Value) {
        call_router(&self.app, event).await
    }

    async fn event_count(&self) -> usize {
        let log = self
            .f
            .log(t0() - Duration::days(1), t0() + Duration::days(1))
            .await;
        log.len()
    }
}

/// A sample event as another caller, on another request, with another body.
fn as_user(mut ev: Value, user: &str, groups: &str) -> Value {
    let claims = &mut ev["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["email"] = json!(user);
    claims["sub"] = json!(format!("{user}-sub"));
    claims["groups"] = json!(groups);
    ev
}
fn on(mut ev: Value, id: &str) -> Value {
    let path = ev["rawPath"]
        .as_str()
        .unwrap()
        .replace(stint_tests::SAMPLE_ID, id);
    ev["rawPath"] = json!(path);
    ev["requestContext"]["http"]["path"] = json!(path);
    ev["pathParameters"]["id"] = json!(id);
    ev
}

async fn create(h: &Harness) -> String {
    let (status, body) = h.call(&sample("apigw-create-request.json")).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sample_request_is_created_with_its_timeline() {
    let h = Harness::new().await;
    let (status, body) = h.call(&sample("apigw-create-request.json")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["request"]["requester"], "alice@example.com");
    assert_eq!(body["request"]["requester_groups"], json!(["sre"]));
    assert_eq!(body["timeline"][0]["type"], "AccessRequested");
    let id = body["id"].as_str().unwrap();
    let (status, got) = h.call(&on(sample("apigw-get-request.json"), id)).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(id)));
    let (status, list) = h.call(&sample("apigw-list-requests.json")).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["requests"].as_array().unwrap().len(),
        1,
        "bob is awaited on it: {list}"
    );
    let (_, mine) = h
        .call(&with_query(
            as_user(
                sample("apigw-list-requests.json"),
                "carol@example.com",
                "[db-owners]",
            ),
            "mine=true",
        ))
        .await;
    assert!(mine["requests"].as_array().unwrap().is_empty());
}

fn with_query(mut ev: Value, q: &str) -> Value {
    ev["rawQueryString"] = json!(q);
    ev["queryStringParameters"] = json!(q
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect::<serde_json::Map<_, _>>());
    ev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decisions_answer_403_404_409_and_append_only_what_succeeds() {
    let h = Harness::new().await;
    let id = create(&h).await;
    let approve = on(sample("apigw-approve.json"), &id);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "self-approval",
            as_user(
                approve.clone(),
                "alice@example.com",
                r#"["sre","db-owners"]"#,
            ),
            403,
            "self_approval",
        ),
        (
            "self-approval, other case",
            as_user(approve.clone(), " ALICE@Example.com", "[db-owners]"),
            403,
            "self_approval",
        ),
        (
            "not an approver",
            as_user(approve.clone(), "mallory@example.com", "[sales]"),
            403,
            "not_an_approver",
        ),
        (
            "unknown id",
            on(
                sample("apigw-approve.json"),
                &stint_domain::RequestId::new().to_string(),
            ),
            404,
            "not_found",
        ),
        (
            "malformed id",
            on(sample("apigw-approve.json"), "not-a-ulid"),
            400,
            "invalid_input",
        ),
        (
            "cancel by someone else",
            as_user(
                on(sample("apigw-cancel.json"), &id),
                "bob@example.com",
                "[db-owners]",
            ),
            403,
            "not_the_requester",
        ),
        (
            "revoke while pending",
            on(sample("apigw-revoke.json"), &id),
            409,
            "wrong_state",
        ),
    ];
    for (name, event, status, code) in cases {
        let (got, body) = h.call(&event).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{name}: {body}"
        );
        assert_eq!(h.event_count().await, 1, "{name} appended nothing");
    }
    let (status, body) = h.call(&on(sample("apigw-cancel.json"), &id)).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );
    let (status, body) = h.call(&approve).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("wrong_state")),
        "approving a cancelled request: {body}"
    );
    let (status, _) = h
        .call(&on(
            sample("apigw-get-request.json"),
            &stint_domain::RequestId::new().to_string(),
        ))
        .await;
    assert_eq!(status, 404);
    assert_eq!(h.event_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approve_then_revoke_over_http() {
    let h = Harness::new().await;
    h.f.ensure_role("oncall").await;
    let id = create(&h).await;
    let (status, body) = h.call(&on(sample("apigw-approve.json"), &id)).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    h.f.stint.grant(id.parse().unwrap()).await.unwrap();
    let (status, body) = h.call(&on(sample("apigw-revoke.json"), &id)).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("revoked")),
        "{body}"
    );
    assert_eq!(body["revocation"]["reason"], "manual");
    let (status, body) = h.call(&on(sample("apigw-deny.json"), &id)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("wrong_state")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_routes_and_methods_are_json_too() {
    let h = Harness::new().await;
    let mut ev = sample("apigw-list-requests.json");
    ev["rawPath"] = json!("/nope");
    ev["requestContext"]["http"]["path"] = json!("/nope");
    let (status, body) = h.call(&ev).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("no_route")));
    let mut ev = sample("apigw-list-requests.json");
    ev["requestContext"]["http"]["method"] = json!("DELETE");
    let (status, body) = h.call(&ev).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, body) = h
        .call(&with_query(sample("apigw-list-requests.json"), "days=abc"))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("days")),
        "{body}"
    );
    let (status, body) = h
        .call(&with_query(
            sample("apigw-list-requests.json"),
            "colour=red",
        ))
        .await;
    assert_eq!(status, 400, "{body}");
}
