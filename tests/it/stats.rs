//! Service levels from the log on the emulator (issue 16, part 4): lifecycles with known
//! timings give exactly the expected nearest-rank percentiles per role and source through
//! `GET /stats` (auditors and admins only), the compliance report carries the same figures, and
//! the CSV has a row per measure, role and source.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use stint_app::ports::Clock;
use stint_app::revoke::RevokeOutcome;
use stint_domain::stats::{Measure, ALL};
use stint_domain::{RequestId, RevokeReason};
use stint_tests::aws::Fixture;
use stint_tests::{alice, bob, november, request};
use tower::ServiceExt;

fn start() -> DateTime<Utc> {
    november(24, 0, 0, 0)
}

/// Five db-read lifecycles: the i-th approved after i minutes, granted i × 100 ms later, and
/// revoked at expiry i seconds late; and one break-glass db-write, revoked early by hand.
async fn lifecycles(f: &Fixture) -> Vec<RequestId> {
    let mut ids = Vec::new();
    for i in 1..=5i64 {
        f.clock.set(start() + TimeDelta::hours(2 * i));
        let id = f
            .stint
            .submit(&alice(), f.db_read("service levels"))
            .await
            .unwrap()
            .id;
        f.clock.advance(TimeDelta::minutes(i));
        f.stint.approve(id, &bob(), None).await.unwrap();
        f.clock.advance(TimeDelta::milliseconds(100 * i));
        f.stint.grant(id).await.unwrap();
        let expiry = f.state(id).await.grant.unwrap().expires_at;
        f.clock.set(expiry + TimeDelta::seconds(i));
        let out = f
            .stint
            .revoke(id, RevokeReason::Expired, None)
            .await
            .unwrap();
        assert!(matches!(out, RevokeOutcome::Revoked { .. }), "{out:?}");
        ids.push(id);
    }
    f.clock.set(start() + TimeDelta::hours(14));
    let mut glass = request("db-write", "orders", &f.principal, "break glass for stats");
    glass.break_glass = true;
    let id = f.stint.submit(&alice(), glass).await.unwrap().id;
    f.stint.grant(id).await.unwrap();
    f.clock.advance(TimeDelta::minutes(2));
    f.stint.revoke_by(id, &alice()).await.unwrap();
    ids.push(id);
    ids
}

/// `GET /stats` through API Gateway's event shape as a caller in `groups`: status, content type
/// and body.
async fn get(f: &Fixture, groups: &str, query: &str) -> (u16, String, String) {
    use http_body_util::BodyExt;
    let mut ev = stint_tests::sample("apigw-list-requests.json");
    ev["rawPath"] = "/stats".into();
    ev["requestContext"]["http"]["path"] = "/stats".into();
    ev["rawQueryString"] = query.into();
    ev["requestContext"]["authorizer"]["jwt"]["claims"]["groups"] = groups.into();
    let resp = stint_http::router(f.api())
        .oneshot(stint_http::apigw::to_request(ev.clone()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ctype, String::from_utf8(body).unwrap())
}

fn row<'a>(v: &'a Value, measure: &str, role: &str, source: &str) -> &'a Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["measure"] == measure && r["role"] == role && r["source"] == source)
        .unwrap_or_else(|| panic!("no row {measure} {role} {source} in {v}"))
}

fn figures(r: &Value) -> (i64, i64, i64, i64) {
    let n = |k: &str| r[k].as_i64().unwrap();
    (n("count"), n("p50_ms"), n("p90_ms"), n("p99_ms"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_levels_come_from_the_log_per_role_and_source_for_auditors_only() {
    let f = Fixture::new(start()).await;
    lifecycles(&f).await;
    let q = "from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z";

    // An approver is no auditor: 403 with a JSON error.
    let (status, _, body) = get(&f, "[db-owners]", q).await;
    stint_tests::proof::attack(
        "an approver reads the service levels of every role",
        "approver",
        status != 403,
    );
    assert_eq!(status, 403, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["error"], "forbidden", "{body}");

    // An auditor gets every figure, nearest rank over the five lifecycles.
    let (status, ctype, body) = get(&f, "[audit]", q).await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "application/json"),
        "{body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["percentile"], "nearest-rank");
    assert_eq!(v["broken"], serde_json::json!([]));
    let min = 60_000;
    assert_eq!(
        figures(row(&v, "time_to_approve", "db-read", "person")),
        (5, 3 * min, 5 * min, 5 * min)
    );
    // Break-glass is approved as it is asked; overall, six approvals.
    assert_eq!(
        figures(row(&v, "time_to_approve", ALL, "break_glass")),
        (1, 0, 0, 0)
    );
    assert_eq!(
        figures(row(&v, "time_to_approve", ALL, ALL)),
        (6, 2 * min, 5 * min, 5 * min)
    );
    assert_eq!(
        figures(row(&v, "approved_to_granted", "db-read", ALL)),
        (5, 300, 500, 500)
    );
    assert_eq!(
        figures(row(&v, "revoke_lag", ALL, "person")),
        (5, 3_000, 5_000, 5_000)
    );
    // The early, manual revoke of the break-glass grant is no revoke lag.
    assert!(v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !(r["measure"] == "revoke_lag" && r["role"] == "db-write")));
    // Admins may read them too; CSV has a header and a row per measure, role and source.
    let (status, ctype, csv) = get(&f, "[security]", &format!("{q}&format=csv")).await;
    assert_eq!(
        (status, ctype.starts_with("text/csv")),
        (200, true),
        "{csv}"
    );
    assert_eq!(
        csv.lines().next(),
        Some("measure,role,source,count,p50_ms,p90_ms,p99_ms,max_ms")
    );
    assert_eq!(csv.lines().count(), 1 + v["rows"].as_array().unwrap().len());
    assert!(
        csv.contains("revoke_lag,db-read,person,5,3000,5000,5000,5000"),
        "{csv}"
    );

    // A window before any of it: no rows, still 200.
    let (status, _, body) = get(
        &f,
        "[audit]",
        "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["rows"],
        serde_json::json!([])
    );

    // The compliance report of the same window has the same section, in JSON and HTML.
    let from = start();
    let to = start() + TimeDelta::days(1);
    let report = stint_app::report::compile(
        f.stint.store.as_ref(),
        from,
        to,
        f.clock.now(),
        f.stint.catalog.settings.review_within,
    )
    .await
    .unwrap();
    let stats = stint_app::stats::compile(f.stint.store.as_ref(), from, to)
        .await
        .unwrap();
    assert_eq!(report.service_levels, stats.levels);
    assert_eq!(
        report
            .service_levels
            .overall(Measure::RevokeLag)
            .map(|l| l.p99_ms),
        Some(5_000)
    );
    let html = stint_app::render::report::to_html(&report);
    assert!(html.contains("<h2>Service levels</h2>"), "{html}");
    assert!(html.contains("<td>revoke_lag</td>"), "{html}");
    let text = stint_app::render::report::to_text(&report);
    assert!(
        text.contains("Service levels (nearest-rank percentiles):"),
        "{text}"
    );
}
