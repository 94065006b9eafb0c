//! Notifications: a stored event becomes notices (domain), each sent on Slack and by email with
//! retries. Each send is claimed first and its outcome recorded on stream `notice#<event id>`,
//! so a redelivered event, even one delivered twice at once, sends nothing twice. A failure is
//! logged and recorded; it never touches the request itself.

use super::service::{retry, AppError, RetryPolicy};
use crate::execute::{execute, ExecuteError};
use crate::ports::{Chat, Clock, EventStore, Mailer, ProviderError, StoreError};
use crate::render::notice::{email_html, email_text};
use serde::Serialize;
use std::sync::Arc;
use stint_domain::catalog::looks_like_email;
use stint_domain::ledger::{NoticeCommand, NoticeLedger, NoticeRejection};
use stint_domain::notice::{notices_for, slack_message, Audience, Notice};
use stint_domain::{Catalog, Event, RequestId, RequestState, StreamId};

#[derive(Clone)]
pub struct Notifier {
    pub store: Arc<dyn EventStore>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub chat: Arc<dyn Chat>,
    /// None: no email channel (no SES in this deployment).
    pub mailer: Option<Arc<dyn Mailer>>,
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
    Slack { webhook: String },
    Email { from: String, to: Vec<String> },
}

impl Delivery {
    fn channel(&self) -> &'static str {
        match self {
            Delivery::Slack { .. } => "slack",
            Delivery::Email { .. } => "email",
        }
    }
}

pub fn notice_stream(event_id: &str) -> Result<StreamId, StoreError> {
    stint_domain::streams::notice(event_id).map_err(StoreError::InvalidAppend)
}

impl Notifier {
    /// Tells whoever `event_id` (an event of request `id`) concerns.
    pub async fn notify(&self, id: RequestId, event_id: &str) -> Result<NotifyReport, NotifyError> {
        let stored = self.store.read_stream(&id.stream()).await?;
        let events = stored
            .iter()
            .map(|e| Event::from_record(&e.record))
            .collect::<Result<Vec<_>, _>>()
            .map_err(AppError::from)?;
        let Some(pos) = stored.iter().position(|e| e.record.event_id == event_id) else {
            return Ok(NotifyReport::default()); // not an event of this request: nothing to say
        };
        let state = RequestState::fold(&events);
        let notices = notices_for(id, &events[pos], &state, &self.catalog);
        let stream = notice_stream(event_id)?;
        let mut report = NotifyReport::default();
        for notice in &notices {
            for delivery in self.deliveries(notice, &state) {
                let key = format!("{}:{}", notice.audience.key(), delivery.channel());
                if !self.claim(&stream, &key, id).await? {
                    report.already_sent.push(key);
                    continue;
                }
                match retry(&self.retry, &key, || self.send(&delivery, notice)).await {
                    Ok(()) => {
                        let to = match &delivery {
                            Delivery::Slack { .. } => vec!["webhook".to_owned()],
                            Delivery::Email { to, .. } => to.clone(),
                        };
                        tracing::info!(request_id = %id, event_id, key, ?to, "notified");
                        let sent = NoticeCommand::RecordSent {
                            key: key.clone(),
                            request_id: id,
                            to,
                            title: notice.title.clone(),
                        };
                        self.ledger(&stream, &sent).await.map_err(AppError::from)?;
                        report.sent.push(key);
                    }
                    Err((e, attempts)) => {
                        tracing::error!(request_id = %id, event_id, key, attempts, error = %e, "notification failed");
                        let failed = NoticeCommand::RecordFailed {
                            key: key.clone(),
                            request_id: id,
                            error: e.to_string(),
                            attempts,
                        };
                        self.ledger(&stream, &failed)
                            .await
                            .map_err(AppError::from)?;
                        report.failed.push(format!("{key}: {e}"));
                    }
                }
            }
        }
        if !report.failed.is_empty() {
            return Err(NotifyError::Failed(report.failed));
        }
        Ok(report)
    }

    fn deliveries(&self, n: &Notice, st: &RequestState) -> Vec<Delivery> {
        let Some(req) = st.request.as_ref() else {
            return vec![];
        };
        let role = self.catalog.role(&req.role);
        let mut out = Vec::new();
        let webhook = role
            .and_then(|r| r.notify.slack_webhook.clone())
            .or_else(|| self.catalog.notify.slack_webhook.clone());
        if let Some(webhook) = webhook {
            out.push(Delivery::Slack { webhook });
        }
        if let (Some(from), Some(_)) = (&self.catalog.notify.email_from, &self.mailer) {
            let to = match n.audience {
                Audience::Approvers => role
                    .map(|r| r.approver_emails(&self.catalog.notify))
                    .unwrap_or_default(),
                Audience::Requester => Some(req.requester.to_string())
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
    async fn claim(&self, stream: &StreamId, key: &str, id: RequestId) -> Result<bool, AppError> {
        let command = NoticeCommand::Claim {
            key: key.to_owned(),
            request_id: id,
        };
        match self.ledger(stream, &command).await {
            Ok(()) => Ok(true),
            Err(ExecuteError::Rejected(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn ledger(
        &self,
        stream: &StreamId,
        command: &NoticeCommand,
    ) -> Result<(), ExecuteError<NoticeRejection>> {
        execute::<NoticeLedger>(
            self.store.as_ref(),
            self.clock.as_ref(),
            &self.retry.conflicts,
            stream,
            command,
            |now| now,
        )
        .await
        .map(|_| ())
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
