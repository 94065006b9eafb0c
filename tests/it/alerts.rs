//! Alert- and pipeline-triggered requests against the emulator: CloudWatch alarm events from
//! `events/` through the request function's handler, signed webhooks through the router, and
//! CI-job requests through API Gateway events with the pipeline issuer's claims.

use crate::support::call_router;
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use stint_app::ports::EventStore;
use stint_domain::policy::grant_policy_name;
use stint_domain::{RequestId, RevokeReason, Status, StoredEvent};
use stint_http::alerts::{sign, GENERIC_HEADER, PAGERDUTY_HEADER};
use stint_http::router;
use stint_tests::aws::Fixture;
use stint_tests::{november, sample};
use tower::ServiceExt;

const SECRET: &[u8] = b"pagerduty-webhook-secret";

/// Half a minute after the samples' alarm.
fn t0() -> DateTime<Utc> {
    november(29, 10, 0, 30)
}

fn app(f: &Fixture) -> axum::Router {
    router(f.api_with_alerts(SECRET))
}

/// The example catalog, with its services pointed at this test's own IAM role: the samples
/// give every test the same request id, so tests must not share a role.
async fn fixture() -> Fixture {
    let mut f = Fixture::new(t0()).await;
    f.own_services();
    f
}

/// The alerts function's handler, given one event as Lambda would.
async fn alerts_fn(f: &Fixture, event: Value) -> Value {
    stint_aws::lambda::handle_alerts(
        &f.stint,
        stint_http::apigw::edge(app(f)),
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .expect("handled")
}

/// The log around the tests' time.
async fn log(f: &Fixture) -> Vec<StoredEvent> {
    f.log(t0() - Duration::days(1), t0() + Duration::days(2))
        .await
}

async fn requests_in_log(f: &Fixture) -> Vec<String> {
    log(f)
        .await
        .iter()
        .filter(|e| e.record.event_type == "AccessRequested")
        .map(|e| e.stream.to_string())
        .collect()
}

async fn event_count(f: &Fixture) -> usize {
    log(f).await.len()
}

fn alarm_at(state: &str, at: DateTime<Utc>) -> Value {
    let mut ev = sample(if state == "ALARM" {
        "cloudwatch-alarm.json"
    } else {
        "cloudwatch-ok.json"
    });
    ev["detail"]["state"]["timestamp"] = json!(at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string());
    ev["time"] = json!(at.to_rfc3339());
    ev
}

fn id_of(outcome: &Value) -> RequestId {
    RequestId::parse(outcome["request_id"].as_str().expect("a request id")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_alarm_gives_the_on_call_engineer_approved_access_and_ok_revokes_it() {
    let f = fixture().await;
    let out = alerts_fn(&f, sample("cloudwatch-alarm.json")).await;
    assert_eq!(out["outcome"], "requested", "{out}");
    // Rotation alice, bob, carol from 2026-01-05 09:00 Berlin, weekly: 46 shifts have passed
    // by 2026-11-23, so the 47th (index 1) is bob's.
    assert_eq!(out["requester"], "bob@example.com");
    assert_eq!(out["status"], "approved");
    let id = id_of(&out);
    let st = f.state(id).await;
    let req = st.request.as_ref().unwrap();
    assert_eq!(st.approved_by_rule.as_deref(), Some("oncall-db-read"));
    match &req.source {
        stint_domain::Source::Alert {
            service,
            alarm,
            incident,
            authenticated,
        } => {
            assert_eq!(service, "orders");
            assert_eq!(
                alarm,
                "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-5xx"
            );
            assert!(incident.starts_with(alarm.as_str()) && *authenticated);
        }
        other => panic!("source {other:?}"),
    }
    assert_eq!(req.duration.to_string(), "1h", "the service's duration");

    // The bus hands AccessApproved to the grant function.
    f.stint.grant(id).await.unwrap();
    let policy = f
        .policy(&grant_policy_name(id))
        .await
        .expect("the grant policy is in IAM");
    assert!(policy.to_string().contains("table/orders"), "{policy}");

    f.clock.advance(Duration::minutes(40));
    let out = alerts_fn(&f, sample("cloudwatch-ok.json")).await;
    assert_eq!(out["outcome"], "resolved", "{out}");
    assert_eq!(out["resolved"], json!([id.to_string()]));
    let st = f.state(id).await;
    assert_eq!(
        st.status,
        Status::Active,
        "the request function records; it holds no IAM rights"
    );
    assert!(st.incident_resolved_at.is_some());
    // The bus hands IncidentResolved to the revoke function.
    assert!(matches!(
        f.stint.close_incident_access(id).await.unwrap(),
        stint_app::revoke::RevokeOutcome::Revoked { .. }
    ));
    let st = f.state(id).await;
    assert_eq!(st.status, Status::Revoked);
    assert_eq!(
        st.revocation.unwrap().reason,
        RevokeReason::IncidentResolved
    );
    assert!(f.policy(&grant_policy_name(id)).await.is_none());
    // A second OK finds nothing more to do.
    let again = alerts_fn(&f, sample("cloudwatch-ok.json")).await;
    assert_eq!(again["resolved"], json!([]));
    assert!(matches!(
        f.stint.close_incident_access(id).await.unwrap(),
        stint_app::revoke::RevokeOutcome::NoOp(Status::Revoked)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeated_or_flapping_alarm_gives_one_request() {
    let f = fixture().await;
    let first = alerts_fn(&f, sample("cloudwatch-alarm.json")).await;
    let id = id_of(&first);
    // The same event redelivered, three at once and once more after.
    let again =
        futures::future::join_all((0..3).map(|_| alerts_fn(&f, sample("cloudwatch-alarm.json"))))
            .await;
    for out in again
        .iter()
        .chain([&alerts_fn(&f, sample("cloudwatch-alarm.json")).await])
    {
        assert_eq!(out["outcome"], "joined", "{out}");
        assert_eq!(id_of(out), id);
    }
    f.stint.grant(id).await.unwrap();
    // It flaps: OK, then ALARM again 5 minutes later: the same incident.
    f.clock.advance(Duration::minutes(10));
    alerts_fn(&f, alarm_at("OK", t0() + Duration::minutes(10))).await;
    f.stint.close_incident_access(id).await.unwrap();
    assert_eq!(f.status(id).await, Status::Revoked);
    f.clock.advance(Duration::minutes(5));
    let flap = alerts_fn(&f, alarm_at("ALARM", t0() + Duration::minutes(15))).await;
    assert_eq!(flap["outcome"], "joined", "{flap}");
    assert_eq!(id_of(&flap), id);
    let requests = requests_in_log(&f).await.len();
    stint_tests::proof::duplicates(
        "request handler, alarm redelivered and flapping",
        6,
        requests.saturating_sub(1),
    );
    assert_eq!(requests, 1);

    // Past the flap window a new ALARM is a new incident.
    f.clock.advance(Duration::minutes(30));
    let later = alerts_fn(&f, alarm_at("ALARM", t0() + Duration::minutes(45))).await;
    assert_eq!(later["outcome"], "requested", "{later}");
    assert_ne!(id_of(&later), id);
    assert_eq!(requests_in_log(&f).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_an_alert_rule_the_request_waits_for_a_person_and_other_alarms_are_ignored() {
    let f = fixture().await;
    let mut ev = sample("cloudwatch-alarm.json");
    ev["detail"]["alarmName"] = json!("inventory-lag");
    ev["resources"] = json!(["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:inventory-lag"]);
    let out = alerts_fn(&f, ev).await;
    assert_eq!(out["outcome"], "requested", "{out}");
    assert_eq!(out["status"], "pending");
    // erin and frank alternate weekly at 10:00 New York from 2026-01-05: index 46 % 2 = 0.
    assert_eq!(out["requester"], "erin@example.com");

    let before = event_count(&f).await;
    let mut other = sample("cloudwatch-alarm.json");
    other["detail"]["alarmName"] = json!("billing-latency");
    other["resources"] = json!(["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:billing-latency"]);
    assert_eq!(alerts_fn(&f, other).await["outcome"], "ignored");
    let mut insufficient = sample("cloudwatch-alarm.json");
    insufficient["detail"]["state"]["value"] = json!("INSUFFICIENT_DATA");
    assert_eq!(alerts_fn(&f, insufficient).await["outcome"], "ignored");
    assert_eq!(event_count(&f).await, before);
}

/// Header name and value pairs.
type Headers = Vec<(&'static str, String)>;

async fn post_alert(f: &Fixture, headers: &[(&str, String)], body: &str) -> (u16, Value) {
    let mut req = http::Request::post("/alerts").header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = app(f)
        .oneshot(req.body(axum::body::Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn pagerduty(kind: &str, at: DateTime<Utc>) -> String {
    let mut body = sample("pagerduty-incident-triggered.json");
    body["event"]["event_type"] = json!(kind);
    body["event"]["occurred_at"] = json!(at.to_rfc3339());
    body.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_signatures_valid_invalid_replayed_and_missing() {
    let f = fixture().await;
    let body = pagerduty("incident.triggered", t0() - Duration::seconds(20));
    let signed = sign(SECRET, body.as_bytes());

    // Refusals first: each is a 401 with a JSON error, and nothing is appended.
    let stale = pagerduty("incident.triggered", t0() - Duration::minutes(6));
    let cases: Vec<(&str, Headers, String)> = vec![
        ("missing", vec![], body.clone()),
        (
            "wrong secret",
            vec![(PAGERDUTY_HEADER, sign(b"not the secret", body.as_bytes()))],
            body.clone(),
        ),
        (
            "body changed after signing",
            vec![(PAGERDUTY_HEADER, signed.clone())],
            body.replace("Orders API 5xx", "Orders API 4xx"),
        ),
        (
            "not hex",
            vec![(PAGERDUTY_HEADER, "v1=not-hex".into())],
            body.clone(),
        ),
        (
            "replayed after 5 minutes",
            vec![(PAGERDUTY_HEADER, sign(SECRET, stale.as_bytes()))],
            stale.clone(),
        ),
        (
            "generic header, PagerDuty signature of another body",
            vec![(GENERIC_HEADER, signed.clone())],
            sample("alert-generic.json").to_string(),
        ),
    ];
    for (name, headers, b) in &cases {
        let (status, err) = post_alert(&f, headers, b).await;
        assert_eq!(status, 401, "{name}: {err}");
        assert_eq!(err["error"], "unauthenticated", "{name}: {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(
        event_count(&f).await,
        0,
        "no refused webhook appended anything"
    );

    // Valid: a request for the on-call engineer, approved by the rule.
    let (status, out) = post_alert(&f, &[(PAGERDUTY_HEADER, signed.clone())], &body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["outcome"], "requested");
    assert_eq!(out["status"], "approved");
    let id = id_of(&out);
    let st = f.state(id).await;
    assert_eq!(
        st.request.unwrap().ticket.unwrap().as_str(),
        "https://acme.pagerduty.com/incidents/Q2NKRJ0JQFZB1A"
    );
    // PagerDuty retries the same delivery: it joins.
    let (_, again) = post_alert(&f, &[(PAGERDUTY_HEADER, signed)], &body).await;
    assert_eq!(
        (again["outcome"].as_str(), id_of(&again)),
        (Some("joined"), id)
    );

    // A well-signed body that is not an alert we know is a 400 naming the field.
    let junk =
        r#"{"event":{"event_type":"incident.triggered","occurred_at":"2026-11-29T10:00:20Z"}}"#;
    let (status, err) = post_alert(
        &f,
        &[(PAGERDUTY_HEADER, sign(SECRET, junk.as_bytes()))],
        junk,
    )
    .await;
    assert_eq!(
        (status, err["field"].as_str()),
        (400, Some("event.data.id")),
        "{err}"
    );

    // Resolved: the grant goes, with reason incident_resolved.
    f.stint.grant(id).await.unwrap();
    f.clock.advance(Duration::minutes(30));
    let resolved = pagerduty("incident.resolved", t0() + Duration::minutes(30));
    let (status, out) = post_alert(
        &f,
        &[(PAGERDUTY_HEADER, sign(SECRET, resolved.as_bytes()))],
        &resolved,
    )
    .await;
    assert_eq!(
        (status, &out["resolved"]),
        (200, &json!([id.to_string()])),
        "{out}"
    );
    f.stint.close_incident_access(id).await.unwrap();
    assert_eq!(
        f.state(id).await.revocation.unwrap().reason,
        RevokeReason::IncidentResolved
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_generic_format_is_signed_the_same_way() {
    let f = fixture().await;
    let mut g = sample("alert-generic.json");
    g["occurred_at"] = json!(t0().to_rfc3339());
    let body = g.to_string();
    let (status, out) = post_alert(
        &f,
        &[(GENERIC_HEADER, sign(SECRET, body.as_bytes()))],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["outcome"].as_str(), out["status"].as_str()),
        (Some("requested"), Some("approved"))
    );

    g["service"] = json!("not-a-service");
    let body = g.to_string();
    let (status, out) = post_alert(
        &f,
        &[(GENERIC_HEADER, sign(SECRET, body.as_bytes()))],
        &body,
    )
    .await;
    assert_eq!((status, out["outcome"].as_str()), (202, Some("ignored")));

    g["service"] = json!("orders");
    g["status"] = json!("open");
    let body = g.to_string();
    let (status, out) = post_alert(
        &f,
        &[(GENERIC_HEADER, sign(SECRET, body.as_bytes()))],
        &body,
    )
    .await;
    assert_eq!(
        (status, out["field"].as_str()),
        (400, Some("status")),
        "{out}"
    );
    assert_eq!(requests_in_log(&f).await.len(), 1);
}

// --- pipelines ---------------------------------------------------------------------------------

async fn call(f: &Fixture, event: &Value) -> (u16, Value) {
    call_router(&app(f), event).await
}

fn job(claims: Value) -> Value {
    let mut ev = sample("apigw-pipeline-request.json");
    let c = &mut ev["requestContext"]["authorizer"]["jwt"]["claims"];
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    ev
}

fn route(mut ev: Value, method: &str, path: &str) -> Value {
    ev["routeKey"] = json!(format!("{method} {path}"));
    ev["rawPath"] = json!(path);
    ev["requestContext"]["http"]["path"] = json!(path);
    ev["requestContext"]["http"]["method"] = json!(method);
    ev["body"] = Value::Null;
    ev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipeline_claims_that_match_are_approved_and_others_wait() {
    let f = fixture().await;
    f.ensure_role("ci-deploy").await;
    let (status, out) = call(&f, &sample("apigw-pipeline-request.json")).await;
    assert_eq!(status, 201, "{out}");
    assert_eq!(out["status"], "approved");
    assert_eq!(out["approved_by_rule"], "ci-main");
    assert_eq!(
        out["request"]["requester"],
        "repo:acme/orders:environment:production"
    );
    assert_eq!(
        out["request"]["ticket"],
        "https://github.com/acme/orders/pull/42"
    );
    let id = out["id"].as_str().unwrap().to_owned();
    f.stint.grant(RequestId::parse(&id).unwrap()).await.unwrap();

    // The job polls its request, then revokes when its step is done.
    let path = format!("/pipeline/requests/{id}");
    let (status, got) = call(
        &f,
        &route(sample("apigw-pipeline-request.json"), "GET", &path),
    )
    .await;
    assert_eq!(
        (status, got["status"].as_str()),
        (200, Some("active")),
        "{got}"
    );
    let (status, done) = call(
        &f,
        &route(
            sample("apigw-pipeline-request.json"),
            "POST",
            &format!("{path}/revoke"),
        ),
    )
    .await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("revoked")),
        "{done}"
    );
    assert!(f
        .policy_on(
            "ci-deploy",
            &grant_policy_name(RequestId::parse(&id).unwrap())
        )
        .await
        .is_none());

    // Another repository's job cannot see it.
    let other = job(
        json!({"sub": "repo:acme/payments:environment:production", "repository": "acme/payments"}),
    );
    let (status, _) = call(&f, &route(other, "GET", &path)).await;
    assert_eq!(status, 404);

    // Claims that do not match the rule wait for a person: a feature branch, no environment,
    // a repository the rule does not name.
    for (name, claims) in [
        ("feature branch", json!({"ref": "refs/heads/feature/x"})),
        (
            "no environment",
            json!({"environment": null, "sub": "repo:acme/orders:ref:refs/heads/main"}),
        ),
        (
            "other repository",
            json!({"repository": "acme/inventory", "sub": "repo:acme/inventory:environment:production"}),
        ),
    ] {
        let (status, out) = call(&f, &job(claims)).await;
        assert_eq!(status, 201, "{name}: {out}");
        assert_eq!(out["status"], "pending", "{name}");
        assert!(out["approved_by_rule"].is_null(), "{name}");
    }
    // A pending job that gives up cancels with the same call.
    let (_, pending) = call(&f, &job(json!({"ref": "refs/heads/feature/y"}))).await;
    let pid = pending["id"].as_str().unwrap();
    let (status, out) = call(
        &f,
        &route(
            job(json!({"ref": "refs/heads/feature/y"})),
            "POST",
            &format!("/pipeline/requests/{pid}/revoke"),
        ),
    )
    .await;
    assert_eq!(
        (status, out["status"].as_str()),
        (200, Some("cancelled")),
        "{out}"
    );

    // A job outside the role's requesters, or without a ticket, is refused and appends nothing.
    let before = event_count(&f).await;
    let (status, err) = call(
        &f,
        &job(
            json!({"sub": "repo:evil/orders:environment:production", "repository": "evil/orders"}),
        ),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (403, Some("not_allowed_to_request")),
        "{err}"
    );
    let mut no_ticket = sample("apigw-pipeline-request.json");
    no_ticket["body"] = json!(
        r#"{"role":"deploy","scope":"orders-api","principal":"arn:aws:iam::123456789012:role/stint/ci-deploy","justification":"deploy"}"#
    );
    let (status, err) = call(&f, &no_ticket).await;
    assert_eq!(
        (status, err["field"].as_str()),
        (400, Some("ticket")),
        "{err}"
    );
    let (status, _) = call(&f, &job(json!({"repository": null}))).await;
    assert_eq!(status, 401, "a token without the repository claim");
    assert_eq!(event_count(&f).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incident_resolved_before_the_grant_never_grants() {
    let f = fixture().await;
    let id = id_of(&alerts_fn(&f, sample("cloudwatch-alarm.json")).await);
    // OK arrives before the bus has handed AccessApproved to the grant function.
    let out = alerts_fn(&f, sample("cloudwatch-ok.json")).await;
    assert_eq!(out["resolved"], json!([id.to_string()]));
    let granted = f.stint.grant(id).await.unwrap();
    assert!(
        matches!(granted, stint_app::grant::GrantOutcome::Failed(ref why) if why.contains("resolved")),
        "{granted:?}"
    );
    assert!(f.policy(&grant_policy_name(id)).await.is_none());
    assert_eq!(f.status(id).await, Status::GrantFailed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_episodes_of_one_alarm_racing_open_one_request() {
    let f = fixture().await;
    // Different state timestamps give different incident ids and request ids: only the claim
    // on the alarm's stream keeps them to one request.
    let events: Vec<Value> = (0..8)
        .map(|i| alarm_at("ALARM", t0() - Duration::seconds(i)))
        .collect();
    let outs = futures::future::join_all(events.into_iter().map(|e| alerts_fn(&f, e))).await;
    let ids: std::collections::BTreeSet<RequestId> = outs.iter().map(id_of).collect();
    assert_eq!(ids.len(), 1, "{outs:?}");
    assert_eq!(
        outs.iter().filter(|o| o["outcome"] == "requested").count(),
        1,
        "{outs:?}"
    );
    assert_eq!(requests_in_log(&f).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_the_claim_and_the_request_converges_on_redelivery() {
    use stint_domain::alert::{from_cloudwatch, Parsed};
    let f = fixture().await;
    let Parsed::Alert(alert) =
        from_cloudwatch(&sample("cloudwatch-alarm.json"), &f.stint.catalog).unwrap()
    else {
        panic!("ignored")
    };
    // The claim was appended, then the process died before the request was submitted.
    let claim = stint_domain::EventRecord {
        event_id: ulid::Ulid::generate().to_string(),
        event_type: "AlertRequestOpened".into(),
        schema_version: 1,
        occurred_at: t0(),
        actor: "system:alert".into(),
        payload: json!({ "request_id": alert.request_id() }),
    };
    f.store
        .append(&alert.stream(), 0, vec![claim])
        .await
        .unwrap();
    let out = alerts_fn(&f, sample("cloudwatch-alarm.json")).await;
    assert_eq!(out["outcome"], "requested", "{out}");
    assert_eq!(id_of(&out), alert.request_id());
    let again = alerts_fn(&f, sample("cloudwatch-alarm.json")).await;
    assert_eq!(again["outcome"], "joined");
    assert_eq!(requests_in_log(&f).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_ends_incident_access_whose_resolution_event_was_lost() {
    let f = fixture().await;
    let id = id_of(&alerts_fn(&f, sample("cloudwatch-alarm.json")).await);
    f.stint.grant(id).await.unwrap();
    f.clock.advance(Duration::minutes(10));
    alerts_fn(&f, sample("cloudwatch-ok.json")).await;
    // IncidentResolved never reaches the revoke function; the next sweep finds it.
    let report = f.stint.sweep().await.unwrap();
    assert_eq!(report.revoked, 1, "{report:?}");
    let st = f.state(id).await;
    assert_eq!(
        st.revocation.unwrap().reason,
        RevokeReason::IncidentResolved
    );
    assert!(f.policy(&grant_policy_name(id)).await.is_none());
}
