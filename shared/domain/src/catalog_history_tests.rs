//! Given/when/then for the catalog history: what is recorded, what is not, and how a change
//! reads.

use super::*;
use crate::decider::given;
use chrono::TimeZone;

const V1: &str = r#"
[settings]
admin_groups = ["security"]
auditor_groups = ["audit"]

[roles.db]
principals = ["arn:aws:iam::123456789012:role/stint/*"]
scopes = ["orders"]
default_duration = "1h"
max_duration = "2h"
requesters = { groups = ["sre"] }
approvers = { groups = ["owners"], required = 1 }
statements = [{ actions = ["dynamodb:GetItem"], resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}"] }]

[[roles.db.auto_approve]]
name = "oncall"
kind = "alert"
services = ["orders"]
max_duration = "1h"

[roles.logs]
principals = ["arn:aws:iam::123456789012:role/stint/oncall"]
default_duration = "30m"
max_duration = "1h"
requesters = { groups = ["sre"] }
approvers = { groups = ["owners"] }
statements = [{ actions = ["logs:GetLogEvents"], resources = ["*"] }]

[services.orders]
alarms = ["orders-*"]
role = "db"
scope = "orders"
principal = "arn:aws:iam::123456789012:role/stint/oncall"
[services.orders.rotation]
users = ["alice@example.com", "bob@example.com"]
handoff = "09:00"
time_zone = "UTC"
starts = "2026-01-05"

[notify]
slack_webhook = "https://hooks.slack.com/services/T000/B000/secret-token"
"#;

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap() + chrono::TimeDelta::minutes(min)
}

fn ssm(version: i64, modified_min: i64) -> CatalogSource {
    CatalogSource {
        kind: SourceKind::SsmParameter,
        name: "/stint/catalog".into(),
        version: Some(version),
        modified: Some(t(modified_min)),
    }
}

fn file(path: &str) -> CatalogSource {
    CatalogSource {
        kind: SourceKind::File,
        name: path.into(),
        version: None,
        modified: None,
    }
}

fn load(text: &str, source: CatalogSource) -> RecordCatalog {
    let catalog = Catalog::from_toml(text).expect("test catalog loads");
    RecordCatalog::new(text, &catalog, source, "stint-request")
}

/// V1 with the db role approved by `leads` instead of `owners`, for up to 4h.
fn v2() -> String {
    V1.replacen(
        "approvers = { groups = [\"owners\"], required = 1 }",
        "approvers = { groups = [\"leads\"], required = 1 }",
        1,
    )
    .replacen("max_duration = \"2h\"", "max_duration = \"4h\"", 1)
}

fn when(
    events: &[Envelope<CatalogEvent>],
    cmd: &RecordCatalog,
    at: i64,
) -> Vec<Envelope<CatalogEvent>> {
    let state = given::<CatalogHistory>(events);
    CatalogHistory::decide(&state, cmd, &t(at)).unwrap_or_else(|e| match e {})
}

fn changed(e: &Envelope<CatalogEvent>) -> (&Option<CatalogHash>, &Vec<CatalogChange>) {
    let CatalogEvent::CatalogChanged {
        previous_hash,
        changes,
        ..
    } = &e.body;
    (previous_hash, changes)
}

fn lines(changes: &[CatalogChange]) -> Vec<String> {
    changes.iter().map(|c| c.to_string()).collect()
}

#[test]
fn the_first_catalog_is_recorded_with_everything_as_added() {
    let out = when(&[], &load(V1, ssm(1, 0)), 1);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].actor.to_string(), "system:stint-request");
    let (previous, changes) = changed(&out[0]);
    assert_eq!(*previous, None);
    let lines = lines(changes);
    assert_eq!(
        lines[0], "settings: admin groups +security; auditor groups +audit; review window +14d",
        "{lines:#?}"
    );
    assert_eq!(
        lines[1],
        "role db added: requester groups sre; approver groups owners; approvals required 1; \
         principals arn:aws:iam::123456789012:role/stint/*; scopes orders; default duration 1h; \
         max duration 2h; max total duration 2h; break glass false; self extend false; \
         session binding role_session_name; auto-approve rules alert rule oncall: authenticated \
         alerts of orders, up to 1h, ends with the incident; grants Allow dynamodb:GetItem on \
         arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}"
    );
    assert!(lines[2].starts_with("role logs added: "), "{lines:#?}");
    assert!(
        lines[3].starts_with("service orders added: role db; principal arn:aws:iam::123456789012:role/stint/oncall; scope orders; alarms orders-*; on call alice@example.com, bob@example.com"),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn the_same_catalog_again_records_nothing() {
    let first = when(&[], &load(V1, ssm(1, 0)), 1);
    // A warm start, another function, a racing cold start that lost: all the same version.
    assert!(when(&first, &load(V1, ssm(1, 0)), 2).is_empty());
    // The same text read from elsewhere is still the same catalog.
    assert!(when(&first, &load(V1, file("catalog.toml")), 3).is_empty());
}

#[test]
fn a_new_version_records_only_what_changed() {
    let first = when(&[], &load(V1, ssm(1, 0)), 1);
    let out = when(&first, &load(&v2(), ssm(2, 10)), 11);
    assert_eq!(out.len(), 1);
    let (previous, changes) = changed(&out[0]);
    assert_eq!(previous.as_ref(), Some(&CatalogHash::of(V1)));
    assert_eq!(
        lines(changes),
        ["role db: approver groups owners → leads; max duration 2h → 4h; max total duration 2h → 4h"]
    );
    assert_eq!(
        changes[0].fields[0],
        FieldChange {
            field: "approver groups".into(),
            added: vec!["leads".into()],
            removed: vec!["owners".into()],
        }
    );
}

#[test]
fn an_older_version_seen_after_a_newer_one_records_nothing() {
    // v1 put at 0, v2 at 10. A process that read v1 just before the change records after v2.
    let mut history = when(&[], &load(V1, ssm(1, 0)), 1);
    history.extend(when(&history, &load(&v2(), ssm(2, 10)), 11));
    assert_eq!(history.len(), 2);
    for at in 12..20 {
        assert!(when(&history, &load(V1, ssm(1, 0)), at).is_empty());
        assert!(when(&history, &load(&v2(), ssm(2, 10)), at).is_empty());
    }
    assert_eq!(given::<CatalogHistory>(&history).hashes.len(), 2);
}

#[test]
fn going_back_to_an_earlier_text_is_a_new_version_and_is_recorded() {
    let mut history = when(&[], &load(V1, ssm(1, 0)), 1);
    history.extend(when(&history, &load(&v2(), ssm(2, 10)), 11));
    // Someone puts v1's text back: SSM makes it version 3, put in place later.
    let out = when(&history, &load(V1, ssm(3, 20)), 21);
    assert_eq!(
        lines(changed(&out[0]).1),
        ["role db: approver groups leads → owners; max duration 4h → 2h; max total duration 4h → 2h"]
    );
    let state = given::<CatalogHistory>(&[history, out].concat());
    assert_eq!(state.current.map(|c| c.hash), Some(CatalogHash::of(V1)));
}

#[test]
fn a_recreated_parameter_restarting_at_version_one_is_recorded() {
    let history = when(&[], &load(V1, ssm(7, 0)), 1);
    let out = when(&history, &load(&v2(), ssm(1, 30)), 31);
    assert_eq!(out.len(), 1, "later in time, though a lower version number");
}

#[test]
fn versions_put_within_the_same_instant_are_ordered_by_number() {
    let mut history = when(&[], &load(V1, ssm(1, 0)), 1);
    history.extend(when(&history, &load(&v2(), ssm(2, 0)), 2));
    assert_eq!(history.len(), 2);
    assert!(when(&history, &load(V1, ssm(1, 0)), 3).is_empty());
}

#[test]
fn a_file_without_a_time_records_every_text_it_has_not_as_current() {
    let history = when(&[], &load(V1, file("catalog.toml")), 1);
    let out = when(&history, &load(&v2(), file("catalog.toml")), 2);
    assert_eq!(out.len(), 1);
    let history = [history, out].concat();
    assert_eq!(when(&history, &load(V1, file("catalog.toml")), 3).len(), 1);
}

#[test]
fn another_source_is_not_compared_by_time() {
    let history = when(&[], &load(V1, ssm(4, 60)), 61);
    let mut older_file = file("catalog.toml");
    older_file.modified = Some(t(0));
    assert_eq!(when(&history, &load(&v2(), older_file), 62).len(), 1);
}

#[test]
fn roles_and_services_removed_say_what_they_had() {
    let history = when(&[], &load(V1, ssm(1, 0)), 1);
    let without: String = V1
        .split("\n[roles.logs]")
        .next()
        .map(|head| {
            let tail = V1.split("\n[services.orders]").nth(1).unwrap_or_default();
            let notify = tail.split("\n[notify]").nth(1).unwrap_or_default();
            format!("{head}\n[notify]{notify}")
        })
        .unwrap();
    let out = when(&history, &load(&without, ssm(2, 5)), 6);
    let lines = lines(changed(&out[0]).1);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0]
            .starts_with("role logs removed (had requester groups sre; approver groups owners;"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("service orders removed (had role db;"),
        "{lines:#?}"
    );
}

#[test]
fn a_change_to_the_text_alone_is_recorded_with_no_changes() {
    let history = when(&[], &load(V1, ssm(1, 0)), 1);
    let reworded = format!("# reviewed by security on 2026-11-19\n{V1}");
    let out = when(&history, &load(&reworded, ssm(2, 5)), 6);
    assert_eq!(out.len(), 1, "a new text is a new version");
    assert!(changed(&out[0]).1.is_empty());
}

#[test]
fn snapshots_ignore_order_and_leave_out_notification_secrets() {
    let reordered = V1.replacen(
        "users = [\"alice@example.com\", \"bob@example.com\"]",
        "users = [\"alice@example.com\", \"bob@example.com\"] # turn order",
        1,
    );
    let a = CatalogSnapshot::of(&Catalog::from_toml(V1).unwrap());
    let b = CatalogSnapshot::of(&Catalog::from_toml(&reordered).unwrap());
    assert_eq!(a, b);
    let json = serde_json::to_string(&a).unwrap();
    assert!(!json.contains("hooks.slack.com"), "{json}");
    assert!(json.contains("\"approver_groups\":[\"owners\"]"), "{json}");
}

#[test]
fn the_event_is_stored_as_readable_json_and_read_back() {
    let out = when(&[], &load(V1, ssm(1, 0)), 1);
    let record = out[0].to_record("e1".into());
    assert_eq!(record.event_type, "CatalogChanged");
    assert_eq!(record.payload["hash"], CatalogHash::of(V1).as_str());
    assert_eq!(record.payload["source"]["kind"], "ssm_parameter");
    assert_eq!(record.payload["source"]["version"], 1);
    assert_eq!(
        record.payload["changes"][1]["fields"][1],
        serde_json::json!({ "field": "approver groups", "added": ["owners"] })
    );
    assert_eq!(
        record.payload["snapshot"]["roles"]["db"]["max_duration"],
        "2h"
    );
    assert_eq!(
        Envelope::<CatalogEvent>::from_record(&record).unwrap(),
        out[0]
    );
}

#[test]
fn hashes_are_sha256_of_the_text() {
    assert_eq!(
        CatalogHash::of("").as_str(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(CatalogHash::try_from("nope".to_owned()).is_err());
    assert_eq!(
        ssm(3, 0).to_string(),
        "SSM parameter /stint/catalog version 3 (modified 2026-11-20T09:00:00Z)"
    );
}

#[test]
fn the_review_window_is_recorded_and_old_snapshots_without_it_still_read() {
    let out = when(&[], &load(V1, ssm(1, 0)), 1);
    let CatalogEvent::CatalogChanged { snapshot, .. } = &out[0].body;
    assert_eq!(
        snapshot.review_window(),
        Some(crate::AccessDuration::parse("14d").unwrap())
    );
    let old: CatalogSnapshot = serde_json::from_str(
        r#"{"roles": {}, "services": {}, "admin_groups": [], "auditor_groups": []}"#,
    )
    .unwrap();
    assert_eq!(old.review_window(), None);
}
