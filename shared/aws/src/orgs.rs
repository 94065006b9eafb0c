//! The organisation port over AWS Organizations: the management account, and the accounts
//! and OUs directly under a parent, every page of each.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::types::{AccountState, ChildType};
use aws_sdk_organizations::Client;
use stint_app::ports::{Organization, ProviderError};
use stint_domain::org::AccountId;

#[derive(Clone, Debug)]
pub struct OrganizationsDirectory {
    client: Client,
}

impl OrganizationsDirectory {
    pub fn new(client: Client) -> Self {
        OrganizationsDirectory { client }
    }
}

fn account(id: &str) -> Result<AccountId, ProviderError> {
    AccountId::parse(id).map_err(ProviderError::Unavailable)
}

#[async_trait]
impl Organization for OrganizationsDirectory {
    async fn management_account(&self) -> Result<Option<AccountId>, ProviderError> {
        match self.client.describe_organization().send().await {
            Ok(out) => out
                .organization()
                .and_then(|o| o.master_account_id())
                .map(account)
                .transpose(),
            Err(e) if e.code() == Some("AWSOrganizationsNotInUseException") => Ok(None),
            Err(e) => Err(provider_err("DescribeOrganization", e)),
        }
    }

    async fn accounts_under(&self, parent: &str) -> Result<Vec<AccountId>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_accounts_for_parent()
            .parent_id(parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| provider_err("ListAccountsForParent", e))?;
            for a in page.accounts() {
                // Suspended and closing accounts get no grants. Older answers carry only the
                // deprecated Status; newer ones State.
                #[allow(deprecated)]
                let active = match (a.state(), a.status()) {
                    (Some(state), _) => *state == AccountState::Active,
                    (None, Some(status)) => status.as_str() == "ACTIVE",
                    (None, None) => false,
                };
                if let (true, Some(id)) = (active, a.id()) {
                    out.push(account(id)?);
                }
            }
        }
        Ok(out)
    }

    async fn units_under(&self, parent: &str) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_children()
            .parent_id(parent)
            .child_type(ChildType::OrganizationalUnit)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| provider_err("ListChildren", e))?;
            out.extend(
                page.children()
                    .iter()
                    .filter_map(|c| c.id().map(str::to_owned)),
            );
        }
        Ok(out)
    }
}
