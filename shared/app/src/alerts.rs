//! Alert-triggered access: an alert opens a request for the on-call engineer of its service,
//! or joins the one its incident already has; its resolution revokes the access that the
//! approving rule ties to the incident.

use super::requests::NewRequest;
use super::service::{AppError, Stint};
use crate::execute::{execute, load, ExecuteError};
use serde::Serialize;
use stint_domain::alert::{joins, Alert, AlertState};
use stint_domain::claims::{AlertClaims, ClaimIncident, ClaimRejection};
use stint_domain::effects::closes_with_incident;
use stint_domain::{
    Command, Identity, Justification, Rejection, RequestId, RequestState, RevokeReason, Source,
    Status, StreamId, TicketRef,
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
        let listed = self.incident_requests(&stream).await?;
        if let Some(joined) = joins(alert, &listed.requests, service.flap_window, now) {
            let status = self.load(*joined).await?.state.status;
            tracing::info!(request_id = %joined, incident = %alert.incident, "alert joins its incident's request");
            return Ok(AlertOutcome::Joined {
                request_id: *joined,
                status,
            });
        }
        // Claim the incident on its alert stream first: of deliveries racing to open a request,
        // one appends its claim; the others are told which request to submit instead.
        let claim = ClaimIncident {
            request_id: alert.request_id(),
            service: alert.service.clone(),
            alarm: alert.alarm.clone(),
            incident: alert.incident.clone(),
            settled: listed.requests.iter().map(|(id, _)| *id).collect(),
        };
        let claimed = execute::<AlertClaims>(
            self.store.as_ref(),
            self.clock.as_ref(),
            &self.retry.conflicts,
            &stream,
            &claim,
            |now| now,
        )
        .await;
        let id = match claimed {
            Ok(_) => claim.request_id,
            // Claimed but not (yet) submitted by another delivery, or one that crashed before it
            // could: submit that same request; whichever is first makes it.
            Err(ExecuteError::Rejected(ClaimRejection::AlreadyClaimed(other))) => other,
            Err(e) => return Err(e.into()),
        };
        let user = service.rotation.on_call(now).map_err(|e| {
            Rejection::Invalid(format!("nobody is on call for {}: {e}", alert.service))
        })?;
        let who = Identity::new(user.clone(), []);
        let summary: String = alert.summary.chars().take(Justification::MAX).collect();
        let new = NewRequest {
            accounts: vec![],
            all_accounts: false,
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
                authenticated: alert.authenticated,
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
        if !closes_with_incident(&st, &self.catalog) {
            return Ok(super::revoke::RevokeOutcome::NoOp(st.status));
        }
        self.revoke(id, RevokeReason::IncidentResolved, None).await
    }

    /// The submitted requests an alert stream lists, newest first.
    async fn incident_requests(&self, stream: &StreamId) -> Result<Listed, AppError> {
        let claims = load::<AlertClaims>(self.store.as_ref(), stream)
            .await?
            .state;
        let mut listed = Listed {
            requests: Vec::new(),
        };
        for claim in claims.newest_first() {
            let loaded = self.load(claim.request_id).await?;
            if loaded.exists() {
                listed.requests.push((claim.request_id, loaded.state));
            }
        }
        Ok(listed)
    }
}

/// What an alert stream lists.
struct Listed {
    requests: Vec<(RequestId, RequestState)>,
}
