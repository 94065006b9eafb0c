//! The attacks table: what a malicious requester or approver, a careless catalog author, a
//! webhook sender, a CI job from another repository or someone who can create alarms might try.
//! Each case checks the exact refusal, that nothing was appended wrongly, and, where the
//! emulator can tell, the effect: what the principal's own session can actually do in AWS
//! (the second emulator enforces IAM). Each records itself for the proof line.

use chrono::Duration;
use stint_app::grant::GrantOutcome;
use stint_app::AppError;
use stint_domain::{
    AccessDuration, Catalog, PrincipalArn, Rejection, RequestId, RevokeReason, Scope, Status,
    Verdict,
};
use stint_tests::enforced::{can_send, World, ACCOUNT};
use stint_tests::proof;
use stint_tests::{alice, request, t0, unique_name, who};

/// One role that sends to one queue chosen by scope, for people in `sre`, approved by `owners`;
/// a pipeline rule for `acme/orders`, and an alert rule for a service whose alarms are matched by
/// name only, pointing at `service_scope` on `service_principal`.
fn catalog_for(service_scope: &str, service_principal: &PrincipalArn) -> Catalog {
    let service_principal = service_principal.as_str();
    let text = format!(
        r#"
[settings]
pending_timeout = "1h"
admin_groups = ["security"]

[roles.queue-send]
principals = ["arn:aws:iam::{ACCOUNT}:role/stint/*"]
scopes = ["orders-*", "payments-*"]
default_duration = "1h"
max_duration = "2h"
requesters = {{ groups = ["sre"] }}
approvers = {{ groups = ["owners"], required = 1 }}
statements = [{{ actions = ["sqs:SendMessage"], resources = ["arn:aws:sqs:us-east-1:{ACCOUNT}:{{scope}}"] }}]

[[roles.queue-send.auto_approve]]
name = "ci-orders"
kind = "pipeline"
repositories = ["acme/orders"]
refs = ["refs/heads/main"]
scopes = ["orders-*"]
principals = ["arn:aws:iam::{ACCOUNT}:role/stint/*"]
max_duration = "1h"

[[roles.queue-send.auto_approve]]
name = "oncall"
kind = "alert"
services = ["orders"]
max_duration = "1h"

# Matched by name only: anyone who can create an alarm named orders-... in any account.
[services.orders]
alarms = ["orders-*"]
role = "queue-send"
scope = "{service_scope}"
principal = "{service_principal}"
[services.orders.rotation]
users = ["alice@example.com"]
handoff = "09:00"
time_zone = "UTC"
starts = "2026-01-05"
"#
    );
    Catalog::from_toml(&text).expect("the attack catalog loads")
}

/// A world with a target role, a queue the grant is for and a queue it is not for.
struct Setup {
    w: World,
    role: PrincipalArn,
    queue: String,
    scope: String,
    other_queue: String,
}

async fn setup() -> Setup {
    let mut w = World::new(catalog_for("orders-x", &placeholder()), t0()).await;
    let role = w.role("/stint/", &unique_name("target")).await;
    let scope = unique_name("orders");
    // The alert service points at this world's own role and queue.
    w.stint.catalog = std::sync::Arc::new(catalog_for(&scope, &role));
    let queue = w.queue(&scope).await;
    let other_queue = w.queue(&unique_name("payments")).await;
    Setup {
        w,
        role,
        queue,
        scope,
        other_queue,
    }
}

impl Setup {
    fn ask(&self, why: &str) -> stint_app::requests::NewRequest {
        request("queue-send", &self.scope, &self.role, why)
    }
    async fn submitted(&self) -> RequestId {
        self.w
            .stint
            .submit(&alice(), self.ask("drain orders"))
            .await
            .unwrap()
            .id
    }
    async fn granted(&self) -> RequestId {
        let id = self.submitted().await;
        self.w.stint.approve(id, &owner(), None).await.unwrap();
        assert!(matches!(
            self.w.stint.grant(id).await.unwrap(),
            GrantOutcome::Granted { .. }
        ));
        id
    }
    async fn alice_can_send(&self) -> bool {
        can_send(&self.w.session(&self.role, "alice").await, &self.queue).await
    }
}

fn placeholder() -> PrincipalArn {
    PrincipalArn::parse(&format!("arn:aws:iam::{ACCOUNT}:role/stint/placeholder")).unwrap()
}

/// A refused request: its name, the request, and the rejection it must get.
type Case = (
    &'static str,
    stint_app::requests::NewRequest,
    fn(&Rejection) -> bool,
);

fn owner() -> stint_domain::Identity {
    who("bob@example.com", &["owners"])
}

/// Checks the refusal and records the case: `succeeded` is whether the attack got anything.
fn verdict(
    case: &str,
    attacker: &str,
    refused_as_expected: bool,
    gained_access: bool,
    appended_wrongly: bool,
) {
    let succeeded = !refused_as_expected || gained_access || appended_wrongly;
    proof::attack(case, attacker, succeeded);
    assert!(refused_as_expected, "{case}: not refused as expected");
    assert!(!gained_access, "{case}: the principal gained access");
    assert!(!appended_wrongly, "{case}: events were appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requester_uses_the_role_before_approval() {
    let s = setup().await;
    s.submitted().await;
    let before = s.w.event_count().await;
    let access = s.alice_can_send().await;
    verdict(
        "use the role before approval",
        "malicious requester",
        true,
        access,
        s.w.event_count().await != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requester_approves_their_own_request() {
    let s = setup().await;
    let id = s.submitted().await;
    let before = s.w.event_count().await;
    let me = who("alice@example.com", &["sre", "owners"]);
    let r = s.w.stint.approve(id, &me, None).await;
    let refused = matches!(r, Err(AppError::Rejected(Rejection::SelfApproval)));
    verdict(
        "approve one's own request",
        "malicious requester",
        refused,
        s.alice_can_send().await,
        s.w.event_count().await != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsider_approves() {
    let s = setup().await;
    let id = s.submitted().await;
    let before = s.w.event_count().await;
    let r =
        s.w.stint
            .approve(id, &who("mallory@example.com", &["sre"]), None)
            .await;
    let refused = matches!(r, Err(AppError::Rejected(Rejection::NotApprover(_))));
    verdict(
        "approve without being an approver",
        "malicious approver",
        refused,
        s.alice_can_send().await,
        s.w.event_count().await != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_requester_reaches_beyond_the_scope() {
    let s = setup().await;
    s.granted().await;
    let session = s.w.session(&s.role, "alice@example.com").await;
    assert!(
        can_send(&session, &s.queue).await,
        "the granted action works"
    );
    let beyond = can_send(&session, &s.other_queue).await;
    verdict(
        "use the grant on a resource outside the scope",
        "malicious requester",
        true,
        beyond,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_before_the_revoke_keeps_working() {
    let s = setup().await;
    let id = s.granted().await;
    let session = s.w.session(&s.role, "alice@example.com").await;
    assert!(can_send(&session, &s.queue).await);
    s.w.clock.set(t0() + Duration::minutes(5));
    s.w.stint.revoke_by(id, &alice()).await.unwrap();
    let still = can_send(&session, &s.queue).await;
    verdict(
        "keep a session opened before the revoke",
        "malicious requester",
        true,
        still,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_timer_revokes_and_access_ends() {
    let s = setup().await;
    let id = s.granted().await;
    let session = s.w.session(&s.role, "alice@example.com").await;
    s.w.clock.set(t0() + Duration::hours(1));
    s.w.stint
        .revoke(id, RevokeReason::Expired, None)
        .await
        .unwrap();
    let still = can_send(&session, &s.queue).await;
    verdict(
        "outlast the expiry",
        "malicious requester",
        s.w.stint.get(id).await.unwrap().state.status == Status::Revoked,
        still,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_name_that_resolves_under_another_path() {
    let s = setup().await;
    let name = unique_name("target");
    let elsewhere = s.w.role("/other/", &name).await;
    let claimed =
        PrincipalArn::parse(&format!("arn:aws:iam::{ACCOUNT}:role/stint/{name}")).unwrap();
    let id =
        s.w.stint
            .submit(&alice(), request("queue-send", &s.scope, &claimed, "x"))
            .await
            .unwrap()
            .id;
    s.w.stint.approve(id, &owner(), None).await.unwrap();
    let out = s.w.stint.grant(id).await.unwrap();
    let refused = matches!(out, GrantOutcome::Failed(ref e) if e.contains("resolves to"));
    let access = can_send(
        &s.w.session(&elsewhere, "alice@example.com").await,
        &s.queue,
    )
    .await;
    verdict(
        "land a grant on a same-named role under another path",
        "malicious requester",
        refused,
        access,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outside_the_catalog_are_refused_and_append_nothing() {
    let s = setup().await;
    let before = s.w.event_count().await;
    let mut cases: Vec<Case> = Vec::new();
    let mut wrong_scope = s.ask("x");
    wrong_scope.scope = Some(Scope::parse("payments").unwrap());
    cases.push(("a scope the role does not allow", wrong_scope, |r| {
        matches!(r, Rejection::ScopeNotAllowed { .. })
    }));
    let mut outside = s.ask("x");
    outside.principal = PrincipalArn::parse(&format!("arn:aws:iam::{ACCOUNT}:role/admin")).unwrap();
    cases.push(("a principal outside the role's patterns", outside, |r| {
        matches!(r, Rejection::PrincipalNotAllowed(_))
    }));
    let mut other_account = s.ask("x");
    other_account.principal =
        PrincipalArn::parse("arn:aws:iam::999999999999:role/stint/x").unwrap();
    cases.push(("a principal in another account", other_account, |r| {
        matches!(r, Rejection::PrincipalNotAllowed(_))
    }));
    let mut long = s.ask("x");
    long.duration = Some(AccessDuration::parse("3h").unwrap());
    cases.push(("a duration over the maximum", long, |r| {
        matches!(r, Rejection::OverMaxDuration { .. })
    }));
    let mut glass = s.ask("x");
    glass.break_glass = true;
    cases.push(("break-glass on a role without it", glass, |r| {
        matches!(r, Rejection::BreakGlassNotAllowed(_))
    }));
    let mut unknown = s.ask("x");
    unknown.role = "db-admin".parse().unwrap();
    cases.push(("a role not in the catalog", unknown, |r| {
        matches!(r, Rejection::UnknownRole(_))
    }));
    for (case, new, expected) in cases {
        let r = s.w.stint.submit(&alice(), new).await;
        let refused = matches!(&r, Err(AppError::Rejected(rej)) if expected(rej));
        verdict(
            case,
            "malicious requester",
            refused,
            s.alice_can_send().await,
            s.w.event_count().await != before,
        );
    }
    // Someone outside the requester groups.
    let r =
        s.w.stint
            .submit(&who("mallory@example.com", &["sales"]), s.ask("x"))
            .await;
    let refused = matches!(
        r,
        Err(AppError::Rejected(Rejection::NotAllowedToRequest(_)))
    );
    verdict(
        "request a role without being a requester",
        "malicious requester",
        refused,
        s.alice_can_send().await,
        s.w.event_count().await != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_cancel_revoke_or_extend_someone_elses_grant() {
    let s = setup().await;
    let id = s.granted().await;
    let before = s.w.event_count().await;
    let mallory = who("mallory@example.com", &["sre"]);
    let r = s.w.stint.revoke_by(id, &mallory).await;
    verdict(
        "revoke someone else's grant",
        "malicious requester",
        matches!(r, Err(AppError::Rejected(Rejection::NotPermittedToRevoke))),
        false,
        s.w.event_count().await != before,
    );
    let r =
        s.w.stint
            .extend(id, &mallory, AccessDuration::parse("30m").unwrap())
            .await;
    verdict(
        "extend someone else's grant",
        "malicious requester",
        matches!(r, Err(AppError::Rejected(Rejection::NotApprover(_)))),
        false,
        s.w.event_count().await != before,
    );
    let r =
        s.w.stint
            .extend(id, &owner(), AccessDuration::parse("2h").unwrap())
            .await;
    verdict(
        "extend past the role's total",
        "malicious approver",
        matches!(r, Err(AppError::Rejected(Rejection::OverMaxTotal { .. }))),
        false,
        s.w.event_count().await != before,
    );
    let pending = s.submitted().await;
    let before = s.w.event_count().await;
    let r = s.w.stint.cancel(pending, &mallory).await;
    verdict(
        "cancel someone else's request",
        "malicious requester",
        matches!(r, Err(AppError::Rejected(Rejection::NotRequester))),
        false,
        s.w.event_count().await != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_request_is_approved_anyway() {
    let s = setup().await;
    let id = s.submitted().await;
    s.w.stint
        .deny(id, &owner(), Some("no".into()))
        .await
        .unwrap();
    let before = s.w.event_count().await;
    let other_owner = who("carol@example.com", &["owners"]);
    let r = s.w.stint.approve(id, &other_owner, None).await;
    let refused = matches!(r, Err(AppError::Rejected(Rejection::WrongState { .. })));
    let _ = s.w.stint.grant(id).await;
    verdict(
        "approve a denied request",
        "malicious approver",
        refused,
        s.alice_can_send().await,
        s.w.event_count().await != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_grant_revoked_before_its_start_never_gives_access() {
    let s = setup().await;
    let mut new = s.ask("later");
    new.starts_at = Some(t0() + Duration::hours(2));
    let id = s.w.stint.submit(&alice(), new).await.unwrap().id;
    s.w.stint.approve(id, &owner(), None).await.unwrap();
    s.w.stint.grant(id).await.unwrap();
    s.w.stint.revoke_by(id, &owner()).await.unwrap();
    s.w.clock.set(t0() + Duration::hours(2));
    let out = s.w.stint.grant(id).await.unwrap();
    verdict(
        "start a scheduled grant that was revoked",
        "malicious requester",
        matches!(out, GrantOutcome::AlreadyDone(Status::Revoked)),
        s.alice_can_send().await,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ci_job_asks_for_a_scope_its_rule_does_not_name() {
    let s = setup().await;
    let payments = unique_name("payments");
    let queue = s.w.queue(&payments).await;
    let job = who("repo:acme/orders:ref:refs/heads/main", &[]);
    let mut ask = request("queue-send", &payments, &s.role, "deploy");
    ask.source = stint_domain::Source::Pipeline {
        repository: "acme/orders".into(),
        git_ref: "refs/heads/main".into(),
        environment: None,
    };
    // The requester pattern must let the job ask at all: give it the sre group.
    let job =
        stint_domain::Identity::new(job.user, [stint_domain::GroupName::parse("sre").unwrap()]);
    let out = s.w.stint.submit(&job, ask).await.unwrap();
    let waits = out.state.status == Status::Pending;
    let _ = s.w.stint.grant(out.id).await;
    let access = can_send(&s.w.session(&s.role, "ci").await, &queue).await;
    verdict(
        "a CI job asks for another repository's scope",
        "CI job from another repository",
        waits,
        access,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_named_like_the_services_fires_in_another_account() {
    let s = setup().await;
    let event = serde_json::json!({
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "time": "2026-11-29T09:00:00Z",
        "resources": ["arn:aws:cloudwatch:us-east-1:999999999999:alarm:orders-attacker"],
        "detail": {"alarmName": "orders-attacker", "state": {"value": "ALARM", "reason": "set by hand", "timestamp": "2026-11-29T09:00:00.000+0000"}}
    });
    let stint_domain::alert::Parsed::Alert(alert) =
        stint_domain::alert::from_cloudwatch(&event, &s.w.stint.catalog).unwrap()
    else {
        panic!("the name-only pattern takes the alarm")
    };
    let out = s.w.stint.on_alert(&alert).await.unwrap();
    let waits = matches!(
        out,
        stint_app::alerts::AlertOutcome::Requested {
            status: Status::Pending,
            ..
        }
    );
    if let stint_app::alerts::AlertOutcome::Requested { request_id, .. } = out {
        let _ = s.w.stint.grant(request_id).await;
    }
    verdict(
        "an alarm matched by name alone opens approved access",
        "someone who can create alarms",
        waits,
        s.alice_can_send().await,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_formula_in_a_justification_reaches_the_auditors_spreadsheet() {
    let s = setup().await;
    let id =
        s.w.stint
            .submit(
                &alice(),
                s.ask("=HYPERLINK(\"http://evil.example/\",\"click\")"),
            )
            .await
            .unwrap()
            .id;
    let r = stint_app::report::compile(
        &s.w.store,
        t0() - Duration::hours(1),
        t0() + Duration::hours(1),
        t0(),
        AccessDuration::parse("14d").unwrap(),
    )
    .await
    .unwrap();
    let csv = stint_app::render::report::to_csv(&r).unwrap();
    let row = csv
        .lines()
        .find(|l| l.contains(&id.to_string()))
        .unwrap_or_default()
        .to_owned();
    let neutralised = row.contains("'=HYPERLINK")
        && !row.contains(",=HYPERLINK")
        && !row.contains(",\"=HYPERLINK");
    verdict(
        "a formula in a justification runs in the auditor's spreadsheet",
        "malicious requester",
        neutralised,
        false,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stint_policy_put_back_by_hand_survives_the_sweep() {
    let s = setup().await;
    let id = s.granted().await;
    s.w.stint.revoke_by(id, &alice()).await.unwrap();
    // Someone with IAM rights puts the ended grant's document back.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#;
    s.w.iam
        .put_role_policy()
        .role_name(s.role.role_name())
        .policy_name(stint_domain::policy::grant_policy_name(id))
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    assert!(
        s.alice_can_send().await,
        "the hand-made policy works until the sweep"
    );
    let report = s.w.stint.sweep().await.unwrap();
    verdict(
        "a stint policy put back by hand outlives its grant",
        "someone with IAM rights",
        report.orphans_removed == 1,
        s.alice_can_send().await,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_the_roles_policy_quota_blocks_the_revoke() {
    let s = setup().await;
    let id = s.granted().await;
    let pad = "x".repeat(9_800);
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{pad}","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}}]}}"#
    );
    s.w.iam
        .put_role_policy()
        .role_name(s.role.role_name())
        .policy_name("filler")
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    s.w.clock.set(t0() + Duration::minutes(5));
    let revoked = s.w.stint.revoke_by(id, &alice()).await.is_ok();
    verdict(
        "fill the role's policy quota so the revoke cannot run",
        "malicious requester",
        revoked,
        s.alice_can_send().await,
        false,
    );
}

/// An API Gateway event for `method path` whose authorizer passed these claims.
fn apigw(method: &str, path: &str, claims: serde_json::Value) -> serde_json::Value {
    let mut ev = stint_tests::sample("apigw-approve.json");
    ev["routeKey"] = serde_json::json!(format!("{method} {path}"));
    ev["rawPath"] = serde_json::json!(path);
    ev["requestContext"]["http"]["path"] = serde_json::json!(path);
    ev["requestContext"]["http"]["method"] = serde_json::json!(method);
    ev["requestContext"]["authorizer"]["jwt"]["claims"] = claims;
    ev["body"] = serde_json::json!("{}");
    ev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_tricks_through_api_gateway() {
    use stint_http::apigw::ApiGatewayClaims;
    let s = setup().await;
    let api = stint_http::Api::new(
        s.w.stint.clone(),
        std::sync::Arc::new(ApiGatewayClaims {
            rules: Default::default(),
        }),
    );
    let app = stint_http::router(api);
    let id = s.submitted().await;
    let approve = format!("/requests/{id}/approve");
    let cases: Vec<(&str, &str, serde_json::Value, u16)> = vec![
        (
            "approve one's own request with a second token that names the user by sub",
            "malicious requester",
            serde_json::json!({"sub": "alice-sub", "groups": "[owners]"}),
            401,
        ),
        (
            "approve as a never-verified address of an approver",
            "malicious requester",
            serde_json::json!({"email": "bob@example.com", "email_verified": "false", "groups": "[owners]"}),
            401,
        ),
        (
            "be read as an admin through an IdP group named 'Security Team'",
            "malicious requester",
            serde_json::json!({"email": "mallory@example.com", "email_verified": "true", "groups": "[Security Team]"}),
            401,
        ),
    ];
    for (case, attacker, claims, status) in cases {
        let before = s.w.event_count().await;
        let (got, body) = crate::support::call_router(&app, &apigw("POST", &approve, claims)).await;
        let refused = got == status && body["error"].is_string();
        verdict(
            case,
            attacker,
            refused,
            s.alice_can_send().await,
            s.w.event_count().await != before,
        );
    }
    // A stranger reads the request: the same 404 as an id that does not exist.
    let stranger = serde_json::json!({"email": "mallory@example.com", "email_verified": "true", "groups": "[sales]"});
    let (got, body) =
        crate::support::call_router(&app, &apigw("GET", &format!("/requests/{id}"), stranger))
            .await;
    verdict(
        "read someone else's request",
        "malicious requester",
        got == 404 && body["error"] == "not_found",
        false,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_senders_without_the_secret_or_with_an_old_alert() {
    let s = setup().await;
    let secret = b"attack-secret".to_vec();
    let api = stint_http::Api::new(
        s.w.stint.clone(),
        std::sync::Arc::new(stint_http::apigw::ApiGatewayClaims {
            rules: Default::default(),
        }),
    )
    .with_alert_secrets(vec![secret.clone()]);
    let app = stint_http::alerts_router(api);
    let alert = |at: &str| {
        serde_json::json!({"service": "orders", "incident": unique_name("inc"), "status": "triggered",
            "occurred_at": at, "summary": "let me in"})
        .to_string()
    };
    let post = |body: String, signature: String| {
        let mut ev = apigw("POST", "/alerts", serde_json::Value::Null);
        ev["requestContext"]["authorizer"] = serde_json::Value::Null;
        ev["headers"]["x-stint-signature"] = serde_json::json!(signature);
        ev["body"] = serde_json::json!(body);
        ev
    };
    let now = "2026-11-29T09:00:00Z";
    let cases = [
        (
            "an alert signed with a guessed secret",
            post(
                alert(now),
                stint_http::alerts::sign(b"guess", alert(now).as_bytes()),
            ),
        ),
        ("a validly signed alert replayed an hour later", {
            let old = alert("2026-11-29T08:00:00Z");
            let sig = stint_http::alerts::sign(&secret, old.as_bytes());
            post(old, sig)
        }),
    ];
    for (case, ev) in cases {
        let before = s.w.event_count().await;
        let (status, body) = crate::support::call_router(&app, &ev).await;
        verdict(
            case,
            "webhook sender",
            status == 401 && body["error"].is_string(),
            s.alice_can_send().await,
            s.w.event_count().await != before,
        );
    }
}

/// The attack catalog with its statements line replaced (and `settings` extended).
fn authored(statements: &str, settings: &str) -> Result<Catalog, stint_domain::CatalogError> {
    let base = format!(
        r#"
[settings]
pending_timeout = "1h"
admin_groups = ["security"]
{settings}

[roles.db-read]
principals = ["arn:aws:iam::{ACCOUNT}:role/stint/*"]
scopes = ["orders", "payments"]
default_duration = "1h"
max_duration = "2h"
requesters = {{ groups = ["sre"] }}
approvers = {{ groups = ["owners"], required = 1 }}
statements = [{statements}]
"#
    );
    Catalog::from_toml(&base)
}

#[test]
fn careless_catalog_authors_cannot_hand_out_stint_or_identity_administration() {
    let st = |action: &str, resource: &str| {
        format!(r#"{{ actions = ["{action}"], resources = ["{resource}"] }}"#)
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "grant lambda:UpdateFunctionCode on every function (Stint's own)",
            st(
                "lambda:UpdateFunctionCode",
                "arn:aws:lambda:eu-west-1:123456789012:function:*",
            ),
            "",
            "could change Stint's own resource",
        ),
        (
            "grant dynamodb:* on every table (the event store)",
            st(
                "dynamodb:*",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
            ),
            "",
            "could change Stint's own resource",
        ),
        (
            "grant ssm:PutParameter on * (rewrite the catalog)",
            st("ssm:PutParameter", "*"),
            "",
            "could change Stint's own resource",
        ),
        (
            "grant cognito-idp:AdminAddUserToGroup (make anyone an approver)",
            st("cognito-idp:AdminAddUserToGroup", "*"),
            "",
            "can administer Cognito users",
        ),
        (
            "grant iam:PassRole",
            st("iam:PassRole", "*"),
            "",
            "grants IAM beyond reads",
        ),
        (
            "grant iam:*",
            st("iam:*", "*"),
            "",
            "grants IAM beyond reads",
        ),
        (
            "grant every action",
            st("*", "*"),
            "",
            "is every action of every service",
        ),
        (
            "grant sts:Assume*",
            st("sts:Assume*", "*"),
            "",
            "grants identity administration (sts)",
        ),
        (
            "grant organizations:*",
            st("organizations:*", "*"),
            "",
            "grants identity administration (organizations)",
        ),
        (
            "grant sso-admin:CreateAccountAssignment",
            st("sso-admin:CreateAccountAssignment", "*"),
            "",
            "grants identity administration (sso-admin)",
        ),
        (
            "grant events:PutEvents on * (forge AccessApproved on Stint's bus)",
            st("events:PutEvents", "*"),
            "",
            "could change Stint's own resource",
        ),
        (
            "grant lambda:InvokeFunction on * (invoke the grant function)",
            st("lambda:InvokeFunction", "*"),
            "",
            "could change Stint's own resource",
        ),
        (
            "grant sqs:PurgeQueue on * (empty the dead-letter queues)",
            st("sqs:PurgeQueue", "*"),
            "",
            "could change Stint's own resource",
        ),
        (
            "read Stint's alert secret parameter",
            st(
                "ssm:GetParameter",
                "arn:aws:ssm:eu-west-1:123456789012:parameter/stint/alert-webhook-secret",
            ),
            "",
            "reaches Stint's own resource",
        ),
        (
            "reach Stint's table through a policy variable",
            st(
                "dynamodb:GetItem",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/${aws:username}",
            ),
            "",
            "uses an IAM policy variable",
        ),
        (
            "a service outside settings.allowed_services",
            st("ec2:TerminateInstances", "*"),
            "allowed_services = [\"dynamodb\"]",
            "is not in settings.allowed_services",
        ),
    ];
    for (case, statements, settings, expected) in cases {
        let refused = matches!(authored(&statements, settings), Err(ref e) if e.to_string().contains(expected));
        verdict(case, "careless catalog author", refused, false, false);
    }
    // The statements that stand alone are accepted: the table above is not refusing everything.
    assert!(authored(
        &st(
            "dynamodb:GetItem",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}"
        ),
        ""
    )
    .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_never_reaches_stints_own_queues() {
    let s = setup().await;
    let stints = s.w.queue(&unique_name("stint-dlq")).await;
    let id = s.granted().await;
    let session = s.w.session(&s.role, "alice@example.com").await;
    assert!(can_send(&session, &s.queue).await);
    // The grant's document ends with an unconditional deny of Stint's own resources.
    let doc =
        s.w.stint
            .get(id)
            .await
            .unwrap()
            .events
            .iter()
            .find_map(|e| {
                (e.record.event_type == "AccessGranted").then(|| e.record.payload["policy"].clone())
            });
    let denies = doc
        .as_ref()
        .and_then(|d| d["Statement"].as_array())
        .is_some_and(|st| {
            st.iter().any(|x| {
                x["Effect"] == "Deny"
                    && x["Resource"]
                        .to_string()
                        .contains("arn:aws:sqs:*:*:stint-*")
            })
        });
    verdict(
        "reach Stint's own queue with a grant",
        "careless catalog author",
        denies,
        can_send(&session, &stints).await,
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_pattern_is_escaped_with_a_deeper_path() {
    let s = setup().await;
    let oncall = s.w.role("/stint/", &unique_name("oncall")).await;
    let before = s.w.event_count().await;
    let deeper = PrincipalArn::parse(&format!(
        "arn:aws:iam::{ACCOUNT}:role/stint/x/{}",
        oncall.role_name()
    ))
    .unwrap();
    let r =
        s.w.stint
            .submit(&alice(), request("queue-send", &s.scope, &deeper, "deploy"))
            .await;
    let refused = matches!(
        r,
        Err(AppError::Rejected(Rejection::PrincipalNotAllowed(_)))
    );
    let access = can_send(&s.w.session(&oncall, "alice@example.com").await, &s.queue).await;
    verdict(
        "land a grant on another role through a deeper path",
        "malicious requester",
        refused,
        access,
        s.w.event_count().await != before,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_person_rides_a_grant_on_a_shared_role() {
    let s = setup().await;
    let id = s.granted().await;
    // moto does not evaluate StringLike: the document is what binds the grant to alice's
    // sessions, so the document is what is checked.
    let st = s.w.stint.get(id).await.unwrap();
    let doc = st.events.iter().find_map(|e| {
        (e.record.event_type == "AccessGranted").then(|| e.record.payload["policy"].clone())
    });
    let bound = doc
        .as_ref()
        .and_then(|d| d["Statement"].as_array())
        .is_some_and(|sts| {
            sts.iter()
                .filter(|x| x["Effect"] == "Allow")
                .all(|x| x["Condition"]["StringLike"]["aws:userid"] == "*:alice@example.com")
        });
    verdict(
        "use alice's grant from mallory's session of the same role",
        "malicious requester",
        bound,
        false,
        false,
    );
}

// --- access reviews ---------------------------------------------------------------------------
// What an attack on a review would win is a record: a grant judged by the wrong person, a
// verdict changed after the fact, or a finding that disappears from the auditors' report.

/// Checks a refused review and records the case: `changed` is whether the grant's review
/// record moved, `appended` whether anything was written.
fn review_verdict(case: &str, attacker: &str, refused: bool, changed: bool, appended: bool) {
    proof::attack(case, attacker, !refused || changed || appended);
    assert!(refused, "{case}: not refused as expected");
    assert!(!changed, "{case}: the review record changed");
    assert!(!appended, "{case}: events were appended");
}

impl Setup {
    async fn review_of(&self, id: RequestId) -> Option<stint_domain::review::GrantReview> {
        self.w.stint.get(id).await.unwrap().state.review
    }

    /// The review findings of the report for the week of November's deadline (15 December).
    async fn review_findings_at_the_deadline(&self) -> Vec<(String, String)> {
        let day = |d: u32| {
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, d, 0, 0, 0).unwrap()
        };
        let r = stint_app::report::compile(
            &self.w.store,
            day(9),
            day(16),
            day(16),
            self.w.stint.catalog.settings.review_within,
        )
        .await
        .unwrap();
        let mut out: Vec<(String, String)> = r
            .findings
            .iter()
            .filter_map(|f| match f {
                stint_domain::report::Finding::GrantNotReviewed { id, .. } => {
                    Some(("not_reviewed".to_owned(), id.clone()))
                }
                stint_domain::report::Finding::GrantInappropriate { id, .. } => {
                    Some(("inappropriate".to_owned(), id.clone()))
                }
                _ => None,
            })
            .collect();
        out.sort();
        out
    }
}

fn appropriate(by: &stint_domain::Identity) -> (stint_domain::Identity, Verdict) {
    (by.clone(), Verdict::Appropriate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grantees_and_outsiders_review_a_grant() {
    let s = setup().await;
    let id = s.granted().await;
    let before = s.w.event_count().await;
    type ReviewCase = (
        &'static str,
        &'static str,
        stint_domain::Identity,
        fn(&Rejection) -> bool,
    );
    let cases: [ReviewCase; 4] = [
        (
            "review one's own grant",
            "malicious requester",
            alice(),
            |r| matches!(r, Rejection::SelfReview),
        ),
        (
            "review one's own grant from inside the approver group",
            "malicious requester who is also an approver",
            who("alice@example.com", &["sre", "owners"]),
            |r| matches!(r, Rejection::SelfReview),
        ),
        (
            "review a grant without being an approver",
            "malicious requester",
            who("mallory@example.com", &["sre"]),
            |r| matches!(r, Rejection::NotApprover(_)),
        ),
        (
            "review a grant as an admin who approves nothing",
            "admin",
            who("sec@example.com", &["security"]),
            |r| matches!(r, Rejection::NotApprover(_)),
        ),
    ];
    for (case, attacker, reviewer, expected) in cases {
        let (reviewer, v) = appropriate(&reviewer);
        let r = s.w.stint.review_grant(id, &reviewer, v, None, None).await;
        let refused = matches!(&r, Err(AppError::Rejected(rej)) if expected(rej));
        review_verdict(
            case,
            attacker,
            refused,
            s.review_of(id).await.is_some(),
            s.w.event_count().await != before,
        );
    }
    // The effect where auditors look: the grant is still unreviewed at the deadline.
    assert_eq!(
        s.review_findings_at_the_deadline().await,
        [("not_reviewed".to_owned(), id.to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_of_a_request_that_was_never_granted() {
    let s = setup().await;
    let pending = s.submitted().await;
    let denied = s.submitted().await;
    s.w.stint.deny(denied, &owner(), None).await.unwrap();
    let before = s.w.event_count().await;
    for (case, id) in [
        ("review a pending request as if granted", pending),
        ("review a denied request as if granted", denied),
    ] {
        let (bob, v) = appropriate(&owner());
        let r = s.w.stint.review_grant(id, &bob, v, None, None).await;
        review_verdict(
            case,
            "malicious approver padding the coverage",
            matches!(r, Err(AppError::Rejected(Rejection::NotGranted))),
            s.review_of(id).await.is_some(),
            s.w.event_count().await != before,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inappropriate_verdict_is_overwritten_or_filed_under_another_period() {
    let s = setup().await;
    let id = s.granted().await;
    let why = stint_domain::ReviewComment::parse("no incident at the time").unwrap();
    s.w.stint
        .review_grant(id, &owner(), Verdict::Inappropriate, Some(why), None)
        .await
        .unwrap();
    let first = s.review_of(id).await;
    let before = s.w.event_count().await;
    let carol = who("carol@example.com", &["owners"]);
    for (case, attacker, by) in [
        (
            "overwrite a review with another verdict",
            "the approver who made it",
            owner(),
        ),
        (
            "overwrite another approver's review",
            "malicious approver",
            carol,
        ),
    ] {
        let r =
            s.w.stint
                .review_grant(id, &by, Verdict::Appropriate, None, None)
                .await;
        review_verdict(
            case,
            attacker,
            matches!(
                r,
                Err(AppError::Rejected(Rejection::AlreadyReviewed {
                    verdict: Verdict::Inappropriate,
                    ..
                }))
            ),
            s.review_of(id).await != first,
            s.w.event_count().await != before,
        );
    }
    let r =
        s.w.stint
            .review_grant(
                id,
                &who("dave@example.com", &["owners"]),
                Verdict::Appropriate,
                None,
                Some(stint_domain::Period::parse("2026-10").unwrap()),
            )
            .await;
    review_verdict(
        "file a review under another period",
        "malicious approver",
        matches!(r, Err(AppError::Rejected(Rejection::WrongPeriod { .. }))),
        s.review_of(id).await != first,
        s.w.event_count().await != before,
    );
    // The finding stands in the auditors' report.
    assert_eq!(
        s.review_findings_at_the_deadline().await,
        [("inappropriate".to_owned(), id.to_string())]
    );
}
