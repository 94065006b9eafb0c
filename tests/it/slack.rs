//! Approvals from Slack: signed interaction payloads sent to the real router over a Stint on the
//! emulator's DynamoDB and IAM, with a local stand-in for Slack's Web API and response URLs
//! (`stint_tests::slack_api`). Each case checks the store, IAM where it matters, and every call
//! Stint made to Slack.

use axum::body::Body;
use chrono::{DateTime, TimeDelta, Utc};
use http::Request;
use http_body_util::BodyExt;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::sync::Arc;
use stint_app::notify::Notifier;
use stint_app::ports::{Clock, SlackApi};
use stint_app::RetryPolicy;
use stint_domain::{GroupName, RequestId, Status};
use stint_http::slack::{sign, SlackApp};
use stint_http::{router, Api};
use stint_slack::{SlackWebApi, SlackWebhook};
use stint_tests::aws::Fixture;
use stint_tests::proof;
use stint_tests::slack_api::{SlackApiStandIn, BOT_TOKEN};
use stint_tests::{alice, t0};
use tower::ServiceExt;

const SECRET: &[u8] = b"slack-signing-secret-for-the-tests";
const CHANNEL: &str = "C0APPROVALS";
/// The console's request page, as notices link to it.
const LINK: &str = "https://stint.example.com/console/requests/{id}";

struct World {
    f: Fixture,
    slack: SlackApiStandIn,
    bot: Arc<dyn SlackApi>,
    api: Api,
    notifier: Notifier,
}

/// The example catalog with approvers' messages in `C0APPROVALS`, `db-owners` and `sre` mapped
/// to Slack user groups, and a Slack workspace of alice and carol (sre), bob (db-owners) and a
/// user whose profile has no email.
async fn world() -> World {
    let mut f = Fixture::new(t0()).await;
    let slack = SlackApiStandIn::start().await;
    slack
        .user("U0ALICE", Some("alice@example.com"))
        .user("U0BOB", Some("Bob@Example.com"))
        .user("U0CAROL", Some("carol@example.com"))
        .user("U0NOMAIL", None)
        .group("S0DBOWNERS", &["U0BOB"])
        .group("S0SRE", &["U0ALICE", "U0CAROL"]);
    let mut catalog = (*f.stint.catalog).clone();
    catalog.notify.slack_channel = Some(CHANNEL.into());
    catalog.notify.link = Some(LINK.into());
    catalog.slack.groups = [("db-owners", "S0DBOWNERS"), ("sre", "S0SRE")]
        .into_iter()
        .map(|(g, s)| (GroupName::parse(g).unwrap(), s.to_owned()))
        .collect();
    f.stint.catalog = Arc::new(catalog);
    let bot: Arc<dyn SlackApi> = Arc::new(SlackWebApi::new(&slack.url, BOT_TOKEN));
    let api = app(&f, &bot);
    let notifier = Notifier {
        store: Arc::new(f.store.clone()),
        catalog: f.stint.catalog.clone(),
        clock: f.clock.clone(),
        chat: Arc::new(SlackWebhook::default()),
        mailer: None,
        slack_bot: Some(bot.clone()),
        retry: RetryPolicy::IMMEDIATE,
    };
    World {
        f,
        slack,
        bot,
        api,
        notifier,
    }
}

/// An API over the fixture's Stint with a Slack app of its own: another instance, as far as
/// what the app remembers goes (bodies seen, identities, clicks).
fn app(f: &Fixture, bot: &Arc<dyn SlackApi>) -> Api {
    f.api()
        .with_slack(SlackApp::new(Some(SECRET.to_vec()), Some(bot.clone())))
}

/// Where a message Stint posted landed.
struct Posted {
    channel: String,
    ts: String,
    message: Value,
}

impl World {
    /// alice's db-read request, and the approvers' message the notifier posts for it.
    async fn requested(&self) -> (RequestId, Posted) {
        let new = self.f.db_read("stuck orders <b>INC-1</b>");
        let id = self.f.stint.submit(&alice(), new).await.unwrap().id;
        let posted = self.notify(id, "AccessRequested").await;
        (id, posted)
    }

    /// Runs the notifier on the request's event of type `ty`; the message it posted.
    async fn notify(&self, id: RequestId, ty: &str) -> Posted {
        let event = self
            .f
            .events(id)
            .await
            .into_iter()
            .find(|e| e.record.event_type == ty)
            .unwrap_or_else(|| panic!("no {ty}"));
        self.notifier
            .notify(id, &event.record.event_id)
            .await
            .unwrap();
        let message = self
            .slack
            .calls_to("chat.postMessage")
            .pop()
            .expect("a post");
        let channel = message["channel"].as_str().unwrap().to_owned();
        let channel = match channel.strip_prefix('U') {
            Some(rest) => format!("D{rest}"),
            None => channel,
        };
        let n = self.slack.calls_to("chat.postMessage").len();
        Posted {
            channel,
            ts: format!("1795000000.{n:06}"),
            message,
        }
    }

    /// A click on `action` of a message, by Slack user `user`; `n` makes each click's body
    /// distinct, as Slack's own `action_ts` does.
    fn click(&self, user: &str, action: &str, value: &str, on: &Posted, n: u32) -> String {
        form(json!({
            "type": "block_actions",
            "user": { "id": user },
            "trigger_id": format!("trigger.{n}"),
            "response_url": self.slack.respond_url,
            "container": { "type": "message", "channel_id": on.channel, "message_ts": on.ts },
            "actions": [{ "type": "button", "action_id": action, "value": value,
                          "action_ts": format!("1795000100.{n:06}") }]
        }))
    }

    async fn send(&self, body: &str) -> (u16, String) {
        send(&self.api, signed(body, self.f.clock.now())).await
    }

    /// Every event in the store (request streams and notice ledgers alike).
    async fn all_events(&self) -> usize {
        self.f
            .log(t0() - TimeDelta::days(1), t0() + TimeDelta::days(2))
            .await
            .len()
    }

    async fn types(&self, id: RequestId) -> Vec<String> {
        self.f.event_types(id).await
    }
}

fn form(payload: Value) -> String {
    format!(
        "payload={}",
        utf8_percent_encode(&payload.to_string(), NON_ALPHANUMERIC)
    )
}

fn signed(body: &str, at: DateTime<Utc>) -> Request<Body> {
    let ts = at.timestamp().to_string();
    let sig = sign(SECRET, &ts, body.as_bytes());
    request(body, Some(&ts), Some(&sig))
}

fn request(body: &str, ts: Option<&str>, sig: Option<&str>) -> Request<Body> {
    let mut r = Request::post("/slack/interactions")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(ts) = ts {
        r = r.header("x-slack-request-timestamp", ts);
    }
    if let Some(sig) = sig {
        r = r.header("x-slack-signature", sig);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

async fn send(api: &Api, req: Request<Body>) -> (u16, String) {
    let resp = router(api.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn button_value(message: &Value, action: &str) -> String {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["action_id"] == action)
        .unwrap_or_else(|| panic!("no {action} button in {message}"))["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn action_ids(message: &Value) -> Vec<String> {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .map(|e| e["action_id"].as_str().unwrap_or("link").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_approve_by_an_approver_decides_once_updates_the_message_and_tells_the_requester() {
    let w = world().await;
    let (id, posted) = w.requested().await;
    // The approvers' message: in their channel, Approve and Deny, and the console link.
    assert_eq!(posted.message["channel"], CHANNEL);
    assert_eq!(
        action_ids(&posted.message),
        ["stint_approve", "stint_deny", "link"]
    );
    let text = posted.message.to_string();
    assert!(
        text.contains(&LINK.replace("{id}", &id.to_string())),
        "{text}"
    );
    assert!(text.contains("&lt;b&gt;INC-1&lt;/b&gt;"), "{text}");

    let value = button_value(&posted.message, "stint_approve");
    let (status, body) = w
        .send(&w.click("U0BOB", "stint_approve", &value, &posted, 1))
        .await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(
        w.types(id).await,
        ["AccessRequested", "ApprovalRecorded", "AccessApproved"]
    );
    let state = w.f.state(id).await;
    assert_eq!(state.approvals[0].as_str(), "bob@example.com");

    // The message, updated in place: who, when, the status, no buttons.
    let updates = w.slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    assert_eq!(
        (u["channel"].as_str(), u["ts"].as_str()),
        (Some(CHANNEL), Some(posted.ts.as_str()))
    );
    let shown = u.to_string();
    assert!(
        shown
            .contains("*Approved* by bob@example.com at 2026-11-29T09:00:00Z. Status: *approved*."),
        "{shown}"
    );
    assert!(action_ids(u).is_empty(), "{shown}");
    assert!(
        shown.contains(&format!(
            "<{}|Open request>",
            LINK.replace("{id}", &id.to_string())
        )),
        "{shown}"
    );
    assert!(w.slack.calls_to("respond").is_empty());

    // The requester hears from the notifier, as for every decision: a direct message.
    let dm = w.notify(id, "AccessApproved").await;
    assert_eq!(dm.message["channel"], "U0ALICE");
    assert!(
        dm.message.to_string().contains("was approved"),
        "{}",
        dm.message
    );
    assert_eq!(
        w.slack.calls_to("users.lookupByEmail"),
        [json!({ "email": "alice@example.com" })]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_refusals_go_to_the_clicker_only_and_append_nothing() {
    let w = world().await;
    let (id, posted) = w.requested().await;
    let value = id.to_string();
    let before = w.all_events().await;
    let cases = [
        (
            "U0ALICE",
            "stint_approve",
            "by its requester",
            "self-approval from Slack",
            "malicious requester",
        ),
        (
            "U0CAROL",
            "stint_approve",
            "not in an approver group of role db-read",
            "approval from Slack by a non-approver",
            "malicious colleague",
        ),
        (
            "U0ALICE",
            "stint_deny",
            "by its requester",
            "self-denial modal from Slack",
            "malicious requester",
        ),
        (
            "U0NOMAIL",
            "stint_approve",
            "does not know who you are",
            "approval by a Slack user Stint cannot identify",
            "Slack guest",
        ),
        (
            "U0BOB",
            "stint_done",
            "cannot revoke a request that is pending",
            "\"I'm done\" on a pending request",
            "approver",
        ),
    ];
    for (n, (user, action, says, case, attacker)) in cases.into_iter().enumerate() {
        let asked = w.slack.calls_to("respond").len();
        let (status, body) = w
            .send(&w.click(user, action, &value, &posted, n as u32 + 10))
            .await;
        let answers = w.slack.calls_to("respond");
        let told = answers.len() == asked + 1
            && answers.last().is_some_and(|a| {
                a["response_type"] == "ephemeral"
                    && a["replace_original"] == false
                    && a["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_lowercase()
                        .contains(says)
            });
        let appended = w.all_events().await - before;
        proof::attack(case, attacker, status != 200 || !told || appended > 0);
        assert_eq!((status, body.as_str()), (200, ""), "{case}");
        assert!(told, "{case}: {answers:?}");
        assert_eq!(appended, 0, "{case}");
    }
    // A refusal holds nothing back: the same click again is answered again.
    let asked = w.slack.calls_to("respond").len();
    let again = w.click("U0CAROL", "stint_approve", &value, &posted, 99);
    assert_eq!(w.send(&again).await.0, 200);
    assert_eq!(w.slack.calls_to("respond").len(), asked + 1);
    // Nothing else: no modal, no message updated, no post.
    assert!(w.slack.calls_to("views.open").is_empty());
    assert!(w.slack.calls_to("chat.update").is_empty());
    assert_eq!(w.types(id).await, ["AccessRequested"]);
    assert_eq!(w.f.status(id).await, Status::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_deny_asks_for_a_reason_in_a_modal_and_denies_with_it() {
    let w = world().await;
    let (id, posted) = w.requested().await;
    let value = button_value(&posted.message, "stint_deny");
    let (status, _) = w
        .send(&w.click("U0BOB", "stint_deny", &value, &posted, 1))
        .await;
    assert_eq!(status, 200);
    // Nothing decided yet: a modal asks for the reason.
    assert_eq!(w.types(id).await, ["AccessRequested"]);
    let opened = w.slack.calls_to("views.open");
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["trigger_id"], "trigger.1");
    let view = &opened[0]["view"];
    assert_eq!(view["callback_id"], "stint_deny_reason");

    let submit = |reason: &str| {
        form(json!({
            "type": "view_submission",
            "user": { "id": "U0BOB" },
            "view": {
                "id": "V1",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": { "values": { "reason": { "reason": {
                    "type": "plain_text_input", "value": reason } } } }
            }
        }))
    };
    // A reason over the API's bound is shown in the modal, and decides nothing.
    let (status, body) = w.send(&submit(&"x".repeat(3000))).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["response_action"],
        "errors"
    );
    assert_eq!(w.types(id).await, ["AccessRequested"]);

    let (status, body) = w.send(&submit("not during the <freeze>")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(w.types(id).await, ["AccessRequested", "AccessDenied"]);
    let st = w.f.state(id).await;
    assert_eq!(st.status, Status::Denied);
    let denied = &w.f.events(id).await[1].record.payload;
    assert_eq!(denied["reason"], "not during the <freeze>");
    let updates = w.slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["ts"], posted.ts.as_str());
    let shown = updates[0].to_string();
    assert!(shown.contains("*Denied* by bob@example.com"), "{shown}");
    assert!(shown.contains("Status: *denied*"), "{shown}");
    assert!(
        shown.contains("Reason: not during the &lt;freeze&gt;"),
        "{shown}"
    );
    assert!(action_ids(&updates[0]).is_empty());

    // The requester is told, with the reason.
    let dm = w.notify(id, "AccessDenied").await;
    assert_eq!(dm.message["channel"], "U0ALICE");
    assert!(dm
        .message
        .to_string()
        .contains("not during the &lt;freeze&gt;"));
}

/// A granted db-read request (alice's, approved by bob, granted in IAM) and the requester's
/// direct message about it.
async fn granted(w: &World) -> (RequestId, Posted) {
    let id = w.f.granted().await;
    let dm = w.notify(id, "AccessGranted").await;
    assert_eq!(dm.message["channel"], "U0ALICE");
    assert_eq!(dm.channel, "D0ALICE");
    (id, dm)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_im_done_revokes_the_grant_in_iam() {
    let w = world().await;
    let (id, dm) = granted(&w).await;
    assert_eq!(
        action_ids(&dm.message),
        ["stint_extend", "stint_done", "link"]
    );
    let policy = w.f.state(id).await.grant.unwrap().policy_name;
    assert!(w.f.policy(&policy).await.is_some(), "granted in IAM");

    let value = button_value(&dm.message, "stint_done");
    let (status, _) = w
        .send(&w.click("U0ALICE", "stint_done", &value, &dm, 1))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.f.status(id).await, Status::Revoked);
    assert!(
        w.f.policy(&policy).await.is_none(),
        "the policy is gone from IAM"
    );
    let revoked = w.f.events(id).await.pop().unwrap().record;
    assert_eq!(revoked.event_type, "AccessRevoked");
    assert_eq!(revoked.payload["reason"], "manual");
    let updates = w.slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["channel"], "D0ALICE");
    assert!(updates[0]
        .to_string()
        .contains("*Relinquished* by alice@example.com"));
    assert!(updates[0].to_string().contains("Status: *revoked*"));
    assert!(action_ids(&updates[0]).is_empty());
}

/// "I'm done" on a grant the interactions function cannot reach (a member account: its role
/// may not assume member roles) is refused to the clicker with what to do instead, and appends
/// nothing: before, it recorded `RevokeFailed`, which pages on-call (attacks-orgs row 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_im_done_on_a_grant_slack_cannot_reach_is_refused_and_appends_nothing() {
    let mut w = world().await;
    let (id, dm) = granted(&w).await;
    let policy = w.f.state(id).await.grant.unwrap().policy_name;
    // The interactions function's provider: IAM in a hub that is not the grant's account.
    w.f.stint.access = Arc::new(stint_aws::iam::HubAccessProvider::new(
        w.f.iam.clone(),
        Some("999988887777".into()),
    ));
    w.api = app(&w.f, &w.bot);
    let before = w.f.events(id).await.len();
    let value = button_value(&dm.message, "stint_done");
    let (status, _) = w
        .send(&w.click("U0ALICE", "stint_done", &value, &dm, 1))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.f.events(id).await.len(), before, "nothing appended");
    assert_eq!(w.f.status(id).await, Status::Active);
    assert!(w.f.policy(&policy).await.is_some(), "the grant stands");
    let answers = w.slack.calls_to("respond");
    let told = answers.last().expect("the clicker is answered").to_string();
    assert!(
        told.contains("cannot reach") && told.contains("stint revoke"),
        "{told}"
    );
    proof::attack(
        "a grantee's Slack click on a member-account grant records RevokeFailed and pages on-call",
        "grantee",
        w.f.events(id).await.len() != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_extend_extends_once_however_often_it_is_clicked() {
    let w = world().await;
    let (id, dm) = granted(&w).await;
    let before = w.f.state(id).await.grant.unwrap().expires_at;
    let value = button_value(&dm.message, "stint_extend");
    assert_eq!(value, format!("{id}|{}", before.timestamp()));
    for n in 1..=3 {
        let (status, body) = w
            .send(&w.click("U0ALICE", "stint_extend", &value, &dm, n))
            .await;
        assert_eq!((status, body.as_str()), (200, ""));
    }
    let extensions = w
        .types(id)
        .await
        .iter()
        .filter(|t| *t == "ExtensionApproved")
        .count();
    let updates = w.slack.calls_to("chat.update");
    proof::duplicates(
        "Slack Extend clicked three times",
        3,
        (extensions + updates.len()).saturating_sub(2),
    );
    assert_eq!(extensions, 1);
    assert_eq!(updates.len(), 1);
    assert!(updates[0]
        .to_string()
        .contains("*Extended* by alice@example.com"));
    // By the role's default duration (1h), from the expiry the button showed.
    let pending = w.f.state(id).await.pending_extension.unwrap();
    assert_eq!(pending, before + TimeDelta::hours(1));
    // Applied by the grant function, as an extension from the API would be.
    w.f.stint.apply_extension(id).await.unwrap();
    assert_eq!(w.f.state(id).await.grant.unwrap().expires_at, pending);
    // A click on the old message now finds the expiry moved: nothing more.
    let (status, _) = w
        .send(&w.click("U0ALICE", "stint_extend", &value, &dm, 9))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.f.state(id).await.grant.unwrap().expires_at, pending);
    assert!(w.f.state(id).await.pending_extension.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slack_extend_clicked_at_once_on_three_instances_extends_once() {
    let w = world().await;
    let (id, dm) = granted(&w).await;
    let value = button_value(&dm.message, "stint_extend");
    // Three instances that share nothing but the store, all at once: the decider's check of
    // the expiry, under the store's optimistic concurrency, lets one through.
    let sends = (1..=3).map(|n| {
        let api = app(&w.f, &w.bot);
        let body = w.click("U0ALICE", "stint_extend", &value, &dm, n);
        let req = signed(&body, w.f.clock.now());
        async move { send(&api, req).await }
    });
    let answers = futures::future::join_all(sends).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let extensions = w
        .types(id)
        .await
        .iter()
        .filter(|t| *t == "ExtensionApproved")
        .count();
    let updates = w.slack.calls_to("chat.update").len();
    proof::duplicates(
        "Slack Extend clicked at once on three instances",
        3,
        (extensions + updates).saturating_sub(2),
    );
    assert_eq!((extensions, updates), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_three_identical_approvals_give_one_decision_and_one_update() {
    let w = world().await;
    // On one instance (a double click), and on three instances (Slack's retries landing on
    // different Lambda instances, which share nothing but the store).
    for spread in [false, true] {
        let (id, posted) = w.requested().await;
        let updates_before = w.slack.calls_to("chat.update").len();
        let value = button_value(&posted.message, "stint_approve");
        for n in 1..=3 {
            let api = if spread {
                app(&w.f, &w.bot)
            } else {
                w.api.clone()
            };
            let body = w.click("U0BOB", "stint_approve", &value, &posted, n);
            let (status, answer) = send(&api, signed(&body, w.f.clock.now())).await;
            assert_eq!((status, answer.as_str()), (200, ""));
        }
        let types = w.types(id).await;
        let decisions = types.iter().filter(|t| *t == "ApprovalRecorded").count()
            + types.iter().filter(|t| *t == "AccessApproved").count();
        let updates = w.slack.calls_to("chat.update").len() - updates_before;
        let test = if spread {
            "Slack approval delivered three times to three instances"
        } else {
            "Slack approval clicked three times"
        };
        proof::duplicates(test, 3, (decisions + updates).saturating_sub(3));
        assert_eq!(
            types,
            ["AccessRequested", "ApprovalRecorded", "AccessApproved"],
            "{test}"
        );
        assert_eq!(updates, 1, "{test}");
        assert!(
            w.slack.calls_to("respond").is_empty(),
            "{test}: answered quietly"
        );
    }
    // Who bob is was asked of Slack once per instance and kept: one instance, then three.
    let asked = w.slack.calls_to("users.info").len();
    assert_eq!(asked, 4);
    // Past the cache's minute, Slack is asked again.
    w.f.clock.advance(TimeDelta::seconds(61));
    let (id, posted) = w.requested().await;
    let value = id.to_string();
    w.send(&w.click("U0BOB", "stint_approve", &value, &posted, 7))
        .await;
    assert_eq!(w.slack.calls_to("users.info").len(), asked + 1);
}

/// One refused interaction: its name, the request, and the status it must get.
struct Bad {
    name: &'static str,
    request: Request<Body>,
    status: u16,
    error: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_bad_signatures_replays_and_bad_payloads_are_refused_and_append_nothing() {
    let w = world().await;
    let (id, posted) = w.requested().await;
    let now = w.f.clock.now();
    let value = id.to_string();
    let approve = w.click("U0BOB", "stint_approve", &value, &posted, 1);
    let ts = now.timestamp().to_string();
    let good_sig = sign(SECRET, &ts, approve.as_bytes());
    let with_payload = |p: Value| form(p);
    let mut cases = vec![
        Bad {
            name: "no signature headers",
            request: request(&approve, None, None),
            status: 401,
            error: "unauthenticated",
        },
        Bad {
            name: "signed with another secret",
            request: request(
                &approve,
                Some(&ts),
                Some(&sign(b"not the secret", &ts, approve.as_bytes())),
            ),
            status: 401,
            error: "unauthenticated",
        },
        Bad {
            name: "body changed after signing (another user)",
            request: request(
                &approve.replace("U0BOB", "U0EVE"),
                Some(&ts),
                Some(&good_sig),
            ),
            status: 401,
            error: "unauthenticated",
        },
        Bad {
            name: "signature version v1",
            request: request(
                &approve,
                Some(&ts),
                Some(&good_sig.replacen("v0=", "v1=", 1)),
            ),
            status: 401,
            error: "unauthenticated",
        },
        Bad {
            name: "signed six minutes ago",
            request: signed(&approve, now - TimeDelta::minutes(6)),
            status: 401,
            error: "unauthenticated",
        },
        Bad {
            name: "signed six minutes ahead",
            request: signed(&approve, now + TimeDelta::minutes(6)),
            status: 401,
            error: "unauthenticated",
        },
        Bad {
            name: "timestamp not a number",
            request: request(&approve, Some("soon"), Some(&good_sig)),
            status: 401,
            error: "unauthenticated",
        },
        Bad {
            name: "no payload field",
            request: signed("token=x&team=T1", now),
            status: 400,
            error: "invalid_input",
        },
        Bad {
            name: "payload not JSON",
            request: signed("payload=%7Bnot%20json", now),
            status: 400,
            error: "invalid_input",
        },
        Bad {
            name: "unknown action",
            request: signed(
                &w.click("U0BOB", "stint_grant_everything", &value, &posted, 2),
                now,
            ),
            status: 400,
            error: "invalid_input",
        },
        Bad {
            name: "value not a request id",
            request: signed(
                &w.click("U0BOB", "stint_approve", "01-not-a-ulid", &posted, 3),
                now,
            ),
            status: 400,
            error: "invalid_input",
        },
        Bad {
            name: "two actions at once",
            request: signed(
                &with_payload(json!({
                    "type": "block_actions", "user": { "id": "U0BOB" },
                    "actions": [
                        { "action_id": "stint_approve", "value": value },
                        { "action_id": "stint_approve", "value": value }
                    ]
                })),
                now,
            ),
            status: 400,
            error: "invalid_input",
        },
        Bad {
            name: "unknown interaction type",
            request: signed(
                &with_payload(json!({ "type": "message_action", "user": { "id": "U0BOB" } })),
                now,
            ),
            status: 400,
            error: "invalid_input",
        },
        Bad {
            name: "someone else's modal",
            request: signed(
                &with_payload(
                    json!({ "type": "view_submission", "user": { "id": "U0BOB" },
                    "view": { "callback_id": "other_app", "private_metadata": "{}" } }),
                ),
                now,
            ),
            status: 400,
            error: "invalid_input",
        },
    ];
    // The same approval, to a deployment without a signing secret.
    let unconfigured = w.f.api();
    let before = w.all_events().await;
    let mut tried = 0;
    let mut refused = 0;
    let mut failures = Vec::new();
    let mut check =
        |name: &str, status: u16, body: &str, want: u16, error: &str, appended: usize| {
            tried += 1;
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            if status == want && v["error"] == error && appended == 0 {
                refused += 1;
            } else {
                failures.push(format!("{name}: {status} {body}, {appended} appended"));
            }
        };
    for case in cases.drain(..) {
        let (status, body) = send(&w.api, case.request).await;
        let appended = w.all_events().await - before;
        check(case.name, status, &body, case.status, case.error, appended);
    }
    let (status, body) = send(&unconfigured, signed(&approve, now)).await;
    let appended = w.all_events().await - before;
    check(
        "no signing secret configured",
        status,
        &body,
        401,
        "unauthenticated",
        appended,
    );
    assert!(
        w.slack
            .calls()
            .iter()
            .all(|c| c.method == "chat.postMessage"),
        "Slack was not called"
    );

    // A replay: the approval is accepted once; the very same body and signature again is not.
    let (status, _) = send(&w.api, request(&approve, Some(&ts), Some(&good_sig))).await;
    assert_eq!(status, 200);
    let decided = w.all_events().await;
    assert_eq!(decided - before, 2, "the approval itself");
    let (status, body) = send(&w.api, request(&approve, Some(&ts), Some(&good_sig))).await;
    let replay_appended = w.all_events().await - decided;
    check(
        "the same body replayed",
        status,
        &body,
        401,
        "unauthenticated",
        replay_appended,
    );
    assert!(body.contains("replay"), "{body}");
    // The same signature spelt in upper-case hex is the same replay.
    let upper = format!("v0={}", good_sig.trim_start_matches("v0=").to_uppercase());
    let (status, body) = send(&w.api, request(&approve, Some(&ts), Some(&upper))).await;
    let replay_appended = w.all_events().await - decided;
    check(
        "the same body replayed, its signature in upper case",
        status,
        &body,
        401,
        "unauthenticated",
        replay_appended,
    );

    println!("bad input over Slack interactions: {tried} tried, {refused} refused with a JSON 4xx");
    proof::record(
        "bad_input",
        json!({ "transport": "Slack interactions", "tried": tried, "refused": refused,
                "accepted_without_effect": 0, "wrongly_appended": w.all_events().await - decided,
                "failed": failures.len() }),
    );
    for (case, attacker) in [
        ("forged Slack signature approves", "network attacker"),
        ("Slack approval replayed", "network attacker"),
        (
            "Slack approval re-signed as another user",
            "network attacker",
        ),
        ("Slack approval signed long ago", "network attacker"),
    ] {
        proof::attack(case, attacker, !failures.is_empty());
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(w.slack.calls_to("chat.update").len(), 1);
}

/// The `stint-interactions` binary, as Lambda runs it behind API Gateway: secrets from its
/// environment, Slack's Web API at the stand-in, the example catalog, the emulator's IAM.
/// "I'm done" deletes the grant's policy; an unsigned body is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interactions_function_binary_relinquishes_on_im_done_and_refuses_bad_signatures() {
    // The binary runs on the system clock.
    let f = Fixture::new(Utc::now()).await;
    let slack = SlackApiStandIn::start().await;
    slack.user("U0ALICE", Some("alice@example.com"));
    let id = f.granted().await;
    let policy = f.state(id).await.grant.unwrap().policy_name;
    assert!(f.policy(&policy).await.is_some());
    let on = Posted {
        channel: "D0ALICE".into(),
        ts: "1795000000.000001".into(),
        message: Value::Null,
    };
    let body = form(json!({
        "type": "block_actions",
        "user": { "id": "U0ALICE" },
        "response_url": slack.respond_url,
        "container": { "type": "message", "channel_id": on.channel, "message_ts": on.ts },
        "actions": [{ "type": "button", "action_id": "stint_done", "value": id.to_string() }]
    }));
    let event = |signature: &str| {
        let ts = Utc::now().timestamp().to_string();
        let mut e = stint_tests::sample("apigw-deny.json");
        e["routeKey"] = json!("POST /slack/interactions");
        e["rawPath"] = json!("/slack/interactions");
        e["requestContext"]["http"]["path"] = json!("/slack/interactions");
        e["requestContext"]["routeKey"] = json!("POST /slack/interactions");
        let ctx = e["requestContext"].as_object_mut().unwrap();
        ctx.remove("authorizer");
        e.as_object_mut().unwrap().remove("pathParameters");
        e["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
        e["headers"]["x-slack-request-timestamp"] = json!(ts);
        e["headers"]["x-slack-signature"] = json!(match signature {
            "good" => sign(SECRET, &ts, body.as_bytes()),
            other => other.to_owned(),
        });
        e["body"] = json!(body);
        e
    };
    let secret = String::from_utf8(SECRET.to_vec()).unwrap();
    let env = [
        ("STINT_SLACK_SIGNING_SECRET", secret.as_str()),
        ("STINT_SLACK_BOT_TOKEN", BOT_TOKEN),
        ("STINT_SLACK_API_URL", slack.url.as_str()),
    ];
    let forged = format!("v0={}", "00".repeat(32));
    let (_, out) = crate::functions::invoke(&f, "stint-interactions", event(&forged), &env).await;
    assert_eq!(out["statusCode"], 401, "{out}");
    assert_eq!(f.status(id).await, Status::Active);
    // Where the API names people by another claim than email, Slack's email names nobody:
    // only the catalog's [slack] users map could, and it does not name U0ALICE.
    let by_sub = [env[0], env[1], env[2], ("STINT_USER_CLAIM", "sub")];
    let (_, out) = crate::functions::invoke(&f, "stint-interactions", event("good"), &by_sub).await;
    assert_eq!(out["statusCode"], 200, "{out}");
    assert_eq!(f.status(id).await, Status::Active, "nobody identified");
    assert!(slack
        .calls_to("respond")
        .iter()
        .any(|c| c.to_string().contains("does not know who you are")));
    stint_tests::proof::attack(
        "Slack email standing for a user the API names by another claim",
        "malicious requester",
        f.status(id).await != Status::Active,
    );
    let (_, out) = crate::functions::invoke(&f, "stint-interactions", event("good"), &env).await;
    assert_eq!(out["statusCode"], 200, "{out}");
    assert_eq!(f.status(id).await, Status::Revoked);
    assert!(
        f.policy(&policy).await.is_none(),
        "the policy is gone from IAM"
    );
    let updates = slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    assert!(updates[0]
        .to_string()
        .contains("*Relinquished* by alice@example.com"));
}

/// A local token for `user` in `groups`, signed with the server's key in `data`.
fn local_token(data: &std::path::Path, user: &str, groups: &str) -> String {
    let out = std::process::Command::new(crate::support::bin("stint"))
        .args(["token", "--user", user, "--groups", groups, "--data"])
        .arg(data)
        .output()
        .expect("token");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `stint serve` with the Slack app from its environment: the approvers' message is posted with
/// buttons, a signed click (timed by the server's own clock) approves, the broker grants, the
/// message is updated, and the requester gets a direct message with I'm done.
#[test]
fn stint_serve_takes_slack_approvals_with_its_secrets_from_the_environment() {
    use crate::support::{eventually, http, Serve, Server};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let slack = rt.block_on(SlackApiStandIn::start());
    slack
        .user("U0ALICE", Some("alice@example.com"))
        .user("U0BOB", Some("bob@example.com"))
        .group("S0DBOWNERS", &["U0BOB"]);
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let text = std::fs::read_to_string(stint_tests::aws::CATALOG_PATH)
        .unwrap()
        .replace(
            "# slack_channel = \"C0123APPROVALS\"",
            &format!("slack_channel = \"{CHANNEL}\""),
        )
        + "\n[slack]\ngroups = { db-owners = \"S0DBOWNERS\" }\n";
    assert!(text.contains(CHANNEL));
    std::fs::write(&catalog, text).unwrap();
    let data = dir.path().join("data");
    let secret = String::from_utf8(SECRET.to_vec()).unwrap();
    let clock = "2026-11-29T10:00:00Z";
    let server = Server::start_with(
        &data,
        clock,
        Serve {
            catalog: catalog.to_str().unwrap(),
            env: vec![
                ("STINT_SLACK_SIGNING_SECRET", secret),
                ("STINT_SLACK_BOT_TOKEN", BOT_TOKEN.into()),
                ("STINT_SLACK_API_URL", slack.url.clone()),
            ],
            ..Serve::default()
        },
    );
    let api = server.api.clone();
    let alice = local_token(&data, "alice@example.com", "sre");
    let auth = format!("Bearer {alice}");
    let (status, created) = http(
        "POST",
        &format!("{api}/requests"),
        &[("authorization", &auth)],
        &json!({ "role": "db-read", "scope": "orders", "duration": "1h",
                 "principal": "arn:aws:iam::123456789012:role/stint/oncall",
                 "justification": "stuck orders" })
        .to_string(),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let posted = eventually(
        "the approvers' message",
        || slack.calls_to("chat.postMessage"),
        |p| !p.is_empty(),
    )
    .remove(0);
    assert_eq!(posted["channel"], CHANNEL);
    let on = Posted {
        channel: CHANNEL.into(),
        ts: "1795000000.000001".into(),
        message: posted,
    };
    let body = form(json!({
        "type": "block_actions",
        "user": { "id": "U0BOB" },
        "response_url": slack.respond_url,
        "container": { "type": "message", "channel_id": on.channel, "message_ts": on.ts },
        "actions": [{ "type": "button", "action_id": "stint_approve",
                      "value": button_value(&on.message, "stint_approve") }]
    }));
    let at = DateTime::parse_from_rfc3339(clock)
        .unwrap()
        .with_timezone(&Utc);
    let post = |signed_at: DateTime<Utc>| {
        let ts = signed_at.timestamp().to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(&format!("{api}/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", &sign(SECRET, &ts, body.as_bytes()))
            .send(&body)
            .expect("the server answers")
            .status()
            .as_u16()
    };
    // The server's clock decides what is fresh: signed now by the wall clock is 401 there.
    assert_eq!(post(Utc::now()), 401);
    assert_eq!(post(at), 200);
    let shown = eventually(
        "the grant",
        || {
            http(
                "GET",
                &format!("{api}/requests/{id}"),
                &[("authorization", &auth)],
                "",
            )
            .1
        },
        |r| r["status"] == "active",
    );
    assert_eq!(shown["status"], "active");
    let updates = slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    assert!(updates[0]
        .to_string()
        .contains("*Approved* by bob@example.com"));
    let dm = eventually(
        "the requester's direct message with I'm done",
        || {
            slack.calls_to("chat.postMessage").into_iter().find(|m| {
                m["channel"] == "U0ALICE" && action_ids(m).contains(&"stint_done".to_owned())
            })
        },
        Option::is_some,
    );
    assert!(dm.unwrap().to_string().contains("is granted"));
}
