//! Periodic access reviews against the emulator: reviews through the routes of the functions
//! that serve them in AWS (approve for `POST /reviews/{id}`, request for `GET /reviews`), as
//! API Gateway events; reminders sent once per role, period and deadline step however often
//! and however concurrently they run (Slack stand-in, SES read back from moto); and the
//! report's coverage per role and review findings, tampering included.

use crate::support::call_router;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use stint_app::notify::{review_notice_stream, Notifier};
use stint_app::ports::{Clock, EventStore};
use stint_app::report::compile;
use stint_app::requests::NewRequest;
use stint_app::RetryPolicy;
use stint_aws::ses::SesMailer;
use stint_domain::report::Finding;
use stint_domain::{Catalog, Period, RequestId, ReviewComment, Verdict};
use stint_slack::SlackWebhook;
use stint_tests::aws::Fixture;
use stint_tests::slack::SlackStandIn;
use stint_tests::{alice, bob, mail_header, sample, ses_messages_from, ses_sender, who};

fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
}

fn carol() -> stint_domain::Identity {
    who("carol@example.com", &["sre"])
}
fn dave() -> stint_domain::Identity {
    who("dave@example.com", &["db-owners"])
}

/// A db-read grant for `who`, approved by bob, granted at the clock's time.
async fn db_read_grant(f: &Fixture, requester: &stint_domain::Identity) -> RequestId {
    let id = f
        .stint
        .submit(requester, f.db_read("investigate stuck orders"))
        .await
        .unwrap()
        .id;
    f.stint.approve(id, &bob(), None).await.unwrap();
    f.stint.grant(id).await.unwrap();
    assert!(f.state(id).await.grant.is_some());
    id
}

/// alice's logs-read grant (approvers: sre), approved by carol.
async fn logs_read_grant(f: &Fixture) -> RequestId {
    let new = NewRequest {
        scope: None,
        ..stint_tests::request("logs-read", "orders", &f.principal, "read the orders logs")
    };
    let id = f.stint.submit(&alice(), new).await.unwrap().id;
    f.stint.approve(id, &carol(), None).await.unwrap();
    f.stint.grant(id).await.unwrap();
    assert!(f.state(id).await.grant.is_some());
    id
}

/// The sample event as `user` in `groups`.
fn as_user(mut ev: Value, user: &str, groups: &str) -> Value {
    let claims = &mut ev["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["email"] = json!(user);
    claims["sub"] = json!(format!("{user}-sub"));
    claims["groups"] = json!(groups);
    ev
}

/// `POST /reviews/{id}` from the sample, with `body`.
fn review_event(id: RequestId, body: Value) -> Value {
    let mut ev = sample("apigw-review.json");
    let path = format!("/reviews/{id}");
    ev["rawPath"] = json!(path);
    ev["requestContext"]["http"]["path"] = json!(path);
    ev["pathParameters"]["id"] = json!(id.to_string());
    ev["body"] = json!(body.to_string());
    ev
}

/// `GET /reviews` from the sample, with `query`.
fn list_event(query: &str) -> Value {
    let mut ev = sample("apigw-list-reviews.json");
    ev["rawQueryString"] = json!(query);
    ev["queryStringParameters"] = json!(query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect::<serde_json::Map<_, _>>());
    ev
}

fn ids(listing: &Value) -> Vec<String> {
    listing["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["request_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn request_events(f: &Fixture) -> usize {
    f.log(at(10, 1, 0), at(12, 31, 0))
        .await
        .iter()
        .filter(|e| e.stream.request_id().is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviews_are_listed_per_period_and_recorded_once_through_the_functions_routes() {
    let f = Fixture::new(at(10, 20, 9)).await;
    let october = db_read_grant(&f, &alice()).await;
    f.clock.set(at(11, 29, 9));
    let g1 = db_read_grant(&f, &alice()).await;
    let g2 = db_read_grant(&f, &carol()).await;
    let pending = f
        .stint
        .submit(&alice(), f.db_read("never granted"))
        .await
        .unwrap()
        .id;
    // In AWS: GET on the request function, POST on the approve function.
    let reads = stint_http::requests_router(f.api());
    let decisions = stint_http::decisions_router(f.api());
    let list = |user: &'static str, groups: &'static str, q: &'static str| {
        let (reads, ev) = (reads.clone(), as_user(list_event(q), user, groups));
        async move { call_router(&reads, &ev).await }
    };

    let (status, nov) = list("bob@example.com", "[db-owners]", "period=2026-11").await;
    assert_eq!(status, 200, "{nov}");
    assert_eq!(ids(&nov), [g1.to_string(), g2.to_string()], "{nov}");
    assert!(!ids(&nov).contains(&pending.to_string()));
    assert_eq!(
        (
            nov["period"].as_str(),
            nov["deadline"].as_str(),
            &nov["overdue"]
        ),
        (Some("2026-11"), Some("2026-12-15T00:00:00Z"), &json!(false))
    );
    assert_eq!(
        nov["coverage"]["db-read"],
        json!({"grants": 2, "reviewed": 0, "appropriate": 0, "inappropriate": 0, "unreviewed": 2})
    );
    assert!(nov["grants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["may_review"] == true && g["review"].is_null()));
    assert_eq!(nov["grants"][1]["requester"], "carol@example.com");
    assert_eq!(nov["broken"], json!([]));
    // Each sees only what they may see; only an approver who is not the grantee may review.
    let (_, mine) = list("alice@example.com", "[sre]", "period=2026-11").await;
    assert_eq!(ids(&mine), [g1.to_string()]);
    assert_eq!(mine["grants"][0]["may_review"], false);
    let (_, stranger) = list("mallory@example.com", "[sales]", "period=2026-11").await;
    assert_eq!(ids(&stranger), Vec::<String>::new());
    let (_, auditor) = list("ann@example.com", "[audit]", "period=2026-11").await;
    assert_eq!(ids(&auditor).len(), 2);
    assert_eq!(auditor["grants"][0]["may_review"], false);
    let (_, oct) = list("bob@example.com", "[db-owners]", "period=2026-10").await;
    assert_eq!(ids(&oct), [october.to_string()]);
    let (_, default) = list("bob@example.com", "[db-owners]", "").await;
    assert_eq!(default["period"], "2026-11", "the current month by default");

    // bob reviews g1 (the sample body names the period, the grant's own); a redelivery of the
    // same review changes nothing.
    let before = request_events(&f).await;
    let body =
        json!({"verdict": "appropriate", "comment": "INC-4211 needed it", "period": "2026-11"});
    for _ in 0..3 {
        let (status, v) = call_router(&decisions, &review_event(g1, body.clone())).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["review"]["verdict"], "appropriate");
    }
    assert_eq!(request_events(&f).await, before + 1);
    let last = f.events(g1).await.pop().unwrap();
    assert_eq!(last.record.event_type, "GrantReviewed");
    assert_eq!(last.record.actor, "user:bob@example.com");
    assert_eq!(
        last.record.payload,
        json!({"reviewer": "bob@example.com", "verdict": "appropriate",
               "comment": "INC-4211 needed it", "period": "2026-11"})
    );
    // dave finds g2 inappropriate; the first review of each grant stands.
    let inappropriate = json!({"verdict": "inappropriate", "comment": "no incident then"});
    let (status, v) = call_router(
        &decisions,
        &as_user(
            review_event(g2, inappropriate),
            "dave@example.com",
            "[db-owners]",
        ),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = call_router(
        &decisions,
        &review_event(g2, json!({"verdict": "appropriate"})),
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("already_reviewed")),
        "{v}"
    );
    assert_eq!(request_events(&f).await, before + 2);

    let (_, nov) = list("bob@example.com", "[db-owners]", "period=2026-11").await;
    assert_eq!(
        nov["coverage"]["db-read"],
        json!({"grants": 2, "reviewed": 2, "appropriate": 1, "inappropriate": 1, "unreviewed": 0})
    );
    assert_eq!(nov["grants"][1]["review"]["reviewer"], "dave@example.com");
    assert!(nov["grants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["may_review"] == false));
    // The decisions of a period read back by it: what an evidence pack takes.
    let got = stint_app::reviews::period_grants(
        &f.store,
        Period::parse("2026-11").unwrap(),
        f.stint.catalog.settings.review_within,
        f.clock.now(),
        |_| true,
    )
    .await
    .unwrap();
    let verdicts: Vec<_> = got
        .review
        .grants
        .iter()
        .map(|g| g.review.as_ref().map(|r| r.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [Some(Verdict::Appropriate), Some(Verdict::Inappropriate)]
    );
}

/// The example catalog with the stand-in as its Slack webhook and a fresh SES sender.
struct Reminders {
    f: Fixture,
    notifier: Notifier,
    slack: SlackStandIn,
    sender: String,
}

async fn reminders(start: DateTime<Utc>) -> Reminders {
    let mut f = Fixture::new(start).await;
    let slack = SlackStandIn::start(0).await;
    let (ses, sender) = ses_sender("reviews").await;
    let mut catalog: Catalog = (*f.stint.catalog).clone();
    catalog.notify.slack_webhook = Some(slack.url.clone());
    catalog.notify.email_from = Some(sender.clone());
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
    Reminders {
        f,
        notifier,
        slack,
        sender,
    }
}

impl Reminders {
    /// Three reminder runs at once, as three deliveries of the schedule; the keys they sent.
    async fn run_thrice(&self) -> Vec<String> {
        let runs = futures::future::join_all((0..3).map(|_| self.notifier.remind_reviews())).await;
        let mut sent: Vec<String> = runs
            .into_iter()
            .flat_map(|r| r.expect("the reminders run").sent)
            .collect();
        sent.sort();
        sent
    }

    fn slack_titles(&self) -> Vec<String> {
        self.slack
            .received()
            .iter()
            .map(|p| p["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn mails(&self) -> Vec<(String, String)> {
        ses_messages_from(&self.sender)
            .iter()
            .map(|m| (mail_header(m, "To"), mail_header(m, "Subject")))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_role_is_reminded_once_per_period_and_deadline_step_however_often_it_runs() {
    let h = reminders(at(11, 20, 9)).await;
    let db = db_read_grant(&h.f, &alice()).await;
    logs_read_grant(&h.f).await;

    // Before the month ends there is nothing to remind of.
    h.f.clock.set(at(11, 30, 23));
    assert!(h.run_thrice().await.is_empty());
    assert!(h.slack.received().is_empty());

    // 1 December: the review of November opens, one reminder per role on each channel.
    h.f.clock.set(at(12, 1, 8));
    assert_eq!(
        h.run_thrice().await,
        [
            "db-read:opened:email",
            "db-read:opened:slack",
            "logs-read:opened:email",
            "logs-read:opened:slack"
        ]
    );
    // bob reviews the db-read grant; only logs-read is reminded from then on.
    h.f.stint
        .review_grant(db, &bob(), Verdict::Appropriate, None, None)
        .await
        .unwrap();
    h.f.clock.set(at(12, 3, 8));
    assert!(h.run_thrice().await.is_empty(), "opened was sent already");
    h.f.clock.set(at(12, 12, 8));
    assert_eq!(
        h.run_thrice().await,
        ["logs-read:due_soon:email", "logs-read:due_soon:slack"]
    );
    h.f.clock.set(at(12, 15, 8));
    assert_eq!(
        h.run_thrice().await,
        ["logs-read:overdue:email", "logs-read:overdue:slack"]
    );
    h.f.clock.set(at(12, 16, 8));
    assert!(h.run_thrice().await.is_empty());
    h.f.clock.set(at(12, 23, 8));
    assert!(h.run_thrice().await.is_empty(), "a week past the deadline");

    let mut titles = h.slack_titles();
    titles[..2].sort(); // the two roles' first reminders go out in either order
    assert_eq!(
        titles,
        [
            "Access review of db-read for 2026-11: 1 grant(s) to review by 2026-12-15T00:00:00Z",
            "Access review of logs-read for 2026-11: 1 grant(s) to review by 2026-12-15T00:00:00Z",
            "Access review of logs-read for 2026-11 is due 2026-12-15T00:00:00Z: 1 grant(s) still to review",
            "Access review of logs-read for 2026-11 is OVERDUE since 2026-12-15T00:00:00Z: 1 grant(s) unreviewed",
        ]
    );
    let post = h.slack.received().pop().unwrap().to_string();
    assert!(post.contains("stint review --period 2026-11"), "{post}");
    assert!(post.contains("Stint access review"), "{post}");
    let mut mails = h.mails();
    mails.sort();
    assert_eq!(mails.len(), 4, "{mails:?}");
    assert_eq!(
        mails
            .iter()
            .filter(|(to, _)| to == "db-owners@example.com")
            .count(),
        1
    );
    assert_eq!(
        mails
            .iter()
            .filter(|(to, _)| to == "sre@example.com")
            .count(),
        3
    );
    assert!(mails.iter().any(|(to, s)| to == "sre@example.com"
        && s == "[Stint] Access review of logs-read for 2026-11 is OVERDUE since 2026-12-15T00:00:00Z: 1 grant(s) unreviewed"));

    // The ledger holds each reminder once.
    let ledger =
        h.f.store
            .read_stream(&review_notice_stream(Period::parse("2026-11").unwrap()).unwrap())
            .await
            .unwrap();
    let sent: Vec<&str> = ledger
        .iter()
        .filter(|e| e.record.event_type == "NotificationSent")
        .map(|e| e.record.payload["key"].as_str().unwrap())
        .collect();
    assert_eq!(sent.len(), 8, "{sent:?}");
    let deliveries = 3 * 7;
    stint_tests::proof::duplicates(
        "review reminders, three runs at once at each of seven times",
        deliveries,
        (h.slack.received().len() + mails.len()).saturating_sub(8),
    );
}

/// A report window and its clock: `from`, `to`, `now`.
struct Window(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>);

async fn report(f: &Fixture, w: Window) -> stint_domain::report::Report {
    compile(
        &f.store,
        w.0,
        w.1,
        w.2,
        f.stint.catalog.settings.review_within,
    )
    .await
    .unwrap()
}

fn review_findings(r: &stint_domain::report::Report) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = r
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::GrantNotReviewed { id, .. } => Some(("not_reviewed".into(), id.clone())),
            Finding::GrantInappropriate { id, .. } => Some(("inappropriate".into(), id.clone())),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_report_shows_coverage_per_role_and_unreviewed_or_inappropriate_grants() {
    let f = Fixture::new(at(10, 28, 9)).await;
    let october = db_read_grant(&f, &alice()).await;
    f.clock.set(at(11, 20, 9));
    let fine = db_read_grant(&f, &alice()).await;
    let bad = db_read_grant(&f, &carol()).await;
    let unreviewed = db_read_grant(&f, &alice()).await;
    let logs = logs_read_grant(&f).await;
    f.clock.set(at(11, 24, 9));
    f.stint
        .review_grant(fine, &bob(), Verdict::Appropriate, None, None)
        .await
        .unwrap();
    let why = ReviewComment::parse("<b>no incident</b> at the time").unwrap();
    f.stint
        .review_grant(bad, &dave(), Verdict::Inappropriate, Some(why), None)
        .await
        .unwrap();

    // A week of November, before the deadline: coverage, and the inappropriate grant alone.
    let r = report(&f, Window(at(11, 20, 0), at(11, 27, 0), at(11, 27, 0))).await;
    assert!(r.verified, "{:?}", r.findings);
    let periods: Vec<String> = r.reviews.iter().map(|p| p.period.to_string()).collect();
    assert_eq!(periods, ["2026-11"]);
    let nov = &r.reviews[0];
    assert!(!nov.overdue);
    let cov = |role: &str| {
        let c = &nov.by_role[role];
        (
            c.grants,
            c.reviewed,
            c.appropriate,
            c.inappropriate,
            c.unreviewed,
        )
    };
    assert_eq!(cov("db-read"), (3, 2, 1, 1, 1));
    assert_eq!(cov("logs-read"), (1, 0, 0, 0, 1));
    assert_eq!(
        review_findings(&r),
        [("inappropriate".into(), bad.to_string())]
    );

    // The week holding the deadline (15 December): every unreviewed November grant too,
    // though nothing happened to them that week. October's grant is October's.
    let r = report(&f, Window(at(12, 9, 0), at(12, 16, 0), at(12, 16, 0))).await;
    assert!(r.verified);
    let periods: Vec<String> = r.reviews.iter().map(|p| p.period.to_string()).collect();
    assert_eq!(periods, ["2026-11", "2026-12"]);
    assert!(r.reviews[0].overdue);
    let mut expected = vec![
        ("inappropriate".to_owned(), bad.to_string()),
        ("not_reviewed".to_owned(), logs.to_string()),
        ("not_reviewed".to_owned(), unreviewed.to_string()),
    ];
    expected.sort();
    assert_eq!(review_findings(&r), expected);
    assert!(!review_findings(&r)
        .iter()
        .any(|(_, id)| *id == october.to_string()));

    // As people read it: a coverage table, the findings named, the comment escaped.
    let html = stint_app::render::report::to_html(&r);
    assert!(html.contains("<h2>Access reviews</h2>"), "{html}");
    assert!(
        html.contains("<td>db-read</td><td>3</td><td>2</td><td>1</td><td>1</td><td class=\"bad\">1</td><td>67%</td>"),
        "{html}"
    );
    assert!(html.contains(
        "judged inappropriate by dave@example.com: &lt;b&gt;no incident&lt;/b&gt; at the time"
    ));
    assert!(!html.contains("<b>no incident"));
    let text = stint_app::render::report::to_text(&r);
    assert!(
        text.contains("db-read: 2 of 3 reviewed (67%), 1 inappropriate, 1 unreviewed"),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["reviews"][0]["by_role"]["logs-read"]["unreviewed"], 1);
    assert_eq!(json["reviews"][0]["period"], "2026-11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_inappropriate_verdict_rewritten_in_the_table_is_named_by_the_report_and_the_listing() {
    let f = Fixture::new(at(11, 20, 9)).await;
    let bad = db_read_grant(&f, &alice()).await;
    let why = ReviewComment::parse("no ticket").unwrap();
    f.stint
        .review_grant(bad, &bob(), Verdict::Inappropriate, Some(why), None)
        .await
        .unwrap();
    let version = f.events(bad).await.len();
    // Someone with write access to the table turns the verdict into "appropriate".
    stint_tests::dynamodb_client()
        .await
        .update_item()
        .table_name(f.store.table())
        .key("stream", AttributeValue::S(bad.stream().to_string()))
        .key("version", AttributeValue::N(version.to_string()))
        .update_expression("SET payload = :p")
        .expression_attribute_values(
            ":p",
            AttributeValue::S(
                r#"{"reviewer":"bob@example.com","verdict":"appropriate","comment":"no ticket","period":"2026-11"}"#
                    .into(),
            ),
        )
        .send()
        .await
        .unwrap();
    let r = report(&f, Window(at(12, 9, 0), at(12, 16, 0), at(12, 16, 0))).await;
    let named = r.findings.iter().any(|x| {
        matches!(x, Finding::ChainBroken { stream, version: v, .. }
            if *stream == bad.stream().to_string() && *v == version as u64)
    });
    stint_tests::proof::tampering(
        "access review verdict edited in DynamoDB",
        named && !r.verified,
    );
    assert!(named && !r.verified, "{:?}", r.findings);
    let listing = f
        .stint
        .reviews(&bob(), Period::parse("2026-11").unwrap())
        .await
        .unwrap();
    assert_eq!(listing.broken.len(), 1);
    assert_eq!(listing.broken[0].stream, bad.stream().to_string());
}
