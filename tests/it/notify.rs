//! Notifications against the emulator: Slack payloads captured by a local stand-in for the
//! webhook endpoint, emails read back from moto's SES; duplicate delivery, retries, and a
//! failing channel that never touches the request.

use serde_json::Value;
use std::sync::Arc;
use stint_app::notify::{notice_stream, Notifier, NotifyError};
use stint_app::ports::{EventStore, TimerKind};
use stint_app::RetryPolicy;
use stint_aws::scheduler::at_expression;
use stint_aws::ses::SesMailer;
use stint_domain::{AccessDuration, Catalog, RequestId, RoleName, Status};
use stint_slack::SlackWebhook;
use stint_tests::aws::Fixture;
use stint_tests::slack::SlackStandIn;
use stint_tests::{alice, bob, mail_header, ses_messages_from, ses_sender, t0, who};

/// Its justification, escaped in Slack's markup.
const WHY: &str = "Investigate stuck orders <INC-7>";

struct Harness {
    f: Fixture,
    notifier: Notifier,
    slack: SlackStandIn,
    sender: String,
}

impl Harness {
    /// alice's db-read request, and the id of its first event (`AccessRequested`).
    async fn requested(&self) -> (RequestId, String) {
        let new = self.f.db_read(WHY);
        let id = self.f.stint.submit(&alice(), new).await.unwrap().id;
        (id, self.f.event_id(id, 1).await)
    }
}

/// The example catalog with the stand-in as its Slack webhook and a fresh SES sender.
async fn harness(slack_fails_first: usize) -> Harness {
    let mut f = Fixture::new(t0()).await;
    let slack = SlackStandIn::start(slack_fails_first).await;
    let (ses, sender) = ses_sender("notify").await;
    let mut catalog: Catalog = (*f.stint.catalog).clone();
    catalog.notify.slack_webhook = Some(slack.url.clone());
    catalog.notify.email_from = Some(sender.clone());
    catalog.notify.link = Some("https://stint.example.com/console/requests/{id}".into());
    let catalog = Arc::new(catalog);
    f.stint.catalog = catalog.clone();
    let notifier = Notifier {
        store: Arc::new(f.store.clone()),
        catalog,
        clock: f.clock.clone(),
        chat: Arc::new(SlackWebhook::default()),
        mailer: Some(Arc::new(SesMailer::new(ses))),
        slack_bot: None,
        retry: RetryPolicy::IMMEDIATE,
    };
    Harness {
        f,
        notifier,
        slack,
        sender,
    }
}

fn text_body(raw: &str) -> String {
    let mail = mailparse::parse_mail(raw.as_bytes()).unwrap();
    mail.subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .map(|p| p.get_body().unwrap())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvers_then_requester_are_told_once_each_on_slack_and_by_email() {
    let h = harness(0).await;
    // AccessRequested, delivered three times: one Slack post, one email to the approvers.
    let (id, requested) = h.requested().await;
    let first = h.notifier.notify(id, &requested).await.unwrap();
    assert_eq!(first.sent, ["approvers:slack", "approvers:email"]);
    for _ in 0..2 {
        let again = h.notifier.notify(id, &requested).await.unwrap();
        assert!(again.sent.is_empty(), "{again:?}");
        assert_eq!(again.already_sent.len(), 2);
    }
    let posts = h.slack.received();
    assert_eq!(posts.len(), 1);
    let blocks = posts[0]["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("alice@example.com asks for db-read"),
        "{}",
        posts[0]
    );
    let fields = posts[0].to_string();
    assert!(
        fields.contains("Investigate stuck orders &lt;INC-7&gt;"),
        "{fields}"
    );
    let button = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    assert_eq!(
        button["elements"][0]["url"],
        format!("https://stint.example.com/console/requests/{id}").as_str()
    );

    let mails = ses_messages_from(&h.sender);
    assert_eq!(mails.len(), 1);
    assert_eq!(mail_header(&mails[0], "To"), "db-owners@example.com");
    assert!(mail_header(&mails[0], "Subject").contains("awaiting your approval"));
    let body = text_body(&mails[0]);
    assert!(
        body.contains("Role: db-read") && body.contains("Scope: orders"),
        "{body}"
    );
    assert!(body.contains(&format!("https://stint.example.com/console/requests/{id}")));

    // Approval, grant and revoke reach the requester.
    h.f.stint.approve(id, &bob(), None).await.unwrap();
    h.f.stint.grant(id).await.unwrap();
    h.f.stint.revoke_by(id, &alice()).await.unwrap();
    let events = h.f.events(id).await;
    for e in &events {
        for _ in 0..3 {
            h.notifier.notify(id, &e.record.event_id).await.unwrap();
        }
    }
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.record.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "AccessRequested",
            "ApprovalRecorded",
            "AccessApproved",
            "AccessGranted",
            "AccessRevoked"
        ]
    );
    let mails = ses_messages_from(&h.sender);
    let to_alice: Vec<String> = mails
        .iter()
        .filter(|m| mail_header(m, "To") == "alice@example.com")
        .map(|m| mail_header(m, "Subject"))
        .collect();
    assert_eq!(
        to_alice,
        [
            "[Stint] Your request for db-read was approved",
            "[Stint] Access to db-read is granted",
            "[Stint] Access to db-read is revoked",
        ]
    );
    stint_tests::proof::duplicates(
        "notify handler",
        3 * events.len(),
        (h.slack.received().len() + mails.len()).saturating_sub(8),
    );
    assert_eq!(
        h.slack.received().len(),
        4,
        "one post per notice, none repeated"
    );
    assert_eq!(mails.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn break_glass_tells_every_approver() {
    let h = harness(0).await;
    let carol = who("carol@example.com", &["sre"]);
    let mut new = h.f.db_read(WHY);
    new.role = RoleName::parse("db-write").unwrap();
    new.break_glass = true;
    let id = h.f.stint.submit(&carol, new).await.unwrap().id;
    let events = h.f.events(id).await;
    for e in &events {
        h.notifier.notify(id, &e.record.event_id).await.unwrap();
    }
    let mails = ses_messages_from(&h.sender);
    assert_eq!(
        mails.len(),
        1,
        "break-glass only; the requester approved herself"
    );
    let to = mail_header(&mails[0], "To");
    assert!(
        to.contains("db-owners@example.com") && to.contains("sre-leads@example.com"),
        "{to}"
    );
    assert!(mail_header(&mails[0], "Subject").contains("BREAK-GLASS"));
    let posts = h.slack.received();
    assert_eq!(posts.len(), 1);
    assert!(posts[0]["text"]
        .as_str()
        .unwrap()
        .contains(":rotating_light: BREAK-GLASS"));
    assert_eq!(
        posts[0]["blocks"].as_array().unwrap().last().unwrap()["elements"][0]["style"],
        "danger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_channel_is_retried_recorded_and_never_touches_the_request() {
    // Two 500s, then success: retried within the budget (3 attempts), sent once.
    let h = harness(2).await;
    let (id, requested) = h.requested().await;
    let report = h.notifier.notify(id, &requested).await.unwrap();
    assert_eq!(report.sent, ["approvers:slack", "approvers:email"]);
    assert_eq!((h.slack.attempts(), h.slack.received().len()), (3, 1));

    // Slack down for good: the email still goes, the failure is recorded and returned (so
    // EventBridge redelivers), and the request carries on untouched.
    let h = harness(usize::MAX).await;
    let (id, requested) = h.requested().await;
    let before = h.f.events(id).await;
    match h.notifier.notify(id, &requested).await {
        Err(NotifyError::Failed(f)) => {
            assert_eq!(f.len(), 1);
            assert!(f[0].starts_with("approvers:slack"), "{f:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(h.slack.attempts(), 3);
    assert_eq!(ses_messages_from(&h.sender).len(), 1);
    let record =
        h.f.store
            .read_stream(&notice_stream(&requested).unwrap())
            .await
            .unwrap();
    let kinds: Vec<&str> = record
        .iter()
        .map(|e| e.record.event_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "NotificationClaimed",
            "NotificationFailed",
            "NotificationClaimed",
            "NotificationSent"
        ]
    );
    assert_eq!(record[1].record.payload["attempts"], 3);
    assert!(
        !record[1].record.payload.to_string().contains("secret"),
        "the webhook URL stays out of the log"
    );
    // Redelivery retries only what failed: the email is not sent twice.
    let _ = h.notifier.notify(id, &requested).await;
    assert_eq!(ses_messages_from(&h.sender).len(), 1);
    assert_eq!(h.f.events(id).await, before);
    let approved = h.f.stint.approve(id, &bob(), None).await.unwrap();
    assert_eq!(approved.state.status, Status::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_notify_function_answers_its_sample_bus_event() {
    let h = harness(0).await;
    let id = RequestId::parse(stint_tests::SAMPLE_ID).unwrap();
    h.f.stint
        .submit_with_id(id, &alice(), h.f.db_read(WHY))
        .await
        .unwrap();
    let mut event: Value = stint_tests::sample("eventbridge-notify.json");
    event["detail"]["event_id"] = h.f.event_id(id, 1).await.into();
    for _ in 0..3 {
        stint_aws::lambda::handle_notify(
            &h.notifier,
            lambda_runtime::LambdaEvent::new(event.clone(), lambda_runtime::Context::default()),
        )
        .await
        .unwrap();
    }
    assert_eq!(h.slack.received().len(), 1);
    assert_eq!(ses_messages_from(&h.sender).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_with_its_own_webhook_and_addresses_uses_them() {
    let mut h = harness(0).await;
    let own = SlackStandIn::start(0).await;
    let mut catalog: Catalog = (*h.notifier.catalog).clone();
    let role = catalog
        .roles
        .get_mut(&RoleName::parse("db-read").unwrap())
        .unwrap();
    role.notify.slack_webhook = Some(own.url.clone());
    role.notify.approver_emails = vec!["dba-oncall@example.com".into()];
    h.notifier.catalog = Arc::new(catalog);
    let (id, requested) = h.requested().await;
    h.notifier.notify(id, &requested).await.unwrap();
    assert_eq!((own.received().len(), h.slack.received().len()), (1, 0));
    let mails = ses_messages_from(&h.sender);
    assert_eq!(mails.len(), 1);
    let to = mail_header(&mails[0], "To");
    assert!(
        to.contains("db-owners@example.com") && to.contains("dba-oncall@example.com"),
        "{to}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_deliveries_at_once_send_once() {
    let h = harness(0).await;
    let (id, requested) = h.requested().await;
    let reports =
        futures::future::join_all((0..3).map(|_| h.notifier.notify(id, &requested))).await;
    let sent: usize = reports.iter().map(|r| r.as_ref().unwrap().sent.len()).sum();
    let (posts, mails) = (h.slack.received().len(), ses_messages_from(&h.sender).len());
    stint_tests::proof::duplicates(
        "notify handler, three deliveries at once",
        3,
        (posts + mails).saturating_sub(2),
    );
    assert_eq!(sent, 2, "one Slack post and one email in all: {reports:?}");
    assert_eq!((posts, mails), (1, 1));
}

// --- expiry reminders (issue 16, part 3) ---------------------------------------------------

/// The Slack posts and emails that are expiry reminders, by title and subject.
fn reminders(h: &Harness) -> (Vec<String>, Vec<String>) {
    let posts = h
        .slack
        .received()
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
        .filter(|t| t.contains("expires in"))
        .collect();
    let mails = ses_messages_from(&h.sender)
        .iter()
        .map(|m| mail_header(m, "Subject"))
        .filter(|s| s.contains("expires in"))
        .collect();
    (posts, mails)
}

/// The reminder timer's schedule: its `at()`, its target and what it delivers.
async fn reminder_schedule(h: &Harness, id: RequestId) -> Option<(String, String, Value)> {
    let s =
        h.f.scheduler
            .get_schedule()
            .name(TimerKind::RemindSoon.schedule_name(id))
            .group_name(&h.f.group)
            .send()
            .await
            .ok()?;
    let target = s.target().expect("a target");
    Some((
        s.schedule_expression().unwrap_or_default().to_owned(),
        target.arn().to_owned(),
        serde_json::from_str(target.input().unwrap_or_default()).unwrap(),
    ))
}

/// The notify function's entry point, as EventBridge Scheduler invokes it.
async fn fire(h: &Harness, id: RequestId) -> Value {
    stint_aws::lambda::handle_notify(
        &h.notifier,
        lambda_runtime::LambdaEvent::new(
            serde_json::json!({ "request_id": id, "kind": "remind_soon" }),
            lambda_runtime::Context::default(),
        ),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expiry_reminder_reaches_the_requester_once_and_moves_with_an_extension() {
    let h = harness(0).await;
    let id = h.f.granted().await;
    let expiry = h.f.state(id).await.grant.unwrap().expires_at;
    let ten = chrono::TimeDelta::minutes(10);
    // Given the grant, its reminder timer invokes the notify function ten minutes before expiry.
    let (at, target, input) = reminder_schedule(&h, id).await.expect("a reminder timer");
    assert_eq!(at, at_expression(expiry - ten));
    assert_eq!(target, stint_tests::aws::NOTIFY_FN);
    assert_eq!(
        input,
        serde_json::json!({ "request_id": id.to_string(), "kind": "remind_soon" })
    );
    // Delivered early, it finds nothing due.
    assert_eq!(fire(&h, id).await["sent"], serde_json::json!([]));

    // When it fires three times at its time: one Slack post and one email to alice.
    h.f.clock.set(expiry - ten);
    for _ in 0..3 {
        fire(&h, id).await;
    }
    let (posts, mails) = reminders(&h);
    stint_tests::proof::duplicates(
        "expiry reminder, three deliveries of its timer",
        3,
        (posts.len() + mails.len()).saturating_sub(2),
    );
    assert_eq!(posts, ["Your access to db-read expires in 10 minutes"]);
    assert_eq!(
        mails,
        ["[Stint] Your access to db-read expires in 10 minutes"]
    );
    let raw = ses_messages_from(&h.sender)
        .into_iter()
        .find(|m| mail_header(m, "Subject").contains("expires in"))
        .unwrap();
    assert_eq!(mail_header(&raw, "To"), "alice@example.com");
    let body = text_body(&raw);
    // db-read lets its requesters extend by its default hour: the reminder says how.
    assert!(
        body.contains(&format!("stint extend {id} --for 1h"))
            && body.contains(&format!("https://stint.example.com/console/requests/{id}")),
        "{body}"
    );
    let post = h
        .slack
        .received()
        .into_iter()
        .find(|p| {
            p["text"]
                .as_str()
                .unwrap_or_default()
                .contains("expires in")
        })
        .unwrap();
    assert!(post.to_string().contains("Open request"), "{post}");

    // When alice extends, the reminder moves to ten minutes before the new expiry.
    h.f.stint
        .extend(id, &alice(), AccessDuration::parse("1h").unwrap())
        .await
        .unwrap();
    h.f.stint.apply_extension(id).await.unwrap();
    let new_expiry = h.f.state(id).await.grant.unwrap().expires_at;
    assert_eq!(new_expiry, expiry + chrono::TimeDelta::hours(1));
    let (at, _, _) = reminder_schedule(&h, id).await.expect("the moved timer");
    assert_eq!(at, at_expression(new_expiry - ten));
    // The old timer delivered again now: nothing more.
    assert_eq!(fire(&h, id).await["sent"], serde_json::json!([]));
    assert_eq!(reminders(&h).0.len(), 1);
    // At the new time: a reminder of the new expiry, once.
    h.f.clock.set(new_expiry - ten);
    fire(&h, id).await;
    fire(&h, id).await;
    let (posts, mails) = reminders(&h);
    assert_eq!((posts.len(), mails.len()), (2, 2), "{posts:?} {mails:?}");
    // The ledger holds one claim and one send per reminder, expiry and channel.
    let ledger =
        h.f.store
            .read_stream(&stint_app::notify::expiry_notice_stream(id).unwrap())
            .await
            .unwrap();
    let sent = ledger
        .iter()
        .filter(|e| e.record.event_type == "NotificationSent")
        .count();
    assert_eq!(sent, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grant_revoked_early_loses_its_reminder_timer_and_is_never_reminded() {
    let h = harness(0).await;
    let id = h.f.granted().await;
    let expiry = h.f.state(id).await.grant.unwrap().expires_at;
    assert!(reminder_schedule(&h, id).await.is_some());
    h.f.clock.advance(chrono::TimeDelta::minutes(5));
    h.f.stint.revoke_by(id, &alice()).await.unwrap();
    assert!(
        reminder_schedule(&h, id).await.is_none(),
        "the revoke clears the reminder timer"
    );
    // A delivery of the timer anyway (one in flight) says nothing.
    h.f.clock.set(expiry - chrono::TimeDelta::minutes(10));
    let out = fire(&h, id).await;
    assert_eq!(out["sent"], serde_json::json!([]), "{out}");
    assert_eq!(reminders(&h), (vec![], vec![]));
}
