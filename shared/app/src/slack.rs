//! The Slack Web API calls Stint makes, typed, over the [`SlackApi`] port: who a Slack user is,
//! who is in a user group, and posting, updating and answering messages.

use crate::ports::{ProviderError, SlackApi};
use serde_json::{json, Value};

/// Where a posted message is, for updating it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

fn field(v: &Value, pointer: &str, method: &str) -> Result<String, ProviderError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::Refused(format!("{method}: no {pointer} in the answer")))
}

/// The email Slack holds for `user` (`users.info`, scope `users:read.email`); None when the
/// profile has none (bots, guests without one).
pub async fn user_email(api: &dyn SlackApi, user: &str) -> Result<Option<String>, ProviderError> {
    let v = api.read("users.info", &[("user", user)]).await?;
    Ok(v.pointer("/user/profile/email")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .map(str::to_owned))
}

/// The Slack user with this email (`users.lookupByEmail`); None when there is none.
pub async fn user_by_email(
    api: &dyn SlackApi,
    email: &str,
) -> Result<Option<String>, ProviderError> {
    match api.read("users.lookupByEmail", &[("email", email)]).await {
        Ok(v) => Ok(Some(field(&v, "/user/id", "users.lookupByEmail")?)),
        Err(ProviderError::Refused(e)) if e.ends_with("users_not_found") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The members of a user group (`usergroups.users.list`, scope `usergroups:read`).
pub async fn usergroup_members(
    api: &dyn SlackApi,
    usergroup: &str,
) -> Result<Vec<String>, ProviderError> {
    let v = api
        .read("usergroups.users.list", &[("usergroup", usergroup)])
        .await?;
    Ok(v.get("users")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// Posts a Block Kit `message` to `channel` (an id, a `#name`, or a user id for a DM).
pub async fn post_message(
    api: &dyn SlackApi,
    channel: &str,
    message: &Value,
) -> Result<Posted, ProviderError> {
    let mut body = message.clone();
    body["channel"] = json!(channel);
    let v = api.write("chat.postMessage", &body).await?;
    Ok(Posted {
        channel: field(&v, "/channel", "chat.postMessage")?,
        ts: field(&v, "/ts", "chat.postMessage")?,
    })
}

/// Replaces the message at `channel`/`ts` with `message`.
pub async fn update_message(
    api: &dyn SlackApi,
    channel: &str,
    ts: &str,
    message: &Value,
) -> Result<(), ProviderError> {
    let mut body = message.clone();
    body["channel"] = json!(channel);
    body["ts"] = json!(ts);
    api.write("chat.update", &body).await.map(|_| ())
}

/// Opens a modal for the click that gave `trigger_id` (valid for three seconds).
pub async fn open_view(
    api: &dyn SlackApi,
    trigger_id: &str,
    view: &Value,
) -> Result<(), ProviderError> {
    api.write(
        "views.open",
        &json!({ "trigger_id": trigger_id, "view": view }),
    )
    .await
    .map(|_| ())
}
