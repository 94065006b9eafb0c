//! IAM policy documents for grants: the role's statements for the scope, bounded in time by
//! conditions IAM enforces itself, and the deny that cuts off sessions after an early revoke.

use super::catalog::{Effect, Role, SessionBinding};
use super::ids::{RequestId, Scope, UserId};
use super::protected::ProtectedResources;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// Why a grant's document cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The session binding names the requester in a condition, and this requester cannot be
    /// a session name or source identity (and must not smuggle IAM wildcards or variables).
    #[error(
        "requester {requester:?} cannot be bound by {binding}: a role session name or source \
         identity is 2 to 64 of A-Z a-z 0-9 + = , . @ _ -; only a role a single workload \
         assumes may use session_binding = \"none\""
    )]
    Unbindable {
        requester: String,
        binding: &'static str,
    },
    /// With nothing protected, the grant would carry no deny for Stint's own resources.
    #[error("no protected resources are configured, so the grant cannot deny Stint's own")]
    NothingProtected,
}

/// The inline policy that carries a grant.
pub fn grant_policy_name(id: RequestId) -> String {
    format!("stint-{id}")
}

/// The inline policy that denies sessions issued before an early revoke.
pub fn cutoff_policy_name(id: RequestId) -> String {
    format!("stint-cutoff-{id}")
}

fn iam_time(t: DateTime<Utc>) -> String {
    // IAM's date conditions take ISO 8601; whole seconds are what it compares.
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What IAM accepts as a role session name and as a source identity: `[\w+=,.@-]{2,64}`.
/// Nothing else may reach a condition, where `*`, `?` and `${...}` would be read as wildcards
/// or policy variables.
fn is_session_name(v: &str) -> bool {
    (2..=64).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// The condition that limits a statement to the requester's own sessions of the role, as an
/// operator and its key; `None` for an unbound role.
pub fn binding_condition(
    binding: SessionBinding,
    requester: &UserId,
) -> Result<Option<(&'static str, Value)>, PolicyError> {
    let name = match binding {
        SessionBinding::None => return Ok(None),
        SessionBinding::RoleSessionName => "role_session_name",
        SessionBinding::SourceIdentity => "source_identity",
    };
    let who = requester.as_str();
    if !is_session_name(who) {
        return Err(PolicyError::Unbindable {
            requester: who.chars().take(80).collect(),
            binding: name,
        });
    }
    Ok(Some(match binding {
        // An assumed role's aws:userid is `<role id>:<session name>`.
        SessionBinding::RoleSessionName => {
            ("StringLike", json!({ "aws:userid": format!("*:{who}") }))
        }
        _ => ("StringEquals", json!({ "aws:SourceIdentity": who })),
    }))
}

fn with_binding(
    mut condition: Map<String, Value>,
    binding: &Option<(&'static str, Value)>,
) -> Value {
    if let Some((op, key)) = binding {
        condition.insert((*op).to_owned(), key.clone());
    }
    Value::Object(condition)
}

/// The grant's policy: every statement of the role holds only while
/// `starts_at <= now < expires_at` and, unless the role is unbound, only for the requester's
/// own sessions; then one deny, unconditional and unbound, of every action on Stint's own
/// resources, so no catalog statement can reach them whatever it says.
pub fn grant_document(
    role: &Role,
    scope: Option<&Scope>,
    requester: &UserId,
    protected: &ProtectedResources,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Value, PolicyError> {
    if protected.is_empty() {
        return Err(PolicyError::NothingProtected);
    }
    let binding = binding_condition(role.session_binding, requester)?;
    let mut statements: Vec<Value> = role
        .statements_for(scope)
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            let mut window = Map::new();
            window.insert(
                "DateGreaterThan".into(),
                json!({ "aws:CurrentTime": iam_time(starts_at) }),
            );
            window.insert(
                "DateLessThan".into(),
                json!({ "aws:CurrentTime": iam_time(expires_at) }),
            );
            // A catalog deny is bound too: it carves out of this grant, not out of other
            // people's sessions of a shared role.
            json!({
                "Sid": format!("Stint{i}"),
                "Effect": match st.effect { Effect::Allow => "Allow", Effect::Deny => "Deny" },
                "Action": st.actions,
                "Resource": st.resources,
                "Condition": with_binding(window, &binding),
            })
        })
        .collect();
    // Only the protected resources of the services this grant allows: a deny of the others
    // adds nothing (this policy cannot reach them) and would spend the role's 10,240-character
    // inline-policy quota, four grants to a role instead of twenty.
    let granted: Vec<String> = role
        .statements_for(scope)
        .iter()
        .filter(|st| st.effect == Effect::Allow)
        .flat_map(|st| st.actions.iter())
        .map(|a| a.split(':').next().unwrap_or_default().to_ascii_lowercase())
        .collect();
    let reachable: Vec<String> = protected
        .iter()
        .filter(|p| {
            granted
                .iter()
                .any(|svc| svc.contains(['*', '?']) || svc.eq_ignore_ascii_case(p.service()))
        })
        .map(|p| p.to_string())
        .collect();
    if !reachable.is_empty() {
        statements.push(json!({
            "Sid": "StintProtected",
            "Effect": "Deny",
            "Action": "*",
            "Resource": reachable,
        }));
    }
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::glob::arn_overlap;
    use chrono::TimeZone;

    fn example() -> Catalog {
        Catalog::from_toml(include_str!("../../../infra/catalog.example.toml")).unwrap()
    }
    fn window() -> (DateTime<Utc>, DateTime<Utc>) {
        (
            Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 5, 1, 11, 0, 0).unwrap(),
        )
    }
    fn alice() -> UserId {
        UserId::parse("alice@example.com").unwrap()
    }
    fn orders() -> Scope {
        Scope::parse("orders").unwrap()
    }

    #[test]
    fn grant_documents_carry_both_time_conditions_and_the_scope() {
        let c = example();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        let (s, e) = window();
        let doc = grant_document(role, Some(&orders()), &alice(), c.protected(), s, e).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Effect"], "Allow");
        assert_eq!(
            st["Condition"]["DateLessThan"]["aws:CurrentTime"],
            "2026-05-01T11:00:00Z"
        );
        assert_eq!(
            st["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
            "2026-05-01T10:00:00Z"
        );
        assert_eq!(
            st["Resource"][0],
            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"
        );
    }

    #[test]
    fn every_grant_document_that_could_reach_stint_ends_denying_its_resources() {
        let c = example();
        let (s, e) = window();
        for (name, role) in &c.roles {
            let scope = role
                .scopes
                .first()
                .map(|p| Scope::parse(p.as_str()).unwrap());
            let doc = grant_document(role, scope.as_ref(), &alice(), c.protected(), s, e).unwrap();
            let statements = doc["Statement"].as_array().unwrap();
            let last = statements.last().unwrap();
            let services: Vec<String> = role
                .statements
                .iter()
                .flat_map(|st| st.actions.iter())
                .map(|a| a.split(':').next().unwrap().to_ascii_lowercase())
                .collect();
            if !c
                .protected()
                .iter()
                .any(|p| services.iter().any(|s| s == p.service()))
            {
                // Nothing of Stint's lives in the services this role grants (logs-read).
                assert!(
                    statements.iter().all(|st| st["Sid"] != "StintProtected"),
                    "{name}"
                );
                continue;
            }
            assert_eq!(last["Sid"], "StintProtected", "{name}");
            assert_eq!(last["Effect"], "Deny", "{name}");
            assert_eq!(last["Action"], "*", "{name}");
            // Unconditional: it holds for every session, bound or not, at any time.
            assert!(last.get("Condition").is_none(), "{name}");
            // It names the protected resources of every service the grant allows.
            for p in c.protected().iter() {
                let named = last["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == p.as_str());
                assert_eq!(
                    named,
                    services.iter().any(|s| s == p.service()),
                    "{name}: {p}"
                );
            }
            // And no Allow resource reaches a protected ARN through its own service.
            for st in &statements[..statements.len() - 1] {
                if st["Effect"] != "Allow" {
                    continue;
                }
                for r in st["Resource"].as_array().unwrap() {
                    for p in c.protected().iter() {
                        let reaches = arn_overlap(r.as_str().unwrap(), p.as_str())
                            && st["Action"].as_array().unwrap().iter().any(|a| {
                                a.as_str()
                                    .unwrap()
                                    .to_ascii_lowercase()
                                    .starts_with(&format!("{}:", p.service()))
                            });
                        assert!(!reaches, "{name}: {r} reaches {p}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_grant_is_bound_to_its_requesters_session_name_by_default() {
        let c = example();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        assert_eq!(role.session_binding, SessionBinding::RoleSessionName);
        let (s, e) = window();
        let doc = grant_document(role, Some(&orders()), &alice(), c.protected(), s, e).unwrap();
        for st in doc["Statement"].as_array().unwrap() {
            if st["Sid"] == "StintProtected" {
                continue;
            }
            assert_eq!(
                st["Condition"]["StringLike"],
                json!({ "aws:userid": "*:alice@example.com" })
            );
        }
    }

    #[test]
    fn source_identity_and_unbound_roles() {
        let c = example();
        let mut role = c.role(&"db-read".parse().unwrap()).unwrap().clone();
        let (s, e) = window();
        role.session_binding = SessionBinding::SourceIdentity;
        let doc = grant_document(&role, Some(&orders()), &alice(), c.protected(), s, e).unwrap();
        assert_eq!(
            doc["Statement"][0]["Condition"]["StringEquals"],
            json!({ "aws:SourceIdentity": "alice@example.com" })
        );
        assert!(doc["Statement"][0]["Condition"].get("StringLike").is_none());
        role.session_binding = SessionBinding::None;
        let doc = grant_document(&role, Some(&orders()), &alice(), c.protected(), s, e).unwrap();
        let cond = doc["Statement"][0]["Condition"].as_object().unwrap();
        assert_eq!(
            cond.keys().collect::<Vec<_>>(),
            ["DateGreaterThan", "DateLessThan"]
        );
    }

    #[test]
    fn requesters_that_are_no_session_name_cannot_be_bound() {
        let c = example();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        let (s, e) = window();
        for who in [
            "repo:acme/orders:ref:refs/heads/main",
            "*",
            "a*",
            "al?ce",
            "${aws:username}",
            "x",
            &"a".repeat(65),
        ] {
            let user = UserId::parse(who).unwrap();
            let got = grant_document(role, Some(&orders()), &user, c.protected(), s, e);
            assert!(
                matches!(got, Err(PolicyError::Unbindable { .. })),
                "{who}: {got:?}"
            );
        }
        // An unbound role takes any requester: it names nobody.
        let mut unbound = role.clone();
        unbound.session_binding = SessionBinding::None;
        let pipeline = UserId::parse("repo:acme/orders:ref:refs/heads/main").unwrap();
        assert!(grant_document(&unbound, Some(&orders()), &pipeline, c.protected(), s, e).is_ok());
    }

    #[test]
    fn with_nothing_protected_no_document_is_written() {
        let c = example();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        let (s, e) = window();
        assert_eq!(
            grant_document(
                role,
                Some(&orders()),
                &alice(),
                &ProtectedResources::default(),
                s,
                e
            ),
            Err(PolicyError::NothingProtected)
        );
    }
}
