//! The notice ledger (`notice#<event id>`, and `notice#review#<period>` for access-review
//! reminders): each notification is claimed before it is sent and its outcome recorded, so
//! redelivered events and repeated reminder runs send nothing twice.

use crate::decider::Decider;
use crate::event::{Actor, Envelope};
use crate::ids::RequestId;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum NoticeEvent {
    NotificationClaimed {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    NotificationSent {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        to: Vec<String>,
        title: String,
    },
    NotificationFailed {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
        error: String,
        attempts: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Claimed,
    Sent,
    Failed,
}

// `request_id` names the request a notice is about; a review reminder is about a period and a
// role, so it has none (and the field is left out, so older notices read and write the same).

/// The last status of each notification key, and when it was reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    pub keys: BTreeMap<String, (KeyStatus, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeCommand {
    Claim {
        key: String,
        request_id: Option<RequestId>,
    },
    RecordSent {
        key: String,
        request_id: Option<RequestId>,
        to: Vec<String>,
        title: String,
    },
    RecordFailed {
        key: String,
        request_id: Option<RequestId>,
        error: String,
        attempts: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeRejection {
    #[error("notification {0} was sent already")]
    AlreadySent(String),
    #[error("notification {0} is being sent by another delivery")]
    ClaimedByAnother(String),
}

/// How long a claimed notification belongs to the delivery that claimed it; after that (the
/// sender died mid-send) a redelivery sends it. Longer than the notify function's timeout.
pub const CLAIM_TTL: TimeDelta = TimeDelta::minutes(5);

pub struct NoticeLedger;

impl Decider for NoticeLedger {
    type State = Ledger;
    type Command = NoticeCommand;
    type Body = NoticeEvent;
    type Context<'a> = DateTime<Utc>;
    type Rejection = NoticeRejection;

    fn decide(
        state: &Ledger,
        command: &NoticeCommand,
        now: &DateTime<Utc>,
    ) -> Result<Vec<Envelope<NoticeEvent>>, NoticeRejection> {
        let last = |key: &str| state.keys.get(key).copied();
        let body = match command {
            NoticeCommand::Claim { key, request_id } => match last(key) {
                Some((KeyStatus::Sent, _)) => {
                    return Err(NoticeRejection::AlreadySent(key.clone()))
                }
                Some((KeyStatus::Claimed, at)) if *now - at < CLAIM_TTL => {
                    return Err(NoticeRejection::ClaimedByAnother(key.clone()))
                }
                _ => NoticeEvent::NotificationClaimed {
                    key: key.clone(),
                    request_id: *request_id,
                },
            },
            NoticeCommand::RecordSent { key, .. } | NoticeCommand::RecordFailed { key, .. }
                if matches!(last(key), Some((KeyStatus::Sent, _))) =>
            {
                return Ok(vec![]); // another delivery finished it: nothing to add
            }
            NoticeCommand::RecordSent {
                key,
                request_id,
                to,
                title,
            } => NoticeEvent::NotificationSent {
                key: key.clone(),
                request_id: *request_id,
                to: to.clone(),
                title: title.clone(),
            },
            NoticeCommand::RecordFailed {
                key,
                request_id,
                error,
                attempts,
            } => NoticeEvent::NotificationFailed {
                key: key.clone(),
                request_id: *request_id,
                error: error.clone(),
                attempts: *attempts,
            },
        };
        Ok(vec![Envelope::new(
            *now,
            Actor::System("notify".into()),
            body,
        )])
    }

    fn evolve(mut state: Ledger, e: &Envelope<NoticeEvent>) -> Ledger {
        let (key, status) = match &e.body {
            NoticeEvent::NotificationClaimed { key, .. } => (key, KeyStatus::Claimed),
            NoticeEvent::NotificationSent { key, .. } => (key, KeyStatus::Sent),
            NoticeEvent::NotificationFailed { key, .. } => (key, KeyStatus::Failed),
        };
        state.keys.insert(key.clone(), (status, e.occurred_at));
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
    fn rid() -> Option<RequestId> {
        Some(RequestId::parse("01J00000000000000000000001").unwrap())
    }
    fn ev(at: i64, body: NoticeEvent) -> Envelope<NoticeEvent> {
        Envelope::new(t(at), Actor::System("notify".into()), body)
    }
    fn claimed(at: i64) -> Envelope<NoticeEvent> {
        ev(
            at,
            NoticeEvent::NotificationClaimed {
                key: "requester:slack".into(),
                request_id: rid(),
            },
        )
    }
    fn claim() -> NoticeCommand {
        NoticeCommand::Claim {
            key: "requester:slack".into(),
            request_id: rid(),
        }
    }
    fn sent() -> NoticeCommand {
        NoticeCommand::RecordSent {
            key: "requester:slack".into(),
            request_id: rid(),
            to: vec!["webhook".into()],
            title: "t".into(),
        }
    }

    #[test]
    fn an_unclaimed_notification_is_claimed() {
        let out = NoticeLedger::decide(&given::<NoticeLedger>(&[]), &claim(), &t(0)).unwrap();
        assert!(matches!(
            out[0].body,
            NoticeEvent::NotificationClaimed { .. }
        ));
    }

    #[test]
    fn a_live_claim_blocks_and_a_stale_one_is_taken_over() {
        let state = given::<NoticeLedger>(&[claimed(0)]);
        assert!(matches!(
            NoticeLedger::decide(&state, &claim(), &t(4)),
            Err(NoticeRejection::ClaimedByAnother(_))
        ));
        assert_eq!(
            NoticeLedger::decide(&state, &claim(), &t(6)).unwrap().len(),
            1
        );
    }

    #[test]
    fn a_sent_notification_is_never_claimed_again_and_its_record_is_not_repeated() {
        let state = given::<NoticeLedger>(&[claimed(0)]);
        let done = NoticeLedger::decide(&state, &sent(), &t(1)).unwrap();
        let state = NoticeLedger::evolve(state, &done[0]);
        assert!(matches!(
            NoticeLedger::decide(&state, &claim(), &t(60)),
            Err(NoticeRejection::AlreadySent(_))
        ));
        assert_eq!(NoticeLedger::decide(&state, &sent(), &t(2)), Ok(vec![]));
    }

    #[test]
    fn a_notice_about_a_request_is_stored_as_before_and_a_reminder_has_no_request() {
        let out = NoticeLedger::decide(&given::<NoticeLedger>(&[]), &claim(), &t(0)).unwrap();
        let rec = out[0].to_record("e".into());
        assert_eq!(
            rec.payload,
            serde_json::json!({"key": "requester:slack", "request_id": "01J00000000000000000000001"})
        );
        let reminder = NoticeCommand::Claim {
            key: "db-read:opened:slack".into(),
            request_id: None,
        };
        let out = NoticeLedger::decide(&given::<NoticeLedger>(&[]), &reminder, &t(0)).unwrap();
        let rec = out[0].to_record("e".into());
        assert_eq!(
            rec.payload,
            serde_json::json!({"key": "db-read:opened:slack"})
        );
        assert_eq!(Envelope::<NoticeEvent>::from_record(&rec).unwrap(), out[0]);
    }

    #[test]
    fn a_failed_notification_may_be_claimed_again() {
        let failed = ev(
            1,
            NoticeEvent::NotificationFailed {
                key: "requester:slack".into(),
                request_id: rid(),
                error: "down".into(),
                attempts: 3,
            },
        );
        let state = given::<NoticeLedger>(&[claimed(0), failed]);
        assert_eq!(
            NoticeLedger::decide(&state, &claim(), &t(2)).unwrap().len(),
            1
        );
    }
}
