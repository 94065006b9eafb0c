//! Recorded policies (`recorded#<principal>#<policy>`): local mode's `record` provider writes
//! the policies it would put or delete here instead of calling IAM.

use crate::decider::Decider;
use crate::event::{Actor, Envelope};
use crate::ids::PrincipalArn;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum RecordedEvent {
    RecordedPolicyPut {
        recorded: bool,
        principal: PrincipalArn,
        policy_name: String,
        document: serde_json::Value,
    },
    RecordedPolicyDeleted {
        recorded: bool,
        principal: PrincipalArn,
        policy_name: String,
    },
}

/// Whether the policy is attached, as far as the record goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attached(pub bool);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordCommand {
    Put {
        principal: PrincipalArn,
        name: String,
        document: serde_json::Value,
    },
    Delete {
        principal: PrincipalArn,
        name: String,
    },
}

pub struct RecordedPolicies;

impl Decider for RecordedPolicies {
    type State = Attached;
    type Command = RecordCommand;
    type Body = RecordedEvent;
    type Context<'a> = DateTime<Utc>;
    type Rejection = Infallible;

    /// Every put and delete is recorded, as IAM would take each call.
    fn decide(
        _: &Attached,
        command: &RecordCommand,
        now: &DateTime<Utc>,
    ) -> Result<Vec<Envelope<RecordedEvent>>, Infallible> {
        let body = match command {
            RecordCommand::Put {
                principal,
                name,
                document,
            } => RecordedEvent::RecordedPolicyPut {
                recorded: true,
                principal: principal.clone(),
                policy_name: name.clone(),
                document: document.clone(),
            },
            RecordCommand::Delete { principal, name } => RecordedEvent::RecordedPolicyDeleted {
                recorded: true,
                principal: principal.clone(),
                policy_name: name.clone(),
            },
        };
        Ok(vec![Envelope::new(
            *now,
            Actor::System("record-provider".into()),
            body,
        )])
    }

    fn evolve(_: Attached, e: &Envelope<RecordedEvent>) -> Attached {
        Attached(matches!(e.body, RecordedEvent::RecordedPolicyPut { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::given;

    #[test]
    fn puts_attach_and_deletes_detach() {
        let p = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/app").unwrap();
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let put = RecordCommand::Put {
            principal: p.clone(),
            name: "stint-x".into(),
            document: serde_json::json!({}),
        };
        let del = RecordCommand::Delete {
            principal: p,
            name: "stint-x".into(),
        };
        let state = given::<RecordedPolicies>(&[]);
        assert_eq!(state, Attached(false));
        let e = RecordedPolicies::decide(&state, &put, &now).unwrap();
        let state = RecordedPolicies::evolve(state, &e[0]);
        assert_eq!(state, Attached(true));
        let e = RecordedPolicies::decide(&state, &del, &now).unwrap();
        assert_eq!(RecordedPolicies::evolve(state, &e[0]), Attached(false));
    }
}
