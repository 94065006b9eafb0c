//! The Identity Center port over SSO Admin (account assignments, permission sets) and the
//! Identity Store (users), every page of each list; and its wiring from the environment.
//! Without the `identity_store` feature (the revoke function) no user is looked up.

use super::provider_err;
use async_trait::async_trait;
use aws_config::SdkConfig;
#[cfg(feature = "identity_store")]
use aws_sdk_identitystore::types::{AlternateIdentifier, UniqueAttribute};
use aws_sdk_ssoadmin::error::ProvideErrorMetadata;
use aws_sdk_ssoadmin::types::{PrincipalType, StatusValues, TargetType};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use std::sync::Arc;
use stint_app::identity_center::IdentityCenterGrants;
use stint_app::ports::{
    AssignmentRow, AssignmentStatus, DirectoryUser, IdentityCenter, ProviderError,
};
use stint_domain::identity_center::{PermissionSetArn, UserMatch};

#[derive(Clone, Debug)]
pub struct SsoIdentityCenter {
    admin: aws_sdk_ssoadmin::Client,
    /// None: this process looks no users up (the revoke function, whose build has no
    /// Identity Store client at all and whose role may not read users).
    #[cfg(feature = "identity_store")]
    store: Option<aws_sdk_identitystore::Client>,
    instance_arn: String,
    #[cfg_attr(not(feature = "identity_store"), allow(dead_code))]
    identity_store_id: String,
    /// moto 5.2.5 names permission sets `arn:aws:sso:::instance/<ssoins>/<ps>` instead of
    /// AWS's `arn:aws:sso:::permissionSet/<ssoins>/<ps>`; only the emulator tests set this.
    emulator_arns: bool,
}

impl SsoIdentityCenter {
    pub fn new(sdk: &SdkConfig, instance_arn: String, identity_store_id: String) -> Self {
        SsoIdentityCenter {
            admin: aws_sdk_ssoadmin::Client::new(sdk),
            #[cfg(feature = "identity_store")]
            store: Some(aws_sdk_identitystore::Client::new(sdk)),
            instance_arn,
            identity_store_id,
            emulator_arns: false,
        }
    }

    /// The revoke function's port: assignments only, no user lookups. Also what a build
    /// without the `identity_store` feature always is.
    pub fn without_user_lookup(self) -> Self {
        SsoIdentityCenter {
            #[cfg(feature = "identity_store")]
            store: None,
            ..self
        }
    }

    /// For tests on moto: permission-set ARNs go out in the emulator's own (wrong) form.
    pub fn with_emulator_arns(mut self) -> Self {
        self.emulator_arns = true;
        self
    }

    /// The ARN as the service names the permission set.
    fn arn(&self, ps: &PermissionSetArn) -> String {
        if self.emulator_arns {
            ps.as_str().replacen(":::permissionSet/", ":::instance/", 1)
        } else {
            ps.as_str().to_owned()
        }
    }
}

#[cfg(feature = "identity_store")]
impl SsoIdentityCenter {
    /// The user whose `by` attribute is exactly `value`, in the Identity Store.
    async fn lookup(
        &self,
        store: &aws_sdk_identitystore::Client,
        by: UserMatch,
        value: &str,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        let attribute = UniqueAttribute::builder()
            .attribute_path(by.attribute_path())
            .attribute_value(aws_smithy_types::Document::String(value.to_owned()))
            .build()
            .map_err(|e| ProviderError::Refused(format!("GetUserId: {e}")))?;
        let found = store
            .get_user_id()
            .identity_store_id(&self.identity_store_id)
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(attribute))
            .send()
            .await;
        let user_id = match found {
            Ok(out) => out.user_id().to_owned(),
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(provider_err("GetUserId", e)),
        };
        let user = store
            .describe_user()
            .identity_store_id(&self.identity_store_id)
            .user_id(&user_id)
            .send()
            .await
            .map_err(|e| provider_err("DescribeUser", e))?;
        Ok(Some(DirectoryUser {
            user_id,
            user_name: user.user_name().unwrap_or_default().to_owned(),
            emails: user
                .emails()
                .iter()
                .filter_map(|e| e.value().map(str::to_owned))
                .collect(),
        }))
    }
}

/// `ConflictException` means another change to the same assignment is under way: worth
/// retrying (the retry sees the assignment, or makes it), unlike other refusals.
fn assignment_err<E: ProvideErrorMetadata + std::fmt::Debug>(
    op: &str,
    e: SdkError<E, HttpResponse>,
) -> ProviderError {
    if e.code() == Some("ConflictException") {
        return ProviderError::Unavailable(format!(
            "{op}: ConflictException {}",
            e.message().unwrap_or_default()
        ));
    }
    provider_err(op, e)
}

fn status(
    op: &str,
    s: Option<StatusValues>,
    request_id: Option<&str>,
    reason: Option<&str>,
) -> Result<AssignmentStatus, ProviderError> {
    match s {
        Some(StatusValues::Succeeded) => Ok(AssignmentStatus::Succeeded),
        Some(StatusValues::Failed) => Ok(AssignmentStatus::Failed {
            reason: reason.unwrap_or("no reason given").to_owned(),
        }),
        Some(StatusValues::InProgress) => match request_id {
            Some(id) => Ok(AssignmentStatus::InProgress {
                request_id: id.to_owned(),
            }),
            None => Err(ProviderError::Unavailable(format!(
                "{op}: IN_PROGRESS without a request id"
            ))),
        },
        other => Err(ProviderError::Unavailable(format!(
            "{op}: unknown status {other:?}"
        ))),
    }
}

fn principal_type(p: &AssignmentRow) -> PrincipalType {
    PrincipalType::from(p.principal_type.as_str())
}

#[async_trait]
impl IdentityCenter for SsoIdentityCenter {
    fn instance_arn(&self) -> &str {
        &self.instance_arn
    }

    fn looks_up_users(&self) -> bool {
        #[cfg(feature = "identity_store")]
        return self.store.is_some();
        #[cfg(not(feature = "identity_store"))]
        false
    }

    async fn find_user(
        &self,
        by: UserMatch,
        value: &str,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        #[cfg(feature = "identity_store")]
        if let Some(store) = &self.store {
            return self.lookup(store, by, value).await;
        }
        let _ = (by, value);
        Err(ProviderError::Refused(
            "this function looks up no Identity Center users (only the grant function does); nothing assigned".into(),
        ))
    }

    async fn session_duration(
        &self,
        permission_set: &PermissionSetArn,
    ) -> Result<Option<String>, ProviderError> {
        let out = self
            .admin
            .describe_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(self.arn(permission_set))
            .send()
            .await
            .map_err(|e| provider_err("DescribePermissionSet", e))?;
        Ok(out
            .permission_set()
            .and_then(|p| p.session_duration())
            .filter(|d| !d.is_empty())
            .map(str::to_owned))
    }

    async fn assignments(
        &self,
        account: &str,
        permission_set: &PermissionSetArn,
    ) -> Result<Vec<AssignmentRow>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self
            .admin
            .list_account_assignments()
            .instance_arn(&self.instance_arn)
            .account_id(account)
            .permission_set_arn(self.arn(permission_set))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| provider_err("ListAccountAssignments", e))?;
            for a in page.account_assignments() {
                if let (Some(t), Some(id)) = (a.principal_type(), a.principal_id()) {
                    out.push(AssignmentRow {
                        principal_type: t.as_str().to_owned(),
                        principal_id: id.to_owned(),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn provisioned_accounts(
        &self,
        permission_set: &PermissionSetArn,
    ) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self
            .admin
            .list_accounts_for_provisioned_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(self.arn(permission_set))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| provider_err("ListAccountsForProvisionedPermissionSet", e))?;
            out.extend(page.account_ids().iter().cloned());
        }
        Ok(out)
    }

    async fn create_assignment(
        &self,
        account: &str,
        permission_set: &PermissionSetArn,
        principal: &AssignmentRow,
    ) -> Result<AssignmentStatus, ProviderError> {
        const OP: &str = "CreateAccountAssignment";
        let out = self
            .admin
            .create_account_assignment()
            .instance_arn(&self.instance_arn)
            .target_id(account)
            .target_type(TargetType::AwsAccount)
            .permission_set_arn(self.arn(permission_set))
            .principal_type(principal_type(principal))
            .principal_id(&principal.principal_id)
            .send()
            .await
            .map_err(|e| assignment_err(OP, e))?;
        let s = out.account_assignment_creation_status();
        status(
            OP,
            s.and_then(|s| s.status()).cloned(),
            s.and_then(|s| s.request_id()),
            s.and_then(|s| s.failure_reason()),
        )
    }

    async fn creation_status(&self, request_id: &str) -> Result<AssignmentStatus, ProviderError> {
        const OP: &str = "DescribeAccountAssignmentCreationStatus";
        let out = self
            .admin
            .describe_account_assignment_creation_status()
            .instance_arn(&self.instance_arn)
            .account_assignment_creation_request_id(request_id)
            .send()
            .await
            .map_err(|e| provider_err(OP, e))?;
        let s = out.account_assignment_creation_status();
        status(
            OP,
            s.and_then(|s| s.status()).cloned(),
            Some(request_id),
            s.and_then(|s| s.failure_reason()),
        )
    }

    async fn delete_assignment(
        &self,
        account: &str,
        permission_set: &PermissionSetArn,
        principal: &AssignmentRow,
    ) -> Result<AssignmentStatus, ProviderError> {
        const OP: &str = "DeleteAccountAssignment";
        let out = self
            .admin
            .delete_account_assignment()
            .instance_arn(&self.instance_arn)
            .target_id(account)
            .target_type(TargetType::AwsAccount)
            .permission_set_arn(self.arn(permission_set))
            .principal_type(principal_type(principal))
            .principal_id(&principal.principal_id)
            .send()
            .await
            .map_err(|e| assignment_err(OP, e))?;
        let s = out.account_assignment_deletion_status();
        status(
            OP,
            s.and_then(|s| s.status()).cloned(),
            s.and_then(|s| s.request_id()),
            s.and_then(|s| s.failure_reason()),
        )
    }

    async fn deletion_status(&self, request_id: &str) -> Result<AssignmentStatus, ProviderError> {
        const OP: &str = "DescribeAccountAssignmentDeletionStatus";
        let out = self
            .admin
            .describe_account_assignment_deletion_status()
            .instance_arn(&self.instance_arn)
            .account_assignment_deletion_request_id(request_id)
            .send()
            .await
            .map_err(|e| provider_err(OP, e))?;
        let s = out.account_assignment_deletion_status();
        status(
            OP,
            s.and_then(|s| s.status()).cloned(),
            Some(request_id),
            s.and_then(|s| s.failure_reason()),
        )
    }
}

/// Identity Center from the environment: `STINT_IDENTITY_CENTER_INSTANCE_ARN` and
/// `STINT_IDENTITY_STORE_ID` (both, or neither: no Identity Center), and
/// `STINT_IDENTITY_CENTER_USER_MATCH` (`user_name`, the default, or `email`).
/// `look_up_users`: false for the revoke function, which only deletes assignments.
pub fn from_env(
    sdk: &SdkConfig,
    look_up_users: bool,
) -> Result<Option<Arc<IdentityCenterGrants>>, String> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (instance, store) = match (
        get("STINT_IDENTITY_CENTER_INSTANCE_ARN"),
        get("STINT_IDENTITY_STORE_ID"),
    ) {
        (None, None) => return Ok(None),
        (Some(i), Some(s)) => (i, s),
        _ => {
            return Err(
                "STINT_IDENTITY_CENTER_INSTANCE_ARN and STINT_IDENTITY_STORE_ID go together".into(),
            )
        }
    };
    let by = match get("STINT_IDENTITY_CENTER_USER_MATCH") {
        Some(raw) => {
            UserMatch::parse(&raw).map_err(|e| format!("STINT_IDENTITY_CENTER_USER_MATCH: {e}"))?
        }
        None => UserMatch::default(),
    };
    let port = SsoIdentityCenter::new(sdk, instance, store);
    let port = if look_up_users {
        port
    } else {
        port.without_user_lookup()
    };
    Ok(Some(Arc::new(IdentityCenterGrants::new(
        Arc::new(port),
        by,
    ))))
}
