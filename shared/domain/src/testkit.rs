//! Test fixtures shared by the deciders' given/when/then tests: a catalog, people, commands.

use crate::catalog::Catalog;
use crate::event::Source;
use crate::ids::{Identity, PrincipalArn, RequestId, RoleName, Scope, UserId};
use crate::request::{apply, decide, Command, RequestState, Submit};
use crate::text::Justification;
use chrono::{DateTime, TimeZone, Utc};

pub(crate) const CATALOG: &str = r#"
[settings]
pending_timeout = "1h"
max_start_ahead = "1d"
break_glass_review_within = "12h"
admin_groups = ["security"]

[roles.db]
principals = ["arn:aws:iam::123456789012:role/stint/*"]
scopes = ["orders"]
default_duration = "1h"
max_duration = "2h"
max_total_duration = "3h"
requesters = { groups = ["sre"], users = ["repo:acme/*"] }
approvers = { groups = ["owners"], required = 1 }
break_glass = true
statements = [{ actions = ["dynamodb:GetItem"], resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}"] }]

[[roles.db.auto_approve]]
name = "oncall"
kind = "alert"
services = ["orders"]
max_duration = "1h"

[[roles.db.auto_approve]]
name = "ci-main"
kind = "pipeline"
repositories = ["acme/orders"]
refs = ["refs/heads/main"]
environments = ["prod"]
scopes = ["orders"]
principals = ["arn:aws:iam::123456789012:role/stint/*"]
max_duration = "30m"

[roles.pair]
principals = ["arn:aws:iam::123456789012:role/stint/*"]
default_duration = "30m"
max_duration = "1h"
requesters = { groups = ["sre"] }
approvers = { groups = ["owners"], required = 2 }
self_extend = true
statements = [{ actions = ["logs:GetLogEvents"], resources = ["*"] }]
"#;

pub(crate) fn catalog() -> Catalog {
    Catalog::from_toml(CATALOG).expect("test catalog loads")
}
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
}
pub(crate) fn who(user: &str, groups: &[&str]) -> Identity {
    Identity::new(
        UserId::parse(user).unwrap(),
        groups
            .iter()
            .map(|g| crate::ids::GroupName::parse(g).unwrap()),
    )
}
pub(crate) fn alice() -> Identity {
    who("alice", &["sre"])
}
pub(crate) fn bob() -> Identity {
    who("bob", &["owners"])
}
pub(crate) fn carol() -> Identity {
    who("carol", &["owners"])
}
pub(crate) fn mallory() -> Identity {
    who("mallory", &["sales"])
}

pub(crate) fn submit_as(requester: Identity, role: &str) -> Submit {
    Submit {
        accounts: vec![],
        id: RequestId::from_ulid(ulid::Ulid::from_parts(1, 1)),
        requester,
        role: RoleName::parse(role).unwrap(),
        scope: if role == "db" {
            Some(Scope::parse("orders").unwrap())
        } else {
            None
        },
        principal: PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap(),
        duration: None,
        justification: Justification::parse("investigate INC-1").unwrap(),
        ticket: None,
        starts_at: None,
        source: Source::Person,
        break_glass: false,
    }
}
pub(crate) fn submit() -> Submit {
    submit_as(alice(), "db")
}
pub(crate) fn submit_cmd(s: Submit) -> Command {
    Command::Submit(Box::new(s))
}
pub(crate) fn approve(by: Identity) -> Command {
    Command::Approve {
        approver: by,
        comment: None,
    }
}
/// Given these commands succeeded at t0 (each must produce events or be a no-op)...
pub(crate) fn given(cmds: Vec<Command>) -> RequestState {
    let c = catalog();
    cmds.into_iter().fold(RequestState::default(), |s, cmd| {
        let events = decide(&s, &cmd, &c, t0())
            .unwrap_or_else(|r| panic!("given {cmd:?} was rejected: {r}"));
        events.iter().fold(s, apply)
    })
}
pub(crate) fn granted() -> Command {
    Command::RecordGrant {
        account: None,
        policy_name: "stint-x".into(),
        policy: serde_json::json!({}),
    }
}
