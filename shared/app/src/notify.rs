//! Notifications: a stored event becomes notices (domain), each sent on Slack and by email with
//! retries. Each send is claimed first and its outcome recorded on stream `notice#<event id>`,
//! so a redelivered event, even one delivered twice at once, sends nothing twice. A failure is
//! logged and recorded; it never touches the request itself. Access-review reminders go the
//! same way, keyed by period, role and deadline step on `notice#review#<period>`, and so do
//! expiry reminders, keyed by reminder and expiry on `notice#expiry#<request>`. With a Slack
//! bot token, approvers' messages carry Approve and Deny buttons in the catalog's channel, and
//! requesters get theirs as a direct message with Extend and I'm done.

use super::service::{retry, AppError, RetryPolicy};
use crate::execute::{execute, ExecuteError};
use crate::ports::{Chat, Clock, EventStore, Mailer, ProviderError, SlackApi, StoreError};
use crate::render::notice::{email_html, email_text};
use crate::telemetry;
use serde::Serialize;
use std::sync::Arc;
use stint_domain::catalog::looks_like_email;
use stint_domain::ledger::{NoticeCommand, NoticeEvent, NoticeLedger, NoticeRejection};
use stint_domain::metrics::{observe_notices, Labels, UNKNOWN};
use stint_domain::notice::{
    expiry_reminder, notices_for, review_reminder, slack_message, slack_message_with_buttons,
    Audience, Notice,
};
use stint_domain::review::{periods_to_remind, reminder_step};
use stint_domain::timer::TimerKind;
use stint_domain::{
    Catalog, Envelope, Event, Period, RequestId, RequestState, Role, StoredEvent, StreamId, UserId,
};

#[derive(Clone)]
pub struct Notifier {
    pub store: Arc<dyn EventStore>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub chat: Arc<dyn Chat>,
    /// None: no email channel (no SES in this deployment).
    pub mailer: Option<Arc<dyn Mailer>>,
    /// Slack's Web API with the bot token; None: Slack only through incoming webhooks.
    pub slack_bot: Option<Arc<dyn SlackApi>>,
    pub retry: RetryPolicy,
}

/// What one event's notification did; `failed` makes the trigger redeliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyReport {
    pub sent: Vec<String>,
    pub already_sent: Vec<String>,
    pub failed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{} notification(s) failed after retries: {}", .0.len(), .0.join("; "))]
    Failed(Vec<String>),
}

impl From<NoticeRejection> for AppError {
    fn from(r: NoticeRejection) -> Self {
        AppError::Rejected(stint_domain::Rejection::Invalid(r.to_string()))
    }
}

impl From<StoreError> for NotifyError {
    fn from(e: StoreError) -> Self {
        NotifyError::App(e.into())
    }
}

/// One channel to send one notice on.
enum Delivery {
    Slack {
        webhook: String,
    },
    /// With the bot token, to a channel (approvers) or as a direct message to the Slack user
    /// with the requester's email.
    SlackBot {
        to: SlackTo,
    },
    Email {
        from: String,
        to: Vec<String>,
    },
}

enum SlackTo {
    Channel(String),
    Dm(String),
}

impl Delivery {
    fn channel(&self) -> &'static str {
        match self {
            Delivery::Slack { .. } => "slack",
            Delivery::SlackBot { .. } => "slack-bot",
            Delivery::Email { .. } => "email",
        }
    }
}

pub fn notice_stream(event_id: &str) -> Result<StreamId, StoreError> {
    stint_domain::streams::notice(event_id).map_err(StoreError::InvalidAppend)
}

/// Where the reminders of one review period are recorded: one ledger per period, one key per
/// role, deadline step and channel, so each is sent once however often the reminder runs.
pub fn review_notice_stream(period: Period) -> Result<StreamId, StoreError> {
    StreamId::new(format!("notice#review#{period}")).map_err(StoreError::InvalidAppend)
}

/// Where the expiry reminders of one request are recorded: one key per reminder, expiry and
/// channel, so a redelivered timer sends nothing twice and an extension's new expiry gets its own.
pub fn expiry_notice_stream(id: RequestId) -> Result<StreamId, StoreError> {
    StreamId::new(format!("{}expiry#{id}", stint_domain::streams::NOTICE))
        .map_err(StoreError::InvalidAppend)
}

impl Notifier {
    /// Request `id`'s stored events and the same decoded.
    async fn read_request(
        &self,
        id: RequestId,
    ) -> Result<(Vec<StoredEvent>, Vec<Event>), NotifyError> {
        let stored = self.store.read_stream(&id.stream()).await?;
        let events = stored
            .iter()
            .map(|e| Event::from_record(&e.record))
            .collect::<Result<Vec<_>, _>>()
            .map_err(AppError::from)?;
        Ok((stored, events))
    }

    /// Tells whoever `event_id` (an event of request `id`) concerns.
    pub async fn notify(&self, id: RequestId, event_id: &str) -> Result<NotifyReport, NotifyError> {
        let (stored, events) = self.read_request(id).await?;
        let Some(pos) = stored.iter().position(|e| e.record.event_id == event_id) else {
            return Ok(NotifyReport::default()); // not an event of this request: nothing to say
        };
        let state = RequestState::fold(&events);
        let notices = notices_for(id, &events[pos], &state, &self.catalog);
        let stream = notice_stream(event_id)?;
        let mut report = NotifyReport::default();
        let labels = Labels::of(&state);
        let req = state.request.as_ref();
        let role = req.and_then(|r| self.catalog.role(&r.role));
        for notice in &notices {
            let deliveries = self.deliveries(notice, role, req.map(|r| &r.requester));
            let prefix = notice.audience.key();
            self.deliver(&stream, prefix, notice, &deliveries, &labels, &mut report)
                .await?;
        }
        if !report.failed.is_empty() {
            return Err(NotifyError::Failed(report.failed));
        }
        Ok(report)
    }

    /// A reminder timer of request `id` fired: reminds the requester that their access ends,
    /// if that reminder is still due for the grant as it stands (not revoked, not extended past
    /// it), once per reminder and expiry however often the timer is delivered.
    pub async fn remind_expiry(
        &self,
        id: RequestId,
        kind: TimerKind,
    ) -> Result<NotifyReport, NotifyError> {
        let (_, events) = self.read_request(id).await?;
        let state = RequestState::fold(&events);
        let now = self.clock.now();
        let mut report = NotifyReport::default();
        let due = stint_domain::reminder::due(&state, kind, &self.catalog, now);
        let Some((reminder, notice)) =
            due.and_then(|r| expiry_reminder(id, &state, &r, &self.catalog).map(|n| (r, n)))
        else {
            tracing::info!(request_id = %id, kind = kind.as_str(), status = %state.status, "no expiry reminder due");
            return Ok(report);
        };
        let req = state.request.as_ref();
        let role = req.and_then(|r| self.catalog.role(&r.role));
        let deliveries = self.deliveries(&notice, role, req.map(|r| &r.requester));
        if deliveries.is_empty() {
            tracing::warn!(request_id = %id, "no channel reaches the requester for the expiry reminder");
        }
        let stream = expiry_notice_stream(id)?;
        let labels = Labels::of(&state);
        self.deliver(
            &stream,
            &reminder.ledger_key(),
            &notice,
            &deliveries,
            &labels,
            &mut report,
        )
        .await?;
        if !report.failed.is_empty() {
            return Err(NotifyError::Failed(report.failed));
        }
        Ok(report)
    }

    /// Reminds each role's approvers of the grants still unreviewed in every period whose review
    /// is open (or overdue by less than a week): once per role, period and deadline step, however
    /// often this runs and however many deliveries of its trigger arrive.
    pub async fn remind_reviews(&self) -> Result<NotifyReport, NotifyError> {
        let now = self.clock.now();
        let within = self.catalog.settings.review_within;
        let mut report = NotifyReport::default();
        for period in periods_to_remind(now, within) {
            let Some(step) = reminder_step(period, within, now) else {
                continue;
            };
            let got =
                crate::reviews::period_grants(self.store.as_ref(), period, within, now, |_| true)
                    .await?;
            for b in &got.broken {
                tracing::warn!(%period, stream = %b.stream, problem = %b.problem, "a grant's stream is broken; reminding of the rest");
            }
            let stream = review_notice_stream(period)?;
            for (role, unreviewed) in got.review.unreviewed_by_role() {
                let notice = review_reminder(role, &got.review, step, unreviewed);
                let deliveries = self.deliveries(&notice, self.catalog.role(role), None);
                if deliveries.is_empty() {
                    tracing::warn!(%period, %role, "no channel reaches this role's approvers");
                }
                let prefix = format!("{role}:{}", step.as_str());
                // A reminder is about a role's grants, not one request: no source.
                let labels = Labels {
                    role: role.to_string(),
                    source: UNKNOWN,
                };
                self.deliver(&stream, &prefix, &notice, &deliveries, &labels, &mut report)
                    .await?;
            }
        }
        if !report.failed.is_empty() {
            return Err(NotifyError::Failed(report.failed));
        }
        Ok(report)
    }

    /// Sends one notice on each of its channels, each under the ledger key `<prefix>:<channel>`
    /// on `stream`: claimed first, then sent with retries, then recorded as sent or failed.
    async fn deliver(
        &self,
        stream: &StreamId,
        prefix: &str,
        notice: &Notice,
        deliveries: &[Delivery],
        labels: &Labels,
        report: &mut NotifyReport,
    ) -> Result<(), NotifyError> {
        let id = notice.request_id;
        for delivery in deliveries {
            let key = format!("{prefix}:{}", delivery.channel());
            if !self.claim(stream, &key, id).await? {
                report.already_sent.push(key);
                continue;
            }
            match retry(&self.retry, &key, || self.send(delivery, notice)).await {
                Ok(()) => {
                    let to = match delivery {
                        Delivery::Slack { .. } => vec!["webhook".to_owned()],
                        Delivery::SlackBot {
                            to: SlackTo::Channel(c),
                        } => vec![c.clone()],
                        Delivery::SlackBot { to: SlackTo::Dm(u) } => vec![format!("dm:{u}")],
                        Delivery::Email { to, .. } => to.clone(),
                    };
                    tracing::info!(request_id = ?id, %stream, key, ?to, "notified");
                    let sent = NoticeCommand::RecordSent {
                        key: key.clone(),
                        request_id: id,
                        to,
                        title: notice.title.clone(),
                    };
                    self.ledger(stream, &sent).await.map_err(AppError::from)?;
                    report.sent.push(key);
                }
                Err((e, attempts)) => {
                    tracing::error!(request_id = ?id, %stream, key, attempts, error = %e, "notification failed");
                    let failed = NoticeCommand::RecordFailed {
                        key: key.clone(),
                        request_id: id,
                        error: e.to_string(),
                        attempts,
                    };
                    let appended = self.ledger(stream, &failed).await.map_err(AppError::from)?;
                    let appended: Vec<_> = appended
                        .iter()
                        .filter_map(|e| Envelope::<NoticeEvent>::from_record(&e.record).ok())
                        .collect();
                    telemetry::emit(observe_notices(labels, &appended));
                    report.failed.push(format!("{key}: {e}"));
                }
            }
        }
        Ok(())
    }

    /// The channels that reach a notice's audience: with a bot token, the role's Slack channel
    /// (or the global one) for approvers and a direct message for the requester; otherwise the
    /// role's Slack webhook (or the global one); and email to the role's approvers or to the
    /// requester when it is an address.
    fn deliveries(
        &self,
        n: &Notice,
        role: Option<&Role>,
        requester: Option<&UserId>,
    ) -> Vec<Delivery> {
        let mut out = Vec::new();
        let bot_to = self.slack_bot.as_ref().and_then(|_| match n.audience {
            Audience::Approvers => role
                .and_then(|r| r.notify.slack_channel.clone())
                .or_else(|| self.catalog.notify.slack_channel.clone())
                .map(SlackTo::Channel),
            Audience::Requester => requester
                .map(ToString::to_string)
                .filter(|u| looks_like_email(u))
                .map(SlackTo::Dm),
        });
        let webhook = role
            .and_then(|r| r.notify.slack_webhook.clone())
            .or_else(|| self.catalog.notify.slack_webhook.clone());
        // The bot's message replaces the webhook's, so nobody hears twice on Slack.
        match (bot_to, webhook) {
            (Some(to), _) => out.push(Delivery::SlackBot { to }),
            (None, Some(webhook)) => out.push(Delivery::Slack { webhook }),
            (None, None) => {}
        }
        if let (Some(from), Some(_)) = (&self.catalog.notify.email_from, &self.mailer) {
            let to = match n.audience {
                Audience::Approvers => role
                    .map(|r| r.approver_emails(&self.catalog.notify))
                    .unwrap_or_default(),
                Audience::Requester => requester
                    .map(ToString::to_string)
                    .filter(|u| looks_like_email(u))
                    .into_iter()
                    .collect(),
            };
            if !to.is_empty() {
                out.push(Delivery::Email {
                    from: from.clone(),
                    to,
                });
            }
        }
        out
    }

    async fn send(&self, d: &Delivery, n: &Notice) -> Result<(), ProviderError> {
        match d {
            Delivery::Slack { webhook } => self.chat.post(webhook, &slack_message(n)).await,
            Delivery::SlackBot { to } => {
                let Some(bot) = &self.slack_bot else {
                    return Ok(());
                };
                let channel = match to {
                    SlackTo::Channel(c) => c.clone(),
                    SlackTo::Dm(email) => crate::slack::user_by_email(bot.as_ref(), email)
                        .await?
                        .ok_or_else(|| {
                        ProviderError::Refused(format!("no Slack user has the email {email}"))
                    })?,
                };
                crate::slack::post_message(bot.as_ref(), &channel, &slack_message_with_buttons(n))
                    .await
                    .map(|_| ())
            }
            Delivery::Email { from, to } => {
                let Some(mailer) = &self.mailer else {
                    return Ok(());
                };
                let raw = email(n, from, to)?;
                mailer.send_raw(from, to, raw).await
            }
        }
    }

    /// Claims `key` for sending on the notice ledger: false when it was sent already, or
    /// another delivery claimed it less than `CLAIM_TTL` ago and is sending it now.
    async fn claim(
        &self,
        stream: &StreamId,
        key: &str,
        id: Option<RequestId>,
    ) -> Result<bool, AppError> {
        let command = NoticeCommand::Claim {
            key: key.to_owned(),
            request_id: id,
        };
        match self.ledger(stream, &command).await {
            Ok(_) => Ok(true),
            Err(ExecuteError::Rejected(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn ledger(
        &self,
        stream: &StreamId,
        command: &NoticeCommand,
    ) -> Result<Vec<StoredEvent>, ExecuteError<NoticeRejection>> {
        execute::<NoticeLedger>(
            self.store.as_ref(),
            self.clock.as_ref(),
            &self.retry.conflicts,
            stream,
            command,
            |now| now,
        )
        .await
        .map(|done| done.appended)
    }
}

/// A notice as a MIME message: plain text with an HTML alternative.
fn email(n: &Notice, from: &str, to: &[String]) -> Result<Vec<u8>, ProviderError> {
    use lettre::message::{Mailbox, MultiPart, SinglePart};
    let bad = |e: &dyn std::fmt::Display| ProviderError::Refused(format!("email: {e}"));
    let (subject, text) = email_text(n);
    let mut b = lettre::Message::builder()
        .from(from.parse::<Mailbox>().map_err(|e| bad(&e))?)
        .subject(subject);
    for a in to {
        b = b.to(a.parse::<Mailbox>().map_err(|e| bad(&e))?);
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(text))
        .singlepart(SinglePart::html(email_html(n)));
    Ok(b.multipart(body).map_err(|e| bad(&e))?.formatted())
}
