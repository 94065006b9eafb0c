//! Least privilege, checked on the SAM template as written: no function may update or delete
//! events, each may put only into its own streams, and IAM write actions reach only
//! `role/stint/*`.

use serde_norway::Value;
use stint_tests::proof;

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

/// A statement as written, or the statement inside `!If [Condition, statement, !Ref
/// AWS::NoValue]` (one present only when the stack configures what it is for).
fn unwrap_if(st: Value) -> Value {
    match st {
        Value::Tagged(t) if t.tag == "If" => t
            .value
            .as_sequence()
            .and_then(|s| s.get(1))
            .cloned()
            .unwrap_or(Value::Null),
        other => other,
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
                .into_iter()
                .map(unwrap_if)
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
    // And the ones that touch the table may only put and read it (Scan: the report's audit).
    let table: Vec<_> = all
        .iter()
        .filter(|(_, a, _)| a.starts_with("dynamodb:"))
        .map(|(_, a, _)| a.as_str())
        .collect();
    assert!(
        table.iter().all(|a| [
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:Scan"
        ]
        .contains(a)),
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
            // A grant that could change the checkpoint key's policy could sign a forged history.
            Some("AWS::SQS::Queue" | "AWS::KMS::Key") => assert!(
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
                Part::Alerts => "AlertsFunction",
                Part::Slack => "InteractionsFunction",
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
/// notice ledger); the report reads the review deadline from the catalog history and writes no
/// event.
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
            || a == "dynamodb:GetItem"
            || a == "dynamodb:Scan"),
        "{report:?}"
    );
    // The review deadline comes from the catalog history in the table, not the parameter.
    assert!(
        report.iter().all(|(a, _)| !a.starts_with("ssm:")),
        "{report:?}"
    );
}

/// The streams each function may write, by the code that writes them: `StreamId::for_request`
/// (request, alerts, approve, grant, revoke), `for_alert` (the alerts function's claims),
/// `streams::notice` (notify's ledger), `streams::drift` (the revoke function's sweep) and
/// `streams::catalog` (each function that decides with the catalog records the one it loaded).
/// The report function and the relay write nothing; `recorded#` is local mode's alone.
fn expected_writes() -> Vec<(&'static str, Vec<&'static str>)> {
    use stint_domain::streams::{ALERT, CATALOG, DRIFT, NOTICE, REQUEST};
    vec![
        ("RequestFunction", vec![REQUEST, CATALOG]),
        ("AlertsFunction", vec![REQUEST, ALERT, CATALOG]),
        ("ApproveFunction", vec![REQUEST, CATALOG]),
        ("GrantFunction", vec![REQUEST, CATALOG]),
        ("RevokeFunction", vec![REQUEST, DRIFT, CATALOG]),
        ("NotifyFunction", vec![NOTICE]),
        ("RelayFunction", vec![]),
        ("ReportFunction", vec![]),
        ("InteractionsFunction", vec![REQUEST, CATALOG]),
    ]
}

/// The template's inline policy statements of one function, as YAML.
fn function_statements(t: &Value, function: &str) -> Vec<Value> {
    t["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
        .iter()
        .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        .map(unwrap_if)
        .collect()
}

fn is_table_write(action: &str) -> bool {
    let a = action.to_ascii_lowercase();
    a.starts_with("dynamodb:")
        && !["dynamodb:query", "dynamodb:getitem", "dynamodb:scan"].contains(&a.as_str())
        && !a.starts_with("dynamodb:describe")
}

/// The `stream` prefixes `function` may put into, read from its one conditioned put statement,
/// which must be exactly: `dynamodb:PutItem` on the table, under `ForAllValues:StringLike` on
/// `dynamodb:LeadingKeys` and a `Null` check that the key is present (a `ForAllValues` over no
/// values is true, so the second condition keeps it from ever matching an empty set). Each
/// prefix is returned without its trailing `*`.
pub(crate) fn write_prefixes(function: &str) -> Vec<String> {
    let t = template();
    let mut prefixes = Vec::new();
    for st in function_statements(&t, function) {
        let actions = list(&st["Action"]);
        if !actions.iter().any(|a| is_table_write(a)) {
            assert!(
                st["Condition"].is_null() || !actions.iter().any(|a| a.starts_with("dynamodb:")),
                "{function}: table reads stay unconditioned (they read other streams): {st:?}"
            );
            continue;
        }
        // The sweep's cursor lives in a table of its own, which only the revoke function
        // touches; nothing it holds is an event.
        if list(&st["Resource"]) == ["!GetAtt:SweepTable.Arn"] {
            assert_eq!(
                function, "RevokeFunction",
                "only revoke keeps the sweep cursor"
            );
            assert_eq!(actions, ["dynamodb:GetItem", "dynamodb:PutItem"]);
            continue;
        }
        assert_eq!(
            actions,
            ["dynamodb:PutItem"],
            "{function}: the conditioned put stands alone"
        );
        assert_eq!(
            list(&st["Resource"]),
            ["!GetAtt:EventsTable.Arn"],
            "{function}: puts go to the table itself"
        );
        let condition = st["Condition"].as_mapping().unwrap_or_else(|| {
            panic!("{function}: an unconditioned put may write any stream: {st:?}")
        });
        let mut operators: Vec<String> = condition.keys().map(text).collect();
        operators.sort();
        assert_eq!(
            operators,
            ["ForAllValues:StringLike", "Null"],
            "{function}: exactly the LeadingKeys condition and its presence check"
        );
        let keys = condition
            .get("ForAllValues:StringLike")
            .and_then(Value::as_mapping)
            .expect("a mapping");
        assert_eq!(keys.len(), 1, "{function}: only dynamodb:LeadingKeys");
        assert_eq!(
            text(&condition["Null"]["dynamodb:LeadingKeys"]),
            "false",
            "{function}: the key must be present"
        );
        assert_eq!(
            condition["Null"].as_mapping().map(|m| m.len()),
            Some(1),
            "{function}"
        );
        for p in list(&keys["dynamodb:LeadingKeys"]) {
            let stem = p
                .strip_suffix("#*")
                .unwrap_or_else(|| panic!("{function}: {p:?} must be <family>#*"));
            assert!(
                !stem.is_empty() && !stem.contains(['*', '?', '$']),
                "{function}: {p:?} has a wildcard or variable before its end"
            );
            prefixes.push(p.trim_end_matches('*').to_owned());
        }
    }
    prefixes
}

/// IAM's string matching for `StringLike` and actions: `*` any run, `?` one character.
fn iam_like(pattern: &str, value: &str) -> bool {
    fn go(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('*', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some(('?', rest)) => !v.is_empty() && go(rest, &v[1..]),
            Some((c, rest)) => v.first() == Some(c) && go(rest, &v[1..]),
        }
    }
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    go(&p, &v)
}

/// Whether a statement's condition holds for a put whose partition key is `stream`. Only the
/// operators the template uses can be judged; any other stops the test rather than guess.
fn condition_holds(condition: &Value, stream: &str) -> bool {
    let Some(operators) = condition.as_mapping() else {
        return condition.is_null();
    };
    operators.iter().all(|(op, keys)| {
        keys.as_mapping()
            .expect("condition keys")
            .iter()
            .all(
                |(key, values)| match (text(op).as_str(), text(key).as_str()) {
                    ("ForAllValues:StringLike", "dynamodb:LeadingKeys") => {
                        list(values).iter().any(|p| iam_like(p, stream))
                    }
                    // The key is present on every put: `Null: false` holds, `Null: true` does not.
                    ("Null", "dynamodb:LeadingKeys") => text(values) == "false",
                    (op, key) => panic!("the test cannot judge {op} on {key}"),
                },
            )
    })
}

/// Whether `function`'s policy in the template allows `dynamodb:PutItem` of an item whose
/// `stream` is `stream` into the events table, judged by IAM's rules for the statements it
/// holds (Allow, action, resource, condition). A `TransactWriteItems` is allowed only when
/// each of its puts is. The emulator does not evaluate `dynamodb:LeadingKeys`, so this reading
/// of the template is the proof.
pub(crate) fn may_put(function: &str, stream: &str) -> bool {
    let t = template();
    function_statements(&t, function).iter().any(|st| {
        st["Effect"].as_str() == Some("Allow")
            && list(&st["Action"])
                .iter()
                .any(|a| iam_like(&a.to_ascii_lowercase(), "dynamodb:putitem"))
            && list(&st["Resource"])
                .iter()
                .any(|r| r == "!GetAtt:EventsTable.Arn" || r == "*")
            && condition_holds(&st["Condition"], stream)
    })
}

/// The template's resource name of a function binary, e.g. `stint-notify` → `NotifyFunction`.
pub(crate) fn resource_of(binary: &str) -> String {
    let name = binary.strip_prefix("stint-").expect("a stint-* binary");
    let mut chars = name.chars();
    let first = chars.next().expect("a name").to_ascii_uppercase();
    format!("{first}{}Function", chars.as_str())
}

#[test]
fn every_function_puts_only_into_its_own_streams() {
    let t = template();
    let functions: Vec<String> = t["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(n, _)| text(n))
        .collect();
    let expected = expected_writes();
    let named: Vec<&str> = expected.iter().map(|(f, _)| *f).collect();
    for f in &functions {
        assert!(
            named.contains(&f.as_str()),
            "{f} is new: say which streams it writes in expected_writes()"
        );
    }
    assert_eq!(functions.len(), expected.len(), "{functions:?}");
    for (function, families) in &expected {
        let mut got = write_prefixes(function);
        let mut want: Vec<String> = families.iter().map(|f| f.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{function} writes exactly these stream families");
        // Every function that reads the table reads it whole: decisions fold other streams.
        let reads = function_statements(&t, function).iter().any(|st| {
            list(&st["Action"]).contains(&"dynamodb:Query".to_owned()) && st["Condition"].is_null()
        });
        assert_eq!(
            reads,
            *function != "RelayFunction",
            "{function} reads the log unconditioned"
        );
    }
}

/// The rules, said once more in its own words: request events only by the functions
/// that decide requests, alert claims only by `request`, the notice ledger only by `notify`;
/// the report function and the read paths write nothing, and no function writes local mode's
/// recorded policies.
#[test]
fn each_stream_family_has_only_its_own_writers() {
    use stint_domain::streams::{ALERT, ALL, NOTICE, RECORDED, REQUEST};
    let writers = |family: &str| -> Vec<&'static str> {
        expected_writes()
            .into_iter()
            .map(|(f, _)| f)
            .filter(|f| write_prefixes(f).iter().any(|p| p == family))
            .collect()
    };
    assert_eq!(
        writers(REQUEST),
        [
            "RequestFunction",
            "AlertsFunction",
            "ApproveFunction",
            "GrantFunction",
            "RevokeFunction",
            "InteractionsFunction"
        ]
    );
    assert_eq!(writers(ALERT), ["AlertsFunction"]);
    assert_eq!(writers(NOTICE), ["NotifyFunction"]);
    assert!(writers(RECORDED).is_empty());
    for family in ALL.into_iter().filter(|f| *f != RECORDED) {
        assert!(
            !writers(family).is_empty(),
            "no function may write {family}, which the code writes"
        );
    }
    for reader in ["ReportFunction", "RelayFunction"] {
        let t = template();
        for st in function_statements(&t, reader) {
            for a in list(&st["Action"]) {
                assert!(!is_table_write(&a), "{reader} may {a}");
            }
        }
    }
    // What the policies allow, judged statement by statement, matches the families.
    for (function, families) in expected_writes() {
        for family in ALL {
            let stream = format!("{family}01JDQZ8X3V2Q6W4M9K7T5R1N0A");
            assert_eq!(
                may_put(function, &stream),
                families.contains(&family),
                "{function} putting into {stream}"
            );
        }
    }
}

#[test]
fn the_policy_reader_matches_as_iam_does() {
    assert!(iam_like("request#*", "request#01J"));
    assert!(iam_like("request#*", "request#"));
    assert!(!iam_like("request#*", "requests#01J"));
    assert!(
        !iam_like("request#*", "Request#01J"),
        "StringLike is case-sensitive"
    );
    assert!(!iam_like("request#*", "xrequest#01J"));
    assert!(iam_like("a?c", "abc") && !iam_like("a?c", "ac"));
    assert_eq!(resource_of("stint-notify"), "NotifyFunction");
}

/// The attacks table's write-isolation rows (infra/attacks-isolation.md): a function's code is
/// taken over, and it puts items with its own role's credentials. IAM cannot require
/// `attribute_not_exists`, so without `LeadingKeys` any put could overwrite any event. Each
/// put is judged by the template's policy as IAM would (the emulator does not evaluate
/// `dynamodb:LeadingKeys`); a transaction needs every one of its puts allowed.
#[test]
fn attacks_on_other_functions_streams_are_refused_by_the_policy() {
    let id = "01JDQZ8X3V2Q6W4M9K7T5R1N0A";
    let request = format!("request#{id}");
    let notice = format!("notice#{id}");
    let cases: Vec<(&str, &str, &str, Vec<String>)> = vec![
        (
            "overwrite a request's AccessRequested (version 1) with another role",
            "compromised notify function",
            "NotifyFunction",
            vec![request.clone()],
        ),
        (
            "append a forged AccessApproved to a request",
            "compromised notify function",
            "NotifyFunction",
            vec![request.clone()],
        ),
        (
            "mark a notice as sent so the approver is never told",
            "compromised request function",
            "RequestFunction",
            vec![notice.clone()],
        ),
        (
            "claim an incident's alert stream for another request",
            "compromised approve function",
            "ApproveFunction",
            vec!["alert#00112233445566778899aabbccddeeff".into()],
        ),
        (
            "claim an incident's alert stream through the API that takes end-user tokens",
            "compromised request function",
            "RequestFunction",
            vec!["alert#00112233445566778899aabbccddeeff".into()],
        ),
        (
            "mark a notice as sent, from behind the route that takes no token",
            "compromised alerts function",
            "AlertsFunction",
            vec![notice.clone()],
        ),
        (
            "forge or overwrite the sweep's record of a removed policy",
            "compromised grant function",
            "GrantFunction",
            vec!["drift#arn:aws:iam::123456789012:role/stint/oncall".into()],
        ),
        (
            "rewrite the catalog history",
            "compromised notify function",
            "NotifyFunction",
            vec!["catalog#deployment".into()],
        ),
        (
            "write a stream outside its families (requests#, Request#, checkpoint#)",
            "compromised request function",
            "RequestFunction",
            vec![
                format!("requests#{id}"),
                format!("Request#{id}"),
                format!("checkpoint#{id}"),
            ],
        ),
        (
            "one transaction: a request event it may write and a notice it may not",
            "compromised revoke function",
            "RevokeFunction",
            vec![request.clone(), notice.clone()],
        ),
        (
            "rewrite the events of the period it reports",
            "compromised report function",
            "ReportFunction",
            vec![request.clone()],
        ),
        (
            "put any item while relaying the stream",
            "compromised relay function",
            "RelayFunction",
            vec![request.clone()],
        ),
    ];
    for (case, attacker, function, puts) in cases {
        // A single put, or a transaction of several: all or nothing.
        let allowed = puts.iter().all(|stream| may_put(function, stream));
        proof::attack(case, attacker, allowed);
        assert!(!allowed, "{case}: {function} may put {puts:?}");
    }
}

/// Every function is built by the Makefile as its own package, so it links only what it uses
/// (a `--bin` build at the workspace root unifies features across members).
#[test]
fn every_function_is_built_alone_by_the_makefile() {
    let t = template();
    let makefile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Makefile"))
        .expect("Makefile");
    let mut functions = 0;
    for (name, res) in t["Resources"].as_mapping().expect("resources") {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let name = text(name);
        assert_eq!(
            res["Metadata"]["BuildMethod"].as_str(),
            Some("makefile"),
            "{name}"
        );
        let package = format!(
            "stint-{}",
            name.trim_end_matches("Function").to_ascii_lowercase()
        );
        let rule = format!("$(eval $(call function,{name},{package}))");
        assert!(makefile.contains(&rule), "the Makefile has no {rule}");
        assert!(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
                .join(package.trim_start_matches("stint-"))
                .join("Cargo.toml")
                .exists(),
            "{package} is a package"
        );
    }
    assert_eq!(functions, 9);
    assert!(makefile.contains("cargo lambda build --profile lambda $(LAMBDA_FLAGS) -p $(2)"));
}

#[test]
fn only_grant_and_revoke_reach_identity_center_and_only_the_configured_instance() {
    let all = statements();
    let mut seen = std::collections::BTreeSet::new();
    for (f, action, resources) in &all {
        let a = action.to_ascii_lowercase();
        if !(a.starts_with("sso:") || a.starts_with("identitystore:")) {
            continue;
        }
        seen.insert(f.clone());
        assert!(
            f == "GrantFunction" || f == "RevokeFunction",
            "{f} may {action}"
        );
        assert!(!a.contains('*'), "{f}: no wildcard actions: {action}");
        for r in resources {
            assert!(
                r.contains("${IdentityCenterInstanceId}")
                    || r.contains("${IdentityStoreId}")
                    || r.ends_with(":sso:::account/*")
                    || r.ends_with(":identitystore:::user/*"),
                "{f}: {action} on {r} is not scoped to the configured instance or store"
            );
        }
        // Only the revoke function deletes; the grant function only creates.
        if a == "sso:deleteaccountassignment" {
            assert_eq!(f, "RevokeFunction");
        }
        // Only the grant function looks users up; revoke deletes by the recorded principal id.
        if a.starts_with("identitystore:") {
            assert_eq!(f, "GrantFunction", "{f} may {action}");
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["GrantFunction", "RevokeFunction"]
    );
}
