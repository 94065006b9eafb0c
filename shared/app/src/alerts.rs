//! Alert-triggered access: an alert opens a request for the on-call engineer of its service,
//! or joins the one its incident already has; its resolution revokes the access that the
//! approving rule ties to the incident.

use super::requests::NewRequest;
use super::service::{AppError, Stint};
use crate::ports::StoreError;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use stint_domain::alert::{joins, Alert, AlertState};
use stint_domain::catalog::AutoRule;
use stint_domain::{
    Command, EventRecord, Identity, Justification, Rejection, RequestId, RequestState,
    RevokeReason, Source, Status, StreamId, TicketRef,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AlertOutcome {
    /// A new request for the on-call engineer.
    Requested {
        request_id: RequestId,
        requester: String,
        status: Status,
    },
    /// The incident already has a request (a redelivery, or the alarm flapping).
    Joined {
        request_id: RequestId,
        status: Status,
    },
    /// The incident is over: recorded on these requests; the revoke function, fed from the
    /// store, ends the access their rules tie to the incident.
    Resolved { resolved: Vec<RequestId> },
}

impl Stint {
    pub async fn on_alert(&self, alert: &Alert) -> Result<AlertOutcome, AppError> {
        match alert.state {
            AlertState::Triggered => self.open_incident(alert).await,
            AlertState::Resolved => self.resolve_incident(alert).await,
        }
    }

    async fn open_incident(&self, alert: &Alert) -> Result<AlertOutcome, AppError> {
        let service = self.catalog.services.get(&alert.service).ok_or_else(|| {
            Rejection::Invalid(format!("service {} is not in the catalog", alert.service))
        })?;
        let now = self.clock.now();
        let stream = alert.stream();
        let mut id = alert.request_id();
        // Claim the incident on its alert stream first: of two deliveries racing to open a
        // request, one appends its claim and the other reloads and joins.
        let mut claimed = false;
        for _ in 0..CLAIM_ATTEMPTS {
            let listed = self.incident_requests(&stream).await?;
            if let Some(joined) = joins(alert, &listed.requests, service.flap_window, now) {
                let status = self.load(*joined).await?.state.status;
                tracing::info!(request_id = %joined, incident = %alert.incident, "alert joins its incident's request");
                return Ok(AlertOutcome::Joined {
                    request_id: *joined,
                    status,
                });
            }
            // Claimed but not (yet) submitted: another delivery is submitting it, or crashed
            // before it could. Submit that same request; whichever is first makes it.
            if let Some(pending) = listed
                .claimed_unsubmitted
                .filter(|(_, at)| now - *at < TAKEOVER_WINDOW)
            {
                id = pending.0;
                claimed = true;
                break;
            }
            match self
                .store
                .append(&stream, listed.version, vec![self.pointer(id, alert)])
                .await
            {
                Ok(_) => {
                    claimed = true;
                    break;
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if !claimed {
            return Err(AppError::Contended(id, CLAIM_ATTEMPTS));
        }
        let user = service.rotation.on_call(now).map_err(|e| {
            Rejection::Invalid(format!("nobody is on call for {}: {e}", alert.service))
        })?;
        let who = Identity::new(user.clone(), []);
        let summary: String = alert.summary.chars().take(Justification::MAX).collect();
        let new = NewRequest {
            role: service.role.clone(),
            scope: service.scope.clone(),
            principal: service.principal.clone(),
            duration: service.duration,
            justification: Justification::parse(&summary)
                .or_else(|_| Justification::parse("alert without a summary"))
                .map_err(|e| Rejection::Invalid(e.to_string()))?,
            ticket: alert.link.as_deref().and_then(|l| TicketRef::parse(l).ok()),
            starts_at: None,
            break_glass: false,
            source: Source::Alert {
                service: alert.service.clone(),
                alarm: alert.alarm.clone(),
                incident: alert.incident.clone(),
                on_call: true,
            },
        };
        match self.submit_with_id(id, &who, new).await {
            Ok(loaded) => Ok(AlertOutcome::Requested {
                request_id: id,
                requester: user.to_string(),
                status: loaded.state.status,
            }),
            // Another delivery submitted the claimed request first.
            Err(AppError::Rejected(Rejection::AlreadyExists)) => Ok(AlertOutcome::Joined {
                request_id: id,
                status: self.load(id).await?.state.status,
            }),
            Err(e) => Err(e),
        }
    }

    /// Recorded here; the revoke function, which alone may touch IAM, ends the access.
    async fn resolve_incident(&self, alert: &Alert) -> Result<AlertOutcome, AppError> {
        let candidates = self.incident_requests(&alert.stream()).await?.requests;
        let command = Command::ResolveIncident {
            incident: alert.incident.clone(),
        };
        let mut resolved = Vec::new();
        for (id, st) in &candidates {
            let open = matches!(
                st.status,
                Status::Pending | Status::Approved | Status::Active
            );
            let concerned = st
                .request
                .as_ref()
                .is_some_and(|r| alert.concerns(&r.source));
            if open && concerned && !self.execute(*id, &command).await?.appended.is_empty() {
                resolved.push(*id);
            }
        }
        tracing::info!(incident = %alert.incident, resolved = resolved.len(), "incident resolved");
        Ok(AlertOutcome::Resolved { resolved })
    }

    /// After `IncidentResolved`: revokes the grant when the rule that approved it says access
    /// ends with the incident. Repeats are no-ops.
    pub async fn close_incident_access(
        &self,
        id: RequestId,
    ) -> Result<super::revoke::RevokeOutcome, AppError> {
        let st = self.load(id).await?.state;
        if st.incident_resolved_at.is_none() || !self.revokes_on_resolve(&st) {
            return Ok(super::revoke::RevokeOutcome::NoOp(st.status));
        }
        self.revoke(id, RevokeReason::IncidentResolved, None).await
    }

    /// Whether the rule that approved this request ties its access to the incident.
    pub(crate) fn revokes_on_resolve(&self, st: &RequestState) -> bool {
        let (Some(req), Some(rule)) = (st.request.as_ref(), st.approved_by_rule.as_deref()) else {
            return false;
        };
        self.catalog.role(&req.role).is_some_and(|role| {
            role.auto_approve.iter().any(|r| {
                matches!(r, AutoRule::Alert { name, revoke_on_resolve: true, .. } if name == rule)
            })
        })
    }

    /// The requests an alert stream lists, newest first, with the stream's version, and the
    /// newest claim whose request does not exist yet (with when it was made).
    async fn incident_requests(&self, stream: &StreamId) -> Result<Listed, AppError> {
        let events = self.store.read_stream(stream).await?;
        let mut listed = Listed {
            version: events.len() as u64,
            requests: Vec::new(),
            claimed_unsubmitted: None,
        };
        let mut seen = BTreeSet::new();
        for ev in events.iter().rev() {
            let Some(id) = ev
                .record
                .payload
                .get("request_id")
                .and_then(|v| v.as_str())
                .and_then(|s| RequestId::parse(s).ok())
            else {
                continue;
            };
            if !seen.insert(id) {
                continue;
            }
            let loaded = self.load(id).await?;
            if loaded.exists() {
                listed.requests.push((id, loaded.state));
            } else if listed.claimed_unsubmitted.is_none() && listed.requests.is_empty() {
                listed.claimed_unsubmitted = Some((id, ev.record.occurred_at));
            }
        }
        Ok(listed)
    }

    /// The claim on an alert stream: this request answers for the alert's incident.
    fn pointer(&self, id: RequestId, alert: &Alert) -> EventRecord {
        EventRecord {
            event_id: ulid::Ulid::generate().to_string(),
            event_type: "AlertRequestOpened".into(),
            schema_version: stint_domain::event::SCHEMA_VERSION,
            occurred_at: self.clock.now(),
            actor: "system:alert".into(),
            payload: serde_json::json!({
                "request_id": id,
                "service": alert.service,
                "alarm": alert.alarm,
                "incident": alert.incident,
            }),
        }
    }
}

const CLAIM_ATTEMPTS: u32 = 8;
/// A claim older than this whose request never appeared is abandoned (deliveries of an alert
/// are retried for at most an hour); a new claim is made instead.
const TAKEOVER_WINDOW: TimeDelta = TimeDelta::hours(1);

/// What an alert stream lists.
struct Listed {
    version: u64,
    requests: Vec<(RequestId, RequestState)>,
    claimed_unsubmitted: Option<(RequestId, DateTime<Utc>)>,
}
