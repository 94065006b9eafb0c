//! Identity Center grants: permission-set ARNs, the assignment a grant records, and how a
//! Stint user is matched to an Identity Center user. Pure; the calls live behind a port.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;

/// `arn:aws:sso:::permissionSet/ssoins-<id>/ps-<id>`: the instance is part of the ARN, so a
/// catalog can never name a permission set of one instance and have it assigned in another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PermissionSetArn(String);

impl PermissionSetArn {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || {
            format!("{raw:?} is not a permission set ARN (arn:aws:sso:::permissionSet/ssoins-<id>/ps-<id>)")
        };
        let rest = [
            "arn:aws:sso:::",
            "arn:aws-cn:sso:::",
            "arn:aws-us-gov:sso:::",
        ]
        .iter()
        .find_map(|p| raw.strip_prefix(p))
        .ok_or_else(bad)?;
        let mut parts = rest.split('/');
        let ok = |s: Option<&str>, prefix: &str| {
            s.and_then(|s| s.strip_prefix(prefix)).is_some_and(|id| {
                (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric())
            })
        };
        let (kind, instance, ps, extra) = (parts.next(), parts.next(), parts.next(), parts.next());
        if kind != Some("permissionSet")
            || !ok(instance, "ssoins-")
            || !ok(ps, "ps-")
            || extra.is_some()
        {
            return Err(bad());
        }
        Ok(PermissionSetArn(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The instance the permission set belongs to: `arn:aws:sso:::instance/ssoins-<id>`.
    pub fn instance_arn(&self) -> String {
        let (head, rest) = self.0.split_once(":::").unwrap_or_default();
        let instance = rest.split('/').nth(1).unwrap_or_default();
        format!("{head}:::instance/{instance}")
    }
}
impl TryFrom<String> for PermissionSetArn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        PermissionSetArn::parse(&s)
    }
}
impl From<PermissionSetArn> for String {
    fn from(p: PermissionSetArn) -> String {
        p.0
    }
}
impl fmt::Display for PermissionSetArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which one Identity Center attribute a Stint user id is matched against. Exactly one, never
/// a fallback to the other: a user whose user name is someone else's email must never receive
/// that person's grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserMatch {
    /// The Identity Center `UserName` equals the Stint user id. The default.
    #[default]
    UserName,
    /// One of the user's `Emails` equals the Stint user id.
    Email,
}

impl UserMatch {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "user_name" | "username" => Ok(UserMatch::UserName),
            "email" => Ok(UserMatch::Email),
            other => Err(format!("{other:?} is not user_name or email")),
        }
    }
    /// The `identitystore:GetUserId` attribute path.
    pub fn attribute_path(self) -> &'static str {
        match self {
            UserMatch::UserName => "userName",
            UserMatch::Email => "emails.value",
        }
    }
}

/// An account assignment a grant made, as recorded in `AccessGranted`'s `policy` under
/// `identity_center`: enough to delete exactly it, and the session duration the report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub instance_arn: String,
    pub permission_set: PermissionSetArn,
    pub account: String,
    /// The Identity Center user id (`PrincipalType` USER).
    pub principal_id: String,
    /// The user name Identity Center holds for that user when the grant was made.
    #[serde(default)]
    pub user_name: String,
    /// The permission set's `SessionDuration` (ISO 8601, e.g. `PT1H`) at grant time: how long
    /// a session already issued outlives the revoke.
    #[serde(default)]
    pub session_duration: Option<String>,
}

/// The key under which a grant's `policy` document holds its assignment.
pub const KEY: &str = "identity_center";

impl Assignment {
    /// The document `AccessGranted` records for an Identity Center grant.
    pub fn to_grant_document(&self) -> Value {
        json!({ KEY: self })
    }
    /// The assignment a grant document records; `None` for an inline-policy grant.
    pub fn of_grant_document(policy: &Value) -> Option<Assignment> {
        serde_json::from_value(policy.get(KEY)?.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_set_arns_name_their_instance() {
        let p =
            PermissionSetArn::parse("arn:aws:sso:::permissionSet/ssoins-abc123/ps-def456").unwrap();
        assert_eq!(p.instance_arn(), "arn:aws:sso:::instance/ssoins-abc123");
        for bad in [
            "arn:aws:sso:::permissionSet/ps-def456",
            "arn:aws:sso:::instance/ssoins-abc123",
            "arn:aws:sso:::permissionSet/ssoins-abc123/ps-def456/x",
            "arn:aws:sso:::permissionSet/ssoins-*/ps-def456",
            "arn:aws:iam::123456789012:role/stint/x",
            "",
        ] {
            assert!(PermissionSetArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_grant_document_round_trips_its_assignment() {
        let a = Assignment {
            instance_arn: "arn:aws:sso:::instance/ssoins-1".into(),
            permission_set: PermissionSetArn::parse("arn:aws:sso:::permissionSet/ssoins-1/ps-2")
                .unwrap(),
            account: "111111111111".into(),
            principal_id: "u-1".into(),
            user_name: "alice".into(),
            session_duration: Some("PT1H".into()),
        };
        assert_eq!(
            Assignment::of_grant_document(&a.to_grant_document()),
            Some(a)
        );
        assert_eq!(
            Assignment::of_grant_document(&json!({"Version": "2012-10-17"})),
            None
        );
    }

    #[test]
    fn users_match_on_one_attribute() {
        assert_eq!(UserMatch::parse("email"), Ok(UserMatch::Email));
        assert_eq!(UserMatch::default().attribute_path(), "userName");
        assert!(UserMatch::parse("either").is_err());
    }
}
