//! What a catalog may never grant, whoever wrote it: identity- and control-plane actions, and
//! anything on Stint's own resources. The grant document's deny statements stop such access
//! in IAM whatever the catalog says; these checks refuse the catalog on load, so the mistake
//! is seen by its author instead of surfacing as an AccessDenied during an incident.

use crate::catalog::{Effect, Pattern, Statement};
use crate::glob::action_overlap;
use crate::protected::ProtectedResources;

/// Services whose every action administers identity: who may be whom. Never granted.
const IDENTITY_SERVICES: &[&str] = &[
    "sts",
    "organizations",
    "sso",
    "sso-admin",
    "sso-directory",
    "sso-oauth",
    "identitystore",
    "identitystore-auth",
];

/// Which field of a statement a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Action(usize),
    Resource(usize),
}

/// The service of an action, lower-cased (IAM compares actions case-insensitively).
fn service_of(action: &str) -> String {
    action
        .split_once(':')
        .map(|(s, _)| s)
        .unwrap_or(action)
        .to_ascii_lowercase()
}

/// Whether every action the pattern can expand to starts with one of the read verbs, with no
/// wildcard before the verb ends: `iam:Get*` is reads only, `iam:*` and `iam:?et*` are not.
fn only(action: &str, verbs: &[&str]) -> bool {
    let name = action
        .split_once(':')
        .map(|(_, a)| a)
        .unwrap_or_default()
        .to_ascii_lowercase();
    verbs.iter().any(|v| name.starts_with(v))
}

/// Reads, for deciding whether a statement on a protected resource is reported on its action
/// (a write) or on its resource (a read): both are refused.
fn is_read(action: &str) -> bool {
    only(
        action,
        &["get", "list", "describe", "batchget", "query", "scan"],
    )
}

/// One action of a statement, on its own: shape, allowlist, identity plane.
pub fn check_action(action: &str, allowed_services: Option<&[String]>) -> Result<(), String> {
    if action.trim() == "*" {
        return Err(
            "\"*\" is every action of every service, identity administration and Stint's own \
             resources included"
                .into(),
        );
    }
    let Some((svc, name)) = action.split_once(':') else {
        return Err(format!("{action:?} is not service:Action"));
    };
    if svc.is_empty() || name.is_empty() || svc.contains(['*', '?']) {
        return Err(format!(
            "{action:?} must name one service, e.g. dynamodb:GetItem"
        ));
    }
    if !svc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
    {
        return Err(format!(
            "{action:?} is not an IAM action (letters, digits and wildcards)"
        ));
    }
    let svc = svc.to_ascii_lowercase();
    if let Some(allowed) = allowed_services {
        if !allowed.iter().any(|s| s.eq_ignore_ascii_case(&svc)) {
            return Err(format!(
                "{action:?}: service {svc} is not in settings.allowed_services"
            ));
        }
    }
    if IDENTITY_SERVICES.contains(&svc.as_str()) {
        return Err(format!(
            "{action:?} grants identity administration ({svc}), which Stint never hands out"
        ));
    }
    if svc == "iam" && !only(action, &["get", "list"]) {
        return Err(format!(
            "{action:?} grants IAM beyond reads; only iam:Get* and iam:List* may be granted"
        ));
    }
    if svc == "cognito-idp" && action_overlap(action, "cognito-idp:Admin*") {
        return Err(format!(
            "{action:?} can administer Cognito users (cognito-idp:Admin*), such as adding \
             anyone to an approver group"
        ));
    }
    Ok(())
}

/// An action of a catalog `Deny` statement: it only takes away, so any action shape will do.
pub fn check_deny_action(action: &str) -> Result<(), String> {
    let ok = action == "*"
        || action.split_once(':').is_some_and(|(svc, name)| {
            !svc.is_empty()
                && !name.is_empty()
                && action
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-:*?".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{action:?} is not service:Action or *"))
    }
}

/// A resource's own shape: `*` or an ARN, `{scope}` the only placeholder, no IAM policy
/// variables (`${aws:username}` could expand to anything, Stint's resources included).
pub fn check_resource(resource: &str) -> Result<(), String> {
    if resource.is_empty()
        || resource.len() > 2048
        || resource
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{resource:?} is not a resource (1 to 2048 characters, no whitespace)"
        ));
    }
    if resource.contains('$') {
        return Err(format!(
            "{resource:?} uses an IAM policy variable, which could expand to Stint's own \
             resources; name the resource or use {{scope}}"
        ));
    }
    if resource.replace("{scope}", "").contains(['{', '}']) {
        return Err(format!(
            "{resource:?} has a placeholder other than {{scope}}"
        ));
    }
    if resource != "*" && !resource.starts_with("arn:") {
        return Err(format!("{resource:?} is neither an ARN nor *"));
    }
    Ok(())
}

/// The resource with `{scope}` filled by each allowed scope pattern. A `*` in a scope pattern
/// stays a wildcard here, so the filled resource is read as broadly as any scope could make it.
fn filled<'a>(resource: &'a str, scopes: &'a [Pattern]) -> Vec<(String, Option<&'a str>)> {
    if resource.contains("{scope}") && !scopes.is_empty() {
        scopes
            .iter()
            .map(|s| (resource.replace("{scope}", s.as_str()), Some(s.as_str())))
            .collect()
    } else {
        vec![(resource.to_owned(), None)]
    }
}

/// An Allow statement that reaches a protected resource through an action on its service.
/// Writes are reported on the action, reads on the resource; either is refused.
pub fn check_reach(
    st: &Statement,
    scopes: &[Pattern],
    protected: &ProtectedResources,
) -> Result<(), (Field, String)> {
    if st.effect != Effect::Allow {
        return Ok(());
    }
    let mut read_hit: Option<(Field, String)> = None;
    for (i, resource) in st.resources.iter().enumerate() {
        for (arn, scope) in filled(resource, scopes) {
            let with_scope = scope
                .map(|s| format!(" (with scope {s:?})"))
                .unwrap_or_default();
            for p in protected.overlapping(&arn) {
                for (j, action) in st.actions.iter().enumerate() {
                    if service_of(action) != p.service() {
                        continue;
                    }
                    if !is_read(action) {
                        return Err((
                            Field::Action(j),
                            format!(
                                "{action:?} on {resource:?}{with_scope} could change Stint's \
                                 own resource {p}"
                            ),
                        ));
                    }
                    read_hit.get_or_insert_with(|| {
                        (
                            Field::Resource(i),
                            format!(
                                "{resource:?}{with_scope} reaches Stint's own resource {p} \
                                 through {action}"
                            ),
                        )
                    });
                }
            }
        }
    }
    read_hit.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_control_plane_actions_are_refused() {
        for a in [
            "*",
            "*:*",
            "*:GetItem",
            "iam:*",
            "iam:PassRole",
            "iam:PutRolePolicy",
            "iam:CreateRole",
            "iam:AttachRolePolicy",
            "iam:?etRole",
            "IAM:passrole",
            "sts:AssumeRole",
            "sts:Assume*",
            "sts:GetCallerIdentity",
            "organizations:*",
            "sso:*",
            "sso-admin:CreateAccountAssignment",
            "identitystore:*",
            "cognito-idp:AdminAddUserToGroup",
            "cognito-idp:*",
            "cognito-idp:Ad*",
            "Cognito-IDP:adminsetuserpassword",
            "dynamodb:Get Item",
            "dynamodb",
        ] {
            assert!(check_action(a, None).is_err(), "{a} should be refused");
        }
        for a in [
            "iam:GetRole",
            "iam:Get*",
            "iam:List*",
            "iam:listroles",
            "cognito-idp:ListUsers",
            "cognito-idp:Describe*",
            "dynamodb:GetItem",
            "lambda:UpdateFunctionCode",
            "s3-object-lambda:GetObject",
        ] {
            assert_eq!(check_action(a, None), Ok(()), "{a}");
        }
    }

    #[test]
    fn the_allowlist_names_services_case_insensitively() {
        let allowed = ["dynamodb".to_owned(), "Logs".to_owned()];
        assert_eq!(check_action("DynamoDB:GetItem", Some(&allowed)), Ok(()));
        assert_eq!(check_action("logs:GetLogEvents", Some(&allowed)), Ok(()));
        assert_eq!(
            check_action("lambda:GetFunction", Some(&allowed)),
            Err(
                "\"lambda:GetFunction\": service lambda is not in settings.allowed_services".into()
            )
        );
    }

    #[test]
    fn resources_are_arns_or_star_without_policy_variables() {
        for ok in [
            "*",
            "arn:aws:s3:::b/{scope}/*",
            "arn:aws:dynamodb:*:*:table/x",
        ] {
            assert_eq!(check_resource(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "arn:aws:lambda:eu-west-1:123456789012:function:${aws:username}",
            "arn:aws:s3:::b/{team}",
            "table/orders",
            "arn:aws:s3:::a b",
        ] {
            assert!(check_resource(bad).is_err(), "{bad}");
        }
    }

    fn statement(actions: &[&str], resources: &[&str]) -> Statement {
        Statement {
            effect: Effect::Allow,
            actions: actions.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn deployed() -> ProtectedResources {
        ProtectedResources::parse_list(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/prod-EventsTable-1,\
             arn:aws:dynamodb:eu-west-1:123456789012:table/prod-EventsTable-1/*,\
             arn:aws:lambda:eu-west-1:123456789012:function:prod-grant,\
             arn:aws:ssm:eu-west-1:123456789012:parameter/stint/catalog,\
             arn:aws:events:eu-west-1:123456789012:event-bus/stint",
        )
        .unwrap()
    }

    #[test]
    fn writes_on_protected_resources_name_the_action_and_reads_the_resource() {
        let p = deployed();
        let st = statement(
            &["lambda:GetFunction", "lambda:Update*"],
            &["arn:aws:lambda:eu-west-1:123456789012:function:*"],
        );
        let (field, why) = check_reach(&st, &[], &p).unwrap_err();
        assert_eq!(field, Field::Action(1));
        assert!(why.contains("could change Stint's own resource arn:aws:lambda:eu-west-1:123456789012:function:prod-grant"), "{why}");
        let st = statement(
            &["dynamodb:GetItem"],
            &[
                "arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
            ],
        );
        let (field, why) = check_reach(&st, &[], &p).unwrap_err();
        assert_eq!(field, Field::Resource(1));
        assert!(why.contains("through dynamodb:GetItem"), "{why}");
        assert_eq!(
            check_reach(&statement(&["ssm:PutParameter"], &["*"]), &[], &p)
                .unwrap_err()
                .0,
            Field::Action(0)
        );
        assert_eq!(
            check_reach(&statement(&["events:PutEvents"], &["*"]), &[], &p)
                .unwrap_err()
                .0,
            Field::Action(0)
        );
        // Another service's actions on `*` never reach these resources.
        assert_eq!(
            check_reach(&statement(&["logs:GetLogEvents"], &["*"]), &[], &p),
            Ok(())
        );
    }

    #[test]
    fn scopes_are_filled_in_before_the_overlap_is_checked() {
        let p = deployed();
        let st = statement(
            &["dynamodb:GetItem"],
            &["arn:aws:dynamodb:eu-west-1:123456789012:table/{scope}"],
        );
        let orders = [Pattern::new("orders").unwrap()];
        assert_eq!(check_reach(&st, &orders, &p), Ok(()));
        for scope in ["prod-*", "*", "prod-EventsTable-1", "*/index/*"] {
            let scopes = [
                Pattern::new("orders").unwrap(),
                Pattern::new(scope).unwrap(),
            ];
            let (field, why) = check_reach(&st, &scopes, &p).unwrap_err();
            assert_eq!(field, Field::Resource(0), "{scope}");
            assert!(why.contains(&format!("(with scope {scope:?})")), "{why}");
        }
    }

    #[test]
    fn deny_statements_are_not_checked_for_reach() {
        let mut st = statement(&["dynamodb:*"], &["*"]);
        st.effect = Effect::Deny;
        assert_eq!(check_reach(&st, &[], &deployed()), Ok(()));
    }
}
