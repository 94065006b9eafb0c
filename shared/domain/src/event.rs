//! Request events: facts in the past tense, each with who did it and when.

use super::duration::AccessDuration;
use super::ids::{GroupName, PrincipalArn, RequestId, RoleName, Scope, UserId};
use super::log::EventRecord;
use super::org::AccountId;
use super::review::{Period, Verdict};
use super::text::{Justification, ReviewComment, TicketRef};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The version of the event payload schemas written by this build.
pub const SCHEMA_VERSION: u16 = 1;

/// Who caused an event: a person, a catalog rule, or a part of Stint itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Actor {
    User(UserId),
    Rule(String),
    System(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(u) => write!(f, "user:{u}"),
            Actor::Rule(r) => write!(f, "rule:{r}"),
            Actor::System(s) => write!(f, "system:{s}"),
        }
    }
}
impl FromStr for Actor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("user", u)) => UserId::parse(u).map(Actor::User).map_err(|e| e.to_string()),
            Some(("rule", r)) if !r.is_empty() => Ok(Actor::Rule(r.to_owned())),
            Some(("system", c)) if !c.is_empty() => Ok(Actor::System(c.to_owned())),
            _ => Err(format!("{s:?} is not an actor (user:, rule: or system:)")),
        }
    }
}
impl TryFrom<String> for Actor {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}
impl From<Actor> for String {
    fn from(a: Actor) -> String {
        a.to_string()
    }
}

/// Where a request came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Person,
    Alert {
        service: String,
        alarm: String,
        incident: String,
        /// Whether the alert's origin is authenticated: a CloudWatch alarm matched by a full
        /// ARN pattern (account and region), or a webhook whose signature was checked. Only
        /// then may a rule approve it; an alarm matched by name alone (anyone may create an
        /// alarm with that name) opens a request that waits for a person.
        #[serde(default)]
        authenticated: bool,
    },
    Pipeline {
        repository: String,
        git_ref: String,
        environment: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    Expired,
    Manual,
    Sweep,
    IncidentResolved,
    /// The account left the role (moved out of its OU, or the catalog changed) while access
    /// was active: found when an extension checked it again.
    AccountRemoved,
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RevokeReason::Expired => "expired",
            RevokeReason::Manual => "manual",
            RevokeReason::Sweep => "sweep",
            RevokeReason::IncidentResolved => "incident_resolved",
            RevokeReason::AccountRemoved => "account_removed",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequested {
    pub request_id: RequestId,
    pub requester: UserId,
    /// The groups the requester held when asking, for the audit trail.
    pub requester_groups: Vec<GroupName>,
    pub role: RoleName,
    pub scope: Option<Scope>,
    pub principal: PrincipalArn,
    pub duration: AccessDuration,
    pub justification: Justification,
    pub ticket: Option<TicketRef>,
    pub starts_at: Option<DateTime<Utc>>,
    pub source: Source,
    pub break_glass: bool,
    /// A request for several accounts: each gets its own grant of `principal` filled with
    /// that account (`principal` is the first one's). Empty for a single-account request,
    /// and then left out of the payload, so events written before it hash as they did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountId>,
}

impl AccessRequested {
    /// Whether the request names several accounts, each granted on its own.
    pub fn is_multi(&self) -> bool {
        !self.accounts.is_empty()
    }

    /// Each account and the principal that receives its grant, in the order asked.
    pub fn account_principals(&self) -> Vec<(AccountId, PrincipalArn)> {
        self.accounts
            .iter()
            .map(|a| (a.clone(), self.principal.in_account(a)))
            .collect()
    }

    /// The principal of `account` (the request's own for a single-account request).
    pub fn principal_in(&self, account: Option<&AccountId>) -> PrincipalArn {
        account.map_or_else(|| self.principal.clone(), |a| self.principal.in_account(a))
    }
}

/// What happened. Serialized with `type` and `payload` apart, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum EventBody {
    AccessRequested(Box<AccessRequested>),
    ApprovalRecorded {
        approver: UserId,
        comment: Option<String>,
    },
    AccessApproved {
        approvers: Vec<UserId>,
        rule: Option<String>,
    },
    AccessDenied {
        approver: UserId,
        reason: Option<String>,
    },
    RequestCancelled {
        by: UserId,
    },
    RequestLapsed {
        pending_since: DateTime<Utc>,
    },
    /// `policy` is the exact document attached, so the log shows what was granted even after
    /// the catalog changes.
    AccessGranted {
        policy_name: String,
        policy: serde_json::Value,
        starts_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        /// The account of a request for several accounts; absent (not written) otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<AccountId>,
    },
    GrantFailed {
        error: String,
        attempts: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<AccountId>,
    },
    /// An extension decided by the requester (where the role allows) or an approver. IAM does
    /// not hold it yet: the grant function puts the policy with the new window, then records
    /// `AccessExtended`, so the expiry Stint reports is always the one IAM enforces.
    ExtensionApproved {
        by: UserId,
        expires_at: DateTime<Utc>,
    },
    AccessExtended {
        previous_expires_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        via_request: Option<RequestId>,
    },
    AccessRevoked {
        reason: RevokeReason,
        expires_at: DateTime<Utc>,
        lag_seconds: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<AccountId>,
    },
    RevokeFailed {
        error: String,
        attempts: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<AccountId>,
    },
    BreakGlassUsed {
        review_by: DateTime<Utc>,
    },
    BreakGlassReviewed {
        reviewer: UserId,
        note: Option<String>,
    },
    /// The incident an alert request was opened for is over; the revoke function ends access
    /// that the approving rule ties to it.
    IncidentResolved {
        incident: String,
    },
    /// The periodic access review of the grant: an approver of the role judged it. `period` is
    /// the month the grant was made in, so a period's decisions can be read back by it.
    GrantReviewed {
        reviewer: UserId,
        verdict: Verdict,
        comment: Option<ReviewComment>,
        period: Period,
    },
}

impl EventBody {
    /// The serde tag: the `type` the store keeps.
    pub fn type_name(&self) -> &'static str {
        crate::tag::static_tag_of(self)
    }
}

/// An event with its envelope: when, who, and what, the body being one stream's tagged enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<B> {
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub body: B,
}

/// An event of a request stream.
pub type Event = Envelope<EventBody>;

#[derive(Debug, thiserror::Error)]
#[error("event {event_id} ({event_type}) cannot be read: {reason}")]
pub struct DecodeError {
    pub event_id: String,
    pub event_type: String,
    pub reason: String,
}

impl<B> Envelope<B> {
    pub fn new(occurred_at: DateTime<Utc>, actor: Actor, body: B) -> Self {
        Envelope {
            occurred_at,
            actor,
            body,
        }
    }
}

impl<B: Serialize + DeserializeOwned> Envelope<B> {
    /// The stored form: `type` is the body's serde tag and `payload` its content.
    pub fn to_record(&self, event_id: String) -> EventRecord {
        let mut tagged = serde_json::to_value(&self.body).unwrap_or_default();
        let payload = tagged
            .get_mut("payload")
            .map(serde_json::Value::take)
            .unwrap_or(serde_json::Value::Null);
        let event_type = tagged
            .get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        EventRecord {
            event_id,
            event_type,
            schema_version: SCHEMA_VERSION,
            occurred_at: self.occurred_at,
            actor: self.actor.to_string(),
            payload,
        }
    }

    pub fn from_record(r: &EventRecord) -> Result<Self, DecodeError> {
        let fail = |reason: String| DecodeError {
            event_id: r.event_id.clone(),
            event_type: r.event_type.clone(),
            reason,
        };
        if r.schema_version != SCHEMA_VERSION {
            return Err(fail(format!(
                "schema_version {} is not supported",
                r.schema_version
            )));
        }
        let body = B::deserialize(Tagged {
            ty: &r.event_type,
            payload: &r.payload,
        })
        .map_err(|e| fail(e.to_string()))?;
        let actor: Actor = r.actor.parse().map_err(fail)?;
        Ok(Envelope {
            occurred_at: r.occurred_at,
            actor,
            body,
        })
    }
}

/// Presents a record's `type` and `payload` as the `{"type", "payload"}` map the adjacently
/// tagged `EventBody` reads, borrowing the payload instead of copying it into a new value:
/// decoding is the hot path of every fold and report.
struct Tagged<'a> {
    ty: &'a str,
    payload: &'a serde_json::Value,
}

impl<'de> serde::Deserializer<'de> for Tagged<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_map(TaggedMap {
            next: 0,
            tagged: self,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct TaggedMap<'a> {
    next: u8,
    tagged: Tagged<'a>,
}

impl<'de> serde::de::MapAccess<'de> for TaggedMap<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let key = match self.next {
            0 => "type",
            1 => "payload",
            _ => return Ok(None),
        };
        seed.deserialize(serde::de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.next += 1;
        if self.next == 1 {
            seed.deserialize(serde::de::value::BorrowedStrDeserializer::new(
                self.tagged.ty,
            ))
        } else {
            seed.deserialize(self.tagged.payload)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_records() {
        let ev = Event::new(
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            Actor::User(UserId::parse("alice").unwrap()),
            EventBody::AccessDenied {
                approver: UserId::parse("bob").unwrap(),
                reason: Some("no".into()),
            },
        );
        let rec = ev.to_record("e1".into());
        assert_eq!(rec.event_type, "AccessDenied");
        assert_eq!(rec.payload["approver"], "bob");
        assert_eq!(rec.actor, "user:alice");
        assert_eq!(Event::from_record(&rec).unwrap(), ev);
    }

    #[test]
    fn unknown_types_and_actors_fail_to_decode() {
        let ev = Event::new(
            Utc::now(),
            Actor::System("sweep".into()),
            EventBody::RequestCancelled {
                by: UserId::parse("a").unwrap(),
            },
        );
        let mut rec = ev.to_record("e".into());
        rec.event_type = "Nope".into();
        assert!(Event::from_record(&rec).is_err());
        let mut rec = ev.to_record("e".into());
        rec.actor = "root".into();
        assert!(Event::from_record(&rec).is_err());
    }
}
