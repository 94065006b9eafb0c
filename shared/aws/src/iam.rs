//! The IAM access provider: grants are inline role policies, put and deleted by name.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::Client;
use percent_encoding::percent_decode_str;
use stint_app::ports::{AccessProvider, ProviderError};
use stint_domain::budget::{policy_size, InlinePolicy};
use stint_domain::PrincipalArn;

#[derive(Clone, Debug)]
pub struct IamAccessProvider {
    client: Client,
}

impl IamAccessProvider {
    pub fn new(client: Client) -> Self {
        IamAccessProvider { client }
    }
}

#[async_trait]
impl AccessProvider for IamAccessProvider {
    async fn put_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
        document: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.client
            .put_role_policy()
            .role_name(principal.role_name())
            .policy_name(name)
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(|e| provider_err("PutRolePolicy", e))?;
        Ok(())
    }

    async fn delete_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
    ) -> Result<bool, ProviderError> {
        match self
            .client
            .delete_role_policy()
            .role_name(principal.role_name())
            .policy_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // Already gone is what we wanted.
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(false),
            Err(e) => Err(provider_err("DeleteRolePolicy", e)),
        }
    }

    async fn resolve(&self, principal: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        match self
            .client
            .get_role()
            .role_name(principal.role_name())
            .send()
            .await
        {
            Ok(out) => Ok(out.role().map(|r| r.arn().to_owned())),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(provider_err("GetRole", e)),
        }
    }

    async fn inline_policies(
        &self,
        principal: &PrincipalArn,
    ) -> Result<Vec<InlinePolicy>, ProviderError> {
        let role = principal.role_name();
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_role_policies()
            .role_name(role)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| provider_err("ListRolePolicies", e))?;
            names.extend(page.policy_names().iter().cloned());
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let doc = self
                .client
                .get_role_policy()
                .role_name(role)
                .policy_name(&name)
                .send()
                .await
                .map_err(|e| provider_err("GetRolePolicy", e))?;
            // IAM returns the document URL-encoded; its quota counts the decoded characters.
            let text = percent_decode_str(doc.policy_document()).decode_utf8_lossy();
            out.push(InlinePolicy {
                size: policy_size(&text),
                name,
            });
        }
        Ok(out)
    }
}

/// IAM in the hub's own account only, for a function whose role may not assume member roles
/// (interactions: Slack's "I'm done" deletes, in the hub): a principal in another account is
/// refused before any call, as STS would refuse the assume, and never touched through the
/// hub's IAM, where a role of the same name would be the wrong one. It links no STS client.
#[derive(Clone, Debug)]
pub struct HubAccessProvider {
    /// The hub's account; `None` in a single-account deployment (every principal is local).
    hub_account: Option<String>,
    iam: IamAccessProvider,
}

impl HubAccessProvider {
    pub fn new(client: Client, hub_account: Option<String>) -> Self {
        HubAccessProvider {
            hub_account,
            iam: IamAccessProvider::new(client),
        }
    }

    fn local(&self, principal: &PrincipalArn) -> Result<&IamAccessProvider, ProviderError> {
        match &self.hub_account {
            Some(hub) if principal.account() != hub => Err(ProviderError::Refused(format!(
                "{principal} is in account {}, not the hub's ({hub}): this function may not \
                 assume member roles (its role does not allow sts:AssumeRole)",
                principal.account()
            ))),
            _ => Ok(&self.iam),
        }
    }
}

#[async_trait]
impl AccessProvider for HubAccessProvider {
    fn reaches(&self, principal: &PrincipalArn) -> bool {
        self.local(principal).is_ok()
    }

    async fn put_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
        document: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        self.local(principal)?
            .put_policy(principal, name, document)
            .await
    }

    async fn delete_policy(
        &self,
        principal: &PrincipalArn,
        name: &str,
    ) -> Result<bool, ProviderError> {
        self.local(principal)?.delete_policy(principal, name).await
    }

    async fn resolve(&self, principal: &PrincipalArn) -> Result<Option<String>, ProviderError> {
        self.local(principal)?.resolve(principal).await
    }

    async fn inline_policies(
        &self,
        principal: &PrincipalArn,
    ) -> Result<Vec<InlinePolicy>, ProviderError> {
        self.local(principal)?.inline_policies(principal).await
    }
}
