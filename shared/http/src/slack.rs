//! `POST /slack/interactions`: clicks on Stint's Slack buttons (Approve, Deny, Extend, I'm
//! done) and the deny-reason modal. Slack's signature is checked first (HMAC-SHA256 with the
//! app's signing secret, within five minutes), then the clicking Slack user becomes a Stint
//! identity (their email, their mapped user groups), and the click runs the same service call
//! as the JSON API, under the same rules.

use super::error::ApiError;
use super::{parse_bytes, Api};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stint_app::ports::{ProviderError, SlackApi};
use stint_app::revoke::RevokeOutcome;
use stint_app::{slack as web, AppError, Loaded};
use stint_domain::notice::{decided_message, still_open, Decided};
use stint_domain::slack::{
    deny_modal, ephemeral, extend_step, parse_interaction, ActionKind, Click, DenyReason,
    Interaction, MessageRef, PayloadError,
};
use stint_domain::{Command, Identity, Justification, RequestId, RevokeReason, UserId};

/// How far a request's timestamp may be from now; older (or later) ones are refused.
pub const MAX_AGE: TimeDelta = TimeDelta::minutes(5);
/// How long who a Slack user is (email, groups) is kept before asking Slack again.
pub const IDENTITY_TTL: TimeDelta = TimeDelta::seconds(60);
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Bounds on the in-process sets: past these, the oldest entries go first.
const MAX_SEEN: usize = 10_000;
const MAX_PEOPLE: usize = 1_000;

/// `v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">`, as Slack signs its requests.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(b"v0:");
            mac.update(timestamp.as_bytes());
            mac.update(b":");
            mac.update(body);
            format!("v0={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC takes keys of any length; an empty signature would match nothing.
        Err(_) => String::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Signature or X-Slack-Request-Timestamp")]
    Missing,
    #[error("X-Slack-Request-Timestamp is not a Unix time")]
    BadTimestamp,
    #[error("the request was signed more than 5 minutes from now: replays are refused")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks Slack's signature: version `v0`, a timestamp within [`MAX_AGE`] of `now`, and the
/// HMAC compared in constant time.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let at = timestamp
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or(SignatureError::BadTimestamp)?;
    if (now - at).abs() > MAX_AGE {
        return Err(SignatureError::Stale);
    }
    let sig = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Mismatch)?;
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// Who a Slack user was found to be, and when (None: nobody Stint knows).
type Known = (DateTime<Utc>, Option<Identity>);

/// The Slack app: its signing secret, the Web API with the bot token, and what this instance
/// remembers briefly (bodies seen, who Slack users are, clicks handled).
pub struct SlackApp {
    signing_secret: Option<Vec<u8>>,
    api: Option<Arc<dyn SlackApi>>,
    /// Signatures of bodies accepted in the last five minutes. Only this instance's: a replay
    /// that reaches another instance runs a command again, and every command is idempotent in
    /// the decider (a second approval, deny or revoke by the same person appends nothing, and
    /// Extend extends only from the expiry its button showed), so it changes nothing either.
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
    people: Mutex<HashMap<String, Known>>,
    /// Clicks being or already handled here: a double click is answered quietly at once.
    clicks: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl SlackApp {
    /// No signing secret: every interaction is refused (401). No bot token: nobody can be
    /// identified, so every interaction is refused too.
    pub fn new(signing_secret: Option<Vec<u8>>, api: Option<Arc<dyn SlackApi>>) -> SlackApp {
        SlackApp {
            signing_secret: signing_secret.filter(|s| !s.is_empty()),
            api,
            seen: Mutex::default(),
            people: Mutex::default(),
            clicks: Mutex::default(),
        }
    }

    /// Records `signature` as seen; false when it was seen within the window (a replay).
    fn first_sight(&self, signature: &str, now: DateTime<Utc>) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        remember(&mut seen, signature, now, MAX_SEEN)
    }

    /// Claims a click for handling; false when the same click was claimed in the window.
    fn claim_click(&self, key: &str, now: DateTime<Utc>) -> bool {
        let mut clicks = self.clicks.lock().unwrap_or_else(|p| p.into_inner());
        remember(&mut clicks, key, now, MAX_SEEN)
    }

    fn release_click(&self, key: &str) {
        let mut clicks = self.clicks.lock().unwrap_or_else(|p| p.into_inner());
        clicks.remove(key);
    }
}

/// Adds `key` at `now` unless it is there from within [`MAX_AGE`]; drops entries older than
/// that, then the oldest while over `cap`.
fn remember(
    set: &mut HashMap<String, DateTime<Utc>>,
    key: &str,
    now: DateTime<Utc>,
    cap: usize,
) -> bool {
    set.retain(|_, at| (now - *at).abs() <= MAX_AGE);
    if set.contains_key(key) {
        return false;
    }
    while set.len() >= cap {
        let Some(oldest) = set
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        set.remove(&oldest);
    }
    set.insert(key.to_owned(), now);
    true
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The form field `payload` of Slack's `application/x-www-form-urlencoded` body.
fn payload_field(body: &[u8]) -> Result<String, ApiError> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::bad("payload", "the form has no payload field"))
}

pub(crate) async fn interactions(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = parse_bytes(body)?;
    let not_configured = || {
        ApiError::Unauthenticated(
            "Slack interactions are not configured on this deployment (no signing secret)".into(),
        )
    };
    let app = api.slack.clone().ok_or_else(not_configured)?;
    let secret = app.signing_secret.as_deref().ok_or_else(not_configured)?;
    let now = api.stint.clock.now();
    let signature = header(&headers, SIGNATURE_HEADER);
    verify(
        secret,
        header(&headers, TIMESTAMP_HEADER),
        signature,
        &bytes,
        now,
    )
    .map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
    // Hex is case-insensitive: the same signature in upper case is the same replay.
    let seen_as = signature.unwrap_or_default().trim().to_ascii_lowercase();
    if !app.first_sight(&seen_as, now) {
        return Err(ApiError::Unauthenticated(
            "this exact interaction was received already: replays are refused".into(),
        ));
    }
    let interaction = parse_interaction(&payload_field(&bytes)?).map_err(|e| match e {
        PayloadError::Malformed(m) => ApiError::bad("payload", m),
        PayloadError::UnknownAction(a) => ApiError::bad("action", format!("unknown action {a:?}")),
    })?;
    let slack = app.api.clone().ok_or_else(|| {
        ApiError::Unauthenticated(
            "no Slack bot token on this deployment: the Slack user cannot be identified".into(),
        )
    })?;
    let ctx = Ctx {
        api: &api,
        app: &app,
        slack: slack.as_ref(),
        now,
    };
    match interaction {
        Interaction::Click(c) => ctx.click(c).await,
        Interaction::DenyReason(d) => ctx.deny_reason(d).await,
    }
}

/// The empty 200 Slack expects (it also closes a submitted modal).
fn ok() -> Response {
    StatusCode::OK.into_response()
}

/// One interaction being handled.
struct Ctx<'a> {
    api: &'a Api,
    app: &'a SlackApp,
    slack: &'a dyn SlackApi,
    now: DateTime<Utc>,
}

/// What running a command from Slack came to.
enum Ran {
    /// This click made the decision.
    Decided(Box<Loaded>),
    /// Made already (a double click, a retry, another instance): nothing more to say.
    Already,
    /// Refused by the rules: said to the clicker only.
    Refused(String),
}

/// The command a click asks for.
enum Act {
    Approve,
    Deny(Option<String>),
    Extend { from: Option<DateTime<Utc>> },
    Done,
}

impl Act {
    fn verb(&self) -> &'static str {
        match self {
            Act::Approve => "Approved",
            Act::Deny(_) => "Denied",
            Act::Extend { .. } => "Extended",
            Act::Done => "Relinquished",
        }
    }
}

impl Ctx<'_> {
    /// Who `slack_user` is in Stint: the catalog's `[slack] users` entry or the email Slack
    /// holds, and the Stint groups whose mapped Slack user group they are in. Kept for
    /// [`IDENTITY_TTL`] by the injected clock. None: no email and no mapping.
    async fn identify(&self, slack_user: &str) -> Result<Option<Identity>, ApiError> {
        {
            let people = self.app.people.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, who)) = people.get(slack_user) {
                if (self.now - *at).abs() < IDENTITY_TTL {
                    return Ok(who.clone());
                }
            }
        }
        let directory = &self.api.stint.catalog.slack;
        // Slack's email names the same person as the API only when the API names people by
        // their email; under another claim (`sub`, `upn`) Alice's email is not her Stint user,
        // and she could approve her own request. Then only the catalog's map names anyone.
        let by_email = crate::claims::ClaimRules::from_env().user_claim == "email";
        let user = match directory.users.get(slack_user) {
            Some(u) => Some(u.clone()),
            None if by_email => web::user_email(self.slack, slack_user)
                .await
                .map_err(provider)?
                .and_then(|e| UserId::parse(&e).ok()),
            None => None,
        };
        let who = match user {
            None => None,
            Some(user) => {
                let mut groups = Vec::new();
                for (group, usergroup) in &directory.groups {
                    let members = web::usergroup_members(self.slack, usergroup)
                        .await
                        .map_err(provider)?;
                    if members.iter().any(|m| m == slack_user) {
                        groups.push(group.clone());
                    }
                }
                Some(Identity::new(user, groups))
            }
        };
        let mut people = self.app.people.lock().unwrap_or_else(|p| p.into_inner());
        people.retain(|_, (at, _)| (self.now - *at).abs() < IDENTITY_TTL);
        if people.len() < MAX_PEOPLE {
            people.insert(slack_user.to_owned(), (self.now, who.clone()));
        }
        Ok(who)
    }

    /// The clicker as a Stint identity, or None once the clicker has been told why there is
    /// none: Slack refused to say who they are (not a retryable error), or neither their
    /// email nor the catalog names them. Slack being busy is a 503, so the click can be tried
    /// again.
    async fn identify_or_tell(
        &self,
        slack_user: &str,
        response_url: Option<&str>,
    ) -> Result<Option<Identity>, ApiError> {
        let told = match self.identify(slack_user).await {
            Ok(Some(who)) => return Ok(Some(who)),
            Ok(None) => "Stint does not know who you are: your Slack profile has no email, and the catalog does not map your Slack user.",
            Err(ApiError::App(AppError::Provider(e))) if !e.is_retryable() => {
                tracing::warn!(error = %e, "Slack did not say who clicked");
                "Stint could not look you up in Slack."
            }
            Err(e) => return Err(e),
        };
        self.tell_clicker(response_url, told).await;
        Ok(None)
    }

    /// Tells the clicker only, through the interaction's `response_url`. A failure is logged:
    /// nothing was appended, so there is nothing to undo.
    async fn tell_clicker(&self, response_url: Option<&str>, text: &str) {
        let Some(url) = response_url else {
            tracing::warn!(text, "no response_url to answer the clicker on");
            return;
        };
        if let Err(e) = self.slack.respond(url, &ephemeral(text)).await {
            tracing::warn!(error = %e, "could not answer the clicker");
        }
    }

    async fn click(&self, c: Click) -> Result<Response, ApiError> {
        let Some(who) = self
            .identify_or_tell(&c.user, c.response_url.as_deref())
            .await?
        else {
            return Ok(ok());
        };
        let id = c.value.request;
        if c.action == ActionKind::Deny {
            return self.open_deny(&c, &who).await;
        }
        // A double click on this instance is answered at once; one that reaches another
        // instance finds the decision made (see `SlackApp::seen`).
        let key = click_key(&c.user, c.action, &c.value.encode(), c.message.as_ref());
        if !self.app.claim_click(&key, self.now) {
            return Ok(ok());
        }
        let act = match c.action {
            ActionKind::Approve => Act::Approve,
            ActionKind::Extend => Act::Extend {
                from: c.value.expires_at,
            },
            ActionKind::Done => Act::Done,
            ActionKind::Deny => Act::Deny(None),
        };
        let ran = match self.run(id, &who, &act).await {
            // A refusal appended nothing: clicking again (once the cause is fixed) may run it.
            Ok(Ran::Refused(why)) => {
                self.app.release_click(&key);
                Ran::Refused(why)
            }
            Ok(r) => r,
            Err(e) => {
                // Not decided either way (the store or IAM is busy): a retry may run it.
                self.app.release_click(&key);
                return Err(e);
            }
        };
        self.finish(
            ran,
            id,
            &who,
            &act,
            c.message.as_ref(),
            c.response_url.as_deref(),
        )
        .await
    }

    /// Deny asks for a reason first: if the rules would let this person deny, a modal opens;
    /// the submission denies ([`Ctx::deny_reason`]).
    async fn open_deny(&self, c: &Click, who: &Identity) -> Result<Response, ApiError> {
        let id = c.value.request;
        let loaded = match self.api.stint.get(id).await {
            Ok(l) => l,
            Err(AppError::Rejected(r)) => {
                self.tell_clicker(c.response_url.as_deref(), &r.to_string())
                    .await;
                return Ok(ok());
            }
            Err(e) => return Err(e.into()),
        };
        // The decider itself, as a dry run: the same rules the submission will meet.
        let command = Command::Deny {
            approver: who.clone(),
            reason: None,
        };
        match stint_domain::decide(&loaded.state, &command, &self.api.stint.catalog, self.now) {
            Err(r) => {
                self.tell_clicker(c.response_url.as_deref(), &refusal(&r.to_string()))
                    .await;
            }
            Ok(events) if events.is_empty() => {} // denied by this person already
            Ok(_) => {
                let Some(trigger) = c.trigger_id.as_deref() else {
                    return Err(ApiError::bad(
                        "payload",
                        "a Deny click without a trigger_id",
                    ));
                };
                web::open_view(self.slack, trigger, &deny_modal(c))
                    .await
                    .map_err(provider)?;
            }
        }
        Ok(ok())
    }

    async fn deny_reason(&self, d: DenyReason) -> Result<Response, ApiError> {
        // A reason is bounded like the API's; a bad one is shown in the modal itself.
        let reason = match d.reason.as_deref().map(Justification::parse).transpose() {
            Ok(r) => r.map(|j| j.as_str().to_owned()),
            Err(e) => {
                let errors = serde_json::json!({
                    "response_action": "errors",
                    "errors": { stint_domain::slack::REASON_BLOCK: e.to_string().replace("justification", "reason") },
                });
                return Ok(axum::Json(errors).into_response());
            }
        };
        let Some(who) = self
            .identify_or_tell(&d.user, d.response_url.as_deref())
            .await?
        else {
            return Ok(ok());
        };
        let key = click_key(
            &d.user,
            ActionKind::Deny,
            &d.request.to_string(),
            d.message.as_ref(),
        );
        if !self.app.claim_click(&key, self.now) {
            return Ok(ok());
        }
        let act = Act::Deny(reason);
        let ran = match self.run(d.request, &who, &act).await {
            // A refusal appended nothing: clicking again (once the cause is fixed) may run it.
            Ok(Ran::Refused(why)) => {
                self.app.release_click(&key);
                Ran::Refused(why)
            }
            Ok(r) => r,
            Err(e) => {
                self.app.release_click(&key);
                return Err(e);
            }
        };
        self.finish(
            ran,
            d.request,
            &who,
            &act,
            d.message.as_ref(),
            d.response_url.as_deref(),
        )
        .await
    }

    /// Runs `act` through the same commands as the JSON API (approve, deny and extend through
    /// [`Stint::act_on`], "I'm done" through the manual revoke), and tells whether this call
    /// made the decision (by the store's own account, so concurrent repeats on other instances
    /// count as repeats), found it made, or was refused.
    async fn run(&self, id: RequestId, who: &Identity, act: &Act) -> Result<Ran, ApiError> {
        let stint = &self.api.stint;
        let before = match stint.get(id).await {
            Ok(l) => l,
            Err(AppError::Rejected(r)) => return Ok(Ran::Refused(r.to_string())),
            Err(e) => return Err(e.into()),
        };
        let approver = || who.clone();
        let command = match act {
            Act::Approve => Command::Approve {
                approver: approver(),
                comment: None,
            },
            Act::Deny(reason) => Command::Deny {
                approver: approver(),
                reason: reason.clone(),
            },
            Act::Extend { from } => {
                let role = before
                    .state
                    .request
                    .as_ref()
                    .and_then(|r| stint.catalog.role(&r.role));
                let Some(role) = role else {
                    return Ok(Ran::Refused(
                        "the request's role is no longer in the catalog".into(),
                    ));
                };
                // Only from the expiry the button showed: the decider makes a second click on
                // the same message (on any instance, even at once) do nothing.
                Command::Extend {
                    by: who.clone(),
                    by_duration: extend_step(role),
                    only_from: *from,
                }
            }
            Act::Done => {
                // Refused before anything is appended: a revoke this function cannot carry out
                // would record `RevokeFailed` and page on-call for a grantee's click.
                if let Some(why) = stint.cannot_end_here(&before.state) {
                    return Ok(Ran::Refused(why));
                }
                return match stint
                    .revoke(id, RevokeReason::Manual, Some(who.clone()))
                    .await
                {
                    Ok(RevokeOutcome::Revoked { .. }) => {
                        Ok(Ran::Decided(Box::new(stint.load(id).await?)))
                    }
                    Ok(RevokeOutcome::NoOp(_)) => Ok(Ran::Already),
                    Err(AppError::Rejected(r)) => Ok(Ran::Refused(r.to_string())),
                    Err(e) => Err(e.into()),
                };
            }
        };
        match stint.act_on(id, command).await {
            Ok(a) if a.appended => Ok(Ran::Decided(Box::new(a.loaded))),
            Ok(_) => Ok(Ran::Already),
            Err(AppError::Rejected(r)) => Ok(Ran::Refused(r.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// After a decision: the message it was made on shows who decided, when and the status
    /// now, without buttons (the requester hears from the notifier, as for every decision).
    /// A refusal goes to the clicker only.
    async fn finish(
        &self,
        ran: Ran,
        id: RequestId,
        who: &Identity,
        act: &Act,
        message: Option<&MessageRef>,
        response_url: Option<&str>,
    ) -> Result<Response, ApiError> {
        match ran {
            Ran::Already => {}
            Ran::Refused(why) => self.tell_clicker(response_url, &refusal(&why)).await,
            Ran::Decided(loaded) => {
                tracing::info!(request_id = %id, user = %who.user, action = act.verb(), "decided from Slack");
                let (Some(m), Some(req)) = (message, loaded.state.request.as_ref()) else {
                    return Ok(ok());
                };
                let catalog = &self.api.stint.catalog;
                let link = catalog
                    .notify
                    .link
                    .as_ref()
                    .map(|l| l.replace("{id}", &id.to_string()));
                let decided = Decided {
                    verb: act.verb(),
                    by: who.user.clone(),
                    at: self.now,
                    status: loaded.state.status,
                    reason: match act {
                        Act::Deny(r) => r.clone(),
                        _ => None,
                    },
                };
                let open = still_open(id, &loaded.state, catalog);
                let msg = decided_message(id, req, &decided, link.as_deref(), &open);
                // The decision stands whatever Slack says; a failed update is only logged.
                if let Err(e) = web::update_message(self.slack, &m.channel, &m.ts, &msg).await {
                    tracing::warn!(request_id = %id, error = %e, "could not update the Slack message");
                }
            }
        }
        Ok(ok())
    }
}

fn refusal(why: &str) -> String {
    format!("Stint refused: {why}. Nothing was changed.")
}

fn click_key(user: &str, action: ActionKind, value: &str, message: Option<&MessageRef>) -> String {
    let at = message.map_or("", |m| m.ts.as_str());
    format!("{user}|{}|{value}|{at}", action.id())
}

fn provider(e: ProviderError) -> ApiError {
    ApiError::App(AppError::Provider(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).unwrap()
    }

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &[u8] = b"payload=%7B%22type%22%3A%22block_actions%22%7D";

    fn check(ts: &str, sig: &str, body: &[u8]) -> Result<(), SignatureError> {
        verify(SECRET, Some(ts), Some(sig), body, now())
    }

    #[test]
    fn slacks_own_example_signature_verifies() {
        // From Slack's documentation of request signing.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let at = DateTime::from_timestamp(1_531_420_618, 0).unwrap();
        assert_eq!(
            verify(
                SECRET,
                Some("1531420618"),
                Some("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
                body,
                at,
            ),
            Ok(())
        );
    }

    #[test]
    fn a_good_signature_verifies_and_every_flaw_is_refused() {
        let ts = now().timestamp().to_string();
        let good = sign(SECRET, &ts, BODY);
        assert_eq!(check(&ts, &good, BODY), Ok(()));
        // Bad: another secret, a tampered body, a wrong version, not hex, missing parts.
        assert_eq!(
            verify(b"other", Some(&ts), Some(&good), BODY, now()),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = BODY.to_vec();
        tampered.push(b'x');
        assert_eq!(check(&ts, &good, &tampered), Err(SignatureError::Mismatch));
        assert_eq!(
            check(&ts, &good.replacen("v0=", "v1=", 1), BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(check(&ts, "v0=zz", BODY), Err(SignatureError::Mismatch));
        assert_eq!(check(&ts, "", BODY), Err(SignatureError::Mismatch));
        // The timestamp is signed too: moving it breaks the signature.
        let later = (now().timestamp() + 1).to_string();
        assert_eq!(check(&later, &good, BODY), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(SECRET, None, Some(&good), BODY, now()),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), None, BODY, now()),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check("yesterday", &good, BODY),
            Err(SignatureError::BadTimestamp)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_refused_even_when_correctly_signed() {
        for (offset, ok) in [
            (-301, false),
            (-300, true),
            (0, true),
            (300, true),
            (301, false),
        ] {
            let ts = (now().timestamp() + offset).to_string();
            let sig = sign(SECRET, &ts, BODY);
            let want = if ok {
                Ok(())
            } else {
                Err(SignatureError::Stale)
            };
            assert_eq!(check(&ts, &sig, BODY), want, "{offset} s");
        }
    }

    #[test]
    fn the_replay_set_remembers_five_minutes_and_stays_bounded() {
        let mut set = HashMap::new();
        assert!(remember(&mut set, "a", now(), 3));
        assert!(!remember(&mut set, "a", now() + TimeDelta::minutes(5), 3));
        // Past the window it is forgotten: the signature check refuses such a body anyway.
        assert!(remember(&mut set, "a", now() + TimeDelta::minutes(11), 3));
        for k in ["b", "c", "d", "e"] {
            assert!(remember(&mut set, k, now() + TimeDelta::minutes(11), 3));
        }
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn the_payload_is_the_form_field_of_that_name() {
        assert_eq!(
            payload_field(b"x=1&payload=%7B%22a%22%3A1%7D").unwrap(),
            r#"{"a":1}"#
        );
        assert!(payload_field(b"x=1").is_err());
    }
}
