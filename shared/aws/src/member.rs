//! Grants in member accounts: the hub assumes each account's `stint-target` role through STS,
//! one session per request (named after it, so the member's CloudTrail names the request),
//! keeps the credentials until shortly before they expire, and then does what the IAM
//! provider does. Principals in the hub's own account go through the hub's IAM as before.

use super::provider_err;
use crate::iam::IamAccessProvider;
use async_trait::async_trait;
use aws_config::SdkConfig;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use stint_app::ports::{AccessProvider, Clock, ProviderError};
use stint_domain::budget::InlinePolicy;
use stint_domain::PrincipalArn;

/// Credentials are dropped this long before STS says they expire, so no call starts with
/// credentials that could lapse in flight.
pub const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// Where the member role sits in every account: outside `role/stint/`, so no grant can ever
/// be attached to it, and under its own path, so the hub's rights name only it.
pub const MEMBER_ROLE_PATH: &str = "/stint-hub/";

/// How the hub reaches member accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    /// The hub's own account: its principals need no assumed role.
    pub hub_account: String,
    /// The member role's name (`stint-target` unless configured otherwise).
    pub name: String,
    /// Passed as `ExternalId` when the member stacks require one.
    pub external_id: Option<String>,
}

impl MemberRole {
    /// The member role in `principal`'s account, in its partition.
    pub fn arn_for(&self, principal: &PrincipalArn) -> String {
        let partition = principal.as_str().split(':').nth(1).unwrap_or("aws");
        format!(
            "arn:{partition}:iam::{}:role{MEMBER_ROLE_PATH}{}",
            principal.account(),
            self.name
        )
    }
}

type Sessions = Mutex<HashMap<(String, String), (DateTime<Utc>, IamAccessProvider)>>;

#[derive(Clone)]
pub struct MemberAccessProvider {
    member: MemberRole,
    sts: aws_sdk_sts::Client,
    /// Region, endpoint and retries for the IAM clients built over assumed credentials.
    base: SdkConfig,
    hub: IamAccessProvider,
    clock: Arc<dyn Clock>,
    sessions: Arc<Sessions>,
    /// How many times STS was asked, across every session of this provider.
    assumed: Arc<AtomicUsize>,
    /// The session name of this instance's calls; see [`AccessProvider::with_session`].
    session: String,
}

impl MemberAccessProvider {
    pub fn new(base: &SdkConfig, member: MemberRole, clock: Arc<dyn Clock>) -> Self {
        MemberAccessProvider {
            member,
            sts: aws_sdk_sts::Client::new(base),
            base: base.clone(),
            hub: IamAccessProvider::new(aws_sdk_iam::Client::new(base)),
            clock,
            sessions: Arc::default(),
            assumed: Arc::default(),
            session: "stint".into(),
        }
    }

    /// How many times the member role was assumed so far: what the cache saves shows here.
    pub fn assumptions(&self) -> usize {
        self.assumed.load(Ordering::Relaxed)
    }

    /// IAM in the principal's account: the hub's own, or over the member role's credentials.
    async fn iam_for(&self, principal: &PrincipalArn) -> Result<IamAccessProvider, ProviderError> {
        let account = principal.account().to_owned();
        if account == self.member.hub_account {
            return Ok(self.hub.clone());
        }
        let key = (account.clone(), self.session.clone());
        let now = self.clock.now();
        if let Some((_, iam)) = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .filter(|(until, _)| now < *until)
        {
            return Ok(iam.clone());
        }
        let role_arn = self.member.arn_for(principal);
        let mut call = self
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(&self.session);
        if let Some(id) = &self.member.external_id {
            call = call.external_id(id);
        }
        self.assumed.fetch_add(1, Ordering::Relaxed);
        let out = call
            .send()
            .await
            .map_err(|e| provider_err(&format!("AssumeRole {role_arn}"), e))?;
        let c = out.credentials().ok_or_else(|| {
            ProviderError::Unavailable(format!("AssumeRole {role_arn}: no credentials returned"))
        })?;
        let expires = DateTime::from_timestamp(c.expiration().secs(), 0).ok_or_else(|| {
            ProviderError::Unavailable(format!("AssumeRole {role_arn}: expiry out of range"))
        })?;
        let creds = aws_sdk_iam::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "stint-member-role",
        );
        let config = aws_sdk_iam::config::Builder::from(&self.base)
            .credentials_provider(creds)
            .build();
        let iam = IamAccessProvider::new(aws_sdk_iam::Client::from_conf(config));
        tracing::info!(%account, role = %role_arn, session = %self.session, %expires, "assumed the member role");
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, (until, _)| now < *until);
        sessions.insert(key, (expires - REFRESH_MARGIN, iam.clone()));
        Ok(iam)
    }
}

#[async_trait]
impl AccessProvider for MemberAccessProvider {
    async fn put_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
        document: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.iam_for(principal)
            .await?
            .put_policy(principal, name, document)
            .await
    }

    async fn delete_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
    ) -> Result<bool, ProviderError> {
        self.iam_for(principal)
            .await?
            .delete_policy(principal, name)
            .await
    }

    async fn resolve(&self, principal: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        self.iam_for(principal).await?.resolve(principal).await
    }

    async fn inline_policies(
        &self,
        principal: &PrincipalArn,
    ) -> Result<Vec<InlinePolicy>, ProviderError> {
        self.iam_for(principal)
            .await?
            .inline_policies(principal)
            .await
    }

    fn with_session(&self, session: &str) -> Option<Arc<dyn AccessProvider>> {
        // STS takes 2 to 64 of [\w+=,.@-]; request ids are ULIDs, so this only guards.
        let name: String = session
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))
            .take(64)
            .collect();
        let mut named = self.clone();
        named.session = if name.len() >= 2 {
            name
        } else {
            "stint".into()
        };
        Some(Arc::new(named))
    }
}
