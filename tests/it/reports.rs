//! Compliance reports from a seeded log on the emulator: every kind of request and outcome over
//! several days gives exactly the expected rows, summary and findings; tampering shows; the
//! email (read back from moto) carries the CSV; the archive holds the copy; HTML is escaped.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use stint_app::ports::{AccessProvider, ProviderError, TimerKind};
use stint_app::render::report::{finding_id, finding_kind, to_csv, to_html};
use stint_app::report::{compile, deliver, Delivery, Recipients};
use stint_app::Stint;
use stint_aws::s3::S3Archive;
use stint_aws::ses::SesMailer;
use stint_domain::report::{Finding, Report};
use stint_domain::{AccessDuration, PrincipalArn, RequestId, RevokeReason, Source, TicketRef};
use stint_tests::aws::Fixture;
use stint_tests::{alice, bob, mail_header, november, request, ses_messages_from, ses_sender, who};

/// The seeded log spans 20 to 23 November.
fn day(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    november(d, h, m, 0)
}

/// Deletes always fail, as a throttled IAM would: for a revoke that fails.
struct FailingDelete(Arc<dyn AccessProvider>);
#[async_trait]
impl AccessProvider for FailingDelete {
    async fn put_policy(&self, p: &PrincipalArn, n: &str, d: &Value) -> Result<(), ProviderError> {
        self.0.put_policy(p, n, d).await
    }
    async fn delete_policy(&self, _: &PrincipalArn, _: &str) -> Result<bool, ProviderError> {
        Err(ProviderError::Throttled("Throttling: rate exceeded".into()))
    }
    async fn resolve(&self, p: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        self.0.resolve(p).await
    }
    async fn inline_policies(
        &self,
        p: &PrincipalArn,
    ) -> Result<Vec<stint_domain::budget::InlinePolicy>, ProviderError> {
        self.0.inline_policies(p).await
    }
}

/// What was seeded, by name.
struct Seeded {
    ids: Vec<(&'static str, RequestId)>,
}
impl Seeded {
    fn id(&self, name: &str) -> String {
        self.ids
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .to_string()
    }
}

async fn seed(f: &Fixture) -> Seeded {
    let s = &f.stint;
    let p = &f.principal;
    let mut ids = Vec::new();
    // Day 20: approved after 10 minutes, granted, revoked by its timer 2 s late.
    f.clock.set(day(20, 9, 0));
    let a = s
        .submit(
            &alice(),
            request(
                "db-read",
                "orders",
                p,
                "stuck orders <script>alert('x')</script> \"quoted\" ünïcode",
            ),
        )
        .await
        .unwrap()
        .id;
    f.clock.set(day(20, 9, 10));
    s.approve(a, &bob(), None).await.unwrap();
    s.grant(a).await.unwrap();
    f.clock.set(day(20, 10, 10) + Duration::seconds(2));
    s.revoke(a, RevokeReason::Expired, None).await.unwrap();
    ids.push(("expired", a));
    f.clock.set(day(20, 11, 0));
    let b = s
        .submit(&alice(), request("db-read", "orders", p, "denied one"))
        .await
        .unwrap()
        .id;
    s.deny(b, &bob(), Some("use the replica".into()))
        .await
        .unwrap();
    ids.push(("denied", b));
    let c = s
        .submit(&alice(), request("db-read", "payments", p, "cancelled one"))
        .await
        .unwrap()
        .id;
    s.cancel(c, &alice()).await.unwrap();
    ids.push(("cancelled", c));

    // Day 21: an alert approved by rule, revoked when the incident resolved; a pipeline; break-glass.
    f.clock.set(day(21, 3, 0));
    let mut alert = request("db-read", "orders", p, "alarm orders-5xx");
    alert.source = Source::Alert {
        service: "orders".into(),
        alarm: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-5xx".into(),
        incident: "INC-9".into(),
        authenticated: true,
    };
    let d = s.submit(&alice(), alert).await.unwrap().id;
    s.grant(d).await.unwrap();
    f.clock.set(day(21, 3, 40));
    s.revoke(d, RevokeReason::IncidentResolved, None)
        .await
        .unwrap();
    ids.push(("alert", d));
    let ci = format!("ci-{}", &stint_tests::unique_name("x")[2..]);
    f.ensure_role(&ci).await;
    let ci_arn =
        PrincipalArn::parse(&format!("arn:aws:iam::123456789012:role/stint/{ci}")).unwrap();
    let mut pipeline = request("deploy", "orders-api", &ci_arn, "deploy PR 42");
    pipeline.ticket = Some(TicketRef::parse("https://github.com/acme/orders/pull/42").unwrap());
    pipeline.duration = Some(AccessDuration::parse("15m").unwrap());
    pipeline.source = Source::Pipeline {
        repository: "acme/orders".into(),
        git_ref: "refs/heads/main".into(),
        environment: Some("production".into()),
    };
    let e = s
        .submit(&who("repo:acme/orders:ref:refs/heads/main", &[]), pipeline)
        .await
        .unwrap()
        .id;
    s.grant(e).await.unwrap();
    ids.push(("pipeline", e));
    for (name, reviewed) in [
        ("break_glass_unreviewed", false),
        ("break_glass_reviewed", true),
    ] {
        let mut bg = request("db-write", "orders", p, "prod is down");
        bg.break_glass = true;
        let id = s.submit(&alice(), bg).await.unwrap().id;
        s.grant(id).await.unwrap();
        if reviewed {
            s.review_break_glass(id, &bob(), Some("justified".into()))
                .await
                .unwrap();
        }
        ids.push((name, id));
    }

    // Day 22: lapsed, grant failed, a late sweep, one left active, one whose revoke failed.
    f.clock.set(day(22, 0, 0));
    let h = s
        .submit(
            &alice(),
            request("db-read", "inventory", p, "nobody answered"),
        )
        .await
        .unwrap()
        .id;
    f.clock.set(day(23, 0, 30));
    s.execute(h, &stint_domain::Command::Lapse).await.unwrap();
    ids.push(("lapsed", h));
    f.clock.set(day(22, 8, 0));
    let missing = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/gone").unwrap();
    let i = s
        .submit(
            &alice(),
            request("db-read", "orders", &missing, "role was deleted"),
        )
        .await
        .unwrap()
        .id;
    s.approve(i, &bob(), None).await.unwrap();
    s.grant(i).await.unwrap();
    ids.push(("grant_failed", i));
    let j = s
        .submit(&alice(), request("db-read", "orders", p, "late sweep"))
        .await
        .unwrap()
        .id;
    s.approve(j, &bob(), None).await.unwrap();
    s.grant(j).await.unwrap();
    s.timers.clear(j, TimerKind::Expiry).await.unwrap();
    f.clock.set(day(22, 9, 5));
    s.revoke(j, RevokeReason::Sweep, None).await.unwrap();
    ids.push(("late", j));
    let k = s
        .submit(&alice(), request("db-read", "orders", p, "never revoked"))
        .await
        .unwrap()
        .id;
    s.approve(k, &bob(), None).await.unwrap();
    s.grant(k).await.unwrap();
    ids.push(("still_active", k));
    let l = s
        .submit(&alice(), request("db-read", "orders", p, "revoke fails"))
        .await
        .unwrap()
        .id;
    s.approve(l, &bob(), None).await.unwrap();
    s.grant(l).await.unwrap();
    let failing = Stint {
        access: Arc::new(FailingDelete(s.access.clone())),
        ..s.clone()
    };
    f.clock.set(day(22, 11, 0));
    assert!(failing
        .revoke(l, RevokeReason::Expired, None)
        .await
        .is_err());
    ids.push(("revoke_failed", l));
    Seeded { ids }
}

/// The catalog's review window, as the report function and `GET /reports` pass it.
fn within(f: &Fixture) -> AccessDuration {
    f.stint.catalog.settings.review_within
}

fn period() -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    (day(20, 0, 0), day(23, 0, 0), day(23, 12, 0))
}

fn finding_set(r: &Report) -> BTreeSet<(String, String)> {
    r.findings
        .iter()
        .map(|f| {
            (
                finding_kind(f).to_owned(),
                finding_id(f).unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seeded_log_gives_exactly_the_expected_rows_summary_and_findings() {
    let f = Fixture::new(day(20, 0, 0)).await;
    let seeded = seed(&f).await;
    let (from, to, now) = period();
    let r = compile(&f.store, from, to, now, within(&f)).await.unwrap();

    assert!(r.verified, "{:?}", r.findings);
    assert_eq!(r.rows.len(), 12);
    let row = |name: &str| r.rows.iter().find(|x| x.id == seeded.id(name)).unwrap();
    let a = row("expired");
    assert_eq!(
        (
            a.source,
            a.approved_by.as_deref(),
            a.revoke_reason.as_deref()
        ),
        ("person", Some("bob@example.com"), Some("expired"))
    );
    assert_eq!(
        (a.requested_secs, a.actual_secs, a.revoke_lag_secs),
        (3_600, Some(3_602), Some(2))
    );
    assert_eq!(a.requested_at, Some(day(20, 9, 0)));
    assert_eq!(a.expires_at, Some(day(20, 10, 10)));
    let d = row("alert");
    assert_eq!(
        (d.source, d.approved_by.as_deref(), d.reference.as_deref()),
        ("alert", Some("rule:oncall-db-read"), Some("INC-9"))
    );
    assert_eq!(
        (d.revoke_reason.as_deref(), d.actual_secs),
        (Some("incident_resolved"), Some(2_400))
    );
    let e = row("pipeline");
    assert_eq!(
        (e.source, e.approved_by.as_deref()),
        ("pipeline", Some("rule:ci-main"))
    );
    assert_eq!(
        e.reference.as_deref(),
        Some("https://github.com/acme/orders/pull/42")
    );
    assert_eq!(row("break_glass_reviewed").source, "break_glass");
    assert_eq!(row("late").revoke_lag_secs, Some(300));

    let s = &r.summary;
    assert_eq!(s.requests, 12);
    let count =
        |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    assert_eq!(
        (
            count(&s.by_source, "person"),
            count(&s.by_source, "alert"),
            count(&s.by_source, "pipeline"),
            count(&s.by_source, "break_glass")
        ),
        (8, 1, 1, 2)
    );
    assert_eq!(
        (
            count(&s.by_role, "db-read"),
            count(&s.by_role, "db-write"),
            count(&s.by_role, "deploy")
        ),
        (9, 2, 1)
    );
    let outcomes: Vec<(&str, u64)> = s.by_outcome.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        outcomes,
        [
            ("active", 5),
            ("cancelled", 1),
            ("denied", 1),
            ("grant_failed", 1),
            ("lapsed", 1),
            ("revoked", 3)
        ]
    );
    assert_eq!(s.top_requesters[0], ("alice@example.com".to_owned(), 11));
    assert_eq!(
        s.median_secs_to_approve,
        Some(0),
        "most approvals were immediate"
    );
    assert!(
        (s.access_hours_by_role["deploy"] - 0.25).abs() < 1e-9,
        "{:?}",
        s.access_hours_by_role
    );

    let expected: BTreeSet<(String, String)> = [
        ("break_glass_not_reviewed", "break_glass_unreviewed"),
        ("automatic_approval", "alert"),
        ("automatic_approval", "pipeline"),
        ("revoke_lag", "late"),
        ("active_past_expiry", "still_active"),
        ("active_past_expiry", "revoke_failed"),
        ("active_past_expiry", "pipeline"),
        ("active_past_expiry", "break_glass_unreviewed"),
        ("active_past_expiry", "break_glass_reviewed"),
        ("grant_failed", "grant_failed"),
        ("revoke_failed", "revoke_failed"),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), seeded.id(n)))
    .collect();
    assert_eq!(finding_set(&r), expected);

    // The CSV has one row per request plus the header, and parses back.
    let csv_text = to_csv(&r).unwrap();
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let parsed: Vec<csv::StringRecord> = rd.records().map(|x| x.unwrap()).collect();
    assert_eq!(parsed.len(), 12);
    assert!(
        parsed
            .iter()
            .any(|rec| &rec[7] == "stuck orders <script>alert('x')</script> \"quoted\" ünïcode"),
        "CSV keeps the text exactly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn html_escapes_hostile_justifications() {
    let f = Fixture::new(day(20, 0, 0)).await;
    seed(&f).await;
    let (from, to, now) = period();
    let html = to_html(&compile(&f.store, from, to, now, within(&f)).await.unwrap());
    assert!(!html.contains("<script>"), "no live script tag");
    // maud escapes & < > and ", which covers text and its double-quoted attributes: a ' stays.
    assert!(html.contains(
        "stuck orders &lt;script&gt;alert('x')&lt;/script&gt; &quot;quoted&quot; ünïcode"
    ));
    assert!(
        html.contains("<svg") && html.contains("<rect"),
        "the chart is inline SVG"
    );
    assert!(html.contains("verified"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampering_with_a_stored_event_shows_in_the_report() {
    let f = Fixture::new(day(20, 0, 0)).await;
    let seeded = seed(&f).await;
    let target = RequestId::parse(&seeded.id("denied")).unwrap();
    let client = stint_tests::dynamodb_client().await;
    client
        .update_item()
        .table_name(f.store.table())
        .key("stream", AttributeValue::S(target.stream().to_string()))
        .key("version", AttributeValue::N("2".into()))
        .update_expression("SET payload = :p")
        .expression_attribute_values(
            ":p",
            AttributeValue::S(
                r#"{"approver":"bob@example.com","reason":"approved, honest"}"#.into(),
            ),
        )
        .send()
        .await
        .unwrap();
    let (from, to, now) = period();
    let r = compile(&f.store, from, to, now, within(&f)).await.unwrap();
    assert!(!r.verified);
    let broken: Vec<_> = r
        .findings
        .iter()
        .filter_map(|x| match x {
            Finding::ChainBroken {
                stream, version, ..
            } => Some((stream.clone(), *version)),
            _ => None,
        })
        .collect();
    stint_tests::proof::tampering(
        "compliance report, edit in DynamoDB",
        !r.verified && broken == [(target.stream().to_string(), 2)],
    );
    assert_eq!(broken, [(target.stream().to_string(), 2)]);
    assert!(to_html(&r).contains("NOT VERIFIED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_report_is_emailed_with_its_csv_and_archived() {
    let f = Fixture::new(day(20, 0, 0)).await;
    seed(&f).await;
    let (ses, sender) = ses_sender("reports").await;
    let s3 = aws_sdk_s3::Client::new(&stint_tests::emulator_config().await);
    let bucket = stint_tests::unique_name("stint-reports");
    s3.create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let to = Recipients {
        sender: sender.clone(),
        auditors: vec!["audit@example.com".into(), "ciso@example.com".into()],
    };
    let (from, until, now) = period();
    let (mailer, archive) = (SesMailer::new(ses), S3Archive::new(s3.clone(), &bucket));
    let delivery = Delivery {
        mailer: &mailer,
        archive: &archive,
        to: &to,
        anchor: None,
    };
    let done = deliver(&f.store, delivery, from, until, now, within(&f))
        .await
        .unwrap();
    assert_eq!((done.rows, done.verified), (12, true));

    // The archived copy is the CSV.
    let obj = s3
        .get_object()
        .bucket(&bucket)
        .key(&done.archive_key)
        .send()
        .await
        .unwrap();
    let archived =
        String::from_utf8(obj.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
    assert_eq!(
        archived,
        to_csv(
            &compile(&f.store, from, until, now, within(&f))
                .await
                .unwrap()
        )
        .unwrap()
    );
    s3.head_object()
        .bucket(&bucket)
        .key(done.archive_key.replace(".csv", ".json"))
        .send()
        .await
        .expect("JSON copy archived too");

    // The email, read back from moto: recipients, subject, parts, and the attachment's rows.
    let raw = ses_messages_from(&sender)
        .into_iter()
        .next()
        .expect("our message");
    let mail = mailparse::parse_mail(raw.as_bytes()).unwrap();
    let header = |name: &str| mail_header(&raw, name);
    assert!(
        header("To").contains("audit@example.com") && header("To").contains("ciso@example.com")
    );
    assert!(
        header("Subject").contains("2026-11-20 to 2026-11-23 (verified)"),
        "{}",
        header("Subject")
    );
    let mut parts = Vec::new();
    fn walk<'a>(m: &'a mailparse::ParsedMail<'a>, out: &mut Vec<&'a mailparse::ParsedMail<'a>>) {
        out.push(m);
        for s in &m.subparts {
            walk(s, out);
        }
    }
    walk(&mail, &mut parts);
    let of = |t: &str| {
        parts
            .iter()
            .find(|p| p.ctype.mimetype == t)
            .unwrap_or_else(|| panic!("no {t} part"))
    };
    assert!(of("text/plain")
        .get_body()
        .unwrap()
        .contains("Findings (11)"));
    assert!(of("text/html").get_body().unwrap().contains("<svg"));
    let attached = of("text/csv").get_body().unwrap();
    let rows = |text: &str| {
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rows(&attached),
        rows(&archived),
        "the attachment's rows are the CSV's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reports_over_http_are_for_auditors_only() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let f = Fixture::new(day(20, 0, 0)).await;
    seed(&f).await;
    let app = stint_http::router(f.api());
    let call = |groups: &str, q: &str| {
        let mut ev = stint_tests::sample("apigw-list-requests.json");
        ev["rawPath"] = "/reports".into();
        ev["requestContext"]["http"]["path"] = "/reports".into();
        ev["rawQueryString"] = q.into();
        ev["requestContext"]["authorizer"]["jwt"]["claims"]["groups"] = groups.into();
        let app = app.clone();
        async move {
            let resp = app
                .oneshot(stint_http::apigw::to_request(ev.clone()).unwrap())
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let ctype = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (
                status,
                ctype,
                String::from_utf8(
                    resp.into_body()
                        .collect()
                        .await
                        .unwrap()
                        .to_bytes()
                        .to_vec(),
                )
                .unwrap(),
            )
        }
    };
    let q = "from=2026-11-20T00:00:00Z&to=2026-11-23T00:00:00Z&format=csv";
    let (status, _, body) = call("[db-owners]", q).await;
    assert_eq!(status, 403, "{body}");
    let (status, ctype, body) = call("[audit]", q).await;
    assert_eq!(
        (status, ctype.starts_with("text/csv")),
        (200, true),
        "{body}"
    );
    assert_eq!(body.lines().count(), 13);
    let (status, _, body) = call("[audit]", "format=pdf").await;
    assert_eq!(status, 400, "{body}");
}
