//! The alert-claim stream (`alert#<digest>`): which requests an alarm or incident opened. A
//! delivery claims the incident before it submits, so racing deliveries open one request.

use crate::decider::Decider;
use crate::event::{Actor, Envelope};
use crate::ids::RequestId;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum ClaimEvent {
    /// This request answers for the alert's incident.
    AlertRequestOpened {
        request_id: RequestId,
        // Only the request id is needed to act on a claim; the rest is for readers.
        #[serde(default)]
        service: String,
        #[serde(default)]
        alarm: String,
        #[serde(default)]
        incident: String,
    },
}

/// One claim, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub request_id: RequestId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub claims: Vec<Claim>,
}

impl Claims {
    /// Claimed request ids, newest first, each once.
    pub fn newest_first(&self) -> Vec<&Claim> {
        let mut seen = BTreeSet::new();
        self.claims
            .iter()
            .rev()
            .filter(|c| seen.insert(c.request_id))
            .collect()
    }
}

/// Claim the incident for `request_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimIncident {
    pub request_id: RequestId,
    pub service: String,
    pub alarm: String,
    pub incident: String,
    /// Claimed requests the caller found submitted (and not joinable): they do not block.
    pub settled: BTreeSet<RequestId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimRejection {
    /// Another delivery claimed the incident and has not submitted yet: submit that request.
    #[error("the incident is already claimed by request {0}")]
    AlreadyClaimed(RequestId),
}

/// A claim older than this whose request never appeared is abandoned (deliveries of an alert
/// are retried for at most an hour); a new claim may be made.
pub const TAKEOVER_WINDOW: TimeDelta = TimeDelta::hours(1);

pub struct AlertClaims;

impl Decider for AlertClaims {
    type State = Claims;
    type Command = ClaimIncident;
    type Body = ClaimEvent;
    type Context<'a> = DateTime<Utc>;
    type Rejection = ClaimRejection;

    fn decide(
        state: &Claims,
        c: &ClaimIncident,
        now: &DateTime<Utc>,
    ) -> Result<Vec<Envelope<ClaimEvent>>, ClaimRejection> {
        if state.claims.iter().any(|x| x.request_id == c.request_id) {
            return Ok(vec![]); // this delivery's claim is already there
        }
        if let Some(open) = state
            .newest_first()
            .into_iter()
            .find(|x| !c.settled.contains(&x.request_id) && *now - x.at < TAKEOVER_WINDOW)
        {
            return Err(ClaimRejection::AlreadyClaimed(open.request_id));
        }
        Ok(vec![Envelope::new(
            *now,
            Actor::System("alert".into()),
            ClaimEvent::AlertRequestOpened {
                request_id: c.request_id,
                service: c.service.clone(),
                alarm: c.alarm.clone(),
                incident: c.incident.clone(),
            },
        )])
    }

    fn evolve(mut state: Claims, e: &Envelope<ClaimEvent>) -> Claims {
        let ClaimEvent::AlertRequestOpened { request_id, .. } = &e.body;
        state.claims.push(Claim {
            request_id: *request_id,
            at: e.occurred_at,
        });
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::given;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap() + TimeDelta::minutes(min)
    }
    fn id(n: u8) -> RequestId {
        RequestId::parse(&format!("01J00000000000000000000{n:03}")).unwrap()
    }
    fn claimed(n: u8, at: i64) -> Envelope<ClaimEvent> {
        Envelope::new(
            t(at),
            Actor::System("alert".into()),
            ClaimEvent::AlertRequestOpened {
                request_id: id(n),
                service: "orders".into(),
                alarm: "orders-5xx".into(),
                incident: "i".into(),
            },
        )
    }
    fn claim(n: u8, settled: &[u8]) -> ClaimIncident {
        ClaimIncident {
            request_id: id(n),
            service: "orders".into(),
            alarm: "orders-5xx".into(),
            incident: "i".into(),
            settled: settled.iter().map(|s| id(*s)).collect(),
        }
    }

    #[test]
    fn the_first_claim_is_recorded() {
        let out = AlertClaims::decide(&given::<AlertClaims>(&[]), &claim(1, &[]), &t(0)).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].body, claimed(1, 0).body);
    }

    #[test]
    fn a_repeated_claim_is_a_no_op() {
        let state = given::<AlertClaims>(&[claimed(1, 0)]);
        assert_eq!(
            AlertClaims::decide(&state, &claim(1, &[]), &t(1)),
            Ok(vec![])
        );
    }

    #[test]
    fn a_fresh_unsubmitted_claim_of_another_delivery_is_taken_over() {
        let state = given::<AlertClaims>(&[claimed(1, 0)]);
        assert_eq!(
            AlertClaims::decide(&state, &claim(2, &[]), &t(5)),
            Err(ClaimRejection::AlreadyClaimed(id(1)))
        );
    }

    #[test]
    fn a_settled_or_abandoned_claim_does_not_block_a_new_one() {
        let state = given::<AlertClaims>(&[claimed(1, 0)]);
        assert_eq!(
            AlertClaims::decide(&state, &claim(2, &[1]), &t(5))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            AlertClaims::decide(&state, &claim(2, &[]), &t(61))
                .unwrap()
                .len(),
            1
        );
    }
}
