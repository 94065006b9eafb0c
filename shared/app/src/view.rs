//! What the API shows of a request: its folded state and its timeline.

use super::service::Loaded;
use serde::Serialize;
use stint_domain::{RequestId, RequestState, StoredEvent};

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: String,
    pub actor: String,
    pub payload: serde_json::Value,
}

impl From<&StoredEvent> for TimelineEntry {
    fn from(e: &StoredEvent) -> Self {
        TimelineEntry {
            version: e.version,
            event_type: e.record.event_type.clone(),
            occurred_at: stint_domain::log::time_key(&e.record.occurred_at),
            actor: e.record.actor.clone(),
            payload: e.record.payload.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: RequestId,
    #[serde(flatten)]
    pub state: RequestState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
}

impl RequestView {
    pub fn with_timeline(l: &Loaded) -> Self {
        RequestView {
            id: l.id,
            state: l.state.clone(),
            timeline: Some(l.events.iter().map(TimelineEntry::from).collect()),
        }
    }
    pub fn summary(id: RequestId, state: RequestState) -> Self {
        RequestView {
            id,
            state,
            timeline: None,
        }
    }
}

/// A role as the person asking may request it: what it gives, its scopes and principals (as
/// the catalog's patterns), and its duration bounds. For the console's form and the CLI.
#[derive(Debug, Clone, Serialize)]
pub struct RoleOffer {
    pub role: stint_domain::RoleName,
    pub description: String,
    pub scopes: Vec<String>,
    pub principals: Vec<String>,
    pub default_duration: stint_domain::AccessDuration,
    pub max_duration: stint_domain::AccessDuration,
    pub break_glass: bool,
    pub self_extend: bool,
}

/// The roles `who` may request, in the catalog's order.
pub fn requestable(
    catalog: &stint_domain::Catalog,
    who: &stint_domain::Identity,
) -> Vec<RoleOffer> {
    catalog
        .roles
        .iter()
        .filter(|(_, r)| r.may_request(who))
        .map(|(name, r)| RoleOffer {
            role: name.clone(),
            description: r.description.clone(),
            scopes: r.scopes.iter().map(|p| p.as_str().to_owned()).collect(),
            principals: r.principals.iter().map(|p| p.as_str().to_owned()).collect(),
            default_duration: r.default_duration,
            max_duration: r.max_duration,
            break_glass: r.break_glass,
            self_extend: r.self_extend,
        })
        .collect()
}
