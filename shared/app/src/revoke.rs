//! Revoking: on expiry (timer), by hand (API), on incident resolution, and by the sweep that
//! catches anything still active past its expiry. A repeated revoke is a no-op.

use super::service::{AppError, Stint};
use crate::ports::TimerKind;
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use std::collections::HashMap;
use stint_domain::policy::{cutoff_document, cutoff_policy_name};
use stint_domain::{Command, Identity, RequestId, RevokeReason, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked {
        lag_seconds: i64,
    },
    /// Nothing to do: already revoked, or a timer from before an extension.
    NoOp(Status),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub streams_seen: usize,
    pub revoked: usize,
    pub lapsed: usize,
    pub granted: usize,
    pub failed: usize,
}

impl Stint {
    pub async fn revoke(
        &self,
        id: RequestId,
        reason: RevokeReason,
        by: Option<Identity>,
    ) -> Result<RevokeOutcome, AppError> {
        let loaded = self.load(id).await?;
        let st = &loaded.state;
        let now = self.clock.now();
        let command = Command::Revoke { reason, by };
        // Decide before touching IAM: rejections and no-ops have no side effects.
        let events = stint_domain::decide(st, &command, &self.catalog, now)?;
        let (Some(req), Some(grant)) = (st.request.as_ref(), st.grant.as_ref()) else {
            return Ok(RevokeOutcome::NoOp(st.status));
        };
        if events.is_empty() {
            // The original expiry timer of an early revoke: the cutoff deny has done its work.
            let early = st
                .revocation
                .as_ref()
                .is_some_and(|r| r.at < grant.expires_at);
            if st.status == Status::Revoked
                && reason == RevokeReason::Expired
                && early
                && now >= grant.expires_at
            {
                let cutoff = cutoff_policy_name(id);
                self.with_retry("delete cutoff", || {
                    self.access.delete_policy(&req.principal, &cutoff)
                })
                .await?;
            }
            return Ok(RevokeOutcome::NoOp(st.status));
        }
        let early = now < grant.expires_at;
        if early {
            if let Some(role) = self.catalog.role(&req.role) {
                let doc = cutoff_document(role, req.scope.as_ref(), now, grant.expires_at);
                let cutoff = cutoff_policy_name(id);
                if let Err((e, attempts)) = self
                    .with_retry("put cutoff", || {
                        self.access.put_policy(&req.principal, &cutoff, &doc)
                    })
                    .await
                {
                    self.execute(
                        id,
                        &Command::RecordRevokeFailure {
                            error: e.to_string(),
                            attempts,
                        },
                    )
                    .await?;
                    return Err(e.into());
                }
            }
        }
        if let Err((e, attempts)) = self
            .with_retry("delete grant policy", || {
                self.access
                    .delete_policy(&req.principal, &grant.policy_name)
            })
            .await
        {
            self.execute(
                id,
                &Command::RecordRevokeFailure {
                    error: e.to_string(),
                    attempts,
                },
            )
            .await?;
            return Err(e.into());
        }
        if !early {
            // An early revoke keeps the timer: at expiry it removes the cutoff.
            if let Err((e, _)) = self
                .with_retry("clear expiry timer", || {
                    self.timers.clear(id, TimerKind::Expiry)
                })
                .await
            {
                tracing::warn!(request_id = %id, error = %e, "expiry timer not cleared; it deletes itself after firing");
            }
        }
        let out = self.execute(id, &command).await?;
        Ok(match out.state.revocation {
            Some(r) if !out.appended.is_empty() => RevokeOutcome::Revoked {
                lag_seconds: r.lag_seconds,
            },
            _ => RevokeOutcome::NoOp(out.state.status),
        })
    }

    /// How far back the sweep looks: long enough to see any grant that could still be active.
    pub fn sweep_lookback(&self) -> TimeDelta {
        let longest = self
            .catalog
            .roles
            .values()
            .map(|r| r.max_total().to_chrono())
            .max()
            .unwrap_or_default();
        let s = &self.catalog.settings;
        longest + s.max_start_ahead.to_chrono() + s.pending_timeout.to_chrono() + TimeDelta::days(1)
    }

    /// Revokes what is past expiry or whose incident has ended, lapses what waited too long,
    /// and grants what was approved but never granted (a lost bus event). Only streams whose last event leaves work are loaded.
    pub async fn sweep(&self) -> Result<SweepReport, AppError> {
        let now = self.clock.now();
        // The latest event of each stream, by version: events of one instant may sort either way.
        let mut last: HashMap<RequestId, (u64, String)> = HashMap::new();
        let mut log = self
            .store
            .read_log(now - self.sweep_lookback(), now + TimeDelta::seconds(1));
        while let Some(ev) = log.try_next().await? {
            if let Some(id) = ev.stream.request_id() {
                let entry = last.entry(id).or_insert((0, String::new()));
                if ev.version > entry.0 {
                    *entry = (ev.version, ev.record.event_type);
                }
            }
        }
        let mut report = SweepReport {
            streams_seen: last.len(),
            ..SweepReport::default()
        };
        let terminal = [
            "AccessRevoked",
            "AccessDenied",
            "RequestCancelled",
            "RequestLapsed",
            "GrantFailed",
        ];
        for (id, (_, last_type)) in last {
            if terminal.contains(&last_type.as_str()) {
                continue;
            }
            let st = self.load(id).await?.state;
            let result = match st.status {
                Status::Active if st.expires_at().is_some_and(|e| e <= now) => self
                    .revoke(id, RevokeReason::Sweep, None)
                    .await
                    .map(|o| matches!(o, RevokeOutcome::Revoked { .. }) as usize)
                    .map(|n| report.revoked += n),
                // The incident ended but its bus event never reached the revoke function.
                Status::Active
                    if st.incident_resolved_at.is_some() && self.revokes_on_resolve(&st) =>
                {
                    self.close_incident_access(id)
                        .await
                        .map(|o| matches!(o, RevokeOutcome::Revoked { .. }) as usize)
                        .map(|n| report.revoked += n)
                }
                Status::Pending
                    if is_due(
                        st.requested_at,
                        self.catalog.settings.pending_timeout.to_chrono(),
                        now,
                    ) =>
                {
                    self.execute(id, &Command::Lapse)
                        .await
                        .map(|o| report.lapsed += (!o.appended.is_empty()) as usize)
                }
                Status::Approved if st.grant_window().is_some_and(|(s, _)| s <= now) => {
                    self.grant(id).await.map(|o| {
                        report.granted +=
                            matches!(o, super::grant::GrantOutcome::Granted { .. }) as usize;
                    })
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::error!(request_id = %id, error = %e, "sweep could not settle request");
                report.failed += 1;
            }
        }
        tracing::info!(?report, "sweep done");
        Ok(report)
    }
}

fn is_due(since: Option<DateTime<Utc>>, after: TimeDelta, now: DateTime<Utc>) -> bool {
    since.is_some_and(|s| now >= s + after)
}
