//! Validated identifiers: request ids, users, groups, roles, scopes and IAM principals.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ulid::Ulid;

/// Why a raw value was refused as an identifier; the message names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {what}: {why}")]
pub struct InvalidId {
    pub what: &'static str,
    pub value: String,
    pub why: &'static str,
}

fn invalid(what: &'static str, value: &str, why: &'static str) -> InvalidId {
    // Cap the echoed value so a 1 MB field does not come back in the error.
    let value: String = value.chars().take(80).collect();
    InvalidId { what, value, why }
}

/// Declares a string newtype that is validated on construction and (de)serialized as a string.
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(v: String) -> Result<Self, InvalidId> {
                Self::parse(&v)
            }
        }
        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(v: &str) -> Result<Self, InvalidId> {
                Self::parse(v)
            }
        }
    };
}

/// A request's id: a ULID, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(Ulid);

impl RequestId {
    pub fn new() -> Self {
        RequestId(Ulid::generate())
    }
    pub fn from_ulid(u: Ulid) -> Self {
        RequestId(u)
    }
    pub fn parse(v: &str) -> Result<Self, InvalidId> {
        Ulid::from_string(v.trim())
            .map(RequestId)
            .map_err(|_| invalid("request id", v, "expected a 26-character ULID"))
    }
    /// The event-store stream that holds this request's events.
    pub fn stream(&self) -> super::log::StreamId {
        super::log::StreamId::for_request(*self)
    }
}
impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}
impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl From<RequestId> for String {
    fn from(v: RequestId) -> String {
        v.to_string()
    }
}
impl TryFrom<String> for RequestId {
    type Error = InvalidId;
    fn try_from(v: String) -> Result<Self, InvalidId> {
        Self::parse(&v)
    }
}
impl FromStr for RequestId {
    type Err = InvalidId;
    fn from_str(v: &str) -> Result<Self, InvalidId> {
        Self::parse(v)
    }
}

fn has_control(v: &str) -> bool {
    v.chars().any(char::is_control)
}

string_id!(
    /// A person or machine identity (JWT subject or email), trimmed and lower-cased so that
    /// `Alice` and ` alice ` are the same user: self-approval cannot hide behind case.
    UserId
);
impl UserId {
    pub fn parse(v: &str) -> Result<Self, InvalidId> {
        let t = v.trim();
        if t.is_empty() {
            return Err(invalid("user", v, "must not be empty"));
        }
        if t.len() > 256 {
            return Err(invalid("user", v, "longer than 256 bytes"));
        }
        if has_control(t) || t.chars().any(char::is_whitespace) {
            return Err(invalid(
                "user",
                v,
                "contains whitespace or control characters",
            ));
        }
        Ok(UserId(t.to_lowercase()))
    }
}

string_id!(
    /// A group claim from the identity provider, compared case-insensitively.
    GroupName
);
impl GroupName {
    pub fn parse(v: &str) -> Result<Self, InvalidId> {
        let t = v.trim();
        if t.is_empty() || t.len() > 128 {
            return Err(invalid("group", v, "must be 1 to 128 bytes"));
        }
        if has_control(t) {
            return Err(invalid("group", v, "contains control characters"));
        }
        Ok(GroupName(t.to_lowercase()))
    }
}

string_id!(
    /// The name of a catalog role: lower-case letters, digits, `-` and `_`.
    RoleName
);
impl RoleName {
    pub fn parse(v: &str) -> Result<Self, InvalidId> {
        if v.is_empty() || v.len() > 64 {
            return Err(invalid("role name", v, "must be 1 to 64 characters"));
        }
        if !v
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(invalid("role name", v, "use a-z, 0-9, '-' and '_' only"));
        }
        Ok(RoleName(v.to_owned()))
    }
}

string_id!(
    /// The value a role's `{scope}` placeholder is filled with, such as a service or table name.
    Scope
);
impl Scope {
    pub fn parse(v: &str) -> Result<Self, InvalidId> {
        if v.is_empty() || v.len() > 256 {
            return Err(invalid("scope", v, "must be 1 to 256 characters"));
        }
        // No wildcards or path tricks: a scope is substituted into IAM resource ARNs.
        if v.contains("..")
            || !v.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@')
            })
        {
            return Err(invalid(
                "scope",
                v,
                "use letters, digits and - _ . / : @ only, without '..'",
            ));
        }
        Ok(Scope(v.to_owned()))
    }
}

string_id!(
    /// The ARN of the IAM role a grant is attached to, for example
    /// `arn:aws:iam::123456789012:role/stint/oncall`.
    PrincipalArn
);
impl PrincipalArn {
    pub fn parse(v: &str) -> Result<Self, InvalidId> {
        const WHAT: &str = "principal ARN";
        let mut parts = v.splitn(6, ':');
        let (arn, partition, service, region, account, resource) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        );
        if arn != Some("arn") || !matches!(partition, Some("aws" | "aws-cn" | "aws-us-gov")) {
            return Err(invalid(WHAT, v, "must start with arn:aws:iam::"));
        }
        if service != Some("iam") || region != Some("") {
            return Err(invalid(
                WHAT,
                v,
                "must be an IAM ARN (arn:aws:iam::<account>:role/...)",
            ));
        }
        let account = account.unwrap_or_default();
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid(WHAT, v, "account must be 12 digits"));
        }
        let resource = resource.unwrap_or_default();
        let Some(path_name) = resource.strip_prefix("role/") else {
            return Err(invalid(WHAT, v, "only IAM roles can receive grants"));
        };
        if path_name.is_empty()
            || path_name.len() > 512
            || path_name.ends_with('/')
            || path_name.contains("//")
            || path_name.split('/').any(|seg| seg == "." || seg == "..")
            || !path_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
        {
            return Err(invalid(
                WHAT,
                v,
                "role path or name has invalid characters or segments",
            ));
        }
        Ok(PrincipalArn(v.to_owned()))
    }

    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }

    /// The same role in another account: how a request for several accounts fills the
    /// principal's `{account}` for each.
    pub fn in_account(&self, account: &crate::org::AccountId) -> PrincipalArn {
        let mut parts: Vec<&str> = self.0.splitn(6, ':').collect();
        if parts.len() == 6 {
            parts[4] = account.as_str();
        }
        PrincipalArn(parts.join(":"))
    }

    /// The role's name, the last path segment (what IAM's role-policy calls take).
    pub fn role_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The role's path, such as `/stint/`.
    pub fn path(&self) -> String {
        let after = self.0.split_once(":role").map(|(_, r)| r).unwrap_or("/");
        match after.rfind('/') {
            Some(i) => after[..=i].to_owned(),
            None => "/".to_owned(),
        }
    }
}

/// Who is calling: a user and the groups the identity provider vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user: UserId,
    pub groups: Vec<GroupName>,
}

impl Identity {
    pub fn new(user: UserId, groups: impl IntoIterator<Item = GroupName>) -> Self {
        let mut groups: Vec<GroupName> = groups.into_iter().collect();
        groups.sort();
        groups.dedup();
        Identity { user, groups }
    }
    pub fn in_any(&self, groups: &[GroupName]) -> bool {
        self.groups.iter().any(|g| groups.contains(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_normalised_so_case_and_space_variants_are_equal() {
        assert_eq!(
            UserId::parse(" Alice@Example.com ").unwrap(),
            UserId::parse("alice@example.com").unwrap()
        );
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a b").is_err());
        assert!(UserId::parse("a\u{0}").is_err());
    }

    #[test]
    fn principal_arns_reject_traversal_other_services_and_users() {
        let ok = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap();
        assert_eq!(ok.account(), "123456789012");
        assert_eq!(ok.role_name(), "oncall");
        assert_eq!(ok.path(), "/stint/");
        for bad in [
            "arn:aws:iam::123456789012:role/stint/../admin",
            "arn:aws:iam::123456789012:user/stint/bob",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::12345:role/stint/x",
            "arn:aws:iam::123456789012:role/stint//x",
            "arn:aws:iam::123456789012:role/stint/x*",
            "role/stint/x",
        ] {
            assert!(PrincipalArn::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn scopes_refuse_wildcards_and_traversal() {
        assert!(Scope::parse("orders").is_ok());
        assert!(Scope::parse("orders*").is_err());
        assert!(Scope::parse("a/../b").is_err());
        assert!(Scope::parse("").is_err());
    }

    #[test]
    fn request_ids_round_trip_and_name_their_stream() {
        let id = RequestId::new();
        assert_eq!(RequestId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(id.stream().as_str(), format!("request#{id}"));
        assert!(RequestId::parse("nope").is_err());
    }
}
