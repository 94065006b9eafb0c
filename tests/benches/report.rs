//! A compliance report over 1,000,000 stored events (200,000 requests of five events each):
//! decode, fold and render (CSV, HTML, JSON). The records are generated first, outside the
//! timing, as the store would hand them over. Prints the time and the memory the report adds.
//!
//! Run: `cargo bench -p stint-tests --bench report`

use chrono::{Duration, TimeZone, Utc};
use std::time::Instant;
use stint_app::render::report::{to_csv, to_html};
use stint_domain::report::ReportBuilder;
use stint_domain::{
    apply, AccessDuration, AccessRequested, Actor, Event, EventBody, EventRecord, Hash,
    Justification, PrincipalArn, RequestId, RequestState, RevokeReason, RoleName, Scope, Source,
    UserId,
};
use stint_tests::figures::{emit, Figure};

fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn requests(n: u64) -> Vec<(RequestId, Vec<EventRecord>)> {
    let roles = ["db-read", "db-write", "deploy", "logs-read"].map(|r| RoleName::parse(r).unwrap());
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let id = RequestId::from_ulid(ulid::Ulid::from_parts(i, i as u128));
            let t = base + Duration::seconds((i * 12) as i64);
            let exp = t + Duration::hours(1);
            let user = UserId::parse(&format!("user{}@example.com", i % 400)).unwrap();
            let bob = UserId::parse("bob@example.com").unwrap();
            let req = AccessRequested { accounts: vec![],
                request_id: id,
                requester: user.clone(),
                requester_groups: vec![],
                role: roles[(i % 4) as usize].clone(),
                scope: Some(Scope::parse("orders").unwrap()),
                principal: PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap(),
                duration: AccessDuration::parse("1h").unwrap(),
                justification: Justification::parse("investigate <stuck> orders & payments").unwrap(),
                ticket: None,
                starts_at: None,
                source: Source::Person,
                break_glass: false,
            };
            let events = [
                Event::new(t, Actor::User(user), EventBody::AccessRequested(Box::new(req))),
                Event::new(t + Duration::minutes(3), Actor::User(bob.clone()), EventBody::ApprovalRecorded { approver: bob.clone(), comment: None }),
                Event::new(t + Duration::minutes(3), Actor::User(bob.clone()), EventBody::AccessApproved { approvers: vec![bob], rule: None }),
                Event::new(t + Duration::minutes(3), Actor::System("grant".into()), EventBody::AccessGranted { account: None,
                    policy_name: format!("stint-{id}"),
                    policy: serde_json::json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders"] }] }),
                    starts_at: t + Duration::minutes(3),
                    expires_at: exp,
                }),
                Event::new(exp + Duration::seconds(1), Actor::System("expired".into()), EventBody::AccessRevoked { account: None, reason: RevokeReason::Expired, expires_at: exp, lag_seconds: 1 }),
            ];
            let records = events.iter().enumerate().map(|(k, e)| e.to_record(format!("{id}-{k}"))).collect();
            (id, records)
        })
        .collect()
}

fn main() {
    const REQUESTS: u64 = 200_000;
    let input = requests(REQUESTS);
    let events: usize = input.iter().map(|(_, r)| r.len()).sum();
    let baseline = rss_mib("VmRSS:");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (from, to) = (base, base + Duration::days(40));

    let start = Instant::now();
    let mut builder = ReportBuilder::new(from, to, to);
    for (id, records) in &input {
        let mut state = RequestState::default();
        for r in records {
            state = apply(state, &Event::from_record(r).expect("decodes"));
        }
        builder.add(*id, &state);
    }
    let report = builder.finish(&[], Hash::genesis(), input.len(), events as u64);
    let fold = start.elapsed();
    let start = Instant::now();
    let csv = to_csv(&report).expect("csv");
    let html = to_html(&report);
    let json = serde_json::to_vec(&report).expect("json");
    let render = start.elapsed();
    assert_eq!(report.rows.len() as u64, REQUESTS);
    println!(
        "report: {events} events, {} requests: fold {:.3} s + render {:.3} s = {:.3} s (CSV {:.1} MiB, HTML {:.1} MiB, JSON {:.1} MiB); \
         RSS {:.0} MiB with the input loaded, peak {:.0} MiB while reporting (+{:.0} MiB)",
        report.rows.len(),
        fold.as_secs_f64(),
        render.as_secs_f64(),
        (fold + render).as_secs_f64(),
        csv.len() as f64 / 1_048_576.0,
        html.len() as f64 / 1_048_576.0,
        json.len() as f64 / 1_048_576.0,
        baseline,
        rss_mib("VmHWM:"),
        rss_mib("VmHWM:") - baseline
    );
    emit(
        Figure::new(
            format!("report over {events} events (fold + render)"),
            (fold + render).as_secs_f64(),
            "s",
        )
        .goal_below(2.0),
    );
}
