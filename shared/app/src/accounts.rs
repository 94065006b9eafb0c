//! The accounts a role grants in: its OUs and root walked through the organisation port,
//! cached for a while (on the injected clock), and the domain's rule applied to a request.

use crate::ports::{Clock, Organization, ProviderError};
use crate::service::{AppError, Stint};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use stint_domain::org::{check_account, resolve, AccountId, OrgTarget, Resolution};
use stint_domain::{PrincipalArn, Rejection, RoleName};

/// How long a walk of an OU is trusted: an account moved into an OU is covered at most this
/// long after the move, and one moved out stops being covered as late.
pub const DEFAULT_ORG_TTL: TimeDelta = TimeDelta::minutes(5);

/// Caps the walk so a cycle or a runaway listing can never loop (Organizations allows five
/// levels of OUs under the root).
const MAX_DEPTH: usize = 8;

type Cached<T> = Mutex<HashMap<String, (DateTime<Utc>, T)>>;

/// Resolves roles' `accounts` through Organizations, caching each OU's walk and the
/// management account for `ttl`.
pub struct AccountDirectory {
    org: Arc<dyn Organization>,
    clock: Arc<dyn Clock>,
    ttl: TimeDelta,
    walks: Cached<Vec<AccountId>>,
    management: Cached<Option<AccountId>>,
}

impl AccountDirectory {
    pub fn new(org: Arc<dyn Organization>, clock: Arc<dyn Clock>, ttl: TimeDelta) -> Self {
        AccountDirectory {
            org,
            clock,
            ttl,
            walks: Mutex::default(),
            management: Mutex::default(),
        }
    }

    fn fresh<T: Clone>(&self, cache: &Cached<T>, key: &str) -> Option<T> {
        let now = self.clock.now();
        let map = cache.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| now - *at < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn keep<T>(&self, cache: &Cached<T>, key: &str, value: T) {
        let now = self.clock.now();
        let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (at, _)| now - *at < self.ttl);
        map.insert(key.to_owned(), (now, value));
    }

    pub async fn management_account(&self) -> Result<Option<AccountId>, ProviderError> {
        if let Some(m) = self.fresh(&self.management, "") {
            return Ok(m);
        }
        let m = self.org.management_account().await?;
        self.keep(&self.management, "", m.clone());
        Ok(m)
    }

    /// Every active account under `parent`, nested OUs included.
    pub async fn accounts_under(&self, parent: &str) -> Result<Vec<AccountId>, ProviderError> {
        if let Some(found) = self.fresh(&self.walks, parent) {
            return Ok(found);
        }
        let mut found = Vec::new();
        let mut level = vec![parent.to_owned()];
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for p in &level {
                found.extend(self.org.accounts_under(p).await?);
                next.extend(self.org.units_under(p).await?);
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        found.sort();
        found.dedup();
        self.keep(&self.walks, parent, found.clone());
        Ok(found)
    }

    /// What the role's `accounts` cover now.
    pub async fn resolve(&self, role: &stint_domain::Role) -> Result<Resolution, ProviderError> {
        let mut listed = BTreeMap::new();
        for target in &role.accounts {
            if let Some(parent) = target.parent_id() {
                listed.insert(target.clone(), self.accounts_under(parent).await?);
            }
        }
        let management = self.management_account().await?;
        Ok(resolve(role, &listed, management.as_ref()))
    }
}

/// One role and the accounts it resolves to, for `stint accounts`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleAccounts {
    pub role: RoleName,
    pub targets: Vec<OrgTarget>,
    pub allow_management_account: bool,
    #[serde(flatten)]
    pub resolution: Resolution,
}

impl Stint {
    /// Whether the role may grant in the principal's account now; roles without `accounts`
    /// always may (their patterns name the account). A role with accounts and no organisation
    /// port is refused: nothing could say which accounts it covers.
    pub async fn check_account(
        &self,
        role: &RoleName,
        principal: &PrincipalArn,
    ) -> Result<(), AppError> {
        let Some(r) = self.catalog.role(role) else {
            return Err(Rejection::UnknownRole(role.clone()).into());
        };
        if r.accounts.is_empty() {
            return Ok(());
        }
        let Some(dir) = self.accounts.as_ref() else {
            return Err(Rejection::AccountNotAllowed {
                role: role.clone(),
                account: principal.account().to_owned(),
                why: "this deployment cannot read the organisation (no Organizations access)"
                    .into(),
            }
            .into());
        };
        let resolution = self
            .with_retry("resolve accounts", || dir.resolve(r))
            .await?;
        Ok(check_account(role, r, principal.account(), &resolution)?)
    }

    /// Every account `role` covers now, in order (the management account only where the role
    /// allows it): what "every account of the role" means at request time.
    pub async fn covered_accounts(&self, role: &RoleName) -> Result<Vec<AccountId>, AppError> {
        let Some(r) = self.catalog.role(role) else {
            return Err(Rejection::UnknownRole(role.clone()).into());
        };
        let Some(dir) = self.accounts.as_ref() else {
            return Err(Rejection::Invalid(format!(
                "role {role} names accounts, but this deployment cannot read the organisation (no Organizations access)"
            ))
            .into());
        };
        let resolution = self
            .with_retry("resolve accounts", || dir.resolve(r))
            .await?;
        if resolution.covered.is_empty() {
            return Err(Rejection::Invalid(format!("role {role} covers no account now")).into());
        }
        Ok(resolution.covered.into_iter().collect())
    }

    /// The accounts of every role that names some (or of `only`), as resolved now.
    pub async fn role_accounts(
        &self,
        only: Option<&RoleName>,
    ) -> Result<Vec<RoleAccounts>, AppError> {
        if let Some(name) = only {
            if self.catalog.role(name).is_none() {
                return Err(Rejection::UnknownRole(name.clone()).into());
            }
        }
        let mut out = Vec::new();
        for (name, role) in &self.catalog.roles {
            if only.is_some_and(|o| o != name) || role.accounts.is_empty() {
                continue;
            }
            let resolution = match self.accounts.as_ref() {
                Some(dir) => {
                    self.with_retry("resolve accounts", || dir.resolve(role))
                        .await?
                }
                None => {
                    return Err(Rejection::Invalid(format!(
                        "role {name} names accounts, but this deployment cannot read the organisation (no Organizations access)"
                    ))
                    .into())
                }
            };
            out.push(RoleAccounts {
                role: name.clone(),
                targets: role.accounts.clone(),
                allow_management_account: role.allow_management_account,
                resolution,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// root -> ou-a (111) -> ou-a-inner (222); root holds 999 (management).
    struct Org {
        calls: AtomicUsize,
        extra: Mutex<Vec<AccountId>>,
    }

    fn a(n: &str) -> AccountId {
        AccountId::parse(n).unwrap()
    }

    #[async_trait]
    impl Organization for Org {
        async fn management_account(&self) -> Result<Option<AccountId>, ProviderError> {
            Ok(Some(a("999999999999")))
        }
        async fn accounts_under(&self, parent: &str) -> Result<Vec<AccountId>, ProviderError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(match parent {
                "r-ab12" => vec![a("999999999999")],
                "ou-ab12-aaaaaaaa" => {
                    let mut v = vec![a("111111111111")];
                    v.extend(self.extra.lock().unwrap().iter().cloned());
                    v
                }
                "ou-ab12-bbbbbbbb" => vec![a("222222222222")],
                _ => vec![],
            })
        }
        async fn units_under(&self, parent: &str) -> Result<Vec<String>, ProviderError> {
            Ok(match parent {
                "r-ab12" => vec!["ou-ab12-aaaaaaaa".into()],
                "ou-ab12-aaaaaaaa" => vec!["ou-ab12-bbbbbbbb".into()],
                _ => vec![],
            })
        }
    }

    #[tokio::test]
    async fn walks_nested_units_and_caches_until_the_ttl() {
        let org = Arc::new(Org {
            calls: AtomicUsize::new(0),
            extra: Mutex::default(),
        });
        let clock = Arc::new(ManualClock::new(
            DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        ));
        let dir = AccountDirectory::new(org.clone(), clock.clone(), TimeDelta::minutes(5));
        let all = dir.accounts_under("r-ab12").await.unwrap();
        assert_eq!(
            all,
            [a("111111111111"), a("222222222222"), a("999999999999")]
        );
        let calls = org.calls.load(Ordering::SeqCst);
        // A new account in the OU is not seen while the walk is fresh...
        org.extra.lock().unwrap().push(a("333333333333"));
        assert_eq!(dir.accounts_under("r-ab12").await.unwrap().len(), 3);
        assert_eq!(
            org.calls.load(Ordering::SeqCst),
            calls,
            "served from the cache"
        );
        // ...and is once it has expired.
        clock.advance(TimeDelta::minutes(5));
        assert_eq!(dir.accounts_under("r-ab12").await.unwrap().len(), 4);
    }
}
