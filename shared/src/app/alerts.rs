//! Alert-triggered access: an alert opens a request for the on-call engineer of its service,
//! or joins the one its incident already has; its resolution revokes the access that the
//! approving rule ties to the incident.

use super::requests::NewRequest;
use super::service::{AppError, Stint};
use crate::domain::alert::{joins, Alert, AlertState};
use crate::domain::catalog::AutoRule;
use crate::domain::{
    Command, Event, EventBody, Identity, Justification, Rejection, RequestId, RequestState,
    RevokeReason, Source, Status, TicketRef,
};
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use std::collections::BTreeSet;

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
        let service = self.catalog.services.get(&alert.service).ok_or_else(|| {
            Rejection::Invalid(format!("service {} is not in the catalog", alert.service))
        })?;
        let now = self.clock.now();
        let candidates = self.incident_requests(alert, now).await?;
        match alert.state {
            AlertState::Triggered => {
                if let Some(id) = joins(alert, &candidates, service.flap_window, now) {
                    let status = self.load(*id).await?.state.status;
                    tracing::info!(request_id = %id, incident = %alert.incident, "alert joins its incident's request");
                    return Ok(AlertOutcome::Joined {
                        request_id: *id,
                        status,
                    });
                }
                let user = service.rotation.on_call(now).ok_or_else(|| {
                    Rejection::Invalid(format!("nobody is on call for {}", alert.service))
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
                let id = alert.request_id();
                match self.submit_with_id(id, &who, new).await {
                    Ok(loaded) => Ok(AlertOutcome::Requested {
                        request_id: id,
                        requester: user.to_string(),
                        status: loaded.state.status,
                    }),
                    // A concurrent delivery of the same alert made it first.
                    Err(AppError::Rejected(Rejection::AlreadyExists)) => Ok(AlertOutcome::Joined {
                        request_id: id,
                        status: self.load(id).await?.state.status,
                    }),
                    Err(e) => Err(e),
                }
            }
            AlertState::Resolved => {
                // Recorded here; revoked by the revoke function, which alone may touch IAM.
                let mut resolved = Vec::new();
                let command = Command::ResolveIncident {
                    incident: alert.incident.clone(),
                };
                for (id, _) in candidates.iter().filter(|(_, st)| {
                    matches!(
                        st.status,
                        Status::Pending | Status::Approved | Status::Active
                    )
                }) {
                    if !self.execute(*id, &command).await?.appended.is_empty() {
                        resolved.push(*id);
                    }
                }
                tracing::info!(incident = %alert.incident, resolved = resolved.len(), "incident resolved");
                Ok(AlertOutcome::Resolved { resolved })
            }
        }
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

    /// Requests opened by alerts that concern this alert, from the recent log; the alert's own
    /// deterministic id is always looked at, so a redelivery never depends on index lag.
    async fn incident_requests(
        &self,
        alert: &Alert,
        now: DateTime<Utc>,
    ) -> Result<Vec<(RequestId, RequestState)>, AppError> {
        let lookback = TimeDelta::seconds(
            i64::try_from(self.catalog.alert_lookback().secs()).unwrap_or(i64::MAX / 2),
        );
        let mut ids = BTreeSet::from([alert.request_id()]);
        let mut log = self
            .store
            .read_log(now - lookback, now + TimeDelta::seconds(1));
        while let Some(ev) = log.try_next().await? {
            if ev.record.event_type != "AccessRequested" {
                continue;
            }
            let (Some(id), Ok(event)) = (ev.stream.request_id(), Event::from_record(&ev.record))
            else {
                continue;
            };
            if let EventBody::AccessRequested(r) = &event.body {
                if alert.concerns(&r.source) {
                    ids.insert(id);
                }
            }
        }
        let mut out = Vec::new();
        // Newest first, so the latest episode of an alarm is the one joined.
        for id in ids.into_iter().rev() {
            let loaded = self.load(id).await?;
            if loaded.exists() {
                out.push((id, loaded.state));
            }
        }
        Ok(out)
    }
}
