//! Whole organisations (issue 15) on the emulator: roles scoped to OUs resolved through
//! Organizations, grants landing in member accounts through their member role, the management
//! account refused, and (on the IAM-enforcing emulator) what the member role from
//! `infra/member-account.yaml` lets the hub do there and what it does not.
//!
//! Each test makes its own organisation: its hub is a fresh account (a role session in it),
//! which creates the organisation and so is its management account.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use chrono::TimeDelta;
use serde_norway::Value;
use std::sync::Arc;
use stint_app::accounts::AccountDirectory;
use stint_app::grant::GrantOutcome;
use stint_app::ports::AccessProvider;
use stint_app::requests::NewRequest;
use stint_app::AppError;
use stint_aws::member::{MemberAccessProvider, MemberRole};
use stint_aws::orgs::OrganizationsDirectory;
use stint_domain::policy::grant_policy_name;
use stint_domain::{
    Catalog, Justification, PrincipalArn, Rejection, RequestId, RevokeReason, RoleName, Source,
    Status,
};
use stint_tests::aws::Fixture;
use stint_tests::{alice, bob, emulator_config, emulator_endpoint, proof, t0, unique_name};

/// A 12-digit account id no other test uses.
fn fresh_account() -> String {
    let n = ulid::Ulid::generate().random() % 100_000_000_000;
    format!("3{n:011}")
}

async fn config_with(c: &aws_sdk_sts::types::Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "stint-org-test",
        ))
        .load()
        .await
}

/// Credentials of an administrator in `account` on the plain emulator (a role session there).
async fn admin_in(account: &str) -> SdkConfig {
    let sts = aws_sdk_sts::Client::new(&emulator_config().await);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/admin"))
        .role_session_name("org-test-admin")
        .send()
        .await
        .expect("a session in the account");
    config_with(out.credentials().expect("credentials")).await
}

/// The member role's permission policy as `infra/member-account.yaml` writes it, for `account`.
fn member_policy(account: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/member-account.yaml");
    let t: Value =
        serde_norway::from_str(&std::fs::read_to_string(path).expect("template")).expect("YAML");
    let doc = &t["Resources"]["TargetRole"]["Properties"]["Policies"][0]["PolicyDocument"];
    json_of(doc, account).to_string()
}

/// A template value as JSON, with `!Sub`'s partition and account filled in.
fn json_of(v: &Value, account: &str) -> serde_json::Value {
    match v {
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(items) => items.iter().map(|i| json_of(i, account)).collect(),
        Value::Mapping(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().expect("a key").to_owned(), json_of(v, account)))
                .collect(),
        ),
        Value::Tagged(t) if t.tag == "Sub" => serde_json::Value::String(
            t.value
                .as_str()
                .expect("a !Sub string")
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::AccountId}", account),
        ),
        other => panic!("unexpected in the member policy: {other:?}"),
    }
}

/// The member role, as the StackSet would make it in `account` (trust from `hub`'s root: the
/// plain emulator does not judge it, and the enforcing one cannot across accounts).
async fn member_role(iam: &aws_sdk_iam::Client, account: &str, hub: &str, name: &str) {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{hub}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    iam.create_role()
        .role_name(name)
        .path("/stint-hub/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("create the member role");
    iam.put_role_policy()
        .role_name(name)
        .policy_name("stint-grant-policies")
        .policy_document(member_policy(account))
        .send()
        .await
        .expect("the member role's policy");
}

async fn target_role(iam: &aws_sdk_iam::Client, path: &str, name: &str) -> PrincipalArn {
    let out = iam
        .create_role()
        .role_name(name)
        .path(path)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .expect("create the target role");
    PrincipalArn::parse(out.role().expect("role").arn()).expect("ARN")
}

/// One member account: its id, an administrator's IAM there, and its `stint/oncall` role.
struct Member {
    id: String,
    iam: aws_sdk_iam::Client,
    oncall: PrincipalArn,
}

impl Member {
    async fn new(id: String, hub: &str, with_member_role: bool) -> Member {
        let iam = aws_sdk_iam::Client::new(&admin_in(&id).await);
        if with_member_role {
            member_role(&iam, &id, hub, "stint-target").await;
        }
        let oncall = target_role(&iam, "/stint/", "oncall").await;
        Member { id, iam, oncall }
    }

    /// The inline policies on its oncall role.
    async fn policies(&self) -> Vec<String> {
        self.iam
            .list_role_policies()
            .role_name("oncall")
            .send()
            .await
            .expect("list policies")
            .policy_names()
            .to_vec()
    }
}

/// An organisation: root -> dev (two accounts), prod (two accounts); the hub is its management
/// account; a Stint whose grants reach member accounts through their member role.
struct OrgWorld {
    f: Fixture,
    hub: String,
    orgs: aws_sdk_organizations::Client,
    root: String,
    dev: String,
    dev_accounts: Vec<Member>,
    prod_accounts: Vec<Member>,
    member: MemberAccessProvider,
}

const ROLES: &str = r#"
[roles.dev-oncall]
accounts = ["{dev}"]
principals = ["arn:aws:iam::{account}:role/stint/oncall"]
default_duration = "1h"
max_duration = "4h"
requesters = { groups = ["sre"] }
approvers = { groups = ["db-owners"] }
[[roles.dev-oncall.statements]]
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::dev-logs/*"]

[roles.everywhere]
accounts = ["{root}"]
principals = ["arn:aws:iam::{account}:role/stint/oncall"]
default_duration = "1h"
max_duration = "4h"
requesters = { groups = ["sre"] }
approvers = { groups = ["db-owners"] }
[[roles.everywhere.statements]]
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::dev-logs/*"]

[roles.everywhere-even-management]
accounts = ["{root}"]
allow_management_account = true
principals = ["arn:aws:iam::{account}:role/stint/oncall"]
default_duration = "1h"
max_duration = "4h"
requesters = { groups = ["sre"] }
approvers = { groups = ["db-owners"] }
[[roles.everywhere-even-management.statements]]
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::dev-logs/*"]
"#;

impl OrgWorld {
    async fn new() -> OrgWorld {
        let hub = fresh_account();
        let hub_sdk = admin_in(&hub).await;
        let orgs = aws_sdk_organizations::Client::new(&hub_sdk);
        orgs.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create the organisation");
        let root = orgs.list_roots().send().await.expect("roots").roots()[0]
            .id()
            .expect("root id")
            .to_owned();
        let dev = Self::unit(&orgs, &root, "dev").await;
        let prod = Self::unit(&orgs, &root, "prod").await;
        let mut dev_accounts = Vec::new();
        let mut prod_accounts = Vec::new();
        for (ou, list) in [(&dev, &mut dev_accounts), (&prod, &mut prod_accounts)] {
            for _ in 0..2 {
                let id = Self::account(&orgs, &root, ou).await;
                list.push(Member::new(id, &hub, true).await);
            }
        }
        // The hub's own oncall role: where a grant in the management account would land.
        target_role(&aws_sdk_iam::Client::new(&hub_sdk), "/stint/", "oncall").await;
        let catalog = Catalog::from_toml(&ROLES.replace("{dev}", &dev).replace("{root}", &root))
            .expect("the organisation catalog loads");
        let mut f = Fixture::new(t0()).await;
        let member = MemberAccessProvider::new(
            &hub_sdk,
            MemberRole {
                hub_account: hub.clone(),
                name: "stint-target".into(),
                external_id: None,
            },
            f.clock.clone(),
        );
        f.stint.catalog = Arc::new(catalog);
        f.stint.access = Arc::new(member.clone());
        f.stint.accounts = Some(Arc::new(AccountDirectory::new(
            Arc::new(OrganizationsDirectory::new(orgs.clone())),
            f.clock.clone(),
            TimeDelta::minutes(5),
        )));
        OrgWorld {
            f,
            hub,
            orgs,
            root,
            dev,
            dev_accounts,
            prod_accounts,
            member,
        }
    }

    async fn unit(orgs: &aws_sdk_organizations::Client, root: &str, name: &str) -> String {
        orgs.create_organizational_unit()
            .parent_id(root)
            .name(name)
            .send()
            .await
            .expect("create OU")
            .organizational_unit()
            .and_then(|u| u.id())
            .expect("OU id")
            .to_owned()
    }

    /// A new account in the organisation, moved under `ou`.
    async fn account(orgs: &aws_sdk_organizations::Client, root: &str, ou: &str) -> String {
        let name = unique_name("acct");
        let id = orgs
            .create_account()
            .email(format!("{name}@example.com"))
            .account_name(&name)
            .send()
            .await
            .expect("create account")
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("account id")
            .to_owned();
        orgs.move_account()
            .account_id(&id)
            .source_parent_id(root)
            .destination_parent_id(ou)
            .send()
            .await
            .expect("move account");
        id
    }

    fn ask(&self, role: &str, principal: &PrincipalArn) -> NewRequest {
        NewRequest {
            accounts: vec![],
            all_accounts: false,
            role: RoleName::parse(role).expect("role"),
            scope: None,
            principal: principal.clone(),
            duration: None,
            justification: Justification::parse("organisation test").expect("why"),
            ticket: None,
            starts_at: None,
            break_glass: false,
            source: Source::Person,
        }
    }

    /// Submitted by alice, approved by bob, granted as the grant function would.
    async fn grant(&self, role: &str, principal: &PrincipalArn) -> (RequestId, GrantOutcome) {
        let s = &self.f.stint;
        let id = s
            .submit(&alice(), self.ask(role, principal))
            .await
            .expect("submit")
            .id;
        s.approve(id, &bob(), None).await.expect("approve");
        (id, s.grant(id).await.expect("grant"))
    }

    /// A request the decider or the organisation refused: its rejection, and proof that the
    /// request stream stayed empty.
    async fn refused(&self, role: &str, principal: &PrincipalArn) -> Rejection {
        let id = RequestId::new();
        let err = self
            .f
            .stint
            .submit_with_id(id, &alice(), self.ask(role, principal))
            .await
            .expect_err("refused");
        assert!(
            self.f.events(id).await.is_empty(),
            "nothing appended for a refused request"
        );
        match err {
            AppError::Rejected(r) => r,
            other => panic!("a rejection, not {other:?}"),
        }
    }
}

fn hub_oncall(hub: &str) -> PrincipalArn {
    PrincipalArn::parse(&format!("arn:aws:iam::{hub}:role/stint/oncall")).expect("ARN")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_scoped_to_an_ou_grants_in_each_of_its_accounts_and_never_in_others() {
    let w = OrgWorld::new().await;
    for m in &w.dev_accounts {
        let (id, outcome) = w.grant("dev-oncall", &m.oncall).await;
        assert!(
            matches!(outcome, GrantOutcome::Granted { .. }),
            "{outcome:?}"
        );
        assert_eq!(m.policies().await, [grant_policy_name(id)], "in {}", m.id);
        w.f.stint
            .revoke(id, RevokeReason::Manual, Some(alice()))
            .await
            .expect("revoke");
        assert!(m.policies().await.is_empty(), "revoked in {}", m.id);
    }
    // One member session per request and account: the grant's reads and put, then the revoke
    // under the same request id, assumed the role once each.
    assert_eq!(w.member.assumptions(), 2);
    for m in &w.prod_accounts {
        let r = w.refused("dev-oncall", &m.oncall).await;
        assert!(
            matches!(&r, Rejection::AccountNotAllowed { account, .. } if *account == m.id),
            "{r}"
        );
        assert!(
            m.policies().await.is_empty(),
            "nothing ever lands in {}",
            m.id
        );
    }
    // Someone who may not request the role learns nothing of its accounts.
    let eve = stint_tests::who("eve@example.com", &["marketing"]);
    let err =
        w.f.stint
            .submit(&eve, w.ask("dev-oncall", &w.prod_accounts[0].oncall))
            .await
            .expect_err("refused");
    assert!(
        matches!(err, AppError::Rejected(Rejection::NotAllowedToRequest(_))),
        "{err:?}"
    );
    // `stint accounts`: what the role resolves to now.
    let listed =
        w.f.stint
            .role_accounts(Some(&RoleName::parse("dev-oncall").expect("role")))
            .await
            .expect("resolve");
    let covered: Vec<&str> = listed[0]
        .resolution
        .covered
        .iter()
        .map(|a| a.as_str())
        .collect();
    let mut want: Vec<&str> = w.dev_accounts.iter().map(|m| m.id.as_str()).collect();
    want.sort();
    assert_eq!(covered, want);
    assert_eq!(listed[0].targets[0].to_string(), w.dev);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_added_to_the_ou_later_is_covered_once_the_cache_expires() {
    let w = OrgWorld::new().await;
    // The first request walks the OU.
    let (_, first) = w.grant("dev-oncall", &w.dev_accounts[0].oncall).await;
    assert!(matches!(first, GrantOutcome::Granted { .. }), "{first:?}");
    let late = Member::new(
        OrgWorld::account(&w.orgs, &w.root, &w.dev).await,
        &w.hub,
        true,
    )
    .await;
    // Within the cache's five minutes the walk is reused: the new account is not seen yet.
    let r = w.refused("dev-oncall", &late.oncall).await;
    assert!(matches!(r, Rejection::AccountNotAllowed { .. }), "{r}");
    w.f.clock.advance(TimeDelta::minutes(5));
    let (id, outcome) = w.grant("dev-oncall", &late.oncall).await;
    assert!(
        matches!(outcome, GrantOutcome::Granted { .. }),
        "{outcome:?}"
    );
    assert_eq!(late.policies().await, [grant_policy_name(id)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_account_is_refused_unless_the_role_allows_it() {
    let w = OrgWorld::new().await;
    let hub = hub_oncall(&w.hub);
    let r = w.refused("everywhere", &hub).await;
    assert!(r.to_string().contains("management account"), "{r}");
    proof::attack(
        "catalog role over the root reaches the management account",
        "catalog author",
        false,
    );
    // Every member account is covered through the root, nested OUs included.
    let (_, ok) = w.grant("everywhere", &w.prod_accounts[1].oncall).await;
    assert!(matches!(ok, GrantOutcome::Granted { .. }), "{ok:?}");
    let listed =
        w.f.stint
            .role_accounts(Some(&RoleName::parse("everywhere").expect("role")))
            .await
            .expect("resolve");
    assert_eq!(listed[0].resolution.covered.len(), 4);
    assert_eq!(
        listed[0]
            .resolution
            .refused_management
            .as_ref()
            .map(|a| a.as_str()),
        Some(w.hub.as_str())
    );
    // A role that says so may grant there; the hub's own IAM, no member role.
    let (id, outcome) = w.grant("everywhere-even-management", &hub).await;
    assert!(
        matches!(outcome, GrantOutcome::Granted { .. }),
        "{outcome:?}"
    );
    let policies = aws_sdk_iam::Client::new(&admin_in(&w.hub).await)
        .list_role_policies()
        .role_name("oncall")
        .send()
        .await
        .expect("list")
        .policy_names()
        .to_vec();
    assert_eq!(policies, [grant_policy_name(id)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_moved_out_before_the_grant_gets_nothing_and_the_failure_is_recorded() {
    let w = OrgWorld::new().await;
    let m = &w.dev_accounts[0];
    let s = &w.f.stint;
    let id = s
        .submit(&alice(), w.ask("dev-oncall", &m.oncall))
        .await
        .expect("submit")
        .id;
    s.approve(id, &bob(), None).await.expect("approve");
    let prod = w
        .orgs
        .list_organizational_units_for_parent()
        .parent_id(&w.root)
        .send()
        .await;
    let prod = prod
        .expect("OUs")
        .organizational_units()
        .iter()
        .find(|u| u.name() == Some("prod"))
        .and_then(|u| u.id())
        .expect("prod")
        .to_owned();
    w.orgs
        .move_account()
        .account_id(&m.id)
        .source_parent_id(&w.dev)
        .destination_parent_id(&prod)
        .send()
        .await
        .expect("move to prod");
    w.f.clock.advance(TimeDelta::minutes(5));
    let outcome = s.grant(id).await.expect("grant");
    assert!(
        matches!(&outcome, GrantOutcome::Failed(why) if why.contains("not among the role's accounts")),
        "{outcome:?}"
    );
    assert_eq!(w.f.status(id).await, Status::GrantFailed);
    assert!(m.policies().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_grant_delivery_in_a_member_account_has_one_effect() {
    let w = OrgWorld::new().await;
    let m = &w.dev_accounts[1];
    let (id, first) = w.grant("dev-oncall", &m.oncall).await;
    assert!(matches!(first, GrantOutcome::Granted { .. }), "{first:?}");
    let events = w.f.events(id).await.len();
    let again = w.f.stint.grant(id).await.expect("second delivery");
    assert!(
        matches!(again, GrantOutcome::AlreadyDone(Status::Active)),
        "{again:?}"
    );
    let duplicate_effects = (w.f.events(id).await.len() - events) + (m.policies().await.len() - 1);
    assert_eq!(duplicate_effects, 0);
    proof::duplicates("member-account grant delivered twice", 2, duplicate_effects);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_credentials_are_kept_until_shortly_before_they_expire() {
    let w = OrgWorld::new().await;
    let m = &w.dev_accounts[0];
    // STS gives the emulator's wall-clock expiry: start the injected clock there.
    w.f.clock.set(chrono::Utc::now());
    let session = w.member.with_session("stint-cache-test").expect("named");
    session.resolve(&m.oncall).await.expect("resolve");
    session.inline_policies(&m.oncall).await.expect("list");
    assert_eq!(w.member.assumptions(), 1, "one AssumeRole for both calls");
    // moto's sessions last an hour; five minutes before the end they are renewed.
    w.f.clock.advance(TimeDelta::minutes(54));
    session.resolve(&m.oncall).await.expect("resolve");
    assert_eq!(w.member.assumptions(), 1, "still fresh at 54 minutes");
    w.f.clock.advance(TimeDelta::minutes(2));
    session.resolve(&m.oncall).await.expect("resolve");
    assert_eq!(
        w.member.assumptions(),
        2,
        "renewed inside the last five minutes"
    );
    // Another request is another session: its own name in the member's CloudTrail.
    let other = w.member.with_session("stint-other").expect("named");
    other.resolve(&m.oncall).await.expect("resolve");
    assert_eq!(w.member.assumptions(), 3);
}

mod enforced {
    //! On the IAM-enforcing emulator: the hub (the broker's user) reaches three fixed member
    //! accounts, whose administrators the emulator's setup made.

    use super::*;
    use stint_tests::enforced as enf;

    /// IAM's AccessDenied, as the enforcing emulator answers it (a 403 whose body the IAM
    /// client cannot read, so the code may be missing).
    fn denied(message: &str) -> bool {
        message.contains("AccessDenied") || message.ends_with("HTTP 403")
    }

    struct MemberAdmin {
        id: String,
        iam: aws_sdk_iam::Client,
    }

    async fn members() -> Vec<MemberAdmin> {
        let raw = std::env::var("STINT_TEST_ENFORCING_MEMBERS")
            .expect("STINT_TEST_ENFORCING_MEMBERS is not set: run through infra/scripts/test.sh");
        let mut out = Vec::new();
        for entry in raw.split(',').filter(|e| !e.is_empty()) {
            let mut parts = entry.splitn(3, ':');
            let (id, key, secret) = (
                parts.next().expect("account"),
                parts.next().expect("key"),
                parts.next().expect("secret"),
            );
            let sdk = enf::config(key, secret, None).await;
            out.push(MemberAdmin {
                id: id.to_owned(),
                iam: aws_sdk_iam::Client::new(&sdk),
            });
        }
        assert_eq!(out.len(), 3, "three member accounts");
        out
    }

    /// The member role in every account but `without`, the target role `oncall` in each, and
    /// the world's Stint granting through member roles, with the organisation behind it.
    async fn through_member_roles(
        world: &mut enf::World,
        accounts: &[MemberAdmin],
        without: usize,
        member_name: &str,
        oncall: &str,
    ) -> (MemberAccessProvider, Vec<PrincipalArn>) {
        let hub = enf::ACCOUNT.to_owned();
        let mut principals = Vec::new();
        for (i, a) in accounts.iter().enumerate() {
            if i != without {
                member_role(&a.iam, &a.id, &hub, member_name).await;
            }
            principals.push(target_role(&a.iam, "/stint/", oncall).await);
        }
        let member = MemberAccessProvider::new(
            &enf::broker().await,
            MemberRole {
                hub_account: hub,
                name: member_name.to_owned(),
                external_id: None,
            },
            world.clock.clone(),
        );
        world.stint.access = Arc::new(member.clone());
        world.stint.accounts = Some(Arc::new(AccountDirectory::new(
            Arc::new(OrganizationsDirectory::new(
                aws_sdk_organizations::Client::new(&enf::broker().await),
            )),
            world.clock.clone(),
            TimeDelta::minutes(5),
        )));
        (member, principals)
    }

    /// The catalog: one role over the three member accounts, by id.
    fn catalog(accounts: &[MemberAdmin], role_name: &str) -> Catalog {
        let ids: Vec<String> = accounts.iter().map(|a| format!("{:?}", a.id)).collect();
        Catalog::from_toml(&format!(
            r#"
[roles.member-read]
accounts = [{}]
principals = ["arn:aws:iam::{{account}}:role/stint/{role_name}"]
default_duration = "1h"
max_duration = "4h"
requesters = {{ groups = ["sre"] }}
approvers = {{ groups = ["db-owners"] }}
[[roles.member-read.statements]]
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::dev-logs/*"]
"#,
            ids.join(", ")
        ))
        .expect("catalog")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_member_role_manages_grants_on_role_stint_and_nothing_else() {
        let accounts = members().await;
        let member_name = unique_name("target");
        let oncall = unique_name("oncall");
        let mut world = enf::World::new(catalog(&accounts, &oncall), t0()).await;
        // Two accounts with the member role from the template, one without.
        let (member, principals) =
            through_member_roles(&mut world, &accounts, 2, &member_name, &oncall).await;
        let s = &world.stint;
        let mut outcomes = Vec::new();
        for p in &principals {
            let new = NewRequest {
                accounts: vec![],
                all_accounts: false,
                role: RoleName::parse("member-read").expect("role"),
                scope: None,
                principal: p.clone(),
                duration: None,
                justification: Justification::parse("enforced organisation test").expect("why"),
                ticket: None,
                starts_at: None,
                break_glass: false,
                source: Source::Person,
            };
            let id = s.submit(&alice(), new).await.expect("submit").id;
            s.approve(id, &bob(), None).await.expect("approve");
            outcomes.push((id, s.grant(id).await.expect("grant")));
        }
        for (i, (id, outcome)) in outcomes.iter().enumerate() {
            let a = &accounts[i];
            let names = a
                .iam
                .list_role_policies()
                .role_name(&oncall)
                .send()
                .await
                .expect("list")
                .policy_names()
                .to_vec();
            if i < 2 {
                assert!(
                    matches!(outcome, GrantOutcome::Granted { .. }),
                    "{outcome:?}"
                );
                assert_eq!(names, [grant_policy_name(*id)], "granted in {}", a.id);
            } else {
                // No member role there: that account's grant fails and says so; the others hold.
                assert!(matches!(outcome, GrantOutcome::Failed(_)), "{outcome:?}");
                let st = s.get(*id).await.expect("request").state;
                assert_eq!(st.status, Status::GrantFailed);
                assert!(names.is_empty());
            }
        }
        // A hub whose grant code was taken over tries, through the member role, to attach a
        // policy to a role outside role/stint/ in the member account: IAM refuses it.
        let admin = target_role(&accounts[0].iam, "/", &unique_name("admin")).await;
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let attempt = member
            .with_session("stint-attack")
            .expect("named")
            .put_policy(&admin, "stint-escalate", &doc)
            .await;
        let refused =
            matches!(&attempt, Err(stint_app::ports::ProviderError::Refused(m)) if denied(m));
        assert!(refused, "{attempt:?}");
        proof::attack(
            "member role used on a role outside role/stint/",
            "hub grant function",
            !refused,
        );
        // And the member role cannot touch itself either: its policy is on role/stint/* only.
        let own = PrincipalArn::parse(&format!(
            "arn:aws:iam::{}:role/stint-hub/{member_name}",
            accounts[0].id
        ))
        .expect("ARN");
        let attempt = member
            .with_session("stint-attack")
            .expect("named")
            .put_policy(&own, "stint-escalate", &doc)
            .await;
        let refused =
            matches!(&attempt, Err(stint_app::ports::ProviderError::Refused(m)) if denied(m));
        assert!(refused, "{attempt:?}");
        proof::attack(
            "member role widens its own rights",
            "hub grant function",
            !refused,
        );
    }

    /// One request for the three member accounts, one of them without the member role: that
    /// account's grant fails and is recorded for it; the other two are granted, and one revoke
    /// ends both.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_three_account_request_with_one_member_role_missing_fails_that_account_alone() {
        let accounts = members().await;
        let member_name = unique_name("target");
        let oncall = unique_name("oncall");
        let mut world = enf::World::new(catalog(&accounts, &oncall), t0()).await;
        let (_, principals) =
            through_member_roles(&mut world, &accounts, 1, &member_name, &oncall).await;
        let s = &world.stint;
        let new = NewRequest {
            accounts: accounts
                .iter()
                .map(|a| stint_domain::org::AccountId::parse(&a.id).expect("id"))
                .collect(),
            all_accounts: false,
            role: RoleName::parse("member-read").expect("role"),
            scope: None,
            principal: principals[0].clone(),
            duration: None,
            justification: Justification::parse("enforced three-account test").expect("why"),
            ticket: None,
            starts_at: None,
            break_glass: false,
            source: Source::Person,
        };
        let id = s.submit(&alice(), new).await.expect("submit").id;
        s.approve(id, &bob(), None).await.expect("one approval");
        let outcome = s.grant(id).await.expect("grant");
        let GrantOutcome::PartlyGranted { failed, .. } = &outcome else {
            panic!("a partial grant, not {outcome:?}");
        };
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0.as_str(), accounts[1].id);
        let names = |i: usize| {
            let iam = accounts[i].iam.clone();
            let oncall = oncall.clone();
            async move {
                iam.list_role_policies()
                    .role_name(&oncall)
                    .send()
                    .await
                    .expect("list")
                    .policy_names()
                    .to_vec()
            }
        };
        assert_eq!(names(0).await, [grant_policy_name(id)]);
        assert!(names(1).await.is_empty(), "nothing without a member role");
        assert_eq!(names(2).await, [grant_policy_name(id)]);
        let st = s.get(id).await.expect("request").state;
        assert_eq!(st.status, Status::Active);
        let missing = stint_domain::org::AccountId::parse(&accounts[1].id).expect("id");
        assert_eq!(
            st.accounts[&missing].status,
            stint_domain::AccountStatus::GrantFailed
        );
        s.revoke(id, RevokeReason::Manual, Some(alice()))
            .await
            .expect("revoke");
        assert!(names(0).await.is_empty() && names(2).await.is_empty());
        assert_eq!(
            s.get(id).await.expect("request").state.status,
            Status::Revoked
        );
    }
}

/// The member account's trust, judged on `infra/member-account.yaml` as written: the emulator
/// does not evaluate a trust policy across accounts (nor `aws:PrincipalOrgID` at all), so this
/// is the proof that only the hub's grant and revoke roles, narrowed by the organisation or an
/// external id, may assume it, and that the role stays outside `role/stint/` under a boundary.
#[test]
fn the_member_role_trusts_only_the_hubs_grant_and_revoke_roles() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/member-account.yaml");
    let t: Value =
        serde_norway::from_str(&std::fs::read_to_string(path).expect("template")).expect("YAML");
    let role = &t["Resources"]["TargetRole"]["Properties"];
    let text = |v: &Value| match v {
        Value::Tagged(t) => format!("{}:{}", t.tag, text_of(&t.value)),
        other => text_of(other),
    };
    fn text_of(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Sequence(s) => s.iter().map(text_of).collect::<Vec<_>>().join(","),
            Value::Tagged(t) => format!("{}:{}", t.tag, text_of(&t.value)),
            other => format!("{other:?}"),
        }
    }
    let statements = role["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .expect("trust statements");
    assert_eq!(statements.len(), 1, "one trust statement");
    let st = &statements[0];
    assert_eq!(st["Effect"].as_str(), Some("Allow"));
    assert_eq!(st["Action"].as_str(), Some("sts:AssumeRole"));
    let principals: Vec<String> = st["Principal"]["AWS"]
        .as_sequence()
        .expect("AWS principals")
        .iter()
        .map(text)
        .collect();
    let open = principals
        .iter()
        .any(|p| p.contains('*') || p.ends_with(":root"));
    assert_eq!(
        principals,
        ["!Ref:HubGrantRoleArn", "!Ref:HubRevokeRoleArn"],
        "only the hub's grant and revoke roles"
    );
    let cond = &st["Condition"]["StringEquals"];
    assert!(text(&cond["aws:PrincipalOrgID"]).contains("OrganizationId"));
    assert!(text(&cond["sts:ExternalId"]).contains("ExternalId"));
    // One of the two must be set: the template's rule refuses a stack with neither.
    let rule = text(&t["Rules"]["OrganizationOrExternalId"]["Assertions"][0]["Assert"]);
    assert!(
        rule.contains("OrganizationId") && rule.contains("ExternalId"),
        "{rule}"
    );
    proof::attack(
        "member-account role assumable by principals other than the hub's grant and revoke",
        "another principal in the hub or another account",
        open,
    );
    // Outside role/stint/ (no grant can land on it), under a boundary, rights on role/stint/*.
    assert_eq!(role["Path"].as_str(), Some("/stint-hub/"));
    assert_eq!(text(&role["PermissionsBoundary"]), "!Ref:Boundary");
    for doc in [
        &role["Policies"][0]["PolicyDocument"],
        &t["Resources"]["Boundary"]["Properties"]["PolicyDocument"],
    ] {
        for st in doc["Statement"].as_sequence().expect("statements") {
            assert_eq!(st["Effect"].as_str(), Some("Allow"));
            let actions: Vec<String> = st["Action"]
                .as_sequence()
                .expect("actions")
                .iter()
                .map(text)
                .collect();
            assert_eq!(
                actions,
                [
                    "iam:GetRole",
                    "iam:ListRolePolicies",
                    "iam:GetRolePolicy",
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy"
                ]
            );
            assert_eq!(
                text(&st["Resource"]),
                "!Sub:arn:${AWS::Partition}:iam::${AWS::AccountId}:role/stint/*"
            );
        }
    }
}

/// The hub's side: only grant and revoke may assume member roles, and only the member role.
#[test]
fn only_grant_and_revoke_may_assume_member_roles() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let t: Value =
        serde_norway::from_str(&std::fs::read_to_string(path).expect("template")).expect("YAML");
    let mut assumers = Vec::new();
    for (name, res) in t["Resources"].as_mapping().expect("resources") {
        for policy in res["Properties"]["Policies"]
            .as_sequence()
            .cloned()
            .unwrap_or_default()
        {
            for st in policy["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
            {
                let actions = format!("{:?}", st["Action"]);
                if actions.contains("sts:") {
                    assert_eq!(st["Action"].as_str(), Some("sts:AssumeRole"));
                    let Value::Tagged(sub) = &st["Resource"] else {
                        panic!("a !Sub resource");
                    };
                    assert_eq!(
                        sub.value.as_str(),
                        Some("arn:${AWS::Partition}:iam::*:role/stint-hub/${MemberRoleName}")
                    );
                    assumers.push(name.as_str().expect("name").to_owned());
                }
            }
        }
    }
    assert_eq!(assumers, ["GrantFunction", "RevokeFunction"]);
}

/// The member stacks' ExternalId is a shared secret (a `NoEcho` parameter): only the functions
/// that may assume member roles have it in their environment, not every function through the
/// template's globals.
#[test]
fn only_grant_and_revoke_see_the_member_external_id() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let t: Value =
        serde_norway::from_str(&std::fs::read_to_string(path).expect("template")).expect("YAML");
    const VAR: &str = "STINT_MEMBER_EXTERNAL_ID";
    assert!(
        t["Globals"]["Function"]["Environment"]["Variables"][VAR].is_null(),
        "{VAR} must not be given to every function"
    );
    let mut holders = Vec::new();
    for (name, res) in t["Resources"].as_mapping().expect("resources") {
        if !res["Properties"]["Environment"]["Variables"][VAR].is_null() {
            holders.push(name.as_str().expect("name").to_owned());
        }
    }
    assert_eq!(holders, ["GrantFunction", "RevokeFunction"]);
    assert_eq!(
        t["Parameters"]["MemberExternalId"]["NoEcho"].as_bool(),
        Some(true)
    );
}

/// `GET /accounts` as API Gateway hands it over: the caller's roles with what they resolve to;
/// a role the caller may neither request nor approve is 403, an unknown one 400, a bad query
/// 400; nothing is ever appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_a_roles_accounts_to_those_who_may_see_the_role() {
    let w = OrgWorld::new().await;
    let app = stint_http::router(w.f.api());
    let call = |query: &str, user: &str, groups: &str| {
        let mut ev = stint_tests::sample("apigw-list-reviews.json");
        ev["routeKey"] = serde_json::json!("GET /accounts");
        ev["requestContext"]["routeKey"] = serde_json::json!("GET /accounts");
        ev["rawPath"] = serde_json::json!("/accounts");
        ev["requestContext"]["http"]["path"] = serde_json::json!("/accounts");
        ev["rawQueryString"] = serde_json::json!(query);
        let params: serde_json::Map<String, serde_json::Value> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), serde_json::json!(v)))
            .collect();
        ev["queryStringParameters"] = serde_json::Value::Object(params);
        let claims = &mut ev["requestContext"]["authorizer"]["jwt"]["claims"];
        claims["email"] = serde_json::json!(user);
        claims["sub"] = serde_json::json!(format!("{user}-sub"));
        claims["groups"] = serde_json::json!(groups);
        let app = app.clone();
        async move { crate::support::call_router(&app, &ev).await }
    };
    let before =
        w.f.log(t0() - TimeDelta::days(1), t0() + TimeDelta::days(1))
            .await
            .len();
    let (status, body) = call("role=dev-oncall", "alice@example.com", "[sre]").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["roles"][0]["role"], "dev-oncall");
    assert_eq!(
        body["roles"][0]["covered"].as_array().map(Vec::len),
        Some(2)
    );
    let (status, body) = call("", "bob@example.com", "[db-owners]").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["roles"].as_array().map(Vec::len), Some(3));
    assert_eq!(body["roles"][1]["refused_management"], w.hub.as_str());
    let (status, body) = call("role=dev-oncall", "eve@example.com", "[marketing]").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("not_allowed_to_request"))
    );
    let (status, body) = call("", "eve@example.com", "[marketing]").await;
    assert_eq!(
        (status, body["roles"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, body) = call("role=no-such-role", "alice@example.com", "[sre]").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unknown_role")),
        "{body}"
    );
    let (status, body) = call("account=123", "alice@example.com", "[sre]").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].is_string(), "{body}");
    let after =
        w.f.log(t0() - TimeDelta::days(1), t0() + TimeDelta::days(1))
            .await
            .len();
    assert_eq!(before, after, "reads append nothing");
}

/// Over HTTP (API Gateway events through the production router): a request for an account
/// outside the role, or for the management account, is 400 `account_not_allowed`, names the
/// account, and appends nothing; one inside the role is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_an_account_outside_the_role_is_400_over_http_and_appends_nothing() {
    let w = OrgWorld::new().await;
    let app = stint_http::router(w.f.api());
    let ask = |role: &str, account: &str| {
        let mut ev = stint_tests::sample("apigw-create-request.json");
        ev["body"] = serde_json::json!(serde_json::json!({
            "role": role,
            "principal": format!("arn:aws:iam::{account}:role/stint/oncall"),
            "duration": "1h",
            "justification": "organisation test over HTTP",
        })
        .to_string());
        let app = app.clone();
        async move { crate::support::call_router(&app, &ev).await }
    };
    let window = || {
        w.f.log(t0() - TimeDelta::days(1), t0() + TimeDelta::days(1))
    };
    let before = window().await.len();
    for (role, account) in [
        ("dev-oncall", w.prod_accounts[0].id.as_str()),
        ("dev-oncall", w.hub.as_str()),
        ("everywhere", w.hub.as_str()),
    ] {
        let (status, body) = ask(role, account).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("account_not_allowed")),
            "{role} in {account}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(account)),
            "the refusal names the account: {body}"
        );
    }
    assert_eq!(before, window().await.len(), "refusals append nothing");
    let (status, body) = ask("dev-oncall", w.dev_accounts[0].id.as_str()).await;
    assert_eq!(status, 201, "an account of the role is accepted: {body}");
    assert!(
        window().await.len() > before,
        "the accepted request is recorded"
    );
}

/// One request, several accounts (issue 15, part 3): one approval, a grant per account through
/// each member role, a failure recorded per account, one revoke that ends them all.
mod several_accounts {
    use super::*;
    use stint_app::ports::Clock;
    use stint_app::view::RequestView;
    use stint_domain::org::AccountId;
    use stint_domain::report::{findings_for, Finding, ReportRow};
    use stint_domain::AccountStatus;

    fn account(m: &Member) -> AccountId {
        AccountId::parse(&m.id).expect("account id")
    }

    impl OrgWorld {
        fn ask_in(&self, role: &str, members: &[&Member]) -> NewRequest {
            let mut new = self.ask(role, &members[0].oncall);
            new.accounts = members.iter().map(|m| account(m)).collect();
            new
        }

        /// Submitted by alice for `members`, approved once by bob.
        async fn approved_in(&self, role: &str, members: &[&Member]) -> RequestId {
            let s = &self.f.stint;
            let id = s
                .submit(&alice(), self.ask_in(role, members))
                .await
                .expect("submit")
                .id;
            let after = s.approve(id, &bob(), None).await.expect("approve");
            assert_eq!(
                after.state.status,
                Status::Approved,
                "one approval is enough"
            );
            id
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_three_account_request_gets_one_approval_three_policies_and_one_revoke() {
        let w = OrgWorld::new().await;
        let three = [&w.dev_accounts[0], &w.dev_accounts[1], &w.prod_accounts[0]];
        let untouched = &w.prod_accounts[1];
        let id = w.approved_in("everywhere", &three).await;
        let s = &w.f.stint;
        let outcome = s.grant(id).await.expect("grant");
        assert!(
            matches!(outcome, GrantOutcome::Granted { .. }),
            "{outcome:?}"
        );
        // Each account's own IAM holds the policy; the fourth account holds none.
        for m in three {
            assert_eq!(m.policies().await, [grant_policy_name(id)], "in {}", m.id);
        }
        assert!(untouched.policies().await.is_empty());
        assert_eq!(w.member.assumptions(), 3, "one member session per account");
        let st = s.get(id).await.expect("request").state;
        assert_eq!(st.status, Status::Active);
        assert!(st
            .accounts
            .values()
            .all(|g| g.status == AccountStatus::Active));
        let granted = |events: &[stint_domain::StoredEvent], ty: &str| {
            events
                .iter()
                .filter(|e| e.record.event_type == ty)
                .filter_map(|e| e.record.payload["account"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        let events = w.f.events(id).await;
        let mut in_events = granted(&events, "AccessGranted");
        in_events.sort();
        let mut expected: Vec<String> = three.iter().map(|m| m.id.clone()).collect();
        expected.sort();
        assert_eq!(in_events, expected, "one AccessGranted per account");

        // The grant delivered again: nothing appended, still one policy per account.
        let again = s.grant(id).await.expect("second delivery");
        assert!(
            matches!(again, GrantOutcome::AlreadyDone(Status::Active)),
            "{again:?}"
        );
        let mut extra = w.f.events(id).await.len() - events.len();
        for m in three {
            extra += m.policies().await.len() - 1;
        }
        assert_eq!(extra, 0);
        proof::duplicates("three-account grant delivered twice", 2, extra);

        // One revoke ends all three.
        let out = s
            .revoke(id, RevokeReason::Manual, Some(alice()))
            .await
            .expect("revoke");
        assert!(
            matches!(out, stint_app::revoke::RevokeOutcome::Revoked { .. }),
            "{out:?}"
        );
        for m in three {
            assert!(m.policies().await.is_empty(), "revoked in {}", m.id);
        }
        let st = s.get(id).await.expect("request").state;
        assert_eq!(st.status, Status::Revoked);
        let events = w.f.events(id).await;
        assert_eq!(granted(&events, "AccessRevoked").len(), 3);
        // The revoke delivered again (and the expiry timer, later): no event, no call.
        let before = events.len();
        let again = s
            .revoke(id, RevokeReason::Manual, Some(alice()))
            .await
            .expect("again");
        w.f.clock.advance(TimeDelta::hours(2));
        s.revoke(id, RevokeReason::Expired, None)
            .await
            .expect("timer");
        let extra = w.f.events(id).await.len() - before;
        assert!(
            matches!(
                again,
                stint_app::revoke::RevokeOutcome::NoOp(Status::Revoked)
            ),
            "{again:?}"
        );
        assert_eq!(extra, 0);
        proof::duplicates("three-account revoke delivered three times", 3, extra);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_role_missing_in_one_account_fails_that_account_alone_and_revoke_ends_the_others() {
        let w = OrgWorld::new().await;
        // A third account in the dev OU whose stint/oncall role was never made.
        let id3 = OrgWorld::account(&w.orgs, &w.root, &w.dev).await;
        let iam3 = aws_sdk_iam::Client::new(&admin_in(&id3).await);
        member_role(&iam3, &id3, &w.hub, "stint-target").await;
        let missing = Member {
            id: id3.clone(),
            iam: iam3,
            oncall: PrincipalArn::parse(&format!("arn:aws:iam::{id3}:role/stint/oncall"))
                .expect("ARN"),
        };
        let three = [&w.dev_accounts[0], &missing, &w.dev_accounts[1]];
        let id = w.approved_in("dev-oncall", &three).await;
        let s = &w.f.stint;
        let outcome = s.grant(id).await.expect("grant");
        let GrantOutcome::PartlyGranted { failed, .. } = &outcome else {
            panic!("a partial grant, not {outcome:?}");
        };
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0.as_str(), id3);
        assert!(failed[0].1.contains("does not exist"), "{failed:?}");
        for m in [&w.dev_accounts[0], &w.dev_accounts[1]] {
            assert_eq!(m.policies().await, [grant_policy_name(id)], "in {}", m.id);
        }
        // Recorded for that account: in the state, the API's view, and the report.
        let loaded = s.get(id).await.expect("request");
        let st = &loaded.state;
        assert_eq!(st.status, Status::Active);
        let acct3 = AccountId::parse(&id3).expect("id");
        assert_eq!(st.accounts[&acct3].status, AccountStatus::GrantFailed);
        let failed_events: Vec<_> = loaded
            .events
            .iter()
            .filter(|e| e.record.event_type == "GrantFailed")
            .collect();
        assert_eq!(failed_events.len(), 1);
        assert_eq!(failed_events[0].record.payload["account"], id3.as_str());
        let app = stint_http::router(w.f.api());
        let mut ev = stint_tests::sample("apigw-get-request.json");
        let path = format!("/requests/{id}");
        ev["rawPath"] = serde_json::json!(path);
        ev["requestContext"]["http"]["path"] = serde_json::json!(path);
        ev["pathParameters"]["id"] = serde_json::json!(id.to_string());
        let (status, view) = crate::support::call_router(&app, &ev).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["accounts"][&id3]["status"], "grant_failed", "{view}");
        assert!(view["accounts"][&id3]["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist")));
        assert_eq!(view["accounts"][&w.dev_accounts[0].id]["status"], "active");
        let row = ReportRow::from_state(id, st, w.f.clock.now()).expect("row");
        let line = row.accounts.expect("an accounts cell");
        assert!(line.contains(&format!("{id3} grant_failed")), "{line}");
        assert!(findings_for(id, st, w.f.clock.now())
            .iter()
            .any(|f| matches!(
                f,
                Finding::GrantFailed { account: Some(a), .. } if *a == id3
            )));
        let cli = serde_json::to_value(RequestView::with_timeline(&loaded)).expect("view");
        assert_eq!(cli["accounts"].as_object().map(|o| o.len()), Some(3));
        // Revoke (the expiry timer) ends the two that were granted.
        w.f.clock.advance(TimeDelta::hours(1));
        let out = s
            .revoke(id, RevokeReason::Expired, None)
            .await
            .expect("revoke");
        assert!(
            matches!(out, stint_app::revoke::RevokeOutcome::Revoked { .. }),
            "{out:?}"
        );
        for m in [&w.dev_accounts[0], &w.dev_accounts[1]] {
            assert!(m.policies().await.is_empty(), "revoked in {}", m.id);
        }
        assert_eq!(w.f.status(id).await, Status::Revoked);
    }

    /// Bad lists over HTTP: 400 with a JSON error naming what is wrong, and nothing appended.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_account_lists_are_400_over_http_and_append_nothing() {
        let w = OrgWorld::new().await;
        let app = stint_http::router(w.f.api());
        let ask = |role: &str, body: serde_json::Value| {
            let mut ev = stint_tests::sample("apigw-create-request.json");
            let mut b = serde_json::json!({
                "role": role,
                "principal": "arn:aws:iam::{account}:role/stint/oncall",
                "duration": "1h",
                "justification": "several accounts over HTTP",
            });
            for (k, v) in body.as_object().expect("object") {
                b[k] = v.clone();
            }
            ev["body"] = serde_json::json!(b.to_string());
            let app = app.clone();
            async move { crate::support::call_router(&app, &ev).await }
        };
        let window = || {
            w.f.log(t0() - TimeDelta::days(1), t0() + TimeDelta::days(1))
        };
        let before = window().await.len();
        let (d0, d1) = (&w.dev_accounts[0].id, &w.dev_accounts[1].id);
        let p0 = &w.prod_accounts[0].id;
        let many: Vec<String> = (0..51).map(|_| fresh_account()).collect();
        let cases = [
            // One account outside the role among others: refused, naming it.
            (
                "dev-oncall",
                serde_json::json!({ "accounts": [d0, p0, d1] }),
                "account_not_allowed",
                p0.clone(),
            ),
            // The management account among members of a role over the root.
            (
                "everywhere",
                serde_json::json!({ "accounts": [d0, w.hub] }),
                "account_not_allowed",
                w.hub.clone(),
            ),
            (
                "dev-oncall",
                serde_json::json!({ "accounts": [d0, d1, d0] }),
                "invalid",
                "named twice".into(),
            ),
            (
                "dev-oncall",
                serde_json::json!({ "accounts": [] }),
                "invalid_input",
                "at least one".into(),
            ),
            (
                "dev-oncall",
                serde_json::json!({ "accounts": many }),
                "invalid",
                "at most 50".into(),
            ),
            (
                "dev-oncall",
                serde_json::json!({ "accounts": ["12345"] }),
                "invalid_input",
                "accounts".into(),
            ),
            (
                "dev-oncall",
                serde_json::json!({ "accounts": [d0], "all_accounts": true }),
                "invalid",
                "not both".into(),
            ),
            (
                "dev-oncall",
                serde_json::json!({}),
                "invalid_input",
                "{account}".into(),
            ),
        ];
        let tried = cases.len();
        for (role, body, error, says) in cases {
            let (status, reply) = ask(role, body.clone()).await;
            assert_eq!(
                (status, reply["error"].as_str()),
                (400, Some(error)),
                "{body}: {reply}"
            );
            assert!(
                reply.to_string().contains(&says),
                "{body}: says {says}: {reply}"
            );
        }
        let wrongly = window().await.len() - before;
        assert_eq!(wrongly, 0, "refusals append nothing");
        stint_tests::proof::record(
            "bad_input",
            serde_json::json!({ "transport": "http (account lists)", "tried": tried,
                "refused": tried, "accepted_without_effect": 0,
                "wrongly_appended": wrongly, "failed": 0 }),
        );
        for m in w.dev_accounts.iter().chain(&w.prod_accounts) {
            assert!(m.policies().await.is_empty(), "nothing put in {}", m.id);
        }
        proof::attack(
            "requester names the management account among member accounts",
            "requester",
            false,
        );
        // Every account of the role: resolved now, the management account left out.
        let (status, view) = ask(
            "everywhere",
            serde_json::json!({ "all_accounts": true, "break_glass": false }),
        )
        .await;
        assert_eq!(status, 201, "{view}");
        let accounts = view["accounts"].as_object().expect("accounts");
        assert_eq!(accounts.len(), 4, "{view}");
        assert!(
            !accounts.contains_key(&w.hub),
            "never the management account"
        );
        // Two accounts of the role: one request.
        let (status, view) = ask("dev-oncall", serde_json::json!({ "accounts": [d0, d1] })).await;
        assert_eq!(status, 201, "{view}");
        assert_eq!(view["status"], "pending");
        assert_eq!(view["accounts"].as_object().map(|a| a.len()), Some(2));
    }

    /// The open finding "an extension re-puts the policy without checking the account again":
    /// an account moved out of the role's OU while access is active is revoked at the next
    /// extension, not extended; the accounts still in it are extended.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_account_moved_out_before_an_extension_is_revoked_not_extended() {
        let w = OrgWorld::new().await;
        let (d0, d1) = (&w.dev_accounts[0], &w.dev_accounts[1]);
        let s = &w.f.stint;
        let multi = w.approved_in("dev-oncall", &[d0, d1]).await;
        assert!(s.grant(multi).await.expect("grant").granted());
        // And a single-account request in the account that moves.
        let (single, ok) = w.grant("dev-oncall", &d0.oncall).await;
        assert!(ok.granted(), "{ok:?}");
        let prod = w
            .orgs
            .list_organizational_units_for_parent()
            .parent_id(&w.root)
            .send()
            .await
            .expect("OUs")
            .organizational_units()
            .iter()
            .find(|u| u.name() == Some("prod"))
            .and_then(|u| u.id())
            .expect("prod")
            .to_owned();
        w.orgs
            .move_account()
            .account_id(&d0.id)
            .source_parent_id(&w.dev)
            .destination_parent_id(&prod)
            .send()
            .await
            .expect("move to prod");
        w.f.clock.advance(TimeDelta::minutes(5));
        let hour = stint_domain::AccessDuration::parse("1h").expect("1h");
        for id in [multi, single] {
            s.extend(id, &bob(), hour)
                .await
                .expect("extension approved");
            s.apply_extension(id).await.expect("extension applied");
        }
        let st = s.get(multi).await.expect("request").state;
        let a0 = AccountId::parse(&d0.id).expect("id");
        let a1 = AccountId::parse(&d1.id).expect("id");
        assert_eq!(st.accounts[&a0].status, AccountStatus::Revoked);
        assert_eq!(
            st.accounts[&a0].revoke_reason,
            Some(RevokeReason::AccountRemoved)
        );
        assert_eq!(st.accounts[&a1].status, AccountStatus::Active);
        assert_eq!(st.status, Status::Active);
        assert!(
            st.pending_extension.is_none(),
            "applied to the account left"
        );
        let single_st = s.get(single).await.expect("request").state;
        assert_eq!(single_st.status, Status::Revoked);
        // The effect: the moved account's role holds no grant; the other holds the extended one.
        let moved = d0.policies().await;
        assert!(moved.is_empty(), "{moved:?}");
        assert_eq!(d1.policies().await, [grant_policy_name(multi)]);
        let doc = d1
            .iam
            .get_role_policy()
            .role_name("oncall")
            .policy_name(grant_policy_name(multi))
            .send()
            .await
            .expect("policy");
        let text = percent_encoding::percent_decode_str(doc.policy_document())
            .decode_utf8_lossy()
            .into_owned();
        let until = st
            .expires_at()
            .expect("expiry")
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert!(text.contains(&until), "the new window is in IAM: {text}");
        proof::attack(
            "account moved out of the OU keeps its grant through an extension",
            "requester",
            !moved.is_empty(),
        );
    }
}

/// The interactions function deletes policies but may not assume member roles: its provider
/// (`HubAccessProvider`, no STS) refuses a member-account principal before any call, and never
/// reaches the hub's role of the same name instead; in the hub it deletes as IAM does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_only_provider_refuses_member_principals_and_leaves_the_hubs_same_named_role() {
    let (hub, member) = (fresh_account(), fresh_account());
    let hub_iam = aws_sdk_iam::Client::new(&admin_in(&hub).await);
    let member_iam = aws_sdk_iam::Client::new(&admin_in(&member).await);
    let hub_role = target_role(&hub_iam, "/stint/", "oncall").await;
    let member_role = target_role(&member_iam, "/stint/", "oncall").await;
    let name = "stint-01hubonlytest";
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]});
    for (iam, role) in [(&hub_iam, &hub_role), (&member_iam, &member_role)] {
        iam.put_role_policy()
            .role_name(role.role_name())
            .policy_name(name)
            .policy_document(doc.to_string())
            .send()
            .await
            .expect("put the policy");
    }
    let policies = |iam: aws_sdk_iam::Client| async move {
        iam.list_role_policies()
            .role_name("oncall")
            .send()
            .await
            .expect("list policies")
            .policy_names()
            .to_vec()
    };
    let provider = stint_aws::iam::HubAccessProvider::new(hub_iam.clone(), Some(hub.clone()));

    let refused = provider.delete_policy(&member_role, name).await;
    assert!(
        matches!(&refused, Err(stint_app::ports::ProviderError::Refused(m)) if m.contains(&member)),
        "{refused:?}"
    );
    assert!(matches!(
        provider.put_policy(&member_role, name, &doc).await,
        Err(stint_app::ports::ProviderError::Refused(_))
    ));
    assert_eq!(policies(member_iam.clone()).await, vec![name.to_owned()]);
    assert_eq!(
        policies(hub_iam.clone()).await,
        vec![name.to_owned()],
        "the hub's same-named role is untouched"
    );

    assert!(provider
        .delete_policy(&hub_role, name)
        .await
        .expect("delete"));
    assert!(policies(hub_iam.clone()).await.is_empty());
    assert!(!provider
        .delete_policy(&hub_role, name)
        .await
        .expect("again"));
}
