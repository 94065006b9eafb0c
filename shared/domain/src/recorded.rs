//! Recorded policies (`recorded#<principal>`): local mode's `record` provider writes the
//! policies it would put or delete here instead of calling IAM, and reads what is attached.

use crate::budget::policy_size;
use crate::decider::Decider;
use crate::event::{Actor, Envelope};
use crate::ids::PrincipalArn;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum RecordedEvent {
    RecordedPolicyPut {
        recorded: bool,
        principal: PrincipalArn,
        policy_name: String,
        document: serde_json::Value,
        #[serde(flatten)]
        via: Via,
    },
    RecordedPolicyDeleted {
        recorded: bool,
        principal: PrincipalArn,
        policy_name: String,
        #[serde(flatten)]
        via: Via,
    },
}

/// Where a recorded call would have run: the principal's account, the member role the hub
/// would assume there (none in the hub's own account), and the session it would be named.
/// Absent in records made before organisations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Via {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// The policies attached to the principal, as far as the record goes, with their sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attached(pub BTreeMap<String, usize>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordCommand {
    Put {
        principal: PrincipalArn,
        name: String,
        document: serde_json::Value,
        via: Via,
    },
    Delete {
        principal: PrincipalArn,
        name: String,
        via: Via,
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
                via,
            } => RecordedEvent::RecordedPolicyPut {
                recorded: true,
                principal: principal.clone(),
                policy_name: name.clone(),
                document: document.clone(),
                via: via.clone(),
            },
            RecordCommand::Delete {
                principal,
                name,
                via,
            } => RecordedEvent::RecordedPolicyDeleted {
                recorded: true,
                principal: principal.clone(),
                policy_name: name.clone(),
                via: via.clone(),
            },
        };
        Ok(vec![Envelope::new(
            *now,
            Actor::System("record-provider".into()),
            body,
        )])
    }

    fn evolve(mut s: Attached, e: &Envelope<RecordedEvent>) -> Attached {
        match &e.body {
            RecordedEvent::RecordedPolicyPut {
                policy_name,
                document,
                ..
            } => {
                s.0.insert(policy_name.clone(), policy_size(&document.to_string()));
            }
            RecordedEvent::RecordedPolicyDeleted { policy_name, .. } => {
                s.0.remove(policy_name);
            }
        }
        s
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
            via: Via::default(),
        };
        let del = RecordCommand::Delete {
            principal: p,
            name: "stint-x".into(),
            via: Via::default(),
        };
        let state = given::<RecordedPolicies>(&[]);
        assert!(state.0.is_empty());
        let e = RecordedPolicies::decide(&state, &put, &now).unwrap();
        let state = RecordedPolicies::evolve(state, &e[0]);
        assert_eq!(state.0.get("stint-x"), Some(&2));
        let e = RecordedPolicies::decide(&state, &del, &now).unwrap();
        assert!(RecordedPolicies::evolve(state, &e[0]).0.is_empty());
    }
}
