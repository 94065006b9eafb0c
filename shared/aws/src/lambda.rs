//! Lambda edges: the events each function receives (API Gateway, EventBridge, Scheduler, the
//! DynamoDB stream), parsed and handed to the services. Errors that a retry can cure are
//! returned so the trigger redelivers; business outcomes are logged and answered.

use crate::dynamodb::event_from_stream_image;
pub use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;
/// The raw JSON a function is invoked with, before it is told apart.
pub use serde_json::Value as Payload;
use serde_json::{json, Value};
use std::future::Future;
use stint_app::ports::{BusMessage, EventBus, SweepMemory, TimerFired, TimerKind};
use stint_app::relay::relay;
use stint_app::revoke::RevokeOutcome;
use stint_app::{AppError, Stint};
use stint_domain::{RequestId, RevokeReason};

/// What the grant function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum GrantTrigger {
    /// A scheduled start.
    Timer(TimerFired),
    /// `AccessApproved` from the bus.
    Approved(Box<EventBridgeEvent<BusMessage>>),
}

/// What the revoke function is invoked with, besides HTTP.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RevokeTrigger {
    Timer(TimerFired),
    /// The periodic sweep (an EventBridge schedule), or any other bus event.
    Scheduled(Box<EventBridgeEvent<Value>>),
}

fn into_lambda_error(e: AppError) -> Error {
    Box::new(e)
}

fn parse<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T, Error> {
    serde_json::from_value(payload).map_err(|e| format!("unrecognised event: {e}").into())
}

pub async fn handle_grant(stint: &Stint, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let id = match parse::<GrantTrigger>(event.payload)? {
        GrantTrigger::Timer(TimerFired {
            request_id,
            kind: TimerKind::Start,
        }) => request_id,
        GrantTrigger::Timer(t) => {
            return Err(format!("grant does not handle {:?} timers", t.kind).into())
        }
        GrantTrigger::Approved(e) if e.detail.event_type == "AccessApproved" => e
            .detail
            .request_id
            .as_deref()
            .and_then(|s| RequestId::parse(s).ok())
            .ok_or("AccessApproved without a request id")?,
        // An approved extension: the grant function alone may put policies, so it takes the
        // new window to IAM and records it.
        GrantTrigger::Approved(e) if e.detail.event_type == "ExtensionApproved" => {
            let id = e
                .detail
                .request_id
                .as_deref()
                .and_then(|s| RequestId::parse(s).ok())
                .ok_or("ExtensionApproved without a request id")?;
            return match stint.apply_extension(id).await {
                Ok(l) => Ok(json!({ "request_id": id, "expires_at": l.state.expires_at() })),
                Err(e) if e.is_transient() => Err(into_lambda_error(e)),
                Err(e) => {
                    tracing::warn!(request_id = %id, error = %e, "extension not applied");
                    Ok(json!({ "request_id": id, "error": e.to_string() }))
                }
            };
        }
        GrantTrigger::Approved(e) => {
            return Err(format!("grant does not handle {}", e.detail.event_type).into())
        }
    };
    match stint.grant(id).await {
        Ok(outcome) => Ok(
            json!({ "request_id": id, "outcome": format!("{outcome:?}"), "granted": outcome.granted() }),
        ),
        Err(e) if e.is_transient() => Err(into_lambda_error(e)),
        Err(e) => {
            tracing::warn!(request_id = %id, error = %e, "grant not possible");
            Ok(json!({ "request_id": id, "outcome": e.to_string(), "granted": false }))
        }
    }
}

/// Whether a payload is an API Gateway HTTP event rather than a bus, timer or stream event.
pub fn is_http(payload: &Value) -> bool {
    payload.get("requestContext").is_some()
        && (payload.get("routeKey").is_some() || payload.get("httpMethod").is_some())
}

/// The request function serves its HTTP routes only; `http` serves API Gateway events (the
/// HTTP edge lives in `stint-http`).
pub async fn handle_request<H, F>(http: H, event: LambdaEvent<Value>) -> Result<Value, Error>
where
    H: FnOnce(Value, lambda_runtime::Context) -> F,
    F: Future<Output = Result<Value, Error>>,
{
    let (payload, context) = event.into_parts();
    if is_http(&payload) {
        return http(payload, context).await;
    }
    let kind = payload.get("detail-type").and_then(Value::as_str);
    Err(format!("request does not handle {kind:?} events").into())
}

/// The alerts function serves the signed webhooks (`POST /alerts`, through `http`) and
/// CloudWatch alarm state changes (an EventBridge rule): ALARM opens incident access for the
/// on-call engineer, OK closes it.
pub async fn handle_alerts<H, F>(
    stint: &Stint,
    http: H,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    H: FnOnce(Value, lambda_runtime::Context) -> F,
    F: Future<Output = Result<Value, Error>>,
{
    if is_http(&event.payload) {
        return handle_request(http, event).await;
    }
    let payload = event.payload;
    let kind = payload.get("detail-type").and_then(Value::as_str);
    if kind != Some("CloudWatch Alarm State Change") {
        return Err(format!("alerts does not handle {kind:?} events").into());
    }
    let alert = match stint_domain::alert::from_cloudwatch(&payload, &stint.catalog) {
        Ok(stint_domain::alert::Parsed::Alert(a)) => a,
        Ok(stint_domain::alert::Parsed::Ignored(reason)) => {
            tracing::info!(%reason, "alarm ignored");
            return Ok(json!({ "outcome": "ignored", "reason": reason }));
        }
        // Redelivering a malformed event cannot help.
        Err(e) => {
            tracing::error!(error = %e, "unreadable alarm event");
            return Ok(json!({ "outcome": "malformed", "error": e.to_string() }));
        }
    };
    match stint.on_alert(&alert).await {
        Ok(outcome) => Ok(serde_json::to_value(outcome)?),
        Err(e) if e.is_transient() => Err(into_lambda_error(e)),
        Err(e) => {
            tracing::warn!(incident = %alert.incident, error = %e, "alert not acted on");
            Ok(json!({ "outcome": "refused", "error": e.to_string() }))
        }
    }
}

/// Whether a payload is an EventBridge schedule firing (a `Schedule` event of the template)
/// rather than a message from the stint bus.
pub fn is_schedule(payload: &Value) -> bool {
    payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        && matches!(
            payload.get("source").and_then(Value::as_str),
            Some("aws.events" | "aws.scheduler")
        )
}

/// The notify function: one bus event in, its notices out; on its schedule, the access-review
/// reminders; on an expiry reminder's timer, that reminder. Failures return an error so EventBridge retries; what was already sent is
/// not sent again.
pub async fn handle_notify(
    notifier: &stint_app::notify::Notifier,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    // An expiry reminder's timer (EventBridge Scheduler invokes with the timer's own input).
    if let Ok(TimerFired { request_id, kind }) =
        serde_json::from_value::<TimerFired>(event.payload.clone())
    {
        if !kind.is_reminder() {
            return Err(format!("notify does not handle {kind:?} timers").into());
        }
        let report = notifier
            .remind_expiry(request_id, kind)
            .await
            .map_err(|e| -> Error { Box::new(e) })?;
        return Ok(serde_json::to_value(report)?);
    }
    if is_schedule(&event.payload) {
        let report = notifier
            .remind_reviews()
            .await
            .map_err(|e| -> Error { Box::new(e) })?;
        tracing::info!(
            sent = report.sent.len(),
            already_sent = report.already_sent.len(),
            "review reminders"
        );
        return Ok(serde_json::to_value(report)?);
    }
    let e: EventBridgeEvent<BusMessage> = parse(event.payload)?;
    let Some(id) = e
        .detail
        .request_id
        .as_deref()
        .and_then(|s| RequestId::parse(s).ok())
    else {
        return Ok(json!({ "outcome": "not a request event" }));
    };
    let report = notifier
        .notify(id, &e.detail.event_id)
        .await
        .map_err(|e| -> Error { Box::new(e) })?;
    Ok(serde_json::to_value(report)?)
}

/// The revoke function serves `POST /requests/{id}/revoke`, expiry timers and the sweep.
pub async fn handle_revoke<H, F>(
    stint: &Stint,
    memory: Option<&dyn SweepMemory>,
    http: H,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    H: FnOnce(Value, lambda_runtime::Context) -> F,
    F: Future<Output = Result<Value, Error>>,
{
    let (payload, context) = event.into_parts();
    if is_http(&payload) {
        return http(payload, context).await;
    }
    match parse::<RevokeTrigger>(payload)? {
        RevokeTrigger::Timer(TimerFired {
            request_id,
            kind: TimerKind::Expiry,
        }) => match stint.revoke(request_id, RevokeReason::Expired, None).await {
            Ok(RevokeOutcome::Revoked { lag_seconds }) => {
                Ok(json!({ "request_id": request_id, "revoked": true, "lag_seconds": lag_seconds }))
            }
            Ok(RevokeOutcome::NoOp(status)) => {
                Ok(json!({ "request_id": request_id, "revoked": false, "status": status }))
            }
            Err(e) if e.is_transient() => Err(into_lambda_error(e)),
            Err(e) => {
                tracing::warn!(request_id = %request_id, error = %e, "expiry revoke not possible");
                Ok(json!({ "request_id": request_id, "revoked": false, "error": e.to_string() }))
            }
        },
        RevokeTrigger::Timer(t) => {
            Err(format!("revoke does not handle {:?} timers", t.kind).into())
        }
        RevokeTrigger::Scheduled(e) if e.detail_type == "IncidentResolved" => {
            let id = e
                .detail
                .get("request_id")
                .and_then(Value::as_str)
                .and_then(|s| RequestId::parse(s).ok())
                .ok_or("IncidentResolved without a request id")?;
            match stint.close_incident_access(id).await {
                Ok(outcome) => Ok(
                    json!({ "request_id": id, "revoked": matches!(outcome, RevokeOutcome::Revoked { .. }) }),
                ),
                Err(e) if e.is_transient() => Err(into_lambda_error(e)),
                Err(e) => {
                    tracing::warn!(request_id = %id, error = %e, "incident revoke not possible");
                    Ok(json!({ "request_id": id, "revoked": false, "error": e.to_string() }))
                }
            }
        }
        RevokeTrigger::Scheduled(_) => {
            let report = stint.sweep_with(memory).await.map_err(into_lambda_error)?;
            Ok(serde_json::to_value(report)?)
        }
    }
}

/// Relays stream records to the bus in order. On failure it reports the first record not
/// published, so Lambda redelivers from there and nothing stored is lost on its way.
pub async fn handle_relay(
    bus: &dyn EventBus,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for record in event.payload.records {
        // The store only inserts; anything else on the stream is not an event to relay.
        if record.event_name != "INSERT" {
            continue;
        }
        let id = record.change.sequence_number.clone();
        events.push(
            event_from_stream_image(record.change.new_image)
                .map_err(|e| -> Error { Box::new(e) })?,
        );
        ids.push(id);
    }
    let mut response = DynamoDbEventResponse::default();
    let accepted = match relay(bus, &events).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "publishing to the bus failed");
            0
        }
    };
    if accepted < events.len() {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = ids[accepted].clone();
        response.batch_item_failures.push(failure);
    }
    tracing::info!(records = events.len(), accepted, "relayed");
    Ok(response)
}

/// The scheduled report: the last `days` whole days, mailed to the auditors and archived.
/// An invocation may name its own period: `{"from": "...", "to": "..."}`.
pub async fn handle_report(
    store: &dyn stint_app::ports::EventStore,
    mailer: &dyn stint_app::ports::Mailer,
    archive: &dyn stint_app::ports::Archive,
    anchor: stint_app::checkpoint::Anchor<'_>,
    config: &crate::runtime::ReportConfig,
    clock: &dyn stint_app::ports::Clock,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let now = clock.now();
    // The 15-minute schedule sends `{"checkpoint": true}`: anchor what moved, no report.
    if event.payload.get("checkpoint").and_then(Value::as_bool) == Some(true) {
        let cp = stint_app::checkpoint::write(
            store,
            anchor,
            now,
            stint_app::checkpoint::Scope::Recent,
            false,
        )
        .await?;
        return Ok(json!({
            "checkpoint": cp.as_ref().map(|c| c.seq),
            "heads": cp.as_ref().map_or(0, |c| c.heads.len()),
        }));
    }
    let given = |k: &str| {
        event
            .payload
            .get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let (from, to) = match (given("from"), given("to")) {
        (Some(f), Some(t)) => (f, t),
        _ => stint_domain::report::last_days(now, config.days),
    };
    let delivery = stint_app::report::Delivery {
        mailer,
        archive,
        to: &config.recipients,
        anchor: Some(anchor),
    };
    // The review deadline of the catalog the functions recorded, not of a parameter.
    let within = stint_app::catalog::recorded_review_window(store).await?;
    let done = stint_app::report::deliver(store, delivery, from, to, now, within).await?;
    Ok(serde_json::to_value(done)?)
}

// --- Evidence packs (issue 13, part 6) -----------------------------------------------------

/// Whether the report function was invoked for the monthly evidence pack (its schedule's input
/// is `{"evidence": true}`) rather than for the report.
pub fn is_evidence_run(payload: &Value) -> bool {
    payload.get("evidence").and_then(Value::as_bool) == Some(true)
}

/// The monthly evidence pack: the last whole calendar month (or the invocation's own
/// `{"from": "...", "to": "..."}`), anchored by a checkpoint and archived once under Object
/// Lock at `evidence/<from>_<to>.tar.gz`, next to the reports.
pub async fn handle_evidence(
    store: &dyn stint_app::ports::EventStore,
    anchor: stint_app::checkpoint::Anchor<'_>,
    archive: &dyn stint_app::ports::Archive,
    clock: &dyn stint_app::ports::Clock,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let now = clock.now();
    let given = |k: &str| {
        event
            .payload
            .get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let (from, to) = match (given("from"), given("to")) {
        (Some(f), Some(t)) => (f, t),
        _ => stint_domain::evidence::last_month(now),
    };
    let within = stint_app::catalog::recorded_review_window(store).await?;
    let done =
        stint_app::evidence::archive_pack(store, anchor, archive, from, to, now, within).await?;
    Ok(serde_json::to_value(done)?)
}
