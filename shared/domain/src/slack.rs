//! Slack interactions, pure: the actions Stint's buttons carry, and what Slack posts back when
//! someone clicks one (a `block_actions` payload) or sends the deny-reason modal (a
//! `view_submission`). The signature is checked at the edge (stint-http) before this runs.

use crate::catalog::Role;
use crate::ids::RequestId;
use crate::request::RequestState;
use crate::AccessDuration;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The modal that asks a denier for a reason (its `callback_id`).
pub const DENY_VIEW: &str = "stint_deny_reason";
/// The block and action ids of the reason's text input in that modal.
pub const REASON_BLOCK: &str = "reason";
pub const REASON_INPUT: &str = "reason";

/// What a Stint button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Approve,
    Deny,
    Extend,
    /// "I'm done": the requester gives the access back now.
    Done,
}

impl ActionKind {
    pub const ALL: [ActionKind; 4] = [
        ActionKind::Approve,
        ActionKind::Deny,
        ActionKind::Extend,
        ActionKind::Done,
    ];

    /// The `action_id` on the button.
    pub fn id(self) -> &'static str {
        match self {
            ActionKind::Approve => "stint_approve",
            ActionKind::Deny => "stint_deny",
            ActionKind::Extend => "stint_extend",
            ActionKind::Done => "stint_done",
        }
    }

    pub fn from_id(id: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|a| a.id() == id)
    }
}

/// A button's `value`: the request, and for Extend the expiry the message showed, so that a
/// second click on the same message (a double click, a retry) does not extend twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonValue {
    pub request: RequestId,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ButtonValue {
    pub fn encode(&self) -> String {
        match self.expires_at {
            Some(t) => format!("{}|{}", self.request, t.timestamp()),
            None => self.request.to_string(),
        }
    }

    pub fn parse(raw: &str) -> Result<ButtonValue, PayloadError> {
        let bad = |m: &str| PayloadError::Malformed(format!("value: {m}"));
        let (id, at) = match raw.split_once('|') {
            Some((id, at)) => (id, Some(at)),
            None => (raw, None),
        };
        let request = RequestId::parse(id).map_err(|_| bad("not a request id"))?;
        let expires_at = at
            .map(|a| {
                a.parse::<i64>()
                    .ok()
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                    .ok_or_else(|| bad("not a time"))
            })
            .transpose()?;
        Ok(ButtonValue {
            request,
            expires_at,
        })
    }
}

/// The expiry an Extend extends from (see [`RequestState::extension_base`]). The Extend button
/// carries it, and a click extends only while it is still the same.
pub fn extend_basis(state: &RequestState) -> Option<DateTime<Utc>> {
    state.extension_base()
}

/// How much one Extend click adds: the role's default duration.
pub fn extend_step(role: &Role) -> AccessDuration {
    role.default_duration
}

/// The message a button was on, to update in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

/// A click on one of Stint's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// The Slack user id of whoever clicked.
    pub user: String,
    pub action: ActionKind,
    pub value: ButtonValue,
    pub trigger_id: Option<String>,
    pub response_url: Option<String>,
    pub message: Option<MessageRef>,
}

/// The deny-reason modal, sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyReason {
    pub user: String,
    pub request: RequestId,
    pub reason: Option<String>,
    /// Carried from the click through the modal's `private_metadata`.
    pub response_url: Option<String>,
    pub message: Option<MessageRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    Click(Click),
    DenyReason(DenyReason),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed interaction payload: {0}")]
    Malformed(String),
    #[error("unknown action {0:?}")]
    UnknownAction(String),
}

fn text<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, PayloadError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PayloadError::Malformed(format!("{pointer} is missing")))
}

fn optional(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Parses the JSON in the form field `payload` that Slack posts.
pub fn parse_interaction(payload: &str) -> Result<Interaction, PayloadError> {
    let v: Value = serde_json::from_str(payload)
        .map_err(|e| PayloadError::Malformed(format!("not JSON: {e}")))?;
    let user = text(&v, "/user/id")?.to_owned();
    match text(&v, "/type")? {
        "block_actions" => {
            let actions = v
                .get("actions")
                .and_then(Value::as_array)
                .filter(|a| a.len() == 1)
                .ok_or_else(|| PayloadError::Malformed("expected exactly one action".into()))?;
            let a = &actions[0];
            let id = text(a, "/action_id")?;
            let action =
                ActionKind::from_id(id).ok_or_else(|| PayloadError::UnknownAction(id.into()))?;
            let value = ButtonValue::parse(text(a, "/value")?)?;
            if (action == ActionKind::Extend) != value.expires_at.is_some() {
                return Err(PayloadError::Malformed(
                    "value: only Extend carries an expiry".into(),
                ));
            }
            let message = match (
                optional(&v, "/container/channel_id").or_else(|| optional(&v, "/channel/id")),
                optional(&v, "/container/message_ts").or_else(|| optional(&v, "/message/ts")),
            ) {
                (Some(channel), Some(ts)) => Some(MessageRef { channel, ts }),
                _ => None,
            };
            Ok(Interaction::Click(Click {
                user,
                action,
                value,
                trigger_id: optional(&v, "/trigger_id"),
                response_url: optional(&v, "/response_url"),
                message,
            }))
        }
        "view_submission" => {
            let callback = text(&v, "/view/callback_id")?;
            if callback != DENY_VIEW {
                return Err(PayloadError::UnknownAction(callback.into()));
            }
            let meta: Value = serde_json::from_str(text(&v, "/view/private_metadata")?)
                .map_err(|_| PayloadError::Malformed("private_metadata is not JSON".into()))?;
            let request = RequestId::parse(text(&meta, "/id")?)
                .map_err(|_| PayloadError::Malformed("private_metadata: no request id".into()))?;
            let message = match (optional(&meta, "/channel"), optional(&meta, "/ts")) {
                (Some(channel), Some(ts)) => Some(MessageRef { channel, ts }),
                _ => None,
            };
            let reason = optional(
                &v,
                &format!("/view/state/values/{REASON_BLOCK}/{REASON_INPUT}/value"),
            )
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
            Ok(Interaction::DenyReason(DenyReason {
                user,
                request,
                reason,
                response_url: optional(&meta, "/response_url"),
                message,
            }))
        }
        other => Err(PayloadError::UnknownAction(other.into())),
    }
}

/// The modal a Deny click opens: a required reason, and where the click came from, so the
/// submission can update the message and answer the clicker.
pub fn deny_modal(click: &Click) -> Value {
    let meta = json!({
        "id": click.value.request.to_string(),
        "channel": click.message.as_ref().map(|m| m.channel.clone()),
        "ts": click.message.as_ref().map(|m| m.ts.clone()),
        "response_url": click.response_url,
    });
    json!({
        "type": "modal",
        "callback_id": DENY_VIEW,
        "private_metadata": meta.to_string(),
        "title": { "type": "plain_text", "text": "Deny request" },
        "submit": { "type": "plain_text", "text": "Deny" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [{
            "type": "input",
            "block_id": REASON_BLOCK,
            "label": { "type": "plain_text", "text": "Reason (the requester sees it)" },
            "element": {
                "type": "plain_text_input",
                "action_id": REASON_INPUT,
                "multiline": true,
                "max_length": 2000
            }
        }]
    })
}

/// An ephemeral answer to the clicker only, through the payload's `response_url`.
pub fn ephemeral(text: &str) -> Value {
    json!({
        "response_type": "ephemeral",
        "replace_original": false,
        "text": text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click_payload(action: &str, value: &str) -> String {
        json!({
            "type": "block_actions",
            "user": { "id": "U0BOB" },
            "trigger_id": "T.1",
            "response_url": "https://hooks.slack.com/actions/T/1/x",
            "container": { "type": "message", "channel_id": "C0APPR", "message_ts": "1.2" },
            "actions": [{ "action_id": action, "value": value, "type": "button" }]
        })
        .to_string()
    }

    #[test]
    fn a_click_names_the_user_action_request_and_message() {
        let id = RequestId::new();
        let Interaction::Click(c) =
            parse_interaction(&click_payload("stint_approve", &id.to_string())).unwrap()
        else {
            panic!("a click")
        };
        assert_eq!(c.user, "U0BOB");
        assert_eq!(c.action, ActionKind::Approve);
        assert_eq!(c.value.request, id);
        assert_eq!(c.value.expires_at, None);
        assert_eq!(
            c.message,
            Some(MessageRef {
                channel: "C0APPR".into(),
                ts: "1.2".into()
            })
        );
        assert_eq!(c.trigger_id.as_deref(), Some("T.1"));
    }

    #[test]
    fn extend_carries_the_expiry_it_was_shown_and_only_extend_does() {
        let id = RequestId::new();
        let at = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let value = ButtonValue {
            request: id,
            expires_at: Some(at),
        };
        let Interaction::Click(c) =
            parse_interaction(&click_payload("stint_extend", &value.encode())).unwrap()
        else {
            panic!("a click")
        };
        assert_eq!(c.value, value);
        assert!(matches!(
            parse_interaction(&click_payload("stint_extend", &id.to_string())),
            Err(PayloadError::Malformed(_))
        ));
        assert!(matches!(
            parse_interaction(&click_payload("stint_done", &value.encode())),
            Err(PayloadError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_actions_and_malformed_payloads_are_told_apart() {
        let id = RequestId::new().to_string();
        assert_eq!(
            parse_interaction(&click_payload("stint_delete_everything", &id)),
            Err(PayloadError::UnknownAction(
                "stint_delete_everything".into()
            ))
        );
        let mut shortcut: Value =
            serde_json::from_str(&click_payload("stint_approve", &id)).unwrap();
        shortcut["type"] = json!("shortcut");
        assert!(matches!(
            parse_interaction(&shortcut.to_string()),
            Err(PayloadError::UnknownAction(_))
        ));
        for bad in [
            "not json".to_owned(),
            "{}".to_owned(),
            click_payload("stint_approve", "not-a-ulid"),
            click_payload("stint_approve", ""),
            json!({ "type": "block_actions", "user": { "id": "U1" }, "actions": [] }).to_string(),
            json!({ "type": "block_actions", "actions": [{ "action_id": "stint_approve", "value": id }] })
                .to_string(),
        ] {
            assert!(
                matches!(parse_interaction(&bad), Err(PayloadError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_deny_modal_round_trips_through_its_submission() {
        let id = RequestId::new();
        let Interaction::Click(click) =
            parse_interaction(&click_payload("stint_deny", &id.to_string())).unwrap()
        else {
            panic!("a click")
        };
        let modal = deny_modal(&click);
        let submission = json!({
            "type": "view_submission",
            "user": { "id": "U0BOB" },
            "view": {
                "callback_id": modal["callback_id"],
                "private_metadata": modal["private_metadata"],
                "state": { "values": { "reason": { "reason": {
                    "type": "plain_text_input", "value": "  not during the freeze  " } } } }
            }
        });
        let Interaction::DenyReason(d) = parse_interaction(&submission.to_string()).unwrap() else {
            panic!("a deny reason")
        };
        assert_eq!(d.request, id);
        assert_eq!(d.reason.as_deref(), Some("not during the freeze"));
        assert_eq!(d.message, click.message);
        assert_eq!(d.response_url, click.response_url);
        let mut other = submission.clone();
        other["view"]["callback_id"] = json!("someone_elses_modal");
        assert!(matches!(
            parse_interaction(&other.to_string()),
            Err(PayloadError::UnknownAction(_))
        ));
    }
}
