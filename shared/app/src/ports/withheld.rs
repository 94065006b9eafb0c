//! The port a function gets for what its role may not do: it refuses every call, so the code
//! matches the template's policy and the binary links no client it cannot use.

use super::{AccessProvider, ProviderError, Scheduler};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stint_domain::budget::InlinePolicy;
use stint_domain::timer::TimerKind;
use stint_domain::{PrincipalArn, RequestId};

/// Refuses IAM or Scheduler calls in a function whose role has neither (`what` names it).
#[derive(Debug, Clone, Copy)]
pub struct Withheld {
    pub what: &'static str,
}

impl Withheld {
    fn refuse<T>(&self, call: &str) -> Result<T, ProviderError> {
        Err(ProviderError::Refused(format!(
            "{call}: {} is not this function's to call (its role does not allow it)",
            self.what
        )))
    }
}

#[async_trait]
impl AccessProvider for Withheld {
    async fn put_policy(
        &self,
        _: &PrincipalArn,
        _: &str,
        _: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.refuse("PutRolePolicy")
    }
    async fn delete_policy(&self, _: &PrincipalArn, _: &str) -> Result<bool, ProviderError> {
        self.refuse("DeleteRolePolicy")
    }
    async fn resolve(&self, _: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        self.refuse("GetRole")
    }
    async fn inline_policies(&self, _: &PrincipalArn) -> Result<Vec<InlinePolicy>, ProviderError> {
        self.refuse("ListRolePolicies")
    }
}

#[async_trait]
impl Scheduler for Withheld {
    async fn set(&self, _: RequestId, _: TimerKind, _: DateTime<Utc>) -> Result<(), ProviderError> {
        self.refuse("CreateSchedule")
    }
    async fn clear(&self, _: RequestId, _: TimerKind) -> Result<bool, ProviderError> {
        self.refuse("DeleteSchedule")
    }
}
