//! The IAM access provider: grants are inline role policies, put and deleted by name.

use super::provider_err;
use async_trait::async_trait;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::Client;
use stint_app::ports::{AccessProvider, ProviderError};
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
}
