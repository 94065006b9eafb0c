//! After a restart of a process that keeps timers in memory: re-arm every timer still pending
//! from the store, so expiries fire on time. Missed ones are the sweep's to settle.

use super::service::{AppError, Stint};
use crate::ports::TimerKind;
use chrono::TimeDelta;
use futures::TryStreamExt;
use std::collections::BTreeSet;
use stint_domain::Status;

impl Stint {
    /// Sets the start, expiry and reminder timers of every request that still needs one; returns
    /// how many.
    pub async fn rearm_timers(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let mut ids = BTreeSet::new();
        let mut log = self
            .store
            .read_log(now - self.sweep_lookback(), now + TimeDelta::seconds(1));
        while let Some(ev) = log.try_next().await? {
            if let Some(id) = ev.stream.request_id() {
                ids.insert(id);
            }
        }
        let mut armed = 0;
        for id in ids {
            let st = self.load(id).await?.state;
            let timer = match (st.status, st.grant.as_ref(), st.grant_window()) {
                (Status::Active, Some(g), _) => Some((TimerKind::Expiry, g.expires_at)),
                // An early revoke keeps its expiry timer to lift the session cut-off.
                (Status::Revoked, Some(g), _)
                    if g.expires_at > now
                        && st.revocation.as_ref().is_some_and(|r| r.at < g.expires_at) =>
                {
                    Some((TimerKind::Expiry, g.expires_at))
                }
                (Status::Approved, None, Some((starts, _))) if starts > now => {
                    Some((TimerKind::Start, starts))
                }
                _ => None,
            };
            // A reminder whose time passed while the process was down still comes, at once, if
            // the access has not ended: the notice ledger keeps one sent before from going twice.
            let reminders = match (&st.grant, st.status) {
                (Some(g), Status::Active) if g.expires_at > now => {
                    stint_domain::reminder::reminder_times(
                        g.starts_at,
                        g.expires_at,
                        &self.catalog,
                        chrono::DateTime::<chrono::Utc>::MIN_UTC,
                    )
                }
                _ => vec![],
            }
            .into_iter()
            .map(|(kind, at)| (kind, at.max(now)));
            for (kind, at) in timer.into_iter().chain(reminders) {
                self.timers.set(id, kind, at).await?;
                armed += 1;
            }
        }
        Ok(armed)
    }
}
