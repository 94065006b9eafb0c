//! Granting: attach the time-bounded policy, arm the expiry timer, record `AccessGranted`.
//! Triggered by `AccessApproved` on the bus and by a start timer; safe to run twice.

use super::service::{AppError, Stint};
use crate::ports::{ProviderError, TimerKind};
use chrono::{DateTime, Utc};
use stint_domain::policy::{grant_document, grant_policy_name};
use stint_domain::{Command, Rejection, RequestId, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantOutcome {
    Granted {
        expires_at: DateTime<Utc>,
    },
    /// Already granted (or past it): a duplicate delivery.
    AlreadyDone(Status),
    /// A scheduled start: a start timer will come back.
    Scheduled {
        starts_at: DateTime<Utc>,
    },
    /// The provider refused or stayed down; `GrantFailed` is recorded.
    Failed(String),
}

impl Stint {
    pub async fn grant(&self, id: RequestId) -> Result<GrantOutcome, AppError> {
        let loaded = self.load(id).await?;
        let st = &loaded.state;
        let Some(req) = st.request.as_ref() else {
            return Err(Rejection::UnknownRequest.into());
        };
        match st.status {
            Status::Approved => {}
            Status::Active | Status::Revoked | Status::GrantFailed => {
                return Ok(GrantOutcome::AlreadyDone(st.status))
            }
            status => {
                return Err(Rejection::WrongState {
                    action: "grant",
                    status,
                }
                .into())
            }
        }
        let Some((starts_at, expires_at)) = st.grant_window() else {
            return Err(Rejection::WrongState {
                action: "grant",
                status: st.status,
            }
            .into());
        };
        if st.incident_resolved_at.is_some() && self.revokes_on_resolve(st) {
            // The grant was overtaken: access tied to an incident never starts after it ended.
            return self
                .fail(
                    id,
                    "the incident was resolved before access was granted".into(),
                    0,
                )
                .await;
        }
        let now = self.clock.now();
        if now < starts_at {
            self.with_retry("set start timer", || {
                self.timers.set(id, TimerKind::Start, starts_at)
            })
            .await
            .map_err(|(e, _)| AppError::Provider(e))?;
            return Ok(GrantOutcome::Scheduled { starts_at });
        }
        if expires_at <= now {
            return self
                .fail(
                    id,
                    "the approved window ended before the grant could be made".into(),
                    0,
                )
                .await;
        }
        // The catalog may have changed since the request: check the role and principal again.
        let role = match self.catalog.role(&req.role) {
            Some(r)
                if r.allows_principal(&req.principal)
                    && !self.catalog.is_protected(req.principal.as_str()) =>
            {
                r
            }
            _ => {
                return self
                    .fail(
                        id,
                        format!("role {} no longer allows {}", req.role, req.principal),
                        0,
                    )
                    .await
            }
        };
        let name = grant_policy_name(id);
        let doc = grant_document(role, req.scope.as_ref(), starts_at, expires_at);
        if let Err((e, attempts)) = self
            .with_retry("put grant policy", || {
                self.access.put_policy(&req.principal, &name, &doc)
            })
            .await
        {
            return self.fail(id, e.to_string(), attempts).await;
        }
        // IAM's time condition and the sweep end the grant even if the timer cannot be set.
        if let Err((e, _)) = self
            .with_retry("set expiry timer", || {
                self.timers.set(id, TimerKind::Expiry, expires_at)
            })
            .await
        {
            tracing::error!(request_id = %id, error = %e, "expiry timer not set; the sweep will revoke");
        }
        self.execute(
            id,
            &Command::RecordGrant {
                policy_name: name,
                policy: doc,
            },
        )
        .await?;
        Ok(GrantOutcome::Granted { expires_at })
    }

    async fn fail(
        &self,
        id: RequestId,
        error: String,
        attempts: u32,
    ) -> Result<GrantOutcome, AppError> {
        tracing::error!(request_id = %id, %error, attempts, "grant failed");
        self.execute(
            id,
            &Command::RecordGrantFailure {
                error: error.clone(),
                attempts,
            },
        )
        .await?;
        Ok(GrantOutcome::Failed(error))
    }
}

impl From<(ProviderError, u32)> for AppError {
    fn from((e, _): (ProviderError, u32)) -> Self {
        AppError::Provider(e)
    }
}
