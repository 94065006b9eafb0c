//! EventBridge Scheduler timers: one-time `at()` schedules in the `stint` group that delete
//! themselves after firing and invoke the grant (start), revoke (expiry) or notify (expiry
//! reminders) function.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use aws_sdk_scheduler::Client;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use stint_app::ports::{ProviderError, Scheduler, TimerFired, TimerKind};
use stint_domain::RequestId;

#[derive(Clone, Debug)]
pub struct SchedulerTargets {
    /// The schedule group, `stint` by default.
    pub group: String,
    /// The role Scheduler assumes to invoke the targets.
    pub role_arn: String,
    /// What a start timer invokes (the grant function).
    pub start_arn: String,
    /// What an expiry timer invokes (the revoke function).
    pub expiry_arn: String,
    /// What an expiry reminder invokes (the notify function); none: no reminders are set.
    pub remind_arn: Option<String>,
}

#[derive(Clone, Debug)]
pub struct EventBridgeScheduler {
    client: Client,
    targets: SchedulerTargets,
}

impl EventBridgeScheduler {
    pub fn new(client: Client, targets: SchedulerTargets) -> Self {
        EventBridgeScheduler { client, targets }
    }
}

/// `at()` takes whole seconds; round up so a timer never fires before its instant.
pub fn at_expression(at: DateTime<Utc>) -> String {
    let floor = at.duration_trunc(TimeDelta::seconds(1)).unwrap_or(at);
    let t = if floor < at {
        floor + TimeDelta::seconds(1)
    } else {
        floor
    };
    format!("at({})", t.format("%Y-%m-%dT%H:%M:%S"))
}

#[async_trait]
impl Scheduler for EventBridgeScheduler {
    async fn set(
        &self,
        request: RequestId,
        kind: TimerKind,
        at: DateTime<Utc>,
    ) -> Result<(), ProviderError> {
        let arn = match kind {
            TimerKind::Start => &self.targets.start_arn,
            TimerKind::Expiry => &self.targets.expiry_arn,
            TimerKind::RemindDay | TimerKind::RemindSoon => {
                self.targets.remind_arn.as_ref().ok_or_else(|| {
                    ProviderError::Refused(
                        "no notify function is configured for expiry reminders".into(),
                    )
                })?
            }
        };
        let input = serde_json::to_string(&TimerFired {
            request_id: request,
            kind,
        })
        .unwrap_or_default();
        let target = Target::builder()
            .arn(arn)
            .role_arn(&self.targets.role_arn)
            .input(input)
            .build()
            .map_err(|e| ProviderError::Refused(e.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| ProviderError::Refused(e.to_string()))?;
        let name = kind.schedule_name(request);
        let created = self
            .client
            .create_schedule()
            .name(&name)
            .group_name(&self.targets.group)
            .schedule_expression(at_expression(at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window.clone())
            .target(target.clone())
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // It exists (a duplicate delivery, or an extension moved the expiry): set its time.
            Err(e) if e.code() == Some("ConflictException") => {
                self.client
                    .update_schedule()
                    .name(&name)
                    .group_name(&self.targets.group)
                    .schedule_expression(at_expression(at))
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(window)
                    .target(target)
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .send()
                    .await
                    .map_err(|e| provider_err("UpdateSchedule", e))?;
                Ok(())
            }
            Err(e) => Err(provider_err("CreateSchedule", e)),
        }
    }

    async fn clear(&self, request: RequestId, kind: TimerKind) -> Result<bool, ProviderError> {
        match self
            .client
            .delete_schedule()
            .name(kind.schedule_name(request))
            .group_name(&self.targets.group)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(provider_err("DeleteSchedule", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn at_expressions_round_up_to_the_second() {
        let t = Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap();
        assert_eq!(at_expression(t), "at(2026-05-01T10:00:00)");
        assert_eq!(
            at_expression(t + TimeDelta::milliseconds(1)),
            "at(2026-05-01T10:00:01)"
        );
    }
}
