//! The organisation port: what Organizations says about accounts, OUs and the management
//! account, listed one level at a time (the walk and its cache are the app's).

use super::ProviderError;
use async_trait::async_trait;
use stint_domain::org::AccountId;

#[async_trait]
pub trait Organization: Send + Sync {
    /// The organisation's management account; `None` when the account is in no organisation.
    async fn management_account(&self) -> Result<Option<AccountId>, ProviderError>;

    /// The active accounts directly under `parent` (an OU or root id).
    async fn accounts_under(&self, parent: &str) -> Result<Vec<AccountId>, ProviderError>;

    /// The OUs directly under `parent`.
    async fn units_under(&self, parent: &str) -> Result<Vec<String>, ProviderError>;
}
