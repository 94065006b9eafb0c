//! Least privilege, checked on the SAM template as written: no function may update or delete
//! events, and IAM write actions reach only `role/stint/*`.

use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("template.yaml"))
        .expect("template.yaml is YAML")
}

/// A scalar, or the text inside an intrinsic function such as `!Sub` or `!GetAtt`.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!("{}:{}", t.tag, text(&t.value)),
        Value::Sequence(s) => s.iter().map(text).collect::<Vec<_>>().join(","),
        other => format!("{other:?}"),
    }
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(s) => s.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

/// Every (function, action, resources) in the functions' inline policy statements.
fn statements() -> Vec<(String, String, Vec<String>)> {
    let t = template();
    let mut out = Vec::new();
    for (name, res) in t["Resources"].as_mapping().expect("resources") {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = text(name);
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
                assert_eq!(
                    st["Effect"].as_str(),
                    Some("Allow"),
                    "{name}: only Allow statements here"
                );
                for action in list(&st["Action"]) {
                    out.push((name.clone(), action, list(&st["Resource"])));
                }
            }
        }
    }
    out
}

#[test]
fn no_function_may_update_or_delete_events() {
    let all = statements();
    assert!(
        all.len() > 10,
        "the template's statements were read: {all:?}"
    );
    for (f, action, resources) in &all {
        let a = action.to_ascii_lowercase();
        let dynamo = a.starts_with("dynamodb:");
        assert!(
            !(dynamo
                && (a.contains("update")
                    || a.contains("delete")
                    || a.contains('*')
                    || a.contains("batchwrite")
                    || a.contains("partiql"))),
            "{f} may {action} on {resources:?}"
        );
    }
    // And the ones that touch the table may only put and read it.
    let table: Vec<_> = all
        .iter()
        .filter(|(_, a, _)| a.starts_with("dynamodb:"))
        .map(|(_, a, _)| a.as_str())
        .collect();
    assert!(
        table
            .iter()
            .all(|a| ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"].contains(a)),
        "{table:?}"
    );
}

#[test]
fn iam_actions_reach_only_role_stint() {
    let all = statements();
    let puts = all
        .iter()
        .filter(|(_, a, _)| a == "iam:PutRolePolicy")
        .count();
    assert_eq!(
        puts, 2,
        "grant and revoke may put role policies, and nothing else: {all:?}"
    );
    for (f, action, resources) in all {
        if !action.to_ascii_lowercase().starts_with("iam:") {
            continue;
        }
        if action == "iam:PassRole" {
            // The one exception: passing the scheduler's own role when a timer is created.
            assert_eq!(resources, ["!GetAtt:SchedulerRole.Arn"], "{f}");
            continue;
        }
        assert!(
            [
                "iam:GetRole",
                "iam:ListRolePolicies",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy"
            ]
            .contains(&action.as_str()),
            "{f} may {action}"
        );
        for r in &resources {
            assert!(
                r.ends_with(":role/stint/*") && !r.contains("role/*"),
                "{f}: {action} on {r}"
            );
        }
    }
}

#[test]
fn the_event_table_keeps_its_history() {
    let t = template();
    let table = &t["Resources"]["EventsTable"];
    let p = &table["Properties"];
    assert_eq!(p["DeletionProtectionEnabled"].as_bool(), Some(true));
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert!(p["TimeToLiveSpecification"].is_null(), "no TTL, ever");
    assert_eq!(text(&table["DeletionPolicy"]), "Retain");
    assert_eq!(
        p["StreamSpecification"]["StreamViewType"].as_str(),
        Some("NEW_IMAGE")
    );
    let bucket = &t["Resources"]["ReportBucket"]["Properties"];
    assert_eq!(bucket["ObjectLockEnabled"].as_bool(), Some(true));
    assert_eq!(
        bucket["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
}

/// Every function is told the deployment's own resources, built from the real ones: no
/// function may start without them, and grants deny every action on them.
#[test]
fn every_function_is_told_stints_own_resources_from_the_real_ones() {
    let t = template();
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    let joined = &env["STINT_PROTECTED_RESOURCES"];
    let Value::Tagged(join) = joined else {
        panic!("STINT_PROTECTED_RESOURCES is a !Join: {joined:?}")
    };
    assert_eq!(join.tag.to_string(), "!Join");
    let parts = join.value.as_sequence().expect("[separator, list]");
    assert_eq!(parts[0].as_str(), Some(","));
    let listed: Vec<String> = list(&parts[1]);
    let has = |s: &str| listed.iter().any(|l| l == s);
    for must in [
        "!GetAtt:EventsTable.Arn",
        "!Sub:${EventsTable.Arn}/*",
        "!GetAtt:Bus.Arn",
        "!GetAtt:ScheduleGroup.Arn",
        "!GetAtt:SchedulerRole.Arn",
        "!GetAtt:ReportBucket.Arn",
        "!Sub:${ReportBucket.Arn}/*",
        "!Ref:AWS::StackId",
        "!Ref:ExtraProtectedResources",
    ] {
        assert!(has(must), "{must} missing from {listed:?}");
    }
    assert!(
        listed
            .iter()
            .any(|l| l.contains(":parameter${CatalogParameterName}")),
        "the catalog parameter: {listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|l| l.contains(":parameter${AlertSecretParameterName}")),
        "the alert secret parameter: {listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|l| l.ends_with(":function:${AWS::StackName}-*")),
        "the functions: {listed:?}"
    );
    // Each function's own role and name, and each queue: a new one must be added here.
    for (name, res) in t["Resources"].as_mapping().expect("resources") {
        let name = text(name);
        match res["Type"].as_str() {
            Some("AWS::Serverless::Function") => {
                assert!(
                    has(&format!("!GetAtt:{name}Role.Arn")),
                    "{name}'s role is not protected: {listed:?}"
                );
                let fname = text(&res["Properties"]["FunctionName"]);
                assert!(
                    fname.starts_with("!Sub:${AWS::StackName}-"),
                    "{name} is named {fname}, outside the protected ${{AWS::StackName}}-*"
                );
            }
            Some("AWS::SQS::Queue") => assert!(
                has(&format!("!GetAtt:{name}.Arn")),
                "{name} is not protected: {listed:?}"
            ),
            _ => {}
        }
    }
}

/// Every route of the router is an API Gateway route of the function that serves its part, and
/// no other: reads on `request`, decisions (access reviews included, which write request
/// streams as approvals do) on `approve`, revokes on `revoke`.
#[test]
fn every_route_is_served_by_the_function_its_part_names() {
    use stint_http::Part;
    let t = template();
    let mut in_template: Vec<(String, String, String)> = Vec::new();
    for (name, res) in t["Resources"].as_mapping().expect("resources") {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let events = res["Properties"]["Events"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        for (_, ev) in events {
            if ev["Type"].as_str() == Some("HttpApi") {
                in_template.push((
                    text(name),
                    text(&ev["Properties"]["Method"]),
                    text(&ev["Properties"]["Path"]),
                ));
            }
        }
    }
    in_template.sort();
    let mut in_router: Vec<(String, String, String)> = stint_http::route_parts()
        .into_iter()
        .map(|(method, path, part)| {
            let function = match part {
                Part::Requests => "RequestFunction",
                Part::Decisions => "ApproveFunction",
                Part::Revoke => "RevokeFunction",
            };
            (function.to_owned(), method.to_owned(), path.to_owned())
        })
        .collect();
    in_router.sort();
    assert_eq!(in_template, in_router);
    assert!(in_router.contains(&("RequestFunction".into(), "GET".into(), "/reviews".into())));
    assert!(in_router.contains(&(
        "ApproveFunction".into(),
        "POST".into(),
        "/reviews/{id}".into()
    )));
}

/// Review reminders run on notify's schedule (it alone holds the notification channels and the
/// notice ledger); the report reads the catalog for the review deadline and writes no event.
#[test]
fn reminders_run_on_notify_and_the_report_only_reads() {
    let t = template();
    let notify = &t["Resources"]["NotifyFunction"]["Properties"]["Events"]["ReviewReminders"];
    assert_eq!(notify["Type"].as_str(), Some("Schedule"));
    assert_eq!(
        text(&notify["Properties"]["Schedule"]),
        "!Ref:ReviewReminderSchedule"
    );
    let report: Vec<(String, Vec<String>)> = statements()
        .into_iter()
        .filter(|(f, _, _)| f == "ReportFunction")
        .map(|(_, a, r)| (a, r))
        .collect();
    assert!(
        report.iter().all(|(a, _)| !a.starts_with("dynamodb:")
            || a == "dynamodb:Query"
            || a == "dynamodb:GetItem"),
        "{report:?}"
    );
    let ssm: Vec<&Vec<String>> = report
        .iter()
        .filter(|(a, _)| a.starts_with("ssm:"))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(ssm.len(), 1, "{report:?}");
    assert!(
        ssm[0][0].ends_with(":parameter${CatalogParameterName}"),
        "{ssm:?}"
    );
}
