//! Identity Center permission sets (issue 15, part 4) on the emulator: a grant assigns the
//! role's permission set to the requester's Identity Center user in the request's account, a
//! revoke deletes exactly that assignment, duplicates make no second one, and the sweep removes
//! assignments no active grant holds. moto 5.2.5 answers every assignment request SUCCEEDED at
//! once, so FAILED, IN_PROGRESS and ConflictException come from a port-level double
//! (`Scripted`) over the same emulator calls.
//!
//! Each test runs in a fresh account: moto gives every account its own Identity Center instance.

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_identitystore::types::Email;
use aws_sdk_ssoadmin::types::{PrincipalType, TargetType};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stint_app::grant::GrantOutcome;
use stint_app::identity_center::{IdentityCenterGrants, PollPolicy};
use stint_app::ports::{
    AssignmentRow, AssignmentStatus, DirectoryUser, IdentityCenter, ProviderError, Sleeper,
};
use stint_app::requests::NewRequest;
use stint_app::revoke::RevokeOutcome;
use stint_aws::identity_center::SsoIdentityCenter;
use stint_domain::identity_center::{PermissionSetArn, UserMatch};
use stint_domain::{
    Catalog, Identity, Justification, PrincipalArn, RequestId, RevokeReason, RoleName, Source,
    Status, UserId,
};
use stint_tests::aws::Fixture;
use stint_tests::{bob, emulator_config, emulator_endpoint, proof, t0, who};

fn fresh_account() -> String {
    let n = ulid::Ulid::generate().random() % 100_000_000_000;
    format!("4{n:011}")
}

/// An administrator's SDK configuration in `account` (a role session there).
async fn admin_in(account: &str) -> SdkConfig {
    let sts = aws_sdk_sts::Client::new(&emulator_config().await);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/admin"))
        .role_session_name("identity-center-test")
        .send()
        .await
        .expect("a session in the account");
    let c = out.credentials().expect("credentials");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "stint-ic-test",
        ))
        .load()
        .await
}

/// A permission set's ARN as moto 5.2.5 names it (`instance/` where AWS says `permissionSet/`).
fn moto_arn(ps: &PermissionSetArn) -> String {
    ps.as_str().replacen(":::permissionSet/", ":::instance/", 1)
}

/// Never waits: the tests' poll interval passes at once.
struct NoSleep(Mutex<u32>);

#[async_trait]
impl Sleeper for NoSleep {
    async fn sleep(&self, _: Duration) {
        *self.0.lock().expect("lock") += 1;
    }
}

/// One Identity Center instance (a fresh account's), with a Stint over it.
struct World {
    f: Fixture,
    sdk: SdkConfig,
    admin: aws_sdk_ssoadmin::Client,
    users: aws_sdk_identitystore::Client,
    instance: String,
    store_id: String,
    permission_set: PermissionSetArn,
    /// Where grants land: the account the role's principal names.
    target: String,
    principal: PrincipalArn,
    slept: Arc<NoSleep>,
}

const ROLE: &str = r#"
[roles.sso-admin]
provider = "identity_center"
permission_set = "{ps}"
principals = ["arn:aws:iam::{target}:role/stint/sso"]
default_duration = "1h"
max_duration = "4h"
requesters = { groups = ["sre"] }
approvers = { groups = ["db-owners"] }
"#;

impl World {
    async fn new(by: UserMatch) -> World {
        let sdk = admin_in(&fresh_account()).await;
        let admin = aws_sdk_ssoadmin::Client::new(&sdk);
        let users = aws_sdk_identitystore::Client::new(&sdk);
        let inst = admin.list_instances().send().await.expect("instances");
        let inst = &inst.instances()[0];
        let instance = inst.instance_arn().expect("instance ARN").to_owned();
        let store_id = inst.identity_store_id().expect("store id").to_owned();
        let permission_set = Self::permission_set(&admin, &instance, "StintOncall").await;
        let target = fresh_account();
        let catalog = Catalog::from_toml(
            &ROLE
                .replace("{ps}", permission_set.as_str())
                .replace("{target}", &target),
        )
        .expect("the Identity Center catalog loads");
        let mut f = Fixture::new(t0()).await;
        f.stint.catalog = Arc::new(catalog);
        let slept = Arc::new(NoSleep(Mutex::new(0)));
        let port =
            SsoIdentityCenter::new(&sdk, instance.clone(), store_id.clone()).with_emulator_arns();
        f.stint.identity_center = Some(Arc::new(IdentityCenterGrants {
            port: Arc::new(port),
            user_match: by,
            poll: PollPolicy {
                polls: 5,
                interval: Duration::from_secs(1),
            },
            sleeper: slept.clone(),
        }));
        let principal =
            PrincipalArn::parse(&format!("arn:aws:iam::{target}:role/stint/sso")).expect("ARN");
        World {
            f,
            sdk,
            admin,
            users,
            instance,
            store_id,
            permission_set,
            target,
            principal,
            slept,
        }
    }

    async fn permission_set(
        admin: &aws_sdk_ssoadmin::Client,
        instance: &str,
        name: &str,
    ) -> PermissionSetArn {
        let out = admin
            .create_permission_set()
            .instance_arn(instance)
            .name(name)
            .session_duration("PT1H")
            .send()
            .await
            .expect("create permission set");
        // moto names it instance/<ssoins>/<ps>; Stint takes AWS's permissionSet/<ssoins>/<ps>.
        let moto = out
            .permission_set()
            .and_then(|p| p.permission_set_arn())
            .expect("ARN");
        PermissionSetArn::parse(&moto.replacen(":::instance/", ":::permissionSet/", 1))
            .expect("a permission set ARN")
    }

    /// An Identity Center user; returns its id.
    async fn user(&self, user_name: &str, email: &str) -> String {
        self.users
            .create_user()
            .identity_store_id(&self.store_id)
            .user_name(user_name)
            .display_name(user_name)
            .name(
                aws_sdk_identitystore::types::Name::builder()
                    .given_name("Test")
                    .family_name(user_name)
                    .build(),
            )
            .emails(Email::builder().value(email).primary(true).build())
            .send()
            .await
            .expect("create user")
            .user_id()
            .to_owned()
    }

    /// The principals holding the permission set in `account`.
    async fn holders(&self, ps: &PermissionSetArn, account: &str) -> Vec<String> {
        self.admin
            .list_account_assignments()
            .instance_arn(ps.instance_arn())
            .account_id(account)
            .permission_set_arn(moto_arn(ps))
            .send()
            .await
            .expect("list assignments")
            .account_assignments()
            .iter()
            .map(|a| a.principal_id().expect("principal").to_owned())
            .collect()
    }

    async fn assigned(&self) -> Vec<String> {
        self.holders(&self.permission_set, &self.target).await
    }

    fn ask(&self) -> NewRequest {
        NewRequest {
            role: RoleName::parse("sso-admin").expect("role"),
            scope: None,
            principal: self.principal.clone(),
            duration: None,
            justification: Justification::parse("identity center test").expect("why"),
            ticket: None,
            starts_at: None,
            break_glass: false,
            source: Source::Person,
            accounts: vec![],
            all_accounts: false,
        }
    }

    /// Submitted by `requester`, approved by bob.
    async fn approved(&self, requester: &Identity) -> RequestId {
        let s = &self.f.stint;
        let id = s.submit(requester, self.ask()).await.expect("submit").id;
        s.approve(id, &bob(), None).await.expect("approve");
        id
    }

    fn ic(&self) -> Arc<IdentityCenterGrants> {
        self.f
            .stint
            .identity_center
            .clone()
            .expect("identity center")
    }
}

fn sre(user: &str) -> Identity {
    who(user, &["sre"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_set_grant_assigns_the_requesters_user_and_the_revoke_removes_it() {
    let w = World::new(UserMatch::UserName).await;
    let alice_id = w.user("alice", "alice@example.com").await;
    let other = w.user("carol", "carol@example.com").await;
    let id = w.approved(&sre("alice")).await;
    let outcome = w.f.stint.grant(id).await.expect("grant");
    assert!(
        matches!(outcome, GrantOutcome::Granted { .. }),
        "{outcome:?}"
    );
    assert_eq!(w.assigned().await, std::slice::from_ref(&alice_id));
    assert!(!w.assigned().await.contains(&other));
    // The grant records what it assigned, and the permission set's session duration.
    let st = w.f.stint.load(id).await.expect("load").state;
    let a = st.grant.and_then(|g| g.assignment).expect("assignment");
    assert_eq!(a.principal_id, alice_id);
    assert_eq!(a.account, w.target);
    assert_eq!(a.user_name, "alice");
    assert_eq!(a.session_duration.as_deref(), Some("PT1H"));
    // Nothing was put on the principal named in the request: it only says the account.
    let out =
        w.f.stint
            .revoke(id, RevokeReason::Manual, Some(bob()))
            .await
            .expect("revoke");
    assert!(matches!(out, RevokeOutcome::Revoked { .. }), "{out:?}");
    assert!(w.assigned().await.is_empty());
    assert_eq!(w.f.status(id).await, Status::Revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_grant_and_revoke_deliveries_make_one_assignment_and_remove_it_once() {
    let w = World::new(UserMatch::UserName).await;
    let alice_id = w.user("alice", "alice@example.com").await;
    let id = w.approved(&sre("alice")).await;
    // A first delivery that assigned and then died before recording: the assignment exists,
    // AccessGranted does not. moto would store a second identical assignment if asked.
    w.ic()
        .assign(
            &w.permission_set,
            &w.target,
            &UserId::parse("alice").expect("user"),
        )
        .await
        .expect("first delivery's assignment");
    let first = w.f.stint.grant(id).await.expect("redelivery");
    assert!(matches!(first, GrantOutcome::Granted { .. }), "{first:?}");
    let events = w.f.events(id).await.len();
    let again = w.f.stint.grant(id).await.expect("third delivery");
    assert!(
        matches!(again, GrantOutcome::AlreadyDone(Status::Active)),
        "{again:?}"
    );
    let held = w.assigned().await;
    assert_eq!(held, std::slice::from_ref(&alice_id));
    let grant_dupes = (w.f.events(id).await.len() - events) + (held.len() - 1);
    assert_eq!(grant_dupes, 0);
    proof::duplicates(
        "identity center grant delivered three times",
        3,
        grant_dupes,
    );

    // A revoke that deleted and died before recording, then two deliveries.
    let st = w.f.stint.load(id).await.expect("load").state;
    let a = st.grant.and_then(|g| g.assignment).expect("assignment");
    assert!(w
        .ic()
        .unassign_grant(&a)
        .await
        .expect("first revoke's delete"));
    // The expiry timer, delivered again after that crash, and once more.
    w.f.clock.advance(chrono::TimeDelta::hours(2));
    let r1 =
        w.f.stint
            .revoke(id, RevokeReason::Expired, None)
            .await
            .expect("redelivered revoke");
    assert!(matches!(r1, RevokeOutcome::Revoked { .. }), "{r1:?}");
    let events = w.f.events(id).await.len();
    let r2 =
        w.f.stint
            .revoke(id, RevokeReason::Expired, None)
            .await
            .expect("again");
    assert!(matches!(r2, RevokeOutcome::NoOp(Status::Revoked)), "{r2:?}");
    let revoke_dupes = w.f.events(id).await.len() - events;
    assert_eq!(revoke_dupes, 0);
    assert!(w.assigned().await.is_empty());
    proof::duplicates(
        "identity center revoke delivered three times",
        3,
        revoke_dupes,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_identity_center_user_gets_grant_failed_with_the_reason() {
    let w = World::new(UserMatch::UserName).await;
    w.user("alice", "alice@example.com").await;
    let id = w.approved(&sre("nobody")).await;
    let outcome = w.f.stint.grant(id).await.expect("grant");
    assert!(
        matches!(&outcome, GrantOutcome::Failed(why)
            if why.contains("no Identity Center user whose userName is nobody")),
        "{outcome:?}"
    );
    assert_eq!(w.f.status(id).await, Status::GrantFailed);
    let failed = w.f.events(id).await;
    let last = failed.last().expect("an event");
    assert_eq!(last.record.event_type, "GrantFailed");
    assert!(last.record.payload["error"]
        .as_str()
        .is_some_and(|e| e.contains("nobody")));
    assert!(w.assigned().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_without_identity_center_fails_the_grant_saying_so() {
    let mut w = World::new(UserMatch::UserName).await;
    w.user("alice", "alice@example.com").await;
    w.f.stint.identity_center = None;
    let id = w.approved(&sre("alice")).await;
    let outcome = w.f.stint.grant(id).await.expect("grant");
    assert!(
        matches!(&outcome, GrantOutcome::Failed(why) if why.contains("no Identity Center instance")),
        "{outcome:?}"
    );
    assert!(w.assigned().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_an_orphan_assignment_and_records_it() {
    let w = World::new(UserMatch::UserName).await;
    let alice_id = w.user("alice", "alice@example.com").await;
    let mallory_id = w.user("mallory", "mallory@example.com").await;
    let id = w.approved(&sre("alice")).await;
    assert!(matches!(
        w.f.stint.grant(id).await.expect("grant"),
        GrantOutcome::Granted { .. }
    ));
    // Standing access given by hand to the Stint-managed permission set.
    w.admin
        .create_account_assignment()
        .instance_arn(&w.instance)
        .target_id(&w.target)
        .target_type(TargetType::AwsAccount)
        .permission_set_arn(moto_arn(&w.permission_set))
        .principal_type(PrincipalType::User)
        .principal_id(&mallory_id)
        .send()
        .await
        .expect("an assignment by hand");
    let report = w.f.stint.sweep().await.expect("sweep");
    assert_eq!(report.orphan_assignments_removed, 1, "{report:?}");
    // The role's principal only names the account: no IAM policy check fails on it.
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(w.assigned().await, [alice_id], "the active grant stays");
    let stream =
        stint_domain::streams::drift_assignment(&w.permission_set, &w.target).expect("stream");
    let drift = stint_app::ports::EventStore::read_stream(&w.f.store, &stream)
        .await
        .expect("drift");
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].record.event_type, "OrphanAssignmentRemoved");
    assert_eq!(drift[0].record.payload["principal_id"], mallory_id.as_str());
    // A second sweep finds nothing more.
    let again = w.f.stint.sweep().await.expect("sweep again");
    assert_eq!(again.orphan_assignments_removed, 0);
    proof::attack(
        "standing assignment of a Stint-managed permission set",
        "identity center administrator",
        w.assigned().await.contains(&mallory_id),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_user_name_is_someone_elses_email_never_gets_their_grant() {
    // Stint matches on emails only: the attacker's UserName is alice's address.
    let w = World::new(UserMatch::Email).await;
    let alice_id = w.user("alice-v", "alice@example.com").await;
    let attacker = w.user("alice@example.com", "mallory@example.com").await;
    let id = w.approved(&sre("alice@example.com")).await;
    assert!(matches!(
        w.f.stint.grant(id).await.expect("grant"),
        GrantOutcome::Granted { .. }
    ));
    let held = w.assigned().await;
    assert_eq!(held, [alice_id]);
    proof::attack(
        "identity center user whose UserName is another user's email",
        "identity center user",
        held.contains(&attacker),
    );
    // And the other way: in user-name mode a Stint id that is only someone's email matches nobody.
    let w = World::new(UserMatch::UserName).await;
    w.user("alice", "carol@example.com").await;
    let id = w.approved(&sre("carol@example.com")).await;
    let outcome = w.f.stint.grant(id).await.expect("grant");
    assert!(matches!(outcome, GrantOutcome::Failed(_)), "{outcome:?}");
    assert!(w.assigned().await.is_empty());
    proof::attack(
        "stint user id equal to another identity center user's email (user-name mode)",
        "requester",
        !w.assigned().await.is_empty(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_set_of_another_instance_is_never_assigned() {
    let w = World::new(UserMatch::UserName).await;
    w.user("alice", "alice@example.com").await;
    // Another organisation's instance, with an administrator permission set.
    let other_sdk = admin_in(&fresh_account()).await;
    let other = aws_sdk_ssoadmin::Client::new(&other_sdk);
    let inst = other.list_instances().send().await.expect("instances");
    let other_instance = inst.instances()[0].instance_arn().expect("ARN").to_owned();
    let admin_ps = World::permission_set(&other, &other_instance, "AdministratorAccess").await;
    let mut catalog = (*w.f.stint.catalog).clone();
    let role = catalog
        .roles
        .get_mut(&RoleName::parse("sso-admin").expect("role"))
        .expect("the role");
    role.permission_set = Some(admin_ps.clone());
    let mut stint = w.f.stint.clone();
    stint.catalog = Arc::new(catalog);
    let id = stint
        .submit(&sre("alice"), w.ask())
        .await
        .expect("submit")
        .id;
    stint.approve(id, &bob(), None).await.expect("approve");
    let outcome = stint.grant(id).await.expect("grant");
    assert!(
        matches!(&outcome, GrantOutcome::Failed(why) if why.contains("not Stint's Identity Center instance")),
        "{outcome:?}"
    );
    let in_other = aws_sdk_ssoadmin::Client::new(&other_sdk)
        .list_account_assignments()
        .instance_arn(&other_instance)
        .account_id(&w.target)
        .permission_set_arn(moto_arn(&admin_ps))
        .send()
        .await
        .expect("list")
        .account_assignments()
        .len();
    assert_eq!(in_other, 0);
    assert!(w.holders(&admin_ps, &w.target).await.is_empty());
    proof::attack(
        "catalog names an admin permission set of a non-Stint instance",
        "catalog author",
        in_other > 0,
    );
}

/// What the scripted port answers to one `CreateAccountAssignment`.
#[derive(Clone)]
enum Create {
    /// `ConflictException`: nothing reaches the emulator.
    Conflict,
    /// IN_PROGRESS; `lands` says whether the assignment is made on the emulator meanwhile.
    Pending { lands: bool },
}

/// The emulator's port with scripted answers in front: moto always says SUCCEEDED at once.
/// Unscripted calls go to the emulator unchanged.
struct Scripted {
    inner: SsoIdentityCenter,
    create: Mutex<VecDeque<Create>>,
    status: Mutex<VecDeque<AssignmentStatus>>,
    creates: Mutex<u32>,
}

impl Scripted {
    fn next_status(&self) -> AssignmentStatus {
        self.status
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(AssignmentStatus::Succeeded)
    }
}

#[async_trait]
impl IdentityCenter for Scripted {
    fn instance_arn(&self) -> &str {
        self.inner.instance_arn()
    }
    async fn find_user(
        &self,
        by: UserMatch,
        value: &str,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        self.inner.find_user(by, value).await
    }
    async fn session_duration(
        &self,
        ps: &PermissionSetArn,
    ) -> Result<Option<String>, ProviderError> {
        self.inner.session_duration(ps).await
    }
    async fn assignments(
        &self,
        account: &str,
        ps: &PermissionSetArn,
    ) -> Result<Vec<AssignmentRow>, ProviderError> {
        self.inner.assignments(account, ps).await
    }
    async fn provisioned_accounts(
        &self,
        ps: &PermissionSetArn,
    ) -> Result<Vec<String>, ProviderError> {
        self.inner.provisioned_accounts(ps).await
    }
    async fn create_assignment(
        &self,
        account: &str,
        ps: &PermissionSetArn,
        principal: &AssignmentRow,
    ) -> Result<AssignmentStatus, ProviderError> {
        *self.creates.lock().expect("lock") += 1;
        let scripted = self.create.lock().expect("lock").pop_front();
        match scripted {
            Some(Create::Conflict) => Err(ProviderError::Unavailable(
                "CreateAccountAssignment: ConflictException another operation is in progress"
                    .into(),
            )),
            Some(Create::Pending { lands }) => {
                if lands {
                    self.inner.create_assignment(account, ps, principal).await?;
                }
                Ok(in_progress())
            }
            None => self.inner.create_assignment(account, ps, principal).await,
        }
    }
    async fn creation_status(&self, _: &str) -> Result<AssignmentStatus, ProviderError> {
        Ok(self.next_status())
    }
    async fn delete_assignment(
        &self,
        account: &str,
        ps: &PermissionSetArn,
        principal: &AssignmentRow,
    ) -> Result<AssignmentStatus, ProviderError> {
        self.inner.delete_assignment(account, ps, principal).await
    }
    async fn deletion_status(&self, _: &str) -> Result<AssignmentStatus, ProviderError> {
        Ok(self.next_status())
    }
}

impl World {
    fn scripted(&mut self, create: Vec<Create>, status: Vec<AssignmentStatus>) -> Arc<Scripted> {
        let s = Arc::new(Scripted {
            inner: SsoIdentityCenter::new(&self.sdk, self.instance.clone(), self.store_id.clone())
                .with_emulator_arns(),
            create: Mutex::new(create.into()),
            status: Mutex::new(status.into()),
            creates: Mutex::new(0),
        });
        let mut ic = (*self.ic()).clone();
        ic.port = s.clone();
        self.f.stint.identity_center = Some(Arc::new(ic));
        s
    }
}

fn in_progress() -> AssignmentStatus {
    AssignmentStatus::InProgress {
        request_id: "req-1".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_assignment_becomes_grant_failed_with_aws_reason() {
    // moto cannot answer FAILED: the double does, after two IN_PROGRESS polls.
    let mut w = World::new(UserMatch::UserName).await;
    w.user("alice", "alice@example.com").await;
    let reason = "Received a 404 status error: Not supported account (AccountId 1).";
    w.scripted(
        vec![Create::Pending { lands: false }],
        vec![
            in_progress(),
            in_progress(),
            AssignmentStatus::Failed {
                reason: reason.into(),
            },
        ],
    );
    let id = w.approved(&sre("alice")).await;
    let outcome = w.f.stint.grant(id).await.expect("grant");
    assert!(
        matches!(&outcome, GrantOutcome::Failed(why) if why.contains(reason) && why.contains("FAILED")),
        "{outcome:?}"
    );
    let events = w.f.events(id).await;
    let last = events.last().expect("event");
    assert_eq!(last.record.event_type, "GrantFailed");
    assert!(last.record.payload["error"]
        .as_str()
        .is_some_and(|e| e.contains(reason)));
    assert_eq!(
        *w.slept.0.lock().expect("lock"),
        3,
        "one wait before each poll"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_is_retried_and_in_progress_is_polled_to_success() {
    let mut w = World::new(UserMatch::UserName).await;
    let alice_id = w.user("alice", "alice@example.com").await;
    let s = w.scripted(
        vec![Create::Conflict, Create::Pending { lands: true }],
        vec![in_progress(), AssignmentStatus::Succeeded],
    );
    let id = w.approved(&sre("alice")).await;
    let outcome = w.f.stint.grant(id).await.expect("grant");
    assert!(
        matches!(outcome, GrantOutcome::Granted { .. }),
        "{outcome:?}"
    );
    assert_eq!(*s.creates.lock().expect("lock"), 2);
    assert_eq!(w.assigned().await, [alice_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_still_in_progress_after_the_bounded_wait_fails_the_grant() {
    let mut w = World::new(UserMatch::UserName).await;
    w.user("alice", "alice@example.com").await;
    // Always IN_PROGRESS: every poll of every attempt.
    w.scripted(
        vec![Create::Pending { lands: false }; 8],
        vec![in_progress(); 64],
    );
    let id = w.approved(&sre("alice")).await;
    let outcome = w.f.stint.grant(id).await.expect("grant");
    assert!(
        matches!(&outcome, GrantOutcome::Failed(why) if why.contains("still IN_PROGRESS")),
        "{outcome:?}"
    );
    assert_eq!(w.f.status(id).await, Status::GrantFailed);
    // Each attempt polled at most `polls` times: the wait is bounded.
    let attempts = stint_app::RetryPolicy::IMMEDIATE.attempts;
    assert_eq!(*w.slept.0.lock().expect("lock"), 5 * attempts);
    // What Identity Center may still finish later is the sweep's: no grant holds it.
    let report = w.f.stint.sweep().await.expect("sweep");
    assert!(w.assigned().await.is_empty(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_each_identity_center_grants_session_duration() {
    let w = World::new(UserMatch::UserName).await;
    w.user("alice", "alice@example.com").await;
    let id = w.approved(&sre("alice")).await;
    w.f.stint.grant(id).await.expect("grant");
    let st = w.f.stint.load(id).await.expect("load").state;
    let row = stint_domain::report::ReportRow::from_state(id, &st, t0()).expect("row");
    assert_eq!(row.session_duration.as_deref(), Some("PT1H"));
}

/// The sweep runs in the revoke function, which looks no users up. An approved Identity Center
/// request whose grant is overdue (its bus event lost, or the grant still polling) is handed
/// to the grant function by a start timer, never failed for want of a user lookup; the grant
/// function then assigns, and the sweep's revokes still work without the Identity Store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revoke_functions_sweep_hands_an_overdue_grant_to_the_grant_function() {
    let w = World::new(UserMatch::UserName).await;
    let alice_id = w.user("alice", "alice@example.com").await;
    let id = w.approved(&sre("alice")).await;
    // The revoke function's port, as `identity_center::from_env(&sdk, false)` builds it.
    let mut revoker = w.f.stint.clone();
    let mut ic = (*w.ic()).clone();
    ic.port = Arc::new(
        SsoIdentityCenter::new(&w.sdk, w.instance.clone(), w.store_id.clone())
            .with_emulator_arns()
            .without_user_lookup(),
    );
    assert!(!ic.can_assign());
    assert!(matches!(
        ic.port.find_user(UserMatch::UserName, "alice").await,
        Err(ProviderError::Refused(_))
    ));
    revoker.identity_center = Some(Arc::new(ic));

    let before = w.f.stint.load(id).await.expect("load").events.len();
    let report = revoker.sweep().await.expect("sweep");
    assert_eq!(
        (report.handed_to_grant, report.failed),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(w.f.status(id).await, Status::Approved, "not failed");
    assert_eq!(
        w.f.stint.load(id).await.expect("load").events.len(),
        before,
        "nothing appended"
    );
    assert!(w.assigned().await.is_empty());
    let (at, _) =
        w.f.schedule(stint_app::ports::TimerKind::Start, id)
            .await
            .expect("a start timer for the grant function");
    let expected = (t0() + chrono::Duration::minutes(1)).format("at(%Y-%m-%dT%H:%M:%S)");
    assert_eq!(at, expected.to_string());

    // The timer fires in the grant function, which looks the user up and assigns.
    assert!(matches!(
        w.f.stint.grant(id).await.expect("grant"),
        GrantOutcome::Granted { .. }
    ));
    assert_eq!(w.assigned().await, std::slice::from_ref(&alice_id));
    // The revoke function's sweep leaves the active grant alone, and its revoke removes it.
    let again = revoker.sweep().await.expect("sweep again");
    assert_eq!(again.handed_to_grant, 0, "{again:?}");
    revoker
        .revoke(id, RevokeReason::Manual, Some(bob()))
        .await
        .expect("revoke");
    assert!(w.assigned().await.is_empty());
}
