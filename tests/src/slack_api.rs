//! A local HTTP server standing in for Slack's Web API (`users.info`, `users.lookupByEmail`,
//! `usergroups.users.list`, `chat.postMessage`, `chat.update`, `views.open`) and for the
//! `response_url` of interactions. It holds a small workspace (users, emails, user groups),
//! checks the bot token, answers as Slack does (`{"ok": false, "error": ...}` included), and
//! records every call.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The bot token the stand-in accepts.
pub const BOT_TOKEN: &str = "xoxb-stand-in-token";

/// One call the stand-in received: the method (or `respond`) and its arguments or body.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
}

#[derive(Default)]
struct Workspace {
    /// Slack user id -> email (None: a profile without one).
    users: HashMap<String, Option<String>>,
    /// User group id -> members.
    groups: HashMap<String, Vec<String>>,
    calls: Vec<Call>,
    posted: u64,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Workspace>>);

pub struct SlackApiStandIn {
    /// The Web API's base URL, as `STINT_SLACK_API_URL` takes it.
    pub url: String,
    /// Where interactions' `response_url`s point.
    pub respond_url: String,
    shared: Shared,
}

impl SlackApiStandIn {
    pub async fn start() -> SlackApiStandIn {
        let shared = Shared::default();
        let app = Router::new()
            .route("/api/{method}", post(api))
            .route("/respond/{n}", post(respond))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        SlackApiStandIn {
            url: format!("http://{addr}/api"),
            respond_url: format!("http://{addr}/respond/1"),
            shared,
        }
    }

    /// Adds a Slack user; `email` None: a profile without an email.
    pub fn user(&self, id: &str, email: Option<&str>) -> &Self {
        let mut w = self.shared.0.lock().expect("lock");
        w.users.insert(id.to_owned(), email.map(str::to_owned));
        drop(w);
        self
    }

    /// Sets a user group's members.
    pub fn group(&self, id: &str, members: &[&str]) -> &Self {
        let mut w = self.shared.0.lock().expect("lock");
        w.groups.insert(
            id.to_owned(),
            members.iter().map(|m| (*m).to_owned()).collect(),
        );
        drop(w);
        self
    }

    /// Every call, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.0.lock().expect("lock").calls.clone()
    }

    /// The bodies of the calls to `method` (`respond` for response URLs), in order.
    pub fn calls_to(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .map(|c| c.body)
            .collect()
    }
}

fn fail(error: &str) -> Json<Value> {
    Json(json!({ "ok": false, "error": error }))
}

async fn api(
    State(s): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Json<Value> {
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    let args: Value = if json_body {
        serde_json::from_str(&body).unwrap_or(Value::Null)
    } else {
        let form: serde_json::Map<String, Value> = form_pairs(&body)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        Value::Object(form)
    };
    let mut w = s.0.lock().expect("lock");
    w.calls.push(Call {
        method: method.clone(),
        body: args.clone(),
    });
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {BOT_TOKEN}")) {
        return fail("invalid_auth");
    }
    let arg = |k: &str| args[k].as_str().unwrap_or_default().to_owned();
    match method.as_str() {
        "users.info" => match w.users.get(&arg("user")) {
            Some(email) => Json(json!({ "ok": true, "user": {
                "id": arg("user"), "profile": { "email": email } } })),
            None => fail("user_not_found"),
        },
        "users.lookupByEmail" => {
            let email = arg("email");
            match w
                .users
                .iter()
                .find(|(_, e)| e.as_deref() == Some(email.as_str()))
            {
                Some((id, _)) => Json(json!({ "ok": true, "user": { "id": id } })),
                None => fail("users_not_found"),
            }
        }
        "usergroups.users.list" => match w.groups.get(&arg("usergroup")) {
            Some(users) => Json(json!({ "ok": true, "users": users })),
            None => fail("no_such_subteam"),
        },
        "chat.postMessage" => {
            w.posted += 1;
            let channel = arg("channel");
            // A message to a user id lands in their direct-message channel.
            let channel = match channel.strip_prefix('U') {
                Some(rest) => format!("D{rest}"),
                None => channel,
            };
            Json(
                json!({ "ok": true, "channel": channel, "ts": format!("1795000000.{:06}", w.posted) }),
            )
        }
        "chat.update" => Json(json!({ "ok": true, "channel": arg("channel"), "ts": arg("ts") })),
        "views.open" => Json(json!({ "ok": true, "view": { "id": "V1" } })),
        _ => fail("unknown_method"),
    }
}

async fn respond(State(s): State<Shared>, body: String) -> &'static str {
    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
    s.0.lock().expect("lock").calls.push(Call {
        method: "respond".into(),
        body,
    });
    "ok"
}

/// `a=1&b=2`, percent-decoded (`+` is a space).
fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}
