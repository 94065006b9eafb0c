//! The catalog: which roles exist, what they grant, who may request and approve them, and the
//! rules that approve automatically. Loaded from TOML and validated before anything uses it.

use super::duration::AccessDuration;
use super::event::Source;
use super::ids::{GroupName, Identity, PrincipalArn, RoleName, Scope, UserId};
use super::oncall::Rotation;
pub use crate::glob::glob_match;
use crate::glob::segment_match;
use crate::guard::{self, Field};
use crate::protected::{ProtectedArn, ProtectedResources};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A catalog that failed to load; `path` names the offending field, e.g. `roles.db-read.max_duration`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CatalogError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> CatalogError {
    CatalogError {
        path: path.into(),
        message: message.into(),
    }
}

/// A pattern where `*` matches any run of characters (including none). Where the pattern is
/// a path that says where a grant lands (principals, scopes), `*` stays inside one segment:
/// see [`Pattern::matches_segment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern(String);

impl Pattern {
    pub fn new(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() || raw.len() > 512 || raw.chars().any(char::is_control) {
            return Err(format!(
                "{raw:?} is not a pattern (1 to 512 printable characters)"
            ));
        }
        Ok(Pattern(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn matches(&self, value: &str) -> bool {
        glob_match(&self.0, value)
    }
    /// `*` matches within one `/`-separated segment only.
    pub fn matches_segment(&self, value: &str) -> bool {
        segment_match(&self.0, value)
    }
}
impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Pattern::new(&s)
    }
}
impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.0
    }
}
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// One IAM statement a role grants; `{scope}` in a resource is replaced by the request's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(default = "allow")]
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}
fn allow() -> Effect {
    Effect::Allow
}

/// Whose sessions of the target role a grant serves. A role is shared (`stint/oncall` is
/// assumed by every engineer on call), so an unbound grant serves everyone who can assume it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionBinding {
    /// Only sessions named after the requester (`aws:userid` ends in `:<requester>`), the
    /// session name Identity Center and SAML federation set. The default.
    #[default]
    RoleSessionName,
    /// Only sessions whose source identity is the requester (`aws:SourceIdentity`).
    SourceIdentity,
    /// Every session of the role: only for roles a single workload assumes.
    None,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requesters {
    /// User patterns, so pipelines can be named by subject, e.g. `repo:acme/orders:*`.
    #[serde(default)]
    pub users: Vec<Pattern>,
    #[serde(default)]
    pub groups: Vec<GroupName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approvers {
    pub groups: Vec<GroupName>,
    /// Distinct approvals needed.
    #[serde(default = "one")]
    pub required: u8,
}
fn one() -> u8 {
    1
}

/// A rule that approves a request without a person, up to its `max_duration`; longer
/// requests wait for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AutoRule {
    /// An authenticated alert for one of `services` (see `Source::Alert::authenticated`).
    Alert {
        name: String,
        services: Vec<String>,
        /// Revoke when the incident resolves.
        #[serde(default = "yes")]
        revoke_on_resolve: bool,
        max_duration: AccessDuration,
    },
    /// A CI job whose OIDC claims match, asking for one of the scopes and principals the rule
    /// names: a rule ties its repositories to what they may get, so one repository's main
    /// branch is never approved for another's scope.
    Pipeline {
        name: String,
        repositories: Vec<Pattern>,
        refs: Vec<Pattern>,
        #[serde(default)]
        environments: Vec<String>,
        /// The scopes these repositories may get; empty: only requests without a scope.
        #[serde(default)]
        scopes: Vec<Pattern>,
        /// The principals these repositories may get.
        principals: Vec<Pattern>,
        max_duration: AccessDuration,
    },
}

impl AutoRule {
    pub fn name(&self) -> &str {
        match self {
            AutoRule::Alert { name, .. } | AutoRule::Pipeline { name, .. } => name,
        }
    }
    pub fn max_duration(&self) -> AccessDuration {
        match self {
            AutoRule::Alert { max_duration, .. } | AutoRule::Pipeline { max_duration, .. } => {
                *max_duration
            }
        }
    }
}
fn yes() -> bool {
    true
}

/// `arn:aws:cloudwatch:<region>:<12-digit account>:alarm:<name pattern>`, with no wildcard
/// before the name.
pub fn is_full_alarm_arn(pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.splitn(7, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", "aws", "cloudwatch", region, account, "alarm", name]
            if !region.is_empty()
                && !region.contains('*')
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && !name.is_empty()
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    #[serde(default)]
    pub description: String,
    /// What an `iam` role grants; an `identity_center` role grants its permission set and has none.
    #[serde(default)]
    pub statements: Vec<Statement>,
    /// How access is given: an inline policy on the principal (`iam`, the default), or an
    /// Identity Center account assignment of `permission_set` (`identity_center`).
    #[serde(default, skip_serializing_if = "Provider::is_iam")]
    pub provider: Provider,
    /// The permission set an `identity_center` role assigns in the request's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_set: Option<crate::identity_center::PermissionSetArn>,
    /// ARN patterns of the IAM roles this role may be attached to.
    pub principals: Vec<Pattern>,
    /// Allowed values for `{scope}`; empty means the role takes no scope.
    #[serde(default)]
    pub scopes: Vec<Pattern>,
    pub default_duration: AccessDuration,
    pub max_duration: AccessDuration,
    /// Bound on the whole grant including extensions; defaults to `max_duration`.
    #[serde(default)]
    pub max_total_duration: Option<AccessDuration>,
    pub requesters: Requesters,
    pub approvers: Approvers,
    #[serde(default)]
    pub break_glass: bool,
    /// Whether the requester may extend without an approver.
    #[serde(default)]
    pub self_extend: bool,
    #[serde(default)]
    pub auto_approve: Vec<AutoRule>,
    /// Where this role's notices go, instead of or besides the global channels.
    #[serde(default)]
    pub notify: RoleNotify,
    /// Whose sessions of the target role the grant serves; binds to the requester unless
    /// the catalog says otherwise.
    #[serde(default)]
    pub session_binding: SessionBinding,
    /// The accounts this role grants in: account ids, OU ids (`ou-...`, nested OUs included)
    /// or the root (`r-...`), resolved through Organizations when a request is made and again
    /// at grant. Empty: the accounts its principal patterns name literally.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<crate::org::OrgTarget>,
    /// Whether the organisation's management account may be one of them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_management_account: bool,
}

/// How a role's access is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// A time-bounded inline policy on the request's IAM role.
    #[default]
    Iam,
    /// An IAM Identity Center account assignment of the role's permission set to the
    /// requester's Identity Center user, in the principal's account.
    IdentityCenter,
}

impl Provider {
    pub fn is_iam(&self) -> bool {
        *self == Provider::Iam
    }
}

/// Where a principal pattern says "the request's account".
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// Per-role notification channels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleNotify {
    /// Replaces the global Slack webhook for this role's notices.
    #[serde(default)]
    pub slack_webhook: Option<String>,
    /// Replaces the global Slack channel (with the bot token) for this role's approvers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_channel: Option<String>,
    /// Addresses told of this role's requests, besides the approver groups' addresses.
    #[serde(default)]
    pub approver_emails: Vec<String>,
}

/// Global notification channels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Link to a request in messages; `{id}` is replaced by the request id.
    #[serde(default)]
    pub link: Option<String>,
    /// Sender of notice emails (an SES-verified identity); no sender, no email.
    #[serde(default)]
    pub email_from: Option<String>,
    /// Slack incoming webhook for every role without its own.
    #[serde(default)]
    pub slack_webhook: Option<String>,
    /// Slack channel (id or name) where approvers get messages with buttons, posted with the
    /// bot token; preferred to the webhook when a bot token is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_channel: Option<String>,
    /// Mail addresses of each approver group.
    #[serde(default)]
    pub group_emails: BTreeMap<GroupName, Vec<String>>,
}

/// `[slack]`: how a Slack user who clicks a button becomes a Stint identity. The user is the
/// email Slack holds for them unless `users` names them; their groups are the Stint groups whose
/// Slack user group they are in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackDirectory {
    /// Stint group -> Slack user group id (`S...`).
    #[serde(default)]
    pub groups: BTreeMap<GroupName, String>,
    /// Slack user id (`U...`) -> Stint user, for people whose Slack email is not their Stint id.
    #[serde(default)]
    pub users: BTreeMap<String, UserId>,
}

impl SlackDirectory {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.users.is_empty()
    }
}

/// Slack ids (users `U...`/`W...`, user groups `S...`) are short upper-case alphanumerics.
fn check_slack_id(id: &str) -> Result<(), String> {
    if (2..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a Slack id (like U0123ABCD or S0123ABCD)"
        ))
    }
}

/// A channel id (`C...`) or a name (`#approvals`): one short word, nothing Slack would parse.
fn check_slack_channel(c: &str) -> Result<(), String> {
    let name = c.strip_prefix('#').unwrap_or(c);
    if (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.')
    {
        Ok(())
    } else {
        Err(format!("{c:?} is not a Slack channel id or name"))
    }
}

/// A service that alerts can open incident access for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// CloudWatch alarm names or ARNs (patterns) that are this service's alerts.
    #[serde(default)]
    pub alarms: Vec<Pattern>,
    /// PagerDuty service ids or names (patterns).
    #[serde(default)]
    pub pagerduty_services: Vec<Pattern>,
    /// What the on-call engineer is given.
    pub role: RoleName,
    #[serde(default)]
    pub scope: Option<Scope>,
    pub principal: PrincipalArn,
    /// Defaults to the role's default duration.
    #[serde(default)]
    pub duration: Option<AccessDuration>,
    /// An alarm firing again this soon after its incident was resolved is the same incident.
    #[serde(default = "d15m")]
    pub flap_window: AccessDuration,
    pub rotation: Rotation,
}
fn d15m() -> AccessDuration {
    AccessDuration::from_secs(900).expect("constant is valid")
}

impl Role {
    /// The permission set this role assigns, when it is an `identity_center` role.
    pub fn identity_center(&self) -> Option<&crate::identity_center::PermissionSetArn> {
        match self.provider {
            Provider::IdentityCenter => self.permission_set.as_ref(),
            Provider::Iam => None,
        }
    }

    pub fn max_total(&self) -> AccessDuration {
        self.max_total_duration.unwrap_or(self.max_duration)
    }

    pub fn may_request(&self, who: &Identity) -> bool {
        self.requesters
            .users
            .iter()
            .any(|p| p.matches(who.user.as_str()))
            || who.in_any(&self.requesters.groups)
    }

    /// Every address told about this role's requests: the approver groups' and the role's own.
    pub fn approver_emails(&self, notify: &Notify) -> Vec<String> {
        let mut out: Vec<String> = self
            .approvers
            .groups
            .iter()
            .filter_map(|g| notify.group_emails.get(g))
            .flatten()
            .chain(self.notify.approver_emails.iter())
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn is_approver(&self, who: &Identity) -> bool {
        who.in_any(&self.approvers.groups)
    }

    /// A scope lands in resource ARNs, so `*` in a scope pattern stays inside one segment.
    pub fn allows_scope(&self, scope: Option<&Scope>) -> bool {
        match scope {
            None => self.scopes.is_empty(),
            Some(s) => self.scopes.iter().any(|p| p.matches_segment(s.as_str())),
        }
    }

    /// `*` stays inside one path segment: IAM's role-policy calls take only the last segment
    /// as the role name, so `role/stint/ci-*` must never match `role/stint/ci-x/oncall`.
    /// `{account}` stands for the principal's own account, which [`crate::org::check_account`]
    /// judges against the role's `accounts`.
    pub fn allows_principal(&self, principal: &PrincipalArn) -> bool {
        self.principals.iter().any(|p| {
            if p.as_str().contains(ACCOUNT_PLACEHOLDER) {
                let filled = p.as_str().replace(ACCOUNT_PLACEHOLDER, principal.account());
                segment_match(&filled, principal.as_str())
            } else {
                p.matches_segment(principal.as_str())
            }
        })
    }

    /// The first automatic-approval rule that covers this source and duration.
    pub fn auto_rule_for(
        &self,
        source: &Source,
        duration: AccessDuration,
        scope: Option<&Scope>,
        principal: &PrincipalArn,
    ) -> Option<&AutoRule> {
        self.auto_approve.iter().find(|rule| {
            duration <= rule.max_duration()
                && match (rule, source) {
                    (
                        AutoRule::Alert { services, .. },
                        Source::Alert {
                            service,
                            authenticated,
                            ..
                        },
                    ) => *authenticated && services.iter().any(|s| s == service),
                    (
                        AutoRule::Pipeline {
                            repositories,
                            refs,
                            environments,
                            scopes,
                            principals,
                            ..
                        },
                        Source::Pipeline {
                            repository,
                            git_ref,
                            environment,
                            ..
                        },
                    ) => {
                        let scope_ok = match scope {
                            Some(s) => scopes.iter().any(|p| p.matches(s.as_str())),
                            None => scopes.is_empty(),
                        };
                        // `{account}` is the principal's own account, as in the role's
                        // patterns; read literally it would never match, and no rule would fire.
                        let principal_ok = principals.iter().any(|p| {
                            glob_match(
                                &p.as_str().replace(ACCOUNT_PLACEHOLDER, principal.account()),
                                principal.as_str(),
                            )
                        });
                        scope_ok
                            && principal_ok
                            && repositories.iter().any(|p| p.matches(repository))
                            && refs.iter().any(|p| p.matches(git_ref))
                            && (environments.is_empty()
                                || environment
                                    .as_ref()
                                    .is_some_and(|e| environments.contains(e)))
                    }
                    _ => false,
                }
        })
    }

    /// The role's statements with `{scope}` filled in.
    pub fn statements_for(&self, scope: Option<&Scope>) -> Vec<Statement> {
        let fill = |r: &String| match scope {
            Some(s) => r.replace("{scope}", s.as_str()),
            None => r.clone(),
        };
        self.statements
            .iter()
            .map(|st| Statement {
                effect: st.effect,
                actions: st.actions.clone(),
                resources: st.resources.iter().map(fill).collect(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A pending request lapses after this long.
    #[serde(default = "d24h")]
    pub pending_timeout: AccessDuration,
    /// How far ahead a scheduled start may be.
    #[serde(default = "d7d")]
    pub max_start_ahead: AccessDuration,
    /// Break-glass use must be reviewed within this long.
    #[serde(default = "d24h")]
    pub break_glass_review_within: AccessDuration,
    /// Every grant of a month must have its access review within this long after the month
    /// ends; unreviewed grants are findings after that. 1 to 90 days.
    #[serde(default = "d14d")]
    pub review_within: AccessDuration,
    /// The requester is reminded this long before their access expires (and a day before,
    /// for grants longer than a day). 1 minute to 12 hours.
    #[serde(default = "d10m")]
    pub expiry_reminder: AccessDuration,
    /// Every principal pattern must sit under this IAM path.
    #[serde(default = "stint_path")]
    pub principal_path: String,
    /// Groups that may revoke any grant.
    #[serde(default)]
    pub admin_groups: Vec<GroupName>,
    /// Groups that may read compliance reports (admins may too).
    #[serde(default)]
    pub auditor_groups: Vec<GroupName>,
    /// More of Stint's own resources (ARNs or ARN patterns), besides the deployment's (passed
    /// in by the template) or, locally, the defaults. No role may act on or be attached to any.
    #[serde(default)]
    pub protected_resources: Vec<String>,
    /// When set, the only services whose actions roles may grant.
    #[serde(default)]
    pub allowed_services: Option<Vec<String>>,
}
fn d24h() -> AccessDuration {
    AccessDuration::from_secs(86_400).expect("constant is valid")
}
fn d7d() -> AccessDuration {
    AccessDuration::from_secs(7 * 86_400).expect("constant is valid")
}
fn d10m() -> AccessDuration {
    AccessDuration::from_secs(600).expect("constant is valid")
}
fn d14d() -> AccessDuration {
    AccessDuration::from_secs(14 * 86_400).expect("constant is valid")
}
/// The bounds of `settings.review_within`: a review needs at least a day, and a window over a
/// quarter would let a whole quarter's grants go unreviewed.
pub const REVIEW_WITHIN_MIN_SECS: u64 = 86_400;
pub const REVIEW_WITHIN_MAX_SECS: u64 = 90 * 86_400;
fn stint_path() -> String {
    "/stint/".into()
}
impl Default for Settings {
    fn default() -> Self {
        Settings {
            pending_timeout: d24h(),
            max_start_ahead: d7d(),
            break_glass_review_within: d24h(),
            review_within: d14d(),
            expiry_reminder: d10m(),
            principal_path: stint_path(),
            admin_groups: vec![],
            auditor_groups: vec![],
            protected_resources: vec![],
            allowed_services: None,
        }
    }
}

/// A validated catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(default)]
    pub settings: Settings,
    pub roles: BTreeMap<RoleName, Role>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub notify: Notify,
    /// Who a Slack user is in Stint, for approvals from Slack buttons.
    #[serde(default, skip_serializing_if = "SlackDirectory::is_empty")]
    pub slack: SlackDirectory,
    /// Everything no grant may reach: the deployment's resources and the catalog's own list.
    /// Set on load, never read from the catalog text.
    #[serde(skip)]
    protected: ProtectedResources,
}

impl Catalog {
    /// Parses and validates a TOML catalog for `stint serve` and tests: the protected
    /// resources are the local defaults plus the catalog's own list.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        Self::from_toml_for(text, &ProtectedResources::local_defaults())
    }

    /// Parses and validates a TOML catalog for a deployment whose own resources are
    /// `deployment` (the template's list); the catalog's own list is added to it.
    pub fn from_toml_for(
        text: &str,
        deployment: &ProtectedResources,
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = Self::parse(text)?;
        catalog.protected = catalog.protected_with(deployment)?;
        catalog.validate()?;
        Ok(catalog)
    }

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let de = toml::de::Deserializer::parse(text).map_err(|e| err("catalog", e.to_string()))?;
        let catalog: Catalog = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            err(
                if path == "." { "catalog".into() } else { path },
                e.into_inner().message().trim_end().to_owned(),
            )
        })?;
        Ok(catalog)
    }

    /// `deployment` and the catalog's `settings.protected_resources`, each entry checked.
    fn protected_with(
        &self,
        deployment: &ProtectedResources,
    ) -> Result<ProtectedResources, CatalogError> {
        let mut more = Vec::new();
        for (i, raw) in self.settings.protected_resources.iter().enumerate() {
            let arn = ProtectedArn::parse(raw)
                .map_err(|why| err(format!("settings.protected_resources[{i}]"), why))?;
            more.push(arn);
        }
        let all = deployment.with(more);
        if all.is_empty() {
            return Err(err(
                "settings.protected_resources",
                "no protected resources: the deployment passed none and the catalog lists none",
            ));
        }
        Ok(all)
    }

    /// Stint's own resources, which every grant document denies.
    pub fn protected(&self) -> &ProtectedResources {
        &self.protected
    }

    pub fn role(&self, name: &RoleName) -> Option<&Role> {
        self.roles.get(name)
    }

    /// The service a CloudWatch alarm belongs to, by name or ARN pattern.
    pub fn service_for_alarm(&self, name: &str, arn: &str) -> Option<(&str, &Service)> {
        self.services
            .iter()
            .find(|(_, s)| s.alarms.iter().any(|p| p.matches(name) || p.matches(arn)))
            .map(|(n, s)| (n.as_str(), s))
    }

    /// Whether a service's alarm patterns name `arn` by a full ARN pattern (literal region and
    /// account): only such an alarm is trusted to approve, since anyone who may create a metric
    /// alarm may give it any name.
    pub fn alarm_named_by_arn(&self, service: &Service, arn: &str) -> bool {
        service
            .alarms
            .iter()
            .any(|p| is_full_alarm_arn(p.as_str()) && p.matches(arn))
    }

    /// The service a PagerDuty service (id or name) belongs to.
    pub fn service_for_pagerduty(&self, id: &str, name: &str) -> Option<(&str, &Service)> {
        self.services
            .iter()
            .find(|(_, s)| {
                s.pagerduty_services
                    .iter()
                    .any(|p| p.matches(id) || (!name.is_empty() && p.matches(name)))
            })
            .map(|(n, s)| (n.as_str(), s))
    }

    pub fn is_admin(&self, who: &Identity) -> bool {
        who.in_any(&self.settings.admin_groups)
    }

    pub fn is_auditor(&self, who: &Identity) -> bool {
        who.in_any(&self.settings.auditor_groups) || self.is_admin(who)
    }

    /// Whether a concrete ARN (or a principal pattern read literally) is one of Stint's own.
    pub fn is_protected(&self, arn: &str) -> bool {
        self.protected.covering(arn).is_some()
    }

    fn validate(&self) -> Result<(), CatalogError> {
        let s = &self.settings;
        if !s.principal_path.starts_with('/')
            || !s.principal_path.ends_with('/')
            || s.principal_path == "/"
        {
            return Err(err(
                "settings.principal_path",
                "must be a non-root IAM path such as /stint/",
            ));
        }
        if self.roles.is_empty() {
            return Err(err("roles", "the catalog defines no roles"));
        }
        if !(REVIEW_WITHIN_MIN_SECS..=REVIEW_WITHIN_MAX_SECS).contains(&s.review_within.secs()) {
            return Err(err(
                "settings.review_within",
                format!("{} is not 1d to 90d", s.review_within),
            ));
        }
        if !(60..=12 * 3_600).contains(&s.expiry_reminder.secs()) {
            return Err(err(
                "settings.expiry_reminder",
                format!("{} is not 1m to 12h", s.expiry_reminder),
            ));
        }
        if let Some(services) = &s.allowed_services {
            for (i, svc) in services.iter().enumerate() {
                if svc.is_empty() || !svc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(err(
                        format!("settings.allowed_services[{i}]"),
                        format!("{svc:?} is not a service name such as dynamodb"),
                    ));
                }
            }
        }
        self.validate_group_names()?;
        for (name, role) in &self.roles {
            self.validate_role(&format!("roles.{name}"), role)?;
        }
        for (name, service) in &self.services {
            self.validate_service(&format!("services.{name}"), name, service)?;
        }
        self.validate_notify()
    }

    /// Group names are single tokens: an IdP group "Security Team" must never be read as the
    /// groups `security` and `team`, so no catalog group may be written with a space.
    fn validate_group_names(&self) -> Result<(), CatalogError> {
        let lists = [
            (
                "settings.admin_groups".to_owned(),
                &self.settings.admin_groups,
            ),
            (
                "settings.auditor_groups".to_owned(),
                &self.settings.auditor_groups,
            ),
        ]
        .into_iter()
        .chain(self.roles.iter().flat_map(|(n, r)| {
            [
                (format!("roles.{n}.requesters.groups"), &r.requesters.groups),
                (format!("roles.{n}.approvers.groups"), &r.approvers.groups),
            ]
        }));
        for (at, groups) in lists {
            for (i, g) in groups.iter().enumerate() {
                check_group_name(g).map_err(|m| err(format!("{at}[{i}]"), m))?;
            }
        }
        for g in self.notify.group_emails.keys() {
            check_group_name(g).map_err(|m| err(format!("notify.group_emails.{g}"), m))?;
        }
        Ok(())
    }

    fn validate_service(&self, at: &str, name: &str, s: &Service) -> Result<(), CatalogError> {
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(err(at, "a service name is 1 to 64 printable characters"));
        }
        let Some(role) = self.role(&s.role) else {
            return Err(err(
                format!("{at}.role"),
                format!("{} is not in the catalog", s.role),
            ));
        };
        if !role.allows_scope(s.scope.as_ref()) {
            return Err(err(
                format!("{at}.scope"),
                format!("is not a scope role {} allows", s.role),
            ));
        }
        if !role.allows_principal(&s.principal) || self.is_protected(s.principal.as_str()) {
            return Err(err(
                format!("{at}.principal"),
                format!("is not a principal role {} may be attached to", s.role),
            ));
        }
        if s.duration.is_some_and(|d| d > role.max_duration) {
            return Err(err(
                format!("{at}.duration"),
                "is over the role's max_duration",
            ));
        }
        // A service with no alarms or PagerDuty services is reachable through the generic
        // webhook only: allowed.
        if let Some(problem) = s.rotation.problem() {
            return Err(err(format!("{at}.rotation"), problem));
        }
        Ok(())
    }

    fn validate_notify(&self) -> Result<(), CatalogError> {
        let hooks = std::iter::once((
            "notify.slack_webhook".to_owned(),
            &self.notify.slack_webhook,
        ))
        .chain(self.roles.iter().map(|(n, r)| {
            (
                format!("roles.{n}.notify.slack_webhook"),
                &r.notify.slack_webhook,
            )
        }));
        for (at, hook) in hooks {
            if let Some(h) = hook {
                check_webhook(h).map_err(|m| err(at, m))?;
            }
        }
        let channels = std::iter::once((
            "notify.slack_channel".to_owned(),
            &self.notify.slack_channel,
        ))
        .chain(self.roles.iter().map(|(n, r)| {
            (
                format!("roles.{n}.notify.slack_channel"),
                &r.notify.slack_channel,
            )
        }));
        for (at, channel) in channels {
            if let Some(c) = channel {
                check_slack_channel(c).map_err(|m| err(at, m))?;
            }
        }
        for (group, id) in &self.slack.groups {
            check_slack_id(id).map_err(|m| err(format!("slack.groups.{group}"), m))?;
        }
        for id in self.slack.users.keys() {
            check_slack_id(id).map_err(|m| err(format!("slack.users.{id}"), m))?;
        }
        let addresses = self
            .notify
            .group_emails
            .iter()
            .flat_map(|(g, v)| {
                v.iter()
                    .map(move |a| (format!("notify.group_emails.{g}"), a))
            })
            .chain(
                self.notify
                    .email_from
                    .iter()
                    .map(|a| ("notify.email_from".to_owned(), a)),
            )
            .chain(self.roles.iter().flat_map(|(n, r)| {
                r.notify
                    .approver_emails
                    .iter()
                    .map(move |a| (format!("roles.{n}.notify.approver_emails"), a))
            }));
        for (at, a) in addresses {
            if !looks_like_email(a) {
                return Err(err(at, format!("{a:?} is not an email address")));
            }
        }
        Ok(())
    }

    fn validate_role(&self, at: &str, role: &Role) -> Result<(), CatalogError> {
        if role.default_duration > role.max_duration {
            return Err(err(
                format!("{at}.default_duration"),
                format!(
                    "{} is over max_duration {}",
                    role.default_duration, role.max_duration
                ),
            ));
        }
        if role.max_total() < role.max_duration {
            return Err(err(
                format!("{at}.max_total_duration"),
                "is shorter than max_duration",
            ));
        }
        if role.approvers.groups.is_empty() {
            return Err(err(
                format!("{at}.approvers.groups"),
                "needs at least one approver group",
            ));
        }
        if !(1..=5).contains(&role.approvers.required) {
            return Err(err(format!("{at}.approvers.required"), "must be 1 to 5"));
        }
        if role.requesters.users.is_empty() && role.requesters.groups.is_empty() {
            return Err(err(
                format!("{at}.requesters"),
                "names no users or groups, so nobody could request it",
            ));
        }
        if role.principals.is_empty() {
            return Err(err(
                format!("{at}.principals"),
                "needs at least one principal pattern",
            ));
        }
        for (i, p) in role.principals.iter().enumerate() {
            let pat = format!("{at}.principals[{i}]");
            let placeholder = p.as_str().contains(ACCOUNT_PLACEHOLDER);
            if placeholder && role.accounts.is_empty() {
                return Err(err(pat, "uses {account} but the role names no accounts"));
            }
            if !placeholder && !role.accounts.is_empty() {
                return Err(err(
                    pat,
                    "must use {account} as its account: the role's accounts say where it grants",
                ));
            }
            self.validate_principal(&pat, p)?;
        }
        if role.allow_management_account && role.accounts.is_empty() {
            return Err(err(
                format!("{at}.allow_management_account"),
                "is set but the role names no accounts",
            ));
        }
        match (role.provider, &role.permission_set) {
            (Provider::Iam, Some(_)) => {
                return Err(err(
                    format!("{at}.permission_set"),
                    "is only for provider = \"identity_center\"",
                ))
            }
            (Provider::IdentityCenter, None) => {
                return Err(err(
                    format!("{at}.permission_set"),
                    "an identity_center role needs a permission_set ARN",
                ))
            }
            (Provider::IdentityCenter, Some(_)) => {
                // The permission set is the whole grant: statements would be a second grant
                // nobody attaches, and a scope would bound nothing.
                if !role.statements.is_empty() {
                    return Err(err(
                        format!("{at}.statements"),
                        "an identity_center role grants its permission set and must not also give inline policy statements",
                    ));
                }
                if !role.scopes.is_empty() {
                    return Err(err(
                        format!("{at}.scopes"),
                        "an identity_center role takes no scope: its permission set says what it grants",
                    ));
                }
            }
            (Provider::Iam, None) => {}
        }
        if role.provider.is_iam() && role.statements.is_empty() {
            return Err(err(format!("{at}.statements"), "grants nothing"));
        }
        for (i, st) in role.statements.iter().enumerate() {
            self.validate_statement(&format!("{at}.statements[{i}]"), role, st)?;
        }
        for (i, rule) in role.auto_approve.iter().enumerate() {
            if rule.max_duration() > role.max_duration {
                return Err(err(
                    format!("{at}.auto_approve[{i}].max_duration"),
                    "is over the role's max_duration",
                ));
            }
            if rule.name().trim().is_empty() {
                return Err(err(
                    format!("{at}.auto_approve[{i}].name"),
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }

    fn validate_principal(&self, at: &str, p: &Pattern) -> Result<(), CatalogError> {
        let v = p.as_str();
        let parts: Vec<&str> = v.splitn(6, ':').collect();
        let ok_shape = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "iam"
            && parts[3].is_empty()
            && ((parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit()))
                || parts[4] == ACCOUNT_PLACEHOLDER)
            && !parts[5].contains(ACCOUNT_PLACEHOLDER);
        if !ok_shape {
            return Err(err(at, format!("{v:?} must be arn:aws:iam::<12-digit account or {{account}}>:role/...; accounts are never wildcards")));
        }
        let wanted = format!("role{}", self.settings.principal_path);
        if !parts[5].starts_with(&wanted) || v.contains("..") {
            return Err(err(
                at,
                format!(
                    "{v:?} is outside the allowed path {}",
                    self.settings.principal_path
                ),
            ));
        }
        // Read literally, `{account}` is matched by a protected ARN's `*` account; requests
        // are checked again on the concrete ARN.
        if self.is_protected(v) {
            return Err(err(at, format!("{v:?} names one of Stint's own roles")));
        }
        Ok(())
    }

    /// One statement: each action and resource on its own, then whether the statement, with
    /// `{scope}` filled in by every allowed scope pattern, reaches Stint's own resources.
    fn validate_statement(
        &self,
        sp: &str,
        role: &Role,
        st: &Statement,
    ) -> Result<(), CatalogError> {
        if st.actions.is_empty() {
            return Err(err(format!("{sp}.actions"), "is empty"));
        }
        if st.resources.is_empty() {
            return Err(err(format!("{sp}.resources"), "is empty"));
        }
        let allowed = self.settings.allowed_services.as_deref();
        for (j, a) in st.actions.iter().enumerate() {
            let checked = match st.effect {
                Effect::Allow => guard::check_action(a, allowed),
                // A deny only takes away: its actions need only be actions.
                Effect::Deny => guard::check_deny_action(a),
            };
            checked.map_err(|m| err(format!("{sp}.actions[{j}]"), m))?;
        }
        for (j, r) in st.resources.iter().enumerate() {
            let rp = format!("{sp}.resources[{j}]");
            guard::check_resource(r).map_err(|m| err(&rp, m))?;
            if r.contains("{scope}") && role.scopes.is_empty() {
                return Err(err(rp, "uses {scope} but the role lists no scopes"));
            }
        }
        guard::check_reach(st, &role.scopes, &self.protected).map_err(|(field, m)| {
            let at = match field {
                Field::Action(j) => format!("{sp}.actions[{j}]"),
                Field::Resource(j) => format!("{sp}.resources[{j}]"),
            };
            err(at, m)
        })
    }
}

/// A catalog group name is one token: no whitespace anywhere in it.
fn check_group_name(g: &GroupName) -> Result<(), String> {
    if g.as_str().chars().any(char::is_whitespace) {
        return Err(format!(
            "{:?} contains whitespace; group names in the catalog are single tokens",
            g.as_str()
        ));
    }
    Ok(())
}

/// Webhooks go over HTTPS; plain HTTP only to this machine (a local stand-in).
fn check_webhook(url: &str) -> Result<(), String> {
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    if url.starts_with("https://") || local.iter().any(|p| url.starts_with(p)) {
        Ok(())
    } else {
        Err(format!("{url:?} must be an https:// URL"))
    }
}

/// An address the mailer can send to: lettre's own parser decides, so what the catalog accepts
/// is what the send path accepts (no display name, no list, nothing that could smuggle a
/// header). The domain must also have a dot: a bare host (`alice@corp`) is a login, not a
/// mailbox SES can deliver to.
pub fn looks_like_email(a: &str) -> bool {
    a.parse::<lettre::Address>()
        .is_ok_and(|addr| addr.domain().contains('.'))
}

#[cfg(test)]
pub mod tests_support {
    pub const EXAMPLE: &str = include_str!("../../../infra/catalog.example.toml");
}

#[cfg(test)]
mod tests {
    use super::tests_support::EXAMPLE;
    use super::*;

    #[test]
    fn the_shipped_example_loads() {
        let c = Catalog::from_toml(EXAMPLE).unwrap();
        assert!(c.roles.len() >= 3);
    }

    #[test]
    fn email_addresses_are_what_lettre_can_send_to() {
        for ok in [
            "alice@example.com",
            "a.b+ops@sub.example.co.uk",
            "x@[192.0.2.1]",
        ] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in [
            "alice",
            "alice@",
            "@example.com",
            "alice@corp",
            "a b@example.com",
            "Alice <alice@example.com>",
            "a@example.com, b@example.com",
            "a@example.com\r\nBcc: evil@example.com",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    fn with_role(extra: &str) -> String {
        format!(
            r#"
[roles.db-read]
statements = [{{ actions = ["dynamodb:GetItem"], resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/{{scope}}"] }}]
principals = ["arn:aws:iam::123456789012:role/stint/*"]
scopes = ["orders"]
default_duration = "1h"
requesters = {{ groups = ["sre"] }}
approvers = {{ groups = ["db-owners"] }}
{extra}
"#
        )
    }

    #[test]
    fn invalid_duration_names_the_field_path() {
        let e = Catalog::from_toml(&with_role(r#"max_duration = "90x""#)).unwrap_err();
        assert_eq!(e.path, "roles.db-read.max_duration");
        assert!(
            e.to_string()
                .starts_with(r#"roles.db-read.max_duration: "90x" is not a duration"#),
            "{e}"
        );
    }

    #[test]
    fn the_slack_section_maps_groups_and_users_and_refuses_what_it_does_not_know() {
        let base = format!(
            "{}\n[notify]\nslack_channel = \"#db-approvals\"\n",
            EXAMPLE.split("\n[notify]").next().unwrap()
        );
        let ok = format!(
            "{base}\n[slack]\ngroups = {{ sre = \"S0SRE\" }}\nusers = {{ \"U123\" = \"Alice@Example.com\" }}\n"
        );
        let c = Catalog::from_toml(&ok).unwrap();
        assert_eq!(c.slack.groups[&GroupName::parse("sre").unwrap()], "S0SRE");
        assert_eq!(c.slack.users["U123"].as_str(), "alice@example.com");
        assert_eq!(c.notify.slack_channel.as_deref(), Some("#db-approvals"));
        for (bad, at) in [
            ("[slack]\nteams = {}\n", "slack"),
            (
                "[slack]\ngroups = { sre = \"not an id\" }\n",
                "slack.groups.sre",
            ),
            (
                "[slack]\nusers = { \"u-lower\" = \"a@example.com\" }\n",
                "slack.users.u-lower",
            ),
        ] {
            let e = Catalog::from_toml(&format!("{base}\n{bad}")).unwrap_err();
            assert!(e.to_string().contains(at), "{bad}: {e}");
        }
        let e = Catalog::from_toml(&base.replace("#db-approvals", "two words")).unwrap_err();
        assert!(e.to_string().contains("notify.slack_channel"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let e = Catalog::from_toml(&with_role("max_duration = \"4h\"\nmax_durration = \"4h\""))
            .unwrap_err();
        assert!(e.to_string().contains("max_durration"), "{e}");
        assert!(e.path.starts_with("roles.db-read"), "{e}");
    }

    #[test]
    fn default_over_max_is_refused() {
        let e = Catalog::from_toml(&with_role(r#"max_duration = "30m""#)).unwrap_err();
        assert_eq!(e.path, "roles.db-read.default_duration");
    }

    /// Given the test role with this action and resource, when the catalog loads, then the
    /// refusal (path and message), or `None` when it loads.
    fn load_with(action: &str, resource: &str) -> Option<CatalogError> {
        let toml = with_role(r#"max_duration = "4h""#)
            .replace("dynamodb:GetItem", action)
            .replace(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}",
                resource,
            );
        Catalog::from_toml(&toml).err()
    }
    const TABLE: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}";
    const ACTION0: &str = "roles.db-read.statements[0].actions[0]";
    const RESOURCE0: &str = "roles.db-read.statements[0].resources[0]";

    #[test]
    fn refuses_identity_and_control_plane_actions_naming_field_and_reason() {
        for (action, message) in [
            ("iam:*", "\"iam:*\" grants IAM beyond reads; only iam:Get* and iam:List* may be granted"),
            ("iam:PutRolePolicy", "\"iam:PutRolePolicy\" grants IAM beyond reads; only iam:Get* and iam:List* may be granted"),
            ("iam:PassRole", "\"iam:PassRole\" grants IAM beyond reads; only iam:Get* and iam:List* may be granted"),
            ("iam:CreateRole", "\"iam:CreateRole\" grants IAM beyond reads; only iam:Get* and iam:List* may be granted"),
            ("iam:Attach*", "\"iam:Attach*\" grants IAM beyond reads; only iam:Get* and iam:List* may be granted"),
            ("*", "\"*\" is every action of every service, identity administration and Stint's own resources included"),
            ("*:*", "\"*:*\" must name one service, e.g. dynamodb:GetItem"),
            ("*:GetItem", "\"*:GetItem\" must name one service, e.g. dynamodb:GetItem"),
            ("sts:AssumeRole", "\"sts:AssumeRole\" grants identity administration (sts), which Stint never hands out"),
            ("sts:Assume*", "\"sts:Assume*\" grants identity administration (sts), which Stint never hands out"),
            ("organizations:*", "\"organizations:*\" grants identity administration (organizations), which Stint never hands out"),
            ("sso:*", "\"sso:*\" grants identity administration (sso), which Stint never hands out"),
            ("sso-admin:CreateAccountAssignment", "\"sso-admin:CreateAccountAssignment\" grants identity administration (sso-admin), which Stint never hands out"),
            ("identitystore:*", "\"identitystore:*\" grants identity administration (identitystore), which Stint never hands out"),
            ("cognito-idp:AdminAddUserToGroup", "\"cognito-idp:AdminAddUserToGroup\" can administer Cognito users (cognito-idp:Admin*), such as adding anyone to an approver group"),
            ("cognito-idp:*", "\"cognito-idp:*\" can administer Cognito users (cognito-idp:Admin*), such as adding anyone to an approver group"),
        ] {
            let e = load_with(action, TABLE).unwrap_or_else(|| panic!("{action} loaded"));
            assert_eq!(e.path, ACTION0, "{action}: {e}");
            assert_eq!(e.message, message, "{action}");
        }
        for reads in [
            "iam:GetRole",
            "iam:Get*",
            "iam:List*",
            "cognito-idp:ListUsers",
        ] {
            assert_eq!(load_with(reads, TABLE), None, "{reads}");
        }
    }

    #[test]
    fn the_catalogs_tried_in_issue_12_are_refused() {
        // Given statements that reach Stint itself, when the catalog loads, then each is
        // refused on the field that does it.
        let e = load_with(
            "lambda:UpdateFunctionCode",
            "arn:aws:lambda:eu-west-1:123456789012:function:*",
        )
        .unwrap();
        assert_eq!(e.path, ACTION0);
        assert_eq!(
            e.message,
            "\"lambda:UpdateFunctionCode\" on \"arn:aws:lambda:eu-west-1:123456789012:function:*\" \
             could change Stint's own resource arn:aws:lambda:*:*:function:stint-*"
        );
        let e = load_with(
            "dynamodb:*",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
        )
        .unwrap();
        assert_eq!(e.path, ACTION0);
        assert!(
            e.message
                .contains("could change Stint's own resource arn:aws:dynamodb:*:*:table/stint*"),
            "{e}"
        );
        let e = load_with("ssm:PutParameter", "*").unwrap();
        assert_eq!(e.path, ACTION0);
        assert!(
            e.message.contains("arn:aws:ssm:*:*:parameter/stint/*"),
            "{e}"
        );
        let e = load_with("cognito-idp:AdminAddUserToGroup", "*").unwrap();
        assert_eq!(e.path, ACTION0);
    }

    #[test]
    fn wildcards_that_could_expand_to_stints_own_resources_are_refused() {
        for (action, resource, path) in [
            (
                "lambda:Update*",
                "arn:aws:lambda:eu-west-1:123456789012:function:*",
                ACTION0,
            ),
            ("lambda:InvokeFunction", "*", ACTION0),
            (
                "events:PutEvents",
                "arn:aws:events:eu-west-1:123456789012:event-bus/*",
                ACTION0,
            ),
            ("scheduler:CreateSchedule", "*", ACTION0),
            ("ssm:*", "*", ACTION0),
            (
                "ssm:Delete*",
                "arn:aws:ssm:eu-west-1:123456789012:parameter/*",
                ACTION0,
            ),
            ("s3:PutObject", "arn:aws:s3:::*", ACTION0),
            ("dynamodb:GetItem", "*", RESOURCE0),
            ("dynamodb:Query", "arn:aws:dynamodb:*:*:table/*", RESOURCE0),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-events",
                RESOURCE0,
            ),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-event?",
                RESOURCE0,
            ),
            (
                "ssm:GetParameter",
                "arn:aws:ssm:eu-west-1:123456789012:parameter/stint/alert-webhook-secret",
                RESOURCE0,
            ),
        ] {
            let e = load_with(action, resource)
                .unwrap_or_else(|| panic!("{action} on {resource} loaded"));
            assert_eq!(e.path, path, "{action} on {resource}: {e}");
        }
        // Other services' actions on `*`, and these services on other resources, are fine.
        for (action, resource) in [
            ("logs:GetLogEvents", "*"),
            (
                "lambda:UpdateFunctionCode",
                "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
            ),
            (
                "ssm:PutParameter",
                "arn:aws:ssm:eu-west-1:123456789012:parameter/orders/*",
            ),
            ("dynamodb:GetItem", TABLE),
        ] {
            assert_eq!(load_with(action, resource), None, "{action} on {resource}");
        }
    }

    #[test]
    fn resources_are_checked_with_every_allowed_scope_filled_in() {
        for scope in ["stint*", "*", "stint-events"] {
            let toml = with_role(r#"max_duration = "4h""#).replace(
                r#"scopes = ["orders"]"#,
                &format!(r#"scopes = ["orders", "{scope}"]"#),
            );
            let e = Catalog::from_toml(&toml).unwrap_err();
            assert_eq!(e.path, RESOURCE0, "{scope}: {e}");
            assert_eq!(
                e.message,
                format!(
                    "\"{TABLE}\" (with scope \"{scope}\") reaches Stint's own resource \
                     arn:aws:dynamodb:*:*:table/stint* through dynamodb:GetItem"
                )
            );
        }
    }

    #[test]
    fn a_deployment_passes_its_real_resources_whatever_the_stack_is_called() {
        let deployed = ProtectedResources::parse_list(
            "arn:aws:lambda:eu-west-1:123456789012:function:prod-broker-grant,\
             arn:aws:dynamodb:eu-west-1:123456789012:table/prod-broker-EventsTable-1X",
        )
        .unwrap();
        let toml = with_role(r#"max_duration = "4h""#)
            .replace("dynamodb:GetItem", "lambda:UpdateFunctionCode")
            .replace(
                TABLE,
                "arn:aws:lambda:eu-west-1:123456789012:function:prod-*",
            );
        let e = Catalog::from_toml_for(&toml, &deployed).unwrap_err();
        assert_eq!(e.path, ACTION0);
        assert!(
            e.message
                .ends_with("arn:aws:lambda:eu-west-1:123456789012:function:prod-broker-grant"),
            "{e}"
        );
        // The defaults are for `stint serve`, not for a deployment: a stint-* name is not
        // assumed to be Stint's there.
        let toml = with_role(r#"max_duration = "4h""#).replace(
            TABLE,
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-legacy",
        );
        let c = Catalog::from_toml_for(&toml, &deployed).unwrap();
        assert_eq!(c.protected(), &deployed);
        assert!(Catalog::from_toml(&toml).is_err());
    }

    #[test]
    fn the_review_window_defaults_to_14_days_and_is_1_to_90_days() {
        let base = with_role(r#"max_duration = "4h""#);
        let c = Catalog::from_toml(&base).unwrap();
        assert_eq!(c.settings.review_within.to_string(), "14d");
        let with = |w: &str| format!("[settings]\nreview_within = \"{w}\"\n{base}");
        assert_eq!(
            Catalog::from_toml(&with("30d"))
                .unwrap()
                .settings
                .review_within
                .secs(),
            30 * 86_400
        );
        for bad in ["12h", "91d", "0s"] {
            let e = Catalog::from_toml(&with(bad)).unwrap_err();
            assert_eq!(e.path, "settings.review_within", "{bad}: {e}");
        }
    }

    #[test]
    fn expiry_reminders_default_to_ten_minutes_and_stay_between_a_minute_and_half_a_day() {
        let base = with_role(r#"max_duration = "4h""#);
        assert_eq!(
            Catalog::from_toml(&base)
                .unwrap()
                .settings
                .expiry_reminder
                .secs(),
            600
        );
        let with = |w: &str| format!("[settings]\nexpiry_reminder = \"{w}\"\n{base}");
        let got = Catalog::from_toml(&with("30m")).unwrap();
        assert_eq!(got.settings.expiry_reminder.secs(), 1_800);
        for bad in ["30s", "13h", "0s"] {
            let e = Catalog::from_toml(&with(bad)).unwrap_err();
            assert_eq!(e.path, "settings.expiry_reminder", "{bad}: {e}");
        }
    }

    #[test]
    fn the_catalog_adds_protected_resources_and_each_entry_is_checked() {
        let extra = r#"
[settings]
protected_resources = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-0000"]
"#;
        let c =
            Catalog::from_toml(&format!("{extra}{}", with_role(r#"max_duration = "4h""#))).unwrap();
        assert!(c.is_protected("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-0000"));
        assert!(c.is_protected("arn:aws:lambda:eu-west-1:123456789012:function:stint-grant"));
        let toml = format!(
            "{}{}",
            extra.replace("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-0000", "*"),
            with_role(r#"max_duration = "4h""#)
        );
        let e = Catalog::from_toml(&toml).unwrap_err();
        assert_eq!(e.path, "settings.protected_resources[0]");
        // Given a KMS key the catalog protects, a statement on every key is refused.
        let toml = format!("{extra}{}", with_role(r#"max_duration = "4h""#))
            .replace("dynamodb:GetItem", "kms:Decrypt")
            .replace(TABLE, "arn:aws:kms:eu-west-1:123456789012:key/*");
        assert_eq!(Catalog::from_toml(&toml).unwrap_err().path, ACTION0);
    }

    #[test]
    fn the_allowed_services_list_is_enforced_when_set() {
        let settings = "[settings]\nallowed_services = [\"dynamodb\", \"logs\"]\n";
        let ok = format!("{settings}{}", with_role(r#"max_duration = "4h""#));
        assert!(Catalog::from_toml(&ok).is_ok());
        let bad = ok
            .replace("dynamodb:GetItem", "lambda:GetFunction")
            .replace(
                TABLE,
                "arn:aws:lambda:eu-west-1:123456789012:function:orders",
            );
        let e = Catalog::from_toml(&bad).unwrap_err();
        assert_eq!(e.path, ACTION0);
        assert_eq!(
            e.message,
            "\"lambda:GetFunction\": service lambda is not in settings.allowed_services"
        );
        let e = Catalog::from_toml(&ok.replace("\"logs\"", "\"lo gs\"")).unwrap_err();
        assert_eq!(e.path, "settings.allowed_services[1]");
    }

    #[test]
    fn resources_with_policy_variables_or_other_placeholders_are_refused() {
        for r in [
            "arn:aws:lambda:eu-west-1:123456789012:function:${aws:username}",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/{team}",
            "table/orders",
        ] {
            let e = load_with("dynamodb:GetItem", r).unwrap_or_else(|| panic!("{r} loaded"));
            assert_eq!(e.path, RESOURCE0, "{r}: {e}");
        }
    }

    #[test]
    fn a_catalog_deny_is_only_checked_for_shape() {
        let toml = with_role(r#"max_duration = "4h""#).replace(
            "statements = [",
            r#"statements = [{ effect = "Deny", actions = ["iam:*", "*"], resources = ["*"] }, "#,
        );
        assert!(
            Catalog::from_toml(&toml).is_ok(),
            "{:?}",
            Catalog::from_toml(&toml)
        );
    }

    #[test]
    fn group_names_in_the_catalog_may_not_contain_whitespace() {
        let base = with_role(r#"max_duration = "4h""#);
        for (toml, path) in [
            (
                base.replace(
                    r#"groups = ["db-owners"]"#,
                    r#"groups = ["db-owners", "Security Team"]"#,
                ),
                "roles.db-read.approvers.groups[1]",
            ),
            (
                base.replace(r#"groups = ["sre"]"#, r#"groups = ["site reliability"]"#),
                "roles.db-read.requesters.groups[0]",
            ),
            (
                format!("[settings]\nadmin_groups = [\"security team\"]\n{base}"),
                "settings.admin_groups[0]",
            ),
            (
                format!("[settings]\nauditor_groups = [\"ok\", \"audit\\u00A0team\"]\n{base}"),
                "settings.auditor_groups[1]",
            ),
            (
                format!("{base}\n[notify.group_emails]\n\"db owners\" = [\"a@example.com\"]\n"),
                "notify.group_emails.db owners",
            ),
        ] {
            let e = Catalog::from_toml(&toml).unwrap_err();
            assert_eq!(e.path, path, "{e}");
            assert!(
                e.message
                    .ends_with("contains whitespace; group names in the catalog are single tokens"),
                "{e}"
            );
        }
    }

    #[test]
    fn session_binding_defaults_to_the_session_name_and_is_read_from_the_role() {
        let c = Catalog::from_toml(&with_role(r#"max_duration = "4h""#)).unwrap();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        assert_eq!(role.session_binding, SessionBinding::RoleSessionName);
        for (raw, want) in [
            ("role_session_name", SessionBinding::RoleSessionName),
            ("source_identity", SessionBinding::SourceIdentity),
            ("none", SessionBinding::None),
        ] {
            let toml = with_role(&format!(
                "max_duration = \"4h\"\nsession_binding = \"{raw}\""
            ));
            let c = Catalog::from_toml(&toml).unwrap();
            assert_eq!(
                c.role(&"db-read".parse().unwrap()).unwrap().session_binding,
                want
            );
        }
        let e = Catalog::from_toml(&with_role(
            "max_duration = \"4h\"\nsession_binding = \"user\"",
        ))
        .unwrap_err();
        assert_eq!(e.path, "roles.db-read.session_binding", "{e}");
    }

    #[test]
    fn principal_patterns_match_within_one_path_segment() {
        let toml = with_role(r#"max_duration = "4h""#).replace(
            "arn:aws:iam::123456789012:role/stint/*",
            "arn:aws:iam::123456789012:role/stint/ci-*",
        );
        let c = Catalog::from_toml(&toml).unwrap();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        let arn = |a: &str| PrincipalArn::parse(a).unwrap();
        assert!(role.allows_principal(&arn("arn:aws:iam::123456789012:role/stint/ci-orders")));
        // Issue 12: IAM would put the policy on the role named `oncall`.
        assert!(!role.allows_principal(&arn("arn:aws:iam::123456789012:role/stint/ci-x/oncall")));
        assert!(!role.allows_principal(&arn("arn:aws:iam::123456789012:role/stint/ci-/x")));
        let c = Catalog::from_toml(&with_role(r#"max_duration = "4h""#)).unwrap();
        let any = c.role(&"db-read".parse().unwrap()).unwrap();
        assert!(any.allows_principal(&arn("arn:aws:iam::123456789012:role/stint/oncall")));
        assert!(!any.allows_principal(&arn("arn:aws:iam::123456789012:role/stint/team/oncall")));
    }

    #[test]
    fn scope_patterns_match_within_one_path_segment() {
        let toml = with_role(r#"max_duration = "4h""#)
            .replace(r#"scopes = ["orders"]"#, r#"scopes = ["orders-*"]"#);
        let c = Catalog::from_toml(&toml).unwrap();
        let role = c.role(&"db-read".parse().unwrap()).unwrap();
        assert!(role.allows_scope(Some(&Scope::parse("orders-eu").unwrap())));
        assert!(!role.allows_scope(Some(&Scope::parse("orders-eu/index/x").unwrap())));
    }

    #[test]
    fn refuses_principals_outside_the_path_or_account() {
        for p in [
            "arn:aws:iam::123456789012:role/admin",
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:iam::*:role/stint/*",
            "arn:aws:iam::123456789012:role/stint/../admin",
            "arn:aws:iam::123456789012:role/stint/stint-broker",
        ] {
            let toml = with_role(r#"max_duration = "4h""#)
                .replace("arn:aws:iam::123456789012:role/stint/*", p);
            let e = Catalog::from_toml(&toml).unwrap_err();
            assert_eq!(e.path, "roles.db-read.principals[0]", "{p}: {e}");
        }
    }

    const PS: &str = "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-5555666677778888";

    fn ic_role(extra: &str) -> String {
        format!(
            r#"
[roles.sso]
principals = ["arn:aws:iam::123456789012:role/stint/sso"]
default_duration = "1h"
max_duration = "2h"
requesters = {{ groups = ["sre"] }}
approvers = {{ groups = ["owners"] }}
{extra}
"#
        )
    }

    #[test]
    fn an_identity_center_role_names_its_permission_set_and_nothing_inline() {
        let c = Catalog::from_toml(&ic_role(&format!(
            "provider = \"identity_center\"\npermission_set = \"{PS}\""
        )))
        .unwrap();
        let role = c.role(&RoleName::parse("sso").unwrap()).unwrap();
        assert_eq!(role.identity_center().map(|p| p.as_str()), Some(PS));
        for (extra, path, says) in [
            (
                format!("provider = \"identity_center\"\npermission_set = \"{PS}\"\nstatements = [{{ actions = [\"s3:GetObject\"], resources = [\"*\"] }}]"),
                "roles.sso.statements",
                "must not also give inline policy statements",
            ),
            (
                "provider = \"identity_center\"".to_owned(),
                "roles.sso.permission_set",
                "needs a permission_set",
            ),
            (
                format!("permission_set = \"{PS}\"\nstatements = [{{ actions = [\"s3:GetObject\"], resources = [\"*\"] }}]"),
                "roles.sso.permission_set",
                "only for provider",
            ),
            (
                "provider = \"identity_center\"\npermission_set = \"arn:aws:sso:::permissionSet/ps-1\"".to_owned(),
                "roles.sso.permission_set",
                "not a permission set ARN",
            ),
            (
                format!("provider = \"identity_center\"\npermission_set = \"{PS}\"\nscopes = [\"orders\"]"),
                "roles.sso.scopes",
                "takes no scope",
            ),
            (
                "provider = \"okta\"".to_owned(),
                "roles.sso.provider",
                "unknown variant",
            ),
        ] {
            let e = Catalog::from_toml(&ic_role(&extra)).unwrap_err();
            assert_eq!(e.path, path, "{extra}: {e}");
            assert!(e.message.contains(says), "{extra}: {e}");
        }
    }
}
