//! The one bad-input table (`stint_tests::bad_input`), sent twice: to a real `stint serve` over
//! HTTP, and as API Gateway events to the Lambda entry point that serves each route in AWS
//! (request, approve, revoke), over DynamoDB on the emulator. Each case
//! must get its status and a JSON error, and the store's request events must not move.

use crate::support::{eventually, http, Serve, Server};
use chrono::{Duration, Utc};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use stint_app::requests::NewRequest;
use stint_domain::{AccessDuration, RequestId};
use stint_http::Api;
use stint_tests::aws::Fixture;
use stint_tests::bad_input::{cases, Caller, Case, On, ALERT_SECRET, ALICE, BOB};
use stint_tests::{alice, bob, t0, who};

/// How the cases went on one transport.
#[derive(Default, Debug)]
struct Tally {
    tried: usize,
    refused: usize,
    accepted_without_effect: usize,
    wrongly_appended: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, case: &Case, status: u16, body: &Value, appended: usize) {
        self.tried += 1;
        let mut wrong = Vec::new();
        if status != case.status {
            wrong.push(format!("status {status}, wanted {}", case.status));
        }
        match case.error {
            Some(code) => {
                if body["error"] != code || body["message"].as_str().is_none_or(str::is_empty) {
                    wrong.push(format!("error {body}, wanted code {code} with a message"));
                }
            }
            None if status < 300 => {}
            None => wrong.push(format!("refused: {body}")),
        }
        if appended > 0 {
            self.wrongly_appended += appended;
            wrong.push(format!("{appended} event(s) appended"));
        }
        if wrong.is_empty() {
            if case.error.is_some() {
                self.refused += 1;
            } else {
                self.accepted_without_effect += 1;
            }
        } else {
            self.failures
                .push(format!("{}: {}", case.name, wrong.join("; ")));
        }
    }

    fn finish(self, transport: &str) {
        println!(
            "bad input over {transport}: {} tried, {} refused with a JSON 4xx, {} accepted without effect, {} events appended wrongly",
            self.tried, self.refused, self.accepted_without_effect, self.wrongly_appended
        );
        stint_tests::proof::record(
            "bad_input",
            json!({ "transport": transport, "tried": self.tried, "refused": self.refused,
                    "accepted_without_effect": self.accepted_without_effect,
                    "wrongly_appended": self.wrongly_appended, "failed": self.failures.len() }),
        );
        assert!(self.tried >= 50, "at least 50 distinct cases");
        assert!(self.failures.is_empty(), "{:#?}", self.failures);
    }
}

fn path_for(case: &Case, ids: &HashMap<On, String>) -> String {
    match case.on {
        None => case.path.to_owned(),
        Some(on) => case.path.replace("{id}", &ids[&on]),
    }
}

// --- through API Gateway events --------------------------------------------------------------

fn claims(caller: &Caller) -> Option<Value> {
    match caller {
        Caller::User(user, groups) => Some(json!({
            "iss": "https://idp.example.com/", "aud": "stint", "sub": format!("{}-sub", user.trim()),
            "email": user, "email_verified": "true", "groups": format!("[{}]", groups.replace(',', " ")),
        })),
        Caller::Claims(c) => {
            let mut c: Value = serde_json::from_str(c).expect("claims are JSON");
            for v in c.as_object_mut().expect("an object").values_mut() {
                // The authorizer passes every claim on as a string.
                if !v.is_string() {
                    *v = json!(v.to_string());
                }
            }
            c["iss"] = json!("https://idp.example.com/");
            c["aud"] = json!("stint");
            Some(c)
        }
        Caller::Job(repository, git_ref, env) => Some(json!({
            "iss": "https://token.actions.githubusercontent.com", "aud": "stint",
            "sub": format!("repo:{repository}:environment:{env}"), "repository": repository,
            "ref": git_ref, "environment": env,
        })),
        // API Gateway's authorizer refuses these before the function runs.
        _ => None,
    }
}

fn apigw_event(case: &Case, path: &str) -> Value {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let route = case.path.split('?').next().unwrap_or(case.path);
    let params: serde_json::Map<String, Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let mut headers = json!({ "content-type": "application/json", "host": "abc123.execute-api.eu-west-1.amazonaws.com" });
    for (k, v) in &case.headers {
        headers[*k] = json!(v);
    }
    let mut ctx = json!({
        "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
        "domainPrefix": "abc123", "requestId": "proof", "routeKey": format!("{} {route}", case.method),
        "stage": "$default", "time": "29/Nov/2026:09:00:00 +0000", "timeEpoch": 1795942800000u64,
        "http": { "method": case.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "proof" },
    });
    if let Some(c) = claims(&case.caller) {
        ctx["authorizer"] = json!({ "jwt": { "claims": c, "scopes": null } });
    }
    let mut event = json!({
        "version": "2.0", "routeKey": format!("{} {route}", case.method), "rawPath": path,
        "rawQueryString": query, "headers": headers, "requestContext": ctx,
        "isBase64Encoded": false, "body": case.body,
    });
    if !params.is_empty() {
        event["queryStringParameters"] = Value::Object(params);
    }
    event
}

/// Hands an API Gateway event to the function that serves the route in AWS, through the same
/// entry points the binaries use, and reads the API Gateway response it returns.
async fn invoke(f: &Fixture, api: &Api, route: &str, event: Value) -> (u16, Value) {
    let ctx = lambda_runtime::Context::default();
    let answer: Value = if route.ends_with("/revoke") {
        let router = stint_http::revoke_router(api.clone());
        stint_aws::lambda::handle_revoke(
            &f.stint,
            None,
            stint_http::apigw::edge(router),
            lambda_runtime::LambdaEvent::new(event, ctx),
        )
        .await
        .expect("the revoke function answers")
    } else if route.starts_with("/requests/{id}/") || route.starts_with("/reviews/") {
        // The approve function serves `decisions_router` alone; it records reviews too.
        stint_http::apigw::serve_event(stint_http::decisions_router(api.clone()), event, ctx)
            .await
            .expect("the approve function answers")
    } else if route == "/alerts" {
        let router = stint_http::alerts_router(api.clone());
        stint_aws::lambda::handle_alerts(
            &f.stint,
            stint_http::apigw::edge(router),
            lambda_runtime::LambdaEvent::new(event, ctx),
        )
        .await
        .expect("the alerts function answers")
    } else {
        let router = stint_http::requests_router(api.clone());
        stint_aws::lambda::handle_request(
            stint_http::apigw::edge(router),
            lambda_runtime::LambdaEvent::new(event, ctx),
        )
        .await
        .expect("the request function answers")
    };
    let status = u16::try_from(answer["statusCode"].as_u64().unwrap_or(0)).unwrap_or(0);
    let body = answer["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// A db-`role` request on orders for an hour, by alice.
async fn seed(f: &Fixture, role: &str) -> RequestId {
    let new = NewRequest {
        duration: Some(AccessDuration::parse("1h").unwrap()),
        ..stint_tests::request(role, "orders", &f.principal, "setup")
    };
    f.stint.submit(&alice(), new).await.unwrap().id
}

async fn request_events(f: &Fixture) -> usize {
    let log = f
        .log(t0() - Duration::days(1), t0() + Duration::days(1))
        .await;
    log.iter()
        .filter(|e| e.stream.request_id().is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_bad_input_through_api_gateway_events_is_refused_and_appends_nothing() {
    let f = Fixture::new(t0()).await;
    let dave = who("dave@example.com", &["db-owners"]);
    let mut ids = HashMap::new();
    ids.insert(On::Pending, seed(&f, "db-read").await);
    let write = seed(&f, "db-write").await;
    f.stint.approve(write, &bob(), None).await.unwrap();
    ids.insert(On::PendingWrite, write);
    let cancelled = seed(&f, "db-read").await;
    f.stint.cancel(cancelled, &alice()).await.unwrap();
    ids.insert(On::Cancelled, cancelled);
    let denied = seed(&f, "db-read").await;
    f.stint.deny(denied, &bob(), None).await.unwrap();
    ids.insert(On::Denied, denied);
    let active = seed(&f, "db-read").await;
    f.stint.approve(active, &dave, None).await.unwrap();
    f.stint.grant(active).await.unwrap();
    ids.insert(On::Active, active);
    let revoked = seed(&f, "db-read").await;
    f.stint.approve(revoked, &bob(), None).await.unwrap();
    f.stint.grant(revoked).await.unwrap();
    f.stint.revoke_by(revoked, &alice()).await.unwrap();
    ids.insert(On::Revoked, revoked);
    let reviewed = seed(&f, "db-read").await;
    f.stint.approve(reviewed, &dave, None).await.unwrap();
    f.stint.grant(reviewed).await.unwrap();
    f.stint
        .review_grant(
            reviewed,
            &bob(),
            stint_domain::Verdict::Appropriate,
            None,
            None,
        )
        .await
        .unwrap();
    ids.insert(On::Reviewed, reviewed);
    let mut ids: HashMap<On, String> = ids.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    ids.insert(On::Unknown, RequestId::new().to_string());
    ids.insert(On::Malformed, "not-a-ulid".into());

    let api = f.api_with_alerts(ALERT_SECRET.as_bytes());
    let mut tally = Tally::default();
    for case in cases(t0()) {
        let before = request_events(&f).await;
        let event = apigw_event(&case, &path_for(&case, &ids));
        let (status, body) = invoke(&f, &api, case.path, event).await;
        let appended = request_events(&f).await - before;
        tally.check(&case, status, &body, appended);
    }
    tally.finish("API Gateway events");
}

// --- over HTTP against a real server -------------------------------------------------------

/// `stint serve` at t0 with the alert secret, and the key it signs its tokens with.
struct LocalServer {
    server: Server,
    key: Vec<u8>,
    data: PathBuf,
}

impl LocalServer {
    fn start(data: &Path) -> LocalServer {
        let how = Serve {
            env: vec![("STINT_ALERT_SECRET", ALERT_SECRET.to_owned())],
            quiet: true,
            ..Serve::default()
        };
        let clock = t0().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let server = Server::start_with(data, &clock, how);
        // The server's ES256 key (PKCS#8 PEM), which also signs its OIDC provider's tokens.
        let key = std::fs::read(data.join(stint_http::jwt::KEY_FILE)).unwrap();
        LocalServer {
            server,
            key,
            data: data.to_owned(),
        }
    }

    fn sign(&self, claims: Value, key: &[u8]) -> String {
        stint_http::jwt_crypto::install();
        encode(
            &Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &EncodingKey::from_ec_pem(key).unwrap(),
        )
        .unwrap()
    }

    /// The Authorization header for a caller: real tokens signed with the server's key, and
    /// each kind of bad one.
    fn token(&self, caller: &Caller) -> Option<String> {
        let now = Utc::now().timestamp();
        let person = |user: &str, groups: &str, iss: &str, aud: &str, exp: i64| {
            json!({ "sub": user, "email": user, "email_verified": true, "groups": groups.split(',').collect::<Vec<_>>(),
                    "iss": iss, "aud": aud, "iat": now, "exp": exp })
        };
        let alice = |iss, aud, exp| person("alice@example.com", "sre", iss, aud, exp);
        let job = |repository: &str, git_ref: &str, env: &str| {
            json!({ "sub": format!("repo:{repository}:environment:{env}"), "repository": repository,
                    "ref": git_ref, "environment": env, "iss": "stint-local-ci", "aud": "stint",
                    "iat": now, "exp": now + 3_600 })
        };
        Some(match caller {
            Caller::Nobody => return None,
            Caller::User(u, g) => {
                self.sign(person(u, g, "stint-local", "stint", now + 3_600), &self.key)
            }
            Caller::Expired => self.sign(alice("stint-local", "stint", now - 3_600), &self.key),
            Caller::BadSignature => self.sign(
                alice("stint-local", "stint", now + 3_600),
                stint_domain::checkpoint::PrivateKey::from_random([5; 32])
                    .unwrap()
                    .to_pem()
                    .unwrap()
                    .as_bytes(),
            ),
            Caller::WrongIssuer => {
                self.sign(alice("someone-else", "stint", now + 3_600), &self.key)
            }
            Caller::WrongAudience => {
                self.sign(alice("stint-local", "other", now + 3_600), &self.key)
            }
            Caller::Garbage => "not.a.jwt".to_owned(),
            Caller::PipelineOnPersonRoute => self.sign(
                job("acme/orders", "refs/heads/main", "production"),
                &self.key,
            ),
            Caller::Job(r, g, e) => self.sign(job(r, g, e), &self.key),
            Caller::Claims(c) => {
                let mut c: Value = serde_json::from_str(c).expect("claims are JSON");
                c["iss"] = json!("stint-local");
                c["aud"] = json!("stint");
                c["iat"] = json!(now);
                c["exp"] = json!(now + 3_600);
                self.sign(c, &self.key)
            }
        })
    }

    fn call(
        &self,
        caller: &Caller,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> (u16, Value) {
        let bearer = self.token(caller).map(|t| format!("Bearer {t}"));
        let all: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("authorization", b.as_str()))
            .chain(headers.iter().map(|(k, v)| (*k, v.as_str())))
            .collect();
        http(method, &format!("{}{path}", self.server.api), &all, body)
    }

    /// Events in request streams, read from the embedded store beside the running server.
    fn request_events(&self) -> usize {
        let db = rusqlite::Connection::open_with_flags(
            self.data.join("events.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let n: i64 = db
            .query_row(
                "SELECT count(*) FROM events WHERE stream LIKE 'request#%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        usize::try_from(n).unwrap()
    }

    fn create(&self, role: &str) -> String {
        let body = stint_tests::bad_input::body(json!({ "role": role }));
        let (status, v) = self.call(&ALICE, "POST", "/requests", &[], &body);
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    fn act(&self, caller: &Caller, id: &str, action: &str) {
        let (status, v) = self.call(caller, "POST", &format!("/requests/{id}/{action}"), &[], "");
        assert_eq!(status, 200, "{action}: {v}");
    }

    fn wait_active(&self, id: &str) {
        eventually(
            &format!("{id} to be granted"),
            || {
                self.call(&BOB, "GET", &format!("/requests/{id}"), &[], "")
                    .1
            },
            |v| v["status"] == "active",
        );
    }
}

#[test]
fn every_bad_input_over_http_is_refused_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path());
    let dave = Caller::User("dave@example.com", "db-owners");
    let mut ids = HashMap::new();
    ids.insert(On::Pending, server.create("db-read"));
    let write = server.create("db-write");
    server.act(&BOB, &write, "approve");
    ids.insert(On::PendingWrite, write);
    let cancelled = server.create("db-read");
    server.act(&ALICE, &cancelled, "cancel");
    ids.insert(On::Cancelled, cancelled);
    let denied = server.create("db-read");
    server.act(&BOB, &denied, "deny");
    ids.insert(On::Denied, denied);
    let active = server.create("db-read");
    server.act(&dave, &active, "approve");
    server.wait_active(&active);
    ids.insert(On::Active, active);
    let revoked = server.create("db-read");
    server.act(&BOB, &revoked, "approve");
    server.wait_active(&revoked);
    server.act(&ALICE, &revoked, "revoke");
    ids.insert(On::Revoked, revoked);
    let reviewed = server.create("db-read");
    server.act(&dave, &reviewed, "approve");
    server.wait_active(&reviewed);
    let (status, v) = server.call(
        &BOB,
        "POST",
        &format!("/reviews/{reviewed}"),
        &[],
        r#"{"verdict": "appropriate"}"#,
    );
    assert_eq!(
        (status, v["review"]["verdict"].as_str()),
        (200, Some("appropriate")),
        "{v}"
    );
    ids.insert(On::Reviewed, reviewed);
    ids.insert(On::Unknown, RequestId::new().to_string());
    ids.insert(On::Malformed, "not-a-ulid".into());

    let mut tally = Tally::default();
    for case in cases(t0()) {
        let before = server.request_events();
        let (status, body) = server.call(
            &case.caller,
            case.method,
            &path_for(&case, &ids),
            &case.headers,
            &case.body,
        );
        let appended = server.request_events() - before;
        tally.check(&case, status, &body, appended);
    }
    // And a good request still works afterwards.
    server.create("db-read");
    tally.finish("HTTP (stint serve)");
}
