//! IAM policy documents for grants: the role's statements for the scope, bounded in time by
//! conditions IAM enforces itself, and the deny that cuts off sessions after an early revoke.

use super::catalog::{Effect, Role};
use super::ids::{RequestId, Scope};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

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

/// The grant's policy: every statement holds only while `starts_at <= now < expires_at`.
pub fn grant_document(
    role: &Role,
    scope: Option<&Scope>,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Value {
    let statements: Vec<Value> = role
        .statements_for(scope)
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            json!({
                "Sid": format!("Stint{i}"),
                "Effect": match st.effect { Effect::Allow => "Allow", Effect::Deny => "Deny" },
                "Action": st.actions,
                "Resource": st.resources,
                "Condition": {
                    "DateGreaterThan": { "aws:CurrentTime": iam_time(starts_at) },
                    "DateLessThan": { "aws:CurrentTime": iam_time(expires_at) },
                },
            })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// After an early revoke, deny what was granted to any session issued before the revoke.
/// Deleting the grant policy stops new calls once IAM propagates; this deny also names the
/// sessions themselves, and it lapses at the grant's own expiry, when the grant policy's time
/// condition would have ended everything anyway.
pub fn cutoff_document(
    role: &Role,
    scope: Option<&Scope>,
    revoked_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Value {
    let statements: Vec<Value> = role
        .statements_for(scope)
        .into_iter()
        .filter(|st| st.effect == Effect::Allow)
        .enumerate()
        .map(|(i, st)| {
            json!({
                "Sid": format!("StintCutoff{i}"),
                "Effect": "Deny",
                "Action": st.actions,
                "Resource": st.resources,
                "Condition": {
                    "DateLessThan": {
                        "aws:TokenIssueTime": iam_time(revoked_at + chrono::TimeDelta::seconds(1)),
                        "aws:CurrentTime": iam_time(expires_at),
                    },
                },
            })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use chrono::TimeZone;

    #[test]
    fn grant_documents_carry_both_time_conditions_and_the_scope() {
        let c = Catalog::from_toml(include_str!("../../../infra/catalog.example.toml")).unwrap();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        let s = Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap();
        let e = Utc.with_ymd_and_hms(2026, 5, 1, 11, 0, 0).unwrap();
        let doc = grant_document(role, Some(&Scope::parse("orders").unwrap()), s, e);
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
        let cut = cutoff_document(role, Some(&Scope::parse("orders").unwrap()), s, e);
        assert_eq!(cut["Statement"][0]["Effect"], "Deny");
        assert_eq!(
            cut["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-05-01T10:00:01Z"
        );
    }
}
