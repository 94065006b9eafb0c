//! The catalog history (`catalog#deployment`): each catalog version a function or `stint
//! serve` loads for the first time is recorded as `CatalogChanged`, with its hash, where it
//! came from, what changed since the version recorded before it, and a snapshot of what
//! auditors ask about (who may request and approve what, the rules that approve without a
//! person, where grants land, for how long), so the next version is compared without
//! fetching old ones.

use crate::catalog::{AutoRule, Catalog, Role, Service, SessionBinding, Statement};
use crate::decider::Decider;
use crate::duration::AccessDuration;
use crate::event::{Actor, Envelope};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::fmt;

/// SHA-256 of the catalog text as loaded, in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CatalogHash(String);

impl CatalogHash {
    pub fn of(text: &str) -> Self {
        CatalogHash(hex::encode(Sha256::digest(text.as_bytes())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The first 12 characters, enough to tell versions apart in a summary.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}
impl TryFrom<String> for CatalogHash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 64
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            Ok(CatalogHash(s))
        } else {
            Err(format!("{s:?} is not a SHA-256 in lower-case hex"))
        }
    }
}
impl From<CatalogHash> for String {
    fn from(h: CatalogHash) -> String {
        h.0
    }
}
impl fmt::Display for CatalogHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a catalog was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    SsmParameter,
    File,
}

/// The parameter or file a catalog came from, and when that version was put in place: SSM's
/// `LastModifiedDate` of the version read, or the file's modification time. The time orders
/// versions of one source; SSM's version number restarts when a parameter is recreated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSource {
    pub kind: SourceKind,
    /// The parameter's name or the file's path.
    pub name: String,
    /// The SSM parameter version; none for a file.
    pub version: Option<i64>,
    pub modified: Option<DateTime<Utc>>,
}

impl CatalogSource {
    /// Whether this version of the same source was put in place before `other`: a process that
    /// read the parameter just before it changed, and records after the change was recorded.
    pub fn older_than(&self, other: &CatalogSource) -> bool {
        if self.kind != other.kind || self.name != other.name {
            return false;
        }
        match (self.modified, other.modified) {
            (Some(a), Some(b)) if a != b => a < b,
            // Put within the same instant, or no times: the version number decides.
            _ => matches!((self.version, other.version), (Some(a), Some(b)) if a < b),
        }
    }
}

impl fmt::Display for CatalogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SourceKind::SsmParameter => write!(f, "SSM parameter {}", self.name)?,
            SourceKind::File => write!(f, "file {}", self.name)?,
        }
        if let Some(v) = self.version {
            write!(f, " version {v}")?;
        }
        if let Some(t) = self.modified {
            write!(
                f,
                " (modified {})",
                t.to_rfc3339_opts(SecondsFormat::Secs, true)
            )?;
        }
        Ok(())
    }
}

/// What auditors ask of one role. Patterns, groups and users are kept as the catalog wrote
/// them (strings), so a later, stricter catalog loader still reads old snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSnapshot {
    pub requester_users: Vec<String>,
    pub requester_groups: Vec<String>,
    pub approver_groups: Vec<String>,
    pub approvals_required: u8,
    /// ARN patterns of the roles grants may be attached to.
    pub principals: Vec<String>,
    pub scopes: Vec<String>,
    pub default_duration: AccessDuration,
    pub max_duration: AccessDuration,
    pub max_total_duration: AccessDuration,
    pub break_glass: bool,
    pub self_extend: bool,
    pub session_binding: SessionBinding,
    /// Each automatic-approval rule in one line.
    pub auto_approve: Vec<String>,
    /// Each statement granted, in one line.
    pub grants: Vec<String>,
    /// The accounts, OUs or root the role grants in; absent when its principals name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_management_account: bool,
}

/// What an alert for a service gets, and who is on call for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    pub role: String,
    pub principal: String,
    pub scope: Option<String>,
    pub duration: Option<AccessDuration>,
    pub alarms: Vec<String>,
    pub pagerduty_services: Vec<String>,
    pub on_call: Vec<String>,
    pub overrides: Vec<String>,
}

/// The authority a catalog gives, normalised: the same catalog written differently (order of
/// keys, comments) gives the same snapshot. Notification channels (webhook URLs, addresses)
/// are left out: they give no access, and webhook URLs are secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSnapshot {
    pub roles: BTreeMap<String, RoleSnapshot>,
    pub services: BTreeMap<String, ServiceSnapshot>,
    pub admin_groups: Vec<String>,
    pub auditor_groups: Vec<String>,
    /// `settings.review_within`: how long reviewers have, which the report judges by. Absent
    /// from snapshots recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_within: Option<String>,
}

impl CatalogSnapshot {
    /// The review window this snapshot recorded, if it recorded one that still reads.
    pub fn review_window(&self) -> Option<crate::AccessDuration> {
        self.review_within
            .as_deref()
            .and_then(|d| crate::AccessDuration::parse(d).ok())
    }
}

fn sorted<T: ToString>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    let set: BTreeSet<String> = items.into_iter().map(|i| i.to_string()).collect();
    set.into_iter().collect()
}

fn describe_rule(rule: &AutoRule) -> String {
    match rule {
        AutoRule::Alert {
            name,
            services,
            revoke_on_resolve,
            max_duration,
        } => format!(
            "alert rule {name}: authenticated alerts of {}, up to {max_duration}{}",
            sorted(services).join(", "),
            if *revoke_on_resolve {
                ", ends with the incident"
            } else {
                ""
            }
        ),
        AutoRule::Pipeline {
            name,
            repositories,
            refs,
            environments,
            scopes,
            principals,
            max_duration,
        } => format!(
            "pipeline rule {name}: repositories {} on refs {}{}, scopes {}, principals {}, up to {max_duration}",
            sorted(repositories).join(", "),
            sorted(refs).join(", "),
            if environments.is_empty() {
                String::new()
            } else {
                format!(" in environments {}", sorted(environments).join(", "))
            },
            if scopes.is_empty() {
                "none".to_owned()
            } else {
                sorted(scopes).join(", ")
            },
            sorted(principals).join(", "),
        ),
    }
}

fn describe_statement(st: &Statement) -> String {
    format!(
        "{:?} {} on {}",
        st.effect,
        sorted(&st.actions).join(", "),
        sorted(&st.resources).join(", ")
    )
}

impl RoleSnapshot {
    pub fn of(role: &Role) -> Self {
        RoleSnapshot {
            requester_users: sorted(&role.requesters.users),
            requester_groups: sorted(&role.requesters.groups),
            approver_groups: sorted(&role.approvers.groups),
            approvals_required: role.approvers.required,
            principals: sorted(&role.principals),
            scopes: sorted(&role.scopes),
            default_duration: role.default_duration,
            max_duration: role.max_duration,
            max_total_duration: role.max_total(),
            break_glass: role.break_glass,
            self_extend: role.self_extend,
            session_binding: role.session_binding,
            auto_approve: sorted(role.auto_approve.iter().map(describe_rule)),
            // An Identity Center role grants its permission set: a change of set is a change
            // of grant, and shows as one.
            grants: sorted(
                role.statements.iter().map(describe_statement).chain(
                    role.identity_center()
                        .map(|ps| format!("Identity Center permission set {ps}")),
                ),
            ),
            accounts: sorted(&role.accounts),
            allow_management_account: role.allow_management_account,
        }
    }
}

impl ServiceSnapshot {
    pub fn of(service: &Service) -> Self {
        let r = &service.rotation;
        ServiceSnapshot {
            role: service.role.to_string(),
            principal: service.principal.to_string(),
            scope: service.scope.as_ref().map(|s| s.to_string()),
            duration: service.duration,
            alarms: sorted(&service.alarms),
            pagerduty_services: sorted(&service.pagerduty_services),
            on_call: sorted(&r.users),
            overrides: sorted(r.overrides.iter().map(|o| {
                format!(
                    "{} from {} to {}",
                    o.user,
                    o.from.to_rfc3339_opts(SecondsFormat::Secs, true),
                    o.to.to_rfc3339_opts(SecondsFormat::Secs, true)
                )
            })),
        }
    }
}

impl CatalogSnapshot {
    pub fn of(catalog: &Catalog) -> Self {
        CatalogSnapshot {
            roles: catalog
                .roles
                .iter()
                .map(|(n, r)| (n.to_string(), RoleSnapshot::of(r)))
                .collect(),
            services: catalog
                .services
                .iter()
                .map(|(n, s)| (n.clone(), ServiceSnapshot::of(s)))
                .collect(),
            admin_groups: sorted(&catalog.settings.admin_groups),
            auditor_groups: sorted(&catalog.settings.auditor_groups),
            review_within: Some(catalog.settings.review_within.to_string()),
        }
    }
}

/// A field as the diff sees it: a set of lines, or one value.
type Fields = Vec<(&'static str, Vec<String>)>;

fn one(v: impl ToString) -> Vec<String> {
    vec![v.to_string()]
}

fn role_fields(r: &RoleSnapshot) -> Fields {
    vec![
        ("requester users", r.requester_users.clone()),
        ("requester groups", r.requester_groups.clone()),
        ("approver groups", r.approver_groups.clone()),
        ("approvals required", one(r.approvals_required)),
        ("principals", r.principals.clone()),
        ("scopes", r.scopes.clone()),
        ("default duration", one(r.default_duration)),
        ("max duration", one(r.max_duration)),
        ("max total duration", one(r.max_total_duration)),
        ("break glass", one(r.break_glass)),
        ("self extend", one(r.self_extend)),
        (
            "session binding",
            one(match r.session_binding {
                SessionBinding::RoleSessionName => "role_session_name",
                SessionBinding::SourceIdentity => "source_identity",
                SessionBinding::None => "none",
            }),
        ),
        ("auto-approve rules", r.auto_approve.clone()),
        ("grants", r.grants.clone()),
    ]
}

fn service_fields(s: &ServiceSnapshot) -> Fields {
    vec![
        ("role", one(&s.role)),
        ("principal", one(&s.principal)),
        ("scope", s.scope.iter().cloned().collect()),
        (
            "duration",
            s.duration.iter().map(|d| d.to_string()).collect(),
        ),
        ("alarms", s.alarms.clone()),
        ("pagerduty services", s.pagerduty_services.clone()),
        ("on call", s.on_call.clone()),
        ("overrides", s.overrides.clone()),
    ]
}

fn settings_fields(c: &CatalogSnapshot) -> Fields {
    vec![
        ("admin groups", c.admin_groups.clone()),
        ("auditor groups", c.auditor_groups.clone()),
        ("review window", c.review_within.iter().cloned().collect()),
    ]
}

/// Whether a subject appeared, went away, or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectChange {
    Added,
    Removed,
    Changed,
}

/// One field's difference: the lines it gained and lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// What changed about one role, service, or the settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogChange {
    /// `settings`, `role <name>` or `service <name>`.
    pub subject: String,
    pub change: SubjectChange,
    pub fields: Vec<FieldChange>,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.removed.as_slice(), self.added.as_slice()) {
            ([old], [new]) => write!(f, "{} {old} → {new}", self.field),
            (removed, added) => {
                write!(f, "{}", self.field)?;
                for a in added {
                    write!(f, " +{a}")?;
                }
                for r in removed {
                    write!(f, " −{r}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for CatalogChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = |f: &mut fmt::Formatter<'_>, lines: &dyn Fn(&FieldChange) -> String| {
            let parts: Vec<String> = self.fields.iter().map(lines).collect();
            f.write_str(&parts.join("; "))
        };
        match self.change {
            SubjectChange::Added => {
                write!(f, "{} added: ", self.subject)?;
                fields(f, &|c| format!("{} {}", c.field, c.added.join(", ")))
            }
            SubjectChange::Removed => {
                write!(f, "{} removed (had ", self.subject)?;
                fields(f, &|c| format!("{} {}", c.field, c.removed.join(", ")))?;
                f.write_str(")")
            }
            SubjectChange::Changed => {
                write!(f, "{}: ", self.subject)?;
                fields(f, &|c| c.to_string())
            }
        }
    }
}

/// The fields that differ, in the order `fields` lists them.
fn field_changes(before: &Fields, after: &Fields) -> Vec<FieldChange> {
    let empty = Vec::new();
    after
        .iter()
        .map(|(name, new)| {
            let old = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(&empty, |(_, v)| v);
            FieldChange {
                field: (*name).to_owned(),
                added: new.iter().filter(|v| !old.contains(v)).cloned().collect(),
                removed: old.iter().filter(|v| !new.contains(v)).cloned().collect(),
            }
        })
        .filter(|c| !c.added.is_empty() || !c.removed.is_empty())
        .collect()
}

/// One subject's change between two versions, if any.
fn subject_change(
    subject: String,
    before: Option<Fields>,
    after: Option<Fields>,
) -> Option<CatalogChange> {
    let (change, fields) = match (&before, &after) {
        (None, Some(a)) => (SubjectChange::Added, field_changes(&vec![], a)),
        (Some(b), None) => (
            SubjectChange::Removed,
            field_changes(&vec![], b)
                .into_iter()
                .map(|c| FieldChange {
                    field: c.field,
                    added: vec![],
                    removed: c.added,
                })
                .collect(),
        ),
        (Some(b), Some(a)) => (SubjectChange::Changed, field_changes(b, a)),
        (None, None) => return None,
    };
    (change != SubjectChange::Changed || !fields.is_empty()).then_some(CatalogChange {
        subject,
        change,
        fields,
    })
}

/// What changed from `before` to `after`: the settings, then each role, then each service, by
/// name. From an empty snapshot, everything is added.
pub fn diff(before: &CatalogSnapshot, after: &CatalogSnapshot) -> Vec<CatalogChange> {
    let mut out = Vec::new();
    // The settings are always there: they change, they are never added or removed.
    out.extend(subject_change(
        "settings".into(),
        Some(settings_fields(before)),
        Some(settings_fields(after)),
    ));
    let roles: BTreeSet<&String> = before.roles.keys().chain(after.roles.keys()).collect();
    for name in roles {
        out.extend(subject_change(
            format!("role {name}"),
            before.roles.get(name).map(role_fields),
            after.roles.get(name).map(role_fields),
        ));
    }
    let services: BTreeSet<&String> = before
        .services
        .keys()
        .chain(after.services.keys())
        .collect();
    for name in services {
        out.extend(subject_change(
            format!("service {name}"),
            before.services.get(name).map(service_fields),
            after.services.get(name).map(service_fields),
        ));
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum CatalogEvent {
    /// A catalog version was loaded that the history did not hold.
    CatalogChanged {
        hash: CatalogHash,
        /// The version recorded before this one; none for the first.
        previous_hash: Option<CatalogHash>,
        source: CatalogSource,
        /// Against the previous version; from nothing for the first.
        changes: Vec<CatalogChange>,
        snapshot: CatalogSnapshot,
    },
}

/// The version last recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub hash: CatalogHash,
    pub source: CatalogSource,
    pub snapshot: CatalogSnapshot,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub current: Option<Current>,
    /// Every version recorded, oldest first.
    pub hashes: Vec<CatalogHash>,
}

/// Record the catalog a process has just loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCatalog {
    pub hash: CatalogHash,
    pub source: CatalogSource,
    pub snapshot: CatalogSnapshot,
    /// The process that loaded it: a function's name, or `serve`.
    pub loaded_by: String,
}

impl RecordCatalog {
    /// The command for a catalog read from `source` as `text` and loaded as `catalog`.
    pub fn new(text: &str, catalog: &Catalog, source: CatalogSource, loaded_by: &str) -> Self {
        RecordCatalog {
            hash: CatalogHash::of(text),
            source,
            snapshot: CatalogSnapshot::of(catalog),
            loaded_by: loaded_by.to_owned(),
        }
    }
}

pub struct CatalogHistory;

impl Decider for CatalogHistory {
    type State = History;
    type Command = RecordCatalog;
    type Body = CatalogEvent;
    type Context<'a> = DateTime<Utc>;
    type Rejection = Infallible;

    /// Records a version unless it is the current one (a warm start, a second function, a
    /// racing cold start that lost) or an older version of the same source than the current
    /// one (a process that read the parameter just before it changed). Versions are only ever
    /// recorded forwards, so processes of two versions starting in turn cannot flip-flop the
    /// history; a return to an earlier text is a new version, put in place later, and is
    /// recorded.
    fn decide(
        state: &History,
        command: &RecordCatalog,
        now: &DateTime<Utc>,
    ) -> Result<Vec<Envelope<CatalogEvent>>, Infallible> {
        if let Some(current) = &state.current {
            if current.hash == command.hash || command.source.older_than(&current.source) {
                return Ok(vec![]);
            }
        }
        let empty = CatalogSnapshot::default();
        let before = state.current.as_ref().map_or(&empty, |c| &c.snapshot);
        let loader = if command.loaded_by.trim().is_empty() {
            "catalog"
        } else {
            command.loaded_by.as_str()
        };
        Ok(vec![Envelope::new(
            *now,
            Actor::System(loader.to_owned()),
            CatalogEvent::CatalogChanged {
                hash: command.hash.clone(),
                previous_hash: state.current.as_ref().map(|c| c.hash.clone()),
                source: command.source.clone(),
                changes: diff(before, &command.snapshot),
                snapshot: command.snapshot.clone(),
            },
        )])
    }

    fn evolve(mut state: History, e: &Envelope<CatalogEvent>) -> History {
        let CatalogEvent::CatalogChanged {
            hash,
            source,
            snapshot,
            ..
        } = &e.body;
        state.hashes.push(hash.clone());
        state.current = Some(Current {
            hash: hash.clone(),
            source: source.clone(),
            snapshot: snapshot.clone(),
            recorded_at: e.occurred_at,
        });
        state
    }
}

#[cfg(test)]
#[path = "catalog_history_tests.rs"]
mod tests;
