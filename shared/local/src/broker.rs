//! Local mode: the whole broker in one process. The same services as the Lambdas, over the
//! embedded store on disk, an in-process bus fed from what the store appended, and in-process
//! timers that fire on the injected clock.

use crate::memory::{LocalTimers, PublishingStore, RecordingProvider};
use crate::outbox::OutboxMailer;
use crate::sqlite::SqliteEventStore;
use chrono::{DateTime, TimeDelta, Utc};
use std::path::Path;
use std::sync::Arc;
use stint_app::notify::Notifier;
use stint_app::ports::{AccessProvider, Clock, EventStore, StoreError, TimerKind};
use stint_app::{RetryPolicy, Stint};
use stint_domain::{Catalog, RevokeReason, StoredEvent};
use stint_slack::SlackWebhook;
use tokio::sync::mpsc;

/// Where grants go: recorded into the store and the log, or applied through real AWS APIs.
pub enum Provider {
    Record,
    Aws(Arc<dyn AccessProvider>),
}

/// What the notifier task does next: tell people about one stored event, remind reviewers, or
/// remind a requester that their access ends.
#[derive(Debug, Clone)]
enum NoticeJob {
    Event(stint_domain::RequestId, String),
    RemindReviews,
    RemindExpiry(stint_domain::RequestId, TimerKind),
}

pub struct LocalBroker {
    pub stint: Stint,
    /// Tells people about what the bus carries; its records bypass the bus.
    pub notifier: Notifier,
    notices: mpsc::UnboundedSender<NoticeJob>,
    notice_queue: Option<mpsc::UnboundedReceiver<NoticeJob>>,
    pub timers: Arc<LocalTimers>,
    bus: mpsc::UnboundedReceiver<StoredEvent>,
    sweep_every: TimeDelta,
    last_sweep: Option<DateTime<Utc>>,
    /// How often (in clock time) access-review reminders are looked at, as the notify
    /// function's schedule does in AWS; the ledger sends each one once whatever this is.
    remind_every: TimeDelta,
    last_reminder: Option<DateTime<Utc>>,
}

/// What the broker did in one step.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    pub granted: usize,
    pub notices_queued: usize,
    pub timers_fired: usize,
    pub swept: bool,
    pub reminders_queued: bool,
}

impl LocalBroker {
    pub fn open(
        data_dir: &Path,
        catalog: Catalog,
        clock: Arc<dyn Clock>,
        provider: Provider,
    ) -> Result<LocalBroker, StoreError> {
        let sqlite: Arc<dyn EventStore> =
            Arc::new(SqliteEventStore::open(&data_dir.join("events.db"))?);
        let (publishing, bus) = PublishingStore::new(Arc::clone(&sqlite));
        let access: Arc<dyn AccessProvider> = match provider {
            Provider::Record => Arc::new(RecordingProvider::new(
                Arc::clone(&sqlite),
                Arc::clone(&clock),
            )),
            Provider::Aws(p) => p,
        };
        let timers = Arc::new(LocalTimers::default());
        let catalog = Arc::new(catalog);
        // Local mode has no SES: mail goes to <data>/outbox/*.eml.
        let mailer: Option<Arc<dyn stint_app::ports::Mailer>> = catalog
            .notify
            .email_from
            .as_ref()
            .map(|_| -> Arc<dyn stint_app::ports::Mailer> {
                Arc::new(OutboxMailer::new(data_dir.join("outbox")))
            });
        let notifier = Notifier {
            store: Arc::clone(&sqlite),
            catalog: Arc::clone(&catalog),
            clock: Arc::clone(&clock),
            chat: Arc::new(SlackWebhook::default()),
            mailer,
            slack_bot: None,
            retry: RetryPolicy::default(),
        };
        let stint = Stint {
            store: Arc::new(publishing),
            catalog,
            clock,
            access,
            timers: timers.clone(),
            retry: RetryPolicy::default(),
            accounts: None,
            identity_center: None,
        };
        let (notices, notice_queue) = mpsc::unbounded_channel();
        Ok(LocalBroker {
            stint,
            notifier,
            notices,
            notice_queue: Some(notice_queue),
            timers,
            bus,
            sweep_every: TimeDelta::minutes(5),
            last_sweep: None,
            remind_every: TimeDelta::hours(1),
            last_reminder: None,
        })
    }

    /// After a (re)start: re-arm pending timers from the store, then sweep, which revokes what
    /// expired while the process was down and grants approvals whose event was never handled.
    pub async fn resume(&mut self) -> Result<usize, stint_app::AppError> {
        let armed = self.stint.rearm_timers().await?;
        self.stint.sweep().await?;
        self.last_sweep = Some(self.stint.clock.now());
        tracing::info!(armed, "resumed from the store");
        Ok(armed)
    }

    /// One appended event: queue its notices, and grant, extend or close access as the
    /// EventBridge rules do in AWS.
    async fn handle(&mut self, ev: StoredEvent, step: &mut Step) {
        let Some(id) = ev.stream.request_id() else {
            return;
        };
        // Like the notify function, on its own task: a slow or failing channel never
        // holds up grants and revokes.
        let job = NoticeJob::Event(id, ev.record.event_id.clone());
        if self.notices.send(job).is_ok() {
            step.notices_queued += 1;
        }
        if ev.record.event_type == "IncidentResolved" {
            match self.stint.close_incident_access(id).await {
                Ok(out) => tracing::info!(request_id = %id, ?out, "incident closed"),
                Err(e) => {
                    tracing::error!(request_id = %id, error = %e, "incident revoke failed; retried at expiry")
                }
            }
        }
        if ev.record.event_type == "ExtensionApproved" {
            if let Err(e) = self.stint.apply_extension(id).await {
                tracing::error!(request_id = %id, error = %e, "extension not applied; the sweep retries");
            }
        }
        if ev.record.event_type == "AccessApproved" {
            match self.stint.grant(id).await {
                Ok(out) => {
                    tracing::info!(request_id = %id, ?out, "grant after approval");
                    step.granted += 1;
                }
                Err(e) => {
                    tracing::error!(request_id = %id, error = %e, "grant failed; the sweep retries")
                }
            }
        }
    }

    /// Fires every timer due by the broker's clock.
    async fn fire_due(&mut self, step: &mut Step) {
        let now = self.stint.clock.now();
        for (id, kind) in self.timers.due(now) {
            step.timers_fired += 1;
            if kind.is_reminder() {
                // The notify function's timer in AWS: on the notifier's task, like every notice.
                if self.notices.send(NoticeJob::RemindExpiry(id, kind)).is_ok() {
                    step.notices_queued += 1;
                }
                continue;
            }
            let result = match kind {
                TimerKind::Start => self.stint.grant(id).await.map(|o| format!("{o:?}")),
                TimerKind::Expiry => self
                    .stint
                    .revoke(id, RevokeReason::Expired, None)
                    .await
                    .map(|o| format!("{o:?}")),
                TimerKind::RemindDay | TimerKind::RemindSoon => continue,
            };
            match result {
                Ok(out) => tracing::info!(request_id = %id, ?kind, %out, "timer fired"),
                Err(e) => {
                    tracing::error!(request_id = %id, ?kind, error = %e, "timer failed; the sweep retries")
                }
            }
        }
    }

    /// One pass: hand appended events to the grant service (as the EventBridge rule does),
    /// fire due timers, and sweep when a sweep period of clock time has passed.
    pub async fn step(&mut self) -> Step {
        let mut step = Step::default();
        while let Ok(ev) = self.bus.try_recv() {
            self.handle(ev, &mut step).await;
        }
        self.fire_due(&mut step).await;
        let now = self.stint.clock.now();
        if self.last_sweep.is_none_or(|t| now >= t + self.sweep_every) {
            if let Err(e) = self.stint.sweep().await {
                tracing::error!(error = %e, "sweep failed");
            }
            self.last_sweep = Some(now);
            step.swept = true;
        }
        if self
            .last_reminder
            .is_none_or(|t| now >= t + self.remind_every || now < t)
        {
            step.reminders_queued = self.notices.send(NoticeJob::RemindReviews).is_ok();
            self.last_reminder = Some(now);
        }
        step
    }

    /// Runs until `shutdown` resolves: each appended event is handled the moment the store
    /// hands it to the bus, and the broker sleeps until the next timer is due (woken early
    /// when one is set). A full [`LocalBroker::step`] every `tick` of real time is only the
    /// safety net: it sweeps, queues review reminders, and fires timers on a manual clock,
    /// which moves without the broker knowing.
    pub async fn run(
        mut self,
        tick: std::time::Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        if let Some(mut queue) = self.notice_queue.take() {
            let notifier = self.notifier.clone();
            tokio::spawn(async move {
                while let Some(job) = queue.recv().await {
                    match job {
                        NoticeJob::Event(id, event_id) => {
                            match notifier.notify(id, &event_id).await {
                                Ok(r) if !r.sent.is_empty() => {
                                    tracing::info!(request_id = %id, sent = ?r.sent, "notified")
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::error!(request_id = %id, error = %e, "notification failed")
                                }
                            }
                        }
                        NoticeJob::RemindExpiry(id, kind) => {
                            match notifier.remind_expiry(id, kind).await {
                                Ok(r) if !r.sent.is_empty() => {
                                    tracing::info!(request_id = %id, sent = ?r.sent, "expiry reminder sent")
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::error!(request_id = %id, error = %e, "expiry reminder failed")
                                }
                            }
                        }
                        NoticeJob::RemindReviews => match notifier.remind_reviews().await {
                            Ok(r) if !r.sent.is_empty() => {
                                tracing::info!(sent = ?r.sent, "review reminders sent")
                            }
                            Ok(_) => {}
                            Err(e) => tracing::error!(error = %e, "review reminders failed"),
                        },
                    }
                }
            });
        }
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let timers = Arc::clone(&self.timers);
        loop {
            // Real time until the earliest timer by the broker's clock (zero when overdue).
            let next_timer = timers.next_due().map(|at| {
                (at - self.stint.clock.now())
                    .to_std()
                    .unwrap_or(std::time::Duration::ZERO)
            });
            tokio::select! {
                _ = &mut shutdown => break,
                Some(ev) = self.bus.recv() => {
                    let mut step = Step::default();
                    self.handle(ev, &mut step).await;
                }
                // A timer was set: work out the next deadline again.
                _ = timers.changed() => {}
                _ = tokio::time::sleep(next_timer.unwrap_or_default()), if next_timer.is_some() => {
                    self.fire_due(&mut Step::default()).await;
                }
                _ = interval.tick() => { self.step().await; }
            }
        }
    }
}
