//! The catalog: which roles exist, what they grant, who may request and approve them, and the
//! rules that approve automatically. Loaded from TOML and validated before anything uses it.

use super::duration::AccessDuration;
use super::event::Source;
use super::ids::{GroupName, Identity, PrincipalArn, RoleName, Scope};
use super::oncall::Rotation;
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

/// A pattern where `*` matches any run of characters (including none).
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

/// `*`-only glob matching, iterative with one backtrack point, so it is linear-ish and never
/// blows the stack on hostile input.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
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
    pub statements: Vec<Statement>,
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
}

/// Per-role notification channels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleNotify {
    /// Replaces the global Slack webhook for this role's notices.
    #[serde(default)]
    pub slack_webhook: Option<String>,
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
    /// Mail addresses of each approver group.
    #[serde(default)]
    pub group_emails: BTreeMap<GroupName, Vec<String>>,
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

    pub fn allows_scope(&self, scope: Option<&Scope>) -> bool {
        match scope {
            None => self.scopes.is_empty(),
            Some(s) => self.scopes.iter().any(|p| p.matches(s.as_str())),
        }
    }

    pub fn allows_principal(&self, principal: &PrincipalArn) -> bool {
        self.principals
            .iter()
            .any(|p| p.matches(principal.as_str()))
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
                        scope_ok
                            && principals.iter().any(|p| p.matches(principal.as_str()))
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
    /// Every principal pattern must sit under this IAM path.
    #[serde(default = "stint_path")]
    pub principal_path: String,
    /// Groups that may revoke any grant.
    #[serde(default)]
    pub admin_groups: Vec<GroupName>,
    /// Groups that may read compliance reports (admins may too).
    #[serde(default)]
    pub auditor_groups: Vec<GroupName>,
    /// Stint's own resources, which no role may act on or be attached to.
    #[serde(default = "protected")]
    pub protected_resources: Vec<Pattern>,
}
fn d24h() -> AccessDuration {
    AccessDuration::from_secs(86_400).expect("constant is valid")
}
fn d7d() -> AccessDuration {
    AccessDuration::from_secs(7 * 86_400).expect("constant is valid")
}
fn stint_path() -> String {
    "/stint/".into()
}
fn protected() -> Vec<Pattern> {
    [
        "arn:aws:dynamodb:*:*:table/stint*",
        "arn:aws:iam::*:role/stint-*",
        "arn:aws:iam::*:role/stint/stint-*",
        "arn:aws:iam::*:policy/stint*",
        "arn:aws:events:*:*:event-bus/stint*",
        "arn:aws:scheduler:*:*:schedule/stint/*",
        "arn:aws:lambda:*:*:function:stint-*",
        "arn:aws:s3:::stint-*",
    ]
    .into_iter()
    .map(|p| Pattern(p.to_owned()))
    .collect()
}
impl Default for Settings {
    fn default() -> Self {
        Settings {
            pending_timeout: d24h(),
            max_start_ahead: d7d(),
            break_glass_review_within: d24h(),
            principal_path: stint_path(),
            admin_groups: vec![],
            auditor_groups: vec![],
            protected_resources: protected(),
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
}

impl Catalog {
    /// Parses and validates a TOML catalog.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let de = toml::de::Deserializer::parse(text).map_err(|e| err("catalog", e.to_string()))?;
        let catalog: Catalog = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            err(
                if path == "." { "catalog".into() } else { path },
                e.into_inner().message().trim_end().to_owned(),
            )
        })?;
        catalog.validate()?;
        Ok(catalog)
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

    pub fn is_protected(&self, arn: &str) -> bool {
        self.settings
            .protected_resources
            .iter()
            .any(|p| p.matches(arn))
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
        for (name, role) in &self.roles {
            self.validate_role(&format!("roles.{name}"), role)?;
        }
        for (name, service) in &self.services {
            self.validate_service(&format!("services.{name}"), name, service)?;
        }
        self.validate_notify()
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
            self.validate_principal(&format!("{at}.principals[{i}]"), p)?;
        }
        if role.statements.is_empty() {
            return Err(err(format!("{at}.statements"), "grants nothing"));
        }
        for (i, st) in role.statements.iter().enumerate() {
            let sp = format!("{at}.statements[{i}]");
            if st.actions.is_empty() {
                return Err(err(format!("{sp}.actions"), "is empty"));
            }
            if st.resources.is_empty() {
                return Err(err(format!("{sp}.resources"), "is empty"));
            }
            for (j, a) in st.actions.iter().enumerate() {
                check_action(a).map_err(|m| err(format!("{sp}.actions[{j}]"), m))?;
            }
            for (j, r) in st.resources.iter().enumerate() {
                let rp = format!("{sp}.resources[{j}]");
                if r.contains("{scope}") && role.scopes.is_empty() {
                    return Err(err(rp, "uses {scope} but the role lists no scopes"));
                }
                if st.effect == Effect::Allow {
                    self.check_not_protected(&st.actions, r)
                        .map_err(|m| err(rp, m))?;
                }
            }
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
            && parts[4].len() == 12
            && parts[4].chars().all(|c| c.is_ascii_digit());
        if !ok_shape {
            return Err(err(at, format!("{v:?} must be arn:aws:iam::<12-digit account>:role/...; accounts are never wildcards")));
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
        if self.is_protected(v) {
            return Err(err(at, format!("{v:?} names one of Stint's own roles")));
        }
        Ok(())
    }

    /// Refuses a resource that reaches Stint's own resources through an action on their service.
    fn check_not_protected(&self, actions: &[String], resource: &str) -> Result<(), String> {
        for protected in &self.settings.protected_resources {
            let service = protected.as_str().split(':').nth(2).unwrap_or_default();
            let touches_service = actions.iter().any(|a| {
                let svc = a.split(':').next().unwrap_or_default().to_ascii_lowercase();
                a == "*" || svc == service || glob_match(&svc, service)
            });
            // Overlap either way: the resource falls inside the protected pattern, or is a
            // wildcard wide enough to cover it.
            if touches_service
                && (protected.matches(resource) || glob_match(resource, protected.as_str()))
            {
                return Err(format!(
                    "{resource:?} reaches Stint's own resources ({protected})"
                ));
            }
        }
        Ok(())
    }
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

/// Actions are `service:Action`; IAM is never granted beyond read calls, and `*` never.
fn check_action(a: &str) -> Result<(), String> {
    let Some((svc, act)) = a.split_once(':') else {
        return Err(format!("{a:?} is not service:Action"));
    };
    if svc.is_empty() || act.is_empty() || svc.contains('*') {
        return Err(format!(
            "{a:?} must name one service, e.g. dynamodb:GetItem"
        ));
    }
    let svc = svc.to_ascii_lowercase();
    if svc == "iam" || svc == "sts" || svc == "organizations" {
        let read_only = (act.starts_with("Get") || act.starts_with("List")) && !act.contains('*');
        if svc != "iam" || !read_only {
            return Err(format!(
                "{a:?} grants identity administration, which Stint never hands out"
            ));
        }
    }
    Ok(())
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

    #[test]
    fn refuses_iam_and_wildcard_actions() {
        for action in [
            "iam:*",
            "iam:PutRolePolicy",
            "iam:Get*",
            "*",
            "sts:AssumeRole",
            "*:GetItem",
        ] {
            let toml = with_role(r#"max_duration = "4h""#).replace("dynamodb:GetItem", action);
            let e = Catalog::from_toml(&toml).unwrap_err();
            assert_eq!(
                e.path, "roles.db-read.statements[0].actions[0]",
                "{action}: {e}"
            );
        }
        let toml = with_role(r#"max_duration = "4h""#).replace("dynamodb:GetItem", "iam:GetRole");
        assert!(Catalog::from_toml(&toml).is_ok());
    }

    #[test]
    fn refuses_stints_own_resources() {
        for res in [
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-events",
            "*",
            "arn:aws:dynamodb:*:*:table/*",
        ] {
            let toml = with_role(r#"max_duration = "4h""#)
                .replace("arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}", res);
            let e = Catalog::from_toml(&toml).unwrap_err();
            assert_eq!(
                e.path, "roles.db-read.statements[0].resources[0]",
                "{res}: {e}"
            );
        }
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

    #[test]
    fn glob() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("refs/heads/*", "refs/heads/main"));
        assert!(!glob_match("refs/heads/*", "refs/tags/v1"));
        assert!(!glob_match("a*b", "a"));
        assert!(glob_match("*stint*", "my-stint-table"));
    }
}
