//! Organisations: the accounts a catalog role names (account ids, OUs, the root), what they
//! resolve to, and the rule that decides whether a grant may land in a given account.

use crate::catalog::Role;
use crate::ids::RoleName;
use crate::request::Rejection;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(v: &str) -> Result<Self, String> {
        if v.len() == 12 && v.chars().all(|c| c.is_ascii_digit()) {
            Ok(AccountId(v.to_owned()))
        } else {
            Err(format!("{v:?} is not an AWS account id (12 digits)"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        AccountId::parse(&s)
    }
}
impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}
impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of a role's `accounts`: an account, an organizational unit (`ou-...`, every
/// account under it, nested OUs included) or the organisation's root (`r-...`, every account).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum OrgTarget {
    Account(AccountId),
    Unit(String),
    Root(String),
}

impl OrgTarget {
    /// The shapes Organizations documents: `ou-` then 4 to 32 and 8 to 32 lower-case
    /// alphanumerics joined by a dash; `r-` then 4 to 32.
    pub fn parse(v: &str) -> Result<Self, String> {
        let alnum = |s: &str, min: usize, max: usize| {
            (min..=max).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        };
        if let Some(rest) = v.strip_prefix("ou-") {
            return match rest.split_once('-') {
                Some((root, unit)) if alnum(root, 4, 32) && alnum(unit, 8, 32) => {
                    Ok(OrgTarget::Unit(v.to_owned()))
                }
                _ => Err(format!("{v:?} is not an OU id (ou-xxxx-xxxxxxxx)")),
            };
        }
        if let Some(rest) = v.strip_prefix("r-") {
            return if alnum(rest, 4, 32) {
                Ok(OrgTarget::Root(v.to_owned()))
            } else {
                Err(format!("{v:?} is not an organisation root id (r-xxxx)"))
            };
        }
        AccountId::parse(v).map(OrgTarget::Account).map_err(|_| {
            format!("{v:?} is not an account id (12 digits), an OU id (ou-...) or the root (r-...)")
        })
    }

    /// The parent id Organizations lists children of; `None` for a single account.
    pub fn parent_id(&self) -> Option<&str> {
        match self {
            OrgTarget::Account(_) => None,
            OrgTarget::Unit(id) | OrgTarget::Root(id) => Some(id),
        }
    }
}
impl TryFrom<String> for OrgTarget {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        OrgTarget::parse(&s)
    }
}
impl From<OrgTarget> for String {
    fn from(t: OrgTarget) -> String {
        t.to_string()
    }
}
impl fmt::Display for OrgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrgTarget::Account(a) => f.write_str(a.as_str()),
            OrgTarget::Unit(id) | OrgTarget::Root(id) => f.write_str(id),
        }
    }
}

/// What a role's `accounts` resolve to right now: the accounts it covers, and the management
/// account when one of its entries reached it but the role does not allow it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub covered: BTreeSet<AccountId>,
    /// The management account, named or under an entry, left out because the role does not
    /// set `allow_management_account`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_management: Option<AccountId>,
}

/// The accounts of `role`: each entry's accounts as Organizations listed them (`listed`, by
/// OU or root id; a plain account id stands for itself), less the management account unless
/// the role allows it.
pub fn resolve(
    role: &Role,
    listed: &BTreeMap<OrgTarget, Vec<AccountId>>,
    management: Option<&AccountId>,
) -> Resolution {
    let mut out = Resolution::default();
    for target in &role.accounts {
        let accounts: Vec<AccountId> = match target {
            OrgTarget::Account(a) => vec![a.clone()],
            other => listed.get(other).cloned().unwrap_or_default(),
        };
        for a in accounts {
            if Some(&a) == management && !role.allow_management_account {
                out.refused_management = Some(a);
            } else {
                out.covered.insert(a);
            }
        }
    }
    out
}

/// Whether a grant of `role` may land in `account`: roles without `accounts` keep to their
/// principal patterns (the account is literal there); roles with them need the account covered
/// now, and never the management account unless they allow it.
pub fn check_account(
    name: &RoleName,
    role: &Role,
    account: &str,
    resolution: &Resolution,
) -> Result<(), Rejection> {
    if role.accounts.is_empty() {
        return Ok(());
    }
    if resolution
        .refused_management
        .as_ref()
        .is_some_and(|m| m.as_str() == account)
    {
        return Err(Rejection::AccountNotAllowed {
            role: name.clone(),
            account: account.to_owned(),
            why: "it is the organisation's management account, and the role does not set allow_management_account = true".into(),
        });
    }
    if resolution.covered.iter().any(|a| a.as_str() == account) {
        return Ok(());
    }
    Err(Rejection::AccountNotAllowed {
        role: name.clone(),
        account: account.to_owned(),
        why: "it is not among the role's accounts".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn acct(n: &str) -> AccountId {
        AccountId::parse(n).unwrap()
    }

    fn role(accounts: &str, allow_mgmt: bool) -> (RoleName, Role) {
        let text = format!(
            r#"
[roles.dev-read]
accounts = {accounts}
allow_management_account = {allow_mgmt}
principals = ["arn:aws:iam::{{account}}:role/stint/dev"]
default_duration = "1h"
max_duration = "4h"
requesters = {{ groups = ["eng"] }}
approvers = {{ groups = ["leads"] }}
[[roles.dev-read.statements]]
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::dev-logs/*"]
"#
        );
        let c = Catalog::from_toml(&text).unwrap();
        let (n, r) = c.roles.into_iter().next().unwrap();
        (n, r)
    }

    #[test]
    fn account_placeholders_only_with_accounts_and_never_on_member_roles() {
        let base = |accounts: &str, principal: &str, path: &str| {
            format!(
                r#"
[settings]
principal_path = "{path}"
[roles.r]
{accounts}
principals = ["{principal}"]
default_duration = "1h"
max_duration = "4h"
requesters = {{ groups = ["eng"] }}
approvers = {{ groups = ["leads"] }}
[[roles.r.statements]]
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::dev-logs/*"]
"#
            )
        };
        let load = |a: &str, p: &str, path: &str| Catalog::from_toml(&base(a, p, path));
        let any = "arn:aws:iam::{account}:role/stint/dev";
        let fixed = "arn:aws:iam::123456789012:role/stint/dev";
        assert!(load(r#"accounts = ["ou-ab12-cdef3456"]"#, any, "/stint/").is_ok());
        let e = load("", any, "/stint/").unwrap_err();
        assert!(e.message.contains("names no accounts"), "{e}");
        let e = load(r#"accounts = ["r-ab12"]"#, fixed, "/stint/").unwrap_err();
        assert!(e.message.contains("must use {account}"), "{e}");
        let e = load(
            r#"accounts = ["r-ab12"]"#,
            "arn:aws:iam::{account}:role/stint/{account}",
            "/stint/",
        )
        .unwrap_err();
        assert!(e.path.ends_with("principals[0]"), "{e}");
        let e = load(r#"accounts = ["nope"]"#, any, "/stint/").unwrap_err();
        assert!(e.path.starts_with("roles.r.accounts"), "{e}");
        let e = load("allow_management_account = true", fixed, "/stint/").unwrap_err();
        assert!(e.path.ends_with("allow_management_account"), "{e}");
        // A catalog that moves its principal path onto the member roles cannot reach them.
        let e = load(
            r#"accounts = ["r-ab12"]"#,
            "arn:aws:iam::{account}:role/stint-hub/stint-target",
            "/stint-hub/",
        )
        .unwrap_err();
        assert!(e.message.contains("Stint's own roles"), "{e}");
    }

    #[test]
    fn an_account_placeholder_matches_only_the_principals_own_account() {
        let (_, r) = role(r#"["r-ab12"]"#, false);
        let p = |a: &str| crate::ids::PrincipalArn::parse(a).unwrap();
        assert!(r.allows_principal(&p("arn:aws:iam::111111111111:role/stint/dev")));
        assert!(!r.allows_principal(&p("arn:aws:iam::111111111111:role/stint/other")));
        assert!(!r.allows_principal(&p("arn:aws:iam::111111111111:role/stint/x/dev")));
    }

    #[test]
    fn a_pipeline_rule_with_account_approves_only_in_the_principals_own_account() {
        let text = r#"
[roles.deploy]
accounts = ["r-ab12"]
principals = ["arn:aws:iam::{account}:role/stint/deploy"]
default_duration = "30m"
max_duration = "1h"
requesters = { users = ["repo:acme/*"] }
approvers = { groups = ["leads"] }
[[roles.deploy.statements]]
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::dev-logs/*"]
[[roles.deploy.auto_approve]]
name = "ci-main"
kind = "pipeline"
repositories = ["acme/orders"]
refs = ["refs/heads/main"]
principals = ["arn:aws:iam::{account}:role/stint/deploy"]
max_duration = "30m"
"#;
        let c = Catalog::from_toml(text).unwrap();
        let r = c.role(&RoleName::parse("deploy").unwrap()).unwrap();
        let source = crate::event::Source::Pipeline {
            repository: "acme/orders".into(),
            git_ref: "refs/heads/main".into(),
            environment: None,
        };
        let d = crate::duration::AccessDuration::parse("30m").unwrap();
        let p = |a: &str| crate::ids::PrincipalArn::parse(a).unwrap();
        // `{account}` is the principal's account, as in the role's own patterns: the rule
        // approves the deploy role in any account the role covers...
        for a in ["111111111111", "222222222222"] {
            let arn = p(&format!("arn:aws:iam::{a}:role/stint/deploy"));
            assert!(r.auto_rule_for(&source, d, None, &arn).is_some(), "{a}");
        }
        // ...and nothing else, in no account.
        let other = p("arn:aws:iam::111111111111:role/stint/admin");
        assert!(r.auto_rule_for(&source, d, None, &other).is_none());
    }

    #[test]
    fn targets_parse_by_shape() {
        assert_eq!(
            OrgTarget::parse("123456789012").unwrap(),
            OrgTarget::Account(acct("123456789012"))
        );
        assert!(matches!(
            OrgTarget::parse("ou-ab12-cdef3456").unwrap(),
            OrgTarget::Unit(_)
        ));
        assert!(matches!(
            OrgTarget::parse("r-ab12").unwrap(),
            OrgTarget::Root(_)
        ));
        for bad in [
            "12345",
            "ou-AB12-cdef3456",
            "ou-ab12",
            "r-",
            "o-abcd1234",
            "*",
            "",
        ] {
            assert!(OrgTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_ou_resolves_to_what_organizations_lists_under_it() {
        let (_, r) = role(r#"["ou-ab12-cdef3456", "444444444444"]"#, false);
        let ou = OrgTarget::parse("ou-ab12-cdef3456").unwrap();
        let listed = BTreeMap::from([(ou, vec![acct("111111111111"), acct("222222222222")])]);
        let res = resolve(&r, &listed, Some(&acct("999999999999")));
        let covered: Vec<_> = res.covered.iter().map(|a| a.as_str()).collect();
        assert_eq!(covered, ["111111111111", "222222222222", "444444444444"]);
        assert_eq!(res.refused_management, None);
    }

    #[test]
    fn the_management_account_is_refused_unless_allowed() {
        let root = OrgTarget::parse("r-ab12").unwrap();
        let listed = BTreeMap::from([(root, vec![acct("111111111111"), acct("999999999999")])]);
        let mgmt = acct("999999999999");
        let (n, r) = role(r#"["r-ab12"]"#, false);
        let res = resolve(&r, &listed, Some(&mgmt));
        assert!(!res.covered.contains(&mgmt));
        assert_eq!(res.refused_management, Some(mgmt.clone()));
        let e = check_account(&n, &r, "999999999999", &res).unwrap_err();
        assert!(e.to_string().contains("management account"), "{e}");
        assert!(check_account(&n, &r, "111111111111", &res).is_ok());
        assert!(check_account(&n, &r, "555555555555", &res).is_err());
        // Named explicitly, it is refused all the same.
        let (n, r) = role(r#"["999999999999"]"#, false);
        let res = resolve(&r, &BTreeMap::new(), Some(&mgmt));
        assert!(check_account(&n, &r, "999999999999", &res).is_err());
        // Allowed, it is covered.
        let (n, r) = role(r#"["999999999999"]"#, true);
        let res = resolve(&r, &BTreeMap::new(), Some(&mgmt));
        assert!(check_account(&n, &r, "999999999999", &res).is_ok());
    }
}
