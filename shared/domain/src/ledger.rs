//! The notice ledger (`notice#<event id>`): each notification of one event is claimed before
//! it is sent and its outcome recorded, so redelivered events send nothing twice.

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
        request_id: RequestId,
    },
    NotificationSent {
        key: String,
        request_id: RequestId,
        to: Vec<String>,
        title: String,
    },
    NotificationFailed {
        key: String,
        request_id: RequestId,
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

/// The last status of each notification key, and when it was reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    pub keys: BTreeMap<String, (KeyStatus, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeCommand {
    Claim {
        key: String,
        request_id: RequestId,
    },
    RecordSent {
        key: String,
        request_id: RequestId,
        to: Vec<String>,
        title: String,
    },
    RecordFailed {
        key: String,
        request_id: RequestId,
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
    fn rid() -> RequestId {
        RequestId::parse("01J00000000000000000000001").unwrap()
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
