//! One person, one identity: how a verified token's claims become an [`Identity`], for API
//! Gateway's authorizer claims and local JWTs alike.
//!
//! - The user is exactly one claim (`STINT_USER_CLAIM`, default `email`). There is no fallback:
//!   a person whose ID token carries `email` and whose access token carries only `sub` would
//!   otherwise be two users, and could approve their own request.
//! - When that claim is `email`, `email_verified` must be present and true (`true` or, as
//!   Cognito and API Gateway pass it, `"true"`): an unverified address is anyone's to claim.
//! - Groups are a JSON array, or a string that lists them without ambiguity. A group name is
//!   never split on the spaces inside it.

use super::AuthError;
use serde_json::{Map, Value};
use stint_domain::{GroupName, Identity, UserId};

/// Which claims name the user and list their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    pub user_claim: String,
    pub groups_claim: String,
}

impl Default for ClaimRules {
    fn default() -> Self {
        ClaimRules {
            user_claim: "email".into(),
            groups_claim: "groups".into(),
        }
    }
}

impl ClaimRules {
    /// `STINT_USER_CLAIM` and `STINT_GROUPS_CLAIM`, each defaulting when unset or blank.
    pub fn from_env() -> ClaimRules {
        let d = ClaimRules::default();
        ClaimRules {
            user_claim: env_or("STINT_USER_CLAIM", &d.user_claim),
            groups_claim: env_or("STINT_GROUPS_CLAIM", &d.groups_claim),
        }
    }

    /// The caller named by `claims`, or why the token cannot name one.
    pub fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, AuthError> {
        let uc = &self.user_claim;
        let user = match claims.get(uc) {
            None | Some(Value::Null) => {
                return Err(AuthError(format!(
                    "the token has no {uc} claim, the one claim that names the user here \
                     (STINT_USER_CLAIM); no other claim stands in for it"
                )))
            }
            Some(Value::String(s)) => s,
            Some(_) => return Err(AuthError(format!("the token's {uc} claim is not a string"))),
        };
        let user =
            UserId::parse(user).map_err(|e| AuthError(format!("the token's {uc} claim: {e}")))?;
        if uc == "email" {
            email_verified(claims.get("email_verified"))?;
        }
        let groups = match claims.get(&self.groups_claim) {
            None | Some(Value::Null) => vec![],
            Some(Value::String(s)) => parse_groups(s).map_err(|e| self.groups_error(&e))?,
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.groups_error("a list holds something other than names"))?,
            Some(_) => return Err(self.groups_error("neither a list nor a string")),
        };
        // A group Stint cannot name (control characters, over 128 bytes) is left out: that
        // only takes rights away, and no catalog group can be spelled that way.
        let groups = groups.iter().filter_map(|g| GroupName::parse(g).ok());
        Ok(Identity::new(user, groups))
    }

    fn groups_error(&self, why: &str) -> AuthError {
        AuthError(format!(
            "the token's {} claim (STINT_GROUPS_CLAIM) cannot be read: {why}",
            self.groups_claim
        ))
    }
}

/// Accepts only a verified address: `true`, or the string `"true"` API Gateway passes on.
fn email_verified(v: Option<&Value>) -> Result<(), AuthError> {
    let verified = match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        None | Some(Value::Null) => {
            return Err(AuthError(
                "the token has no email_verified claim: the user is named by email, so the \
                 address must be verified (send the ID token, which carries it)"
                    .into(),
            ))
        }
        Some(_) => None,
    };
    match verified {
        Some(true) => Ok(()),
        Some(false) => Err(AuthError(
            "the token's email is not verified (email_verified is false)".into(),
        )),
        None => Err(AuthError(
            "the token's email_verified claim is neither true nor false".into(),
        )),
    }
}

/// The group names in a string claim, in the shapes that can be read without guessing:
///
/// - a JSON array of strings, `["Security Team","sre"]` (e.g. a claim a pre-token-generation
///   trigger wrote with `JSON.stringify`);
/// - a comma-separated list, bracketed or not, `[Security Team, sre]` or `sre,db-owners`;
/// - one name, bracketed or not, `[sre]` or `Security Team`.
///
/// API Gateway's HTTP API flattens an array claim to its items joined by spaces in brackets:
/// `["Security Team"]` and `["Security","Team"]` both arrive as `[Security Team]`. Such a
/// string is refused rather than guessed at, because guessing wrong makes a member of one IdP
/// group a member of others (possibly an admin group).
pub fn parse_groups(raw: &str) -> Result<Vec<String>, String> {
    let t = raw.trim();
    let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        if t.starts_with('[') || t.ends_with(']') {
            return Err(format!("{t:?} has an unbalanced bracket"));
        }
        return Ok(split_commas(t));
    };
    let inner = inner.trim();
    if inner.starts_with('"') {
        return serde_json::from_str::<Vec<String>>(t)
            .map_err(|e| format!("{t:?} looks like a JSON array but is not one of strings: {e}"));
    }
    if inner.contains(',') || !inner.contains(char::is_whitespace) {
        return Ok(split_commas(inner));
    }
    Err(format!(
        "{t:?} is a space-separated list, as API Gateway flattens an array claim, and a group \
         name may itself hold spaces, so the names cannot be told apart; have the identity \
         provider send the groups as a JSON array string or a comma-separated string"
    ))
}

fn split_commas(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn who(claims: Value) -> Result<Identity, AuthError> {
        ClaimRules::default().identity(claims.as_object().unwrap())
    }

    fn groups(claims: Value) -> Vec<String> {
        who(claims)
            .unwrap()
            .groups
            .iter()
            .map(|g| g.to_string())
            .collect()
    }

    #[test]
    fn unambiguous_group_shapes_are_read() {
        assert_eq!(parse_groups("[sre]").unwrap(), ["sre"]);
        assert_eq!(parse_groups("sre").unwrap(), ["sre"]);
        assert_eq!(
            parse_groups(r#"["sre","db-owners"]"#).unwrap(),
            ["sre", "db-owners"]
        );
        assert_eq!(
            parse_groups(r#"["Security Team", "sre"]"#).unwrap(),
            ["Security Team", "sre"]
        );
        assert_eq!(
            parse_groups("sre, db-owners").unwrap(),
            ["sre", "db-owners"]
        );
        assert_eq!(
            parse_groups("[Security Team, sre]").unwrap(),
            ["Security Team", "sre"]
        );
        assert_eq!(parse_groups("Security Team").unwrap(), ["Security Team"]);
        assert!(parse_groups("[]").unwrap().is_empty());
        assert!(parse_groups("").unwrap().is_empty());
    }

    #[test]
    fn a_space_separated_list_is_never_split_into_names() {
        for raw in ["[Security Team]", "[sre admins]", "[ a  b ]"] {
            let e = parse_groups(raw).unwrap_err();
            assert!(e.contains("space-separated"), "{raw}: {e}");
        }
        assert!(parse_groups(r#"["sre", 5]"#).is_err());
        assert!(parse_groups(r#"["sre"#).is_err());
    }

    #[test]
    fn security_team_never_becomes_security_and_team() {
        let base = json!({"email": "m@example.com", "email_verified": "true"});
        let with = |g: Value| {
            let mut c = base.clone();
            c["groups"] = g;
            c
        };
        // API Gateway's flattening of ["Security Team"]: refused, not split.
        let e = who(with(json!("[Security Team]"))).unwrap_err();
        assert!(e.0.contains("groups claim"), "{e}");
        // Every readable shape keeps the name whole.
        for g in [
            json!(["Security Team"]),
            json!(r#"["Security Team"]"#),
            json!("[Security Team, ]"),
            json!("Security Team"),
        ] {
            assert_eq!(groups(with(g.clone())), ["security team"], "{g}");
        }
        assert_eq!(
            groups(with(json!(["sre", "Security Team"]))),
            ["security team", "sre"]
        );
        assert!(who(with(json!([1, 2]))).is_err());
        assert!(who(with(json!({"a": 1}))).is_err());
    }

    #[test]
    fn the_user_is_one_claim_with_no_fallback() {
        let e = who(json!({"sub": "abc-123", "groups": ["sre"]})).unwrap_err();
        assert!(e.0.contains("no email claim"), "{e}");
        let e = who(json!({"email": 7, "email_verified": true})).unwrap_err();
        assert!(e.0.contains("not a string"), "{e}");
        let e = who(json!({"email": "  ", "email_verified": true})).unwrap_err();
        assert!(e.0.contains("email claim"), "{e}");
        let by_sub = ClaimRules {
            user_claim: "sub".into(),
            groups_claim: "groups".into(),
        };
        let id = by_sub
            .identity(json!({"sub": "abc-123"}).as_object().unwrap())
            .unwrap();
        assert_eq!(id.user.as_str(), "abc-123");
        // Named by sub, an email and its verification play no part.
        let e = by_sub
            .identity(json!({"email": "a@example.com"}).as_object().unwrap())
            .unwrap_err();
        assert!(e.0.contains("no sub claim"), "{e}");
    }

    #[test]
    fn an_email_must_be_verified() {
        let user = "alice@example.com";
        for ok in [json!(true), json!("true"), json!("TRUE")] {
            assert!(who(json!({"email": user, "email_verified": ok})).is_ok());
        }
        for (v, says) in [
            (json!(false), "not verified"),
            (json!("false"), "not verified"),
            (json!(null), "no email_verified"),
            (json!("yes"), "neither"),
            (json!(1), "neither"),
        ] {
            let e = who(json!({"email": user, "email_verified": v})).unwrap_err();
            assert!(e.0.contains(says), "{v}: {e}");
        }
        let e = who(json!({"email": user})).unwrap_err();
        assert!(e.0.contains("no email_verified"), "{e}");
    }
}
