//! Operations as the template builds them: each alarm watches the metric and threshold its
//! description claims and tells the alarm topic; every queue is encrypted; every function that
//! is invoked asynchronously has a dead-letter queue; grant and revoke have reserved
//! concurrency; the API logs its access with a retention; the dashboard shows every figure.

use serde_norway::Value;
use stint_domain::metrics::Figure;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("template.yaml"))
        .expect("template.yaml is YAML")
}

/// A scalar, or the text inside an intrinsic function such as `!Sub` or `!GetAtt`.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Tagged(t) => format!("{}:{}", t.tag, text(&t.value)),
        Value::Sequence(s) => s.iter().map(text).collect::<Vec<_>>().join(","),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| format!("{}={}", text(k), text(v)))
            .collect::<Vec<_>>()
            .join(","),
        other => format!("{other:?}"),
    }
}

fn resources_of(t: &Value, kind: &str) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (text(name), r.clone()))
        .collect()
}

/// One alarm as the test expects it: on a metric of a namespace (Stint's own, or the
/// service's), with a statistic, a comparison and a threshold.
struct Claim {
    alarm: String,
    namespace: &'static str,
    metric: &'static str,
    statistic: &'static str,
    comparison: &'static str,
    threshold: f64,
}

const STINT: &str = "!Sub:Stint/${AWS::StackName}";

fn claims() -> Vec<Claim> {
    let mut out = vec![
        Claim {
            alarm: "RevokeFailedAlarm".into(),
            namespace: STINT,
            metric: Figure::RevokeFailures.name(),
            statistic: "Sum",
            comparison: "GreaterThanOrEqualToThreshold",
            threshold: 1.0,
        },
        Claim {
            alarm: "RevokeLagAlarm".into(),
            namespace: STINT,
            metric: Figure::RevokeLag.name(),
            statistic: "p99",
            comparison: "GreaterThanThreshold",
            threshold: 60.0,
        },
        Claim {
            alarm: "SweepRepairAlarm".into(),
            namespace: STINT,
            metric: Figure::SweepRepairs.name(),
            statistic: "Sum",
            comparison: "GreaterThanOrEqualToThreshold",
            threshold: 1.0,
        },
    ];
    for q in ["Grant", "Revoke", "Relay", "Notify", "Alerts", "Report"] {
        out.push(Claim {
            alarm: format!("{q}DeadLetterAlarm"),
            namespace: "AWS/SQS",
            metric: "ApproximateNumberOfMessagesVisible",
            statistic: "Maximum",
            comparison: "GreaterThanOrEqualToThreshold",
            threshold: 1.0,
        });
    }
    out
}

fn number(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn notifies_the_topic(name: &str, props: &Value) {
    for actions in ["AlarmActions", "OKActions"] {
        assert_eq!(
            text(&props[actions]),
            "!Ref:AlarmTopicArn",
            "{name} {actions}"
        );
    }
    assert_eq!(props["TreatMissingData"].as_str(), Some("notBreaching"));
    assert_eq!(number(&props["EvaluationPeriods"]), 1.0, "{name}");
}

#[test]
fn each_alarm_watches_the_metric_and_threshold_it_claims() {
    let t = template();
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    for c in claims() {
        let (_, alarm) = alarms
            .iter()
            .find(|(n, _)| *n == c.alarm)
            .unwrap_or_else(|| panic!("no alarm {}", c.alarm));
        let p = &alarm["Properties"];
        assert_eq!(text(&p["Namespace"]), c.namespace, "{}", c.alarm);
        assert_eq!(p["MetricName"].as_str(), Some(c.metric), "{}", c.alarm);
        let stat = p["Statistic"]
            .as_str()
            .or_else(|| p["ExtendedStatistic"].as_str());
        assert_eq!(stat, Some(c.statistic), "{}", c.alarm);
        assert_eq!(
            p["ComparisonOperator"].as_str(),
            Some(c.comparison),
            "{}",
            c.alarm
        );
        assert_eq!(number(&p["Threshold"]), c.threshold, "{}", c.alarm);
        notifies_the_topic(&c.alarm, p);
        // Stint's own figures: the rollup without dimensions, the one the functions publish
        // beside the per-role one. A dead-letter alarm watches its own queue.
        if c.namespace == STINT {
            assert!(p["Dimensions"].is_null(), "{}", c.alarm);
        } else {
            let queue = c.alarm.trim_end_matches("DeadLetterAlarm");
            assert_eq!(
                text(&p["Dimensions"][0]["Value"]),
                format!("!GetAtt:{queue}DeadLetterQueue.QueueName")
            );
        }
    }
    // Every dead-letter queue has its alarm.
    for (queue, _) in resources_of(&t, "AWS::SQS::Queue") {
        let alarm = queue.replace("DeadLetterQueue", "DeadLetterAlarm");
        assert!(
            alarms.iter().any(|(n, _)| *n == alarm),
            "{queue} has no alarm"
        );
    }
}

/// The metric-math alarms: the sum of their metrics, each of which is the one claimed.
fn math_alarm(t: &Value, name: &str) -> Vec<(String, String, Vec<String>)> {
    let alarms = resources_of(t, "AWS::CloudWatch::Alarm");
    let (_, alarm) = alarms
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no alarm {name}"));
    let p = &alarm["Properties"];
    notifies_the_topic(name, p);
    assert_eq!(
        p["ComparisonOperator"].as_str(),
        Some("GreaterThanOrEqualToThreshold")
    );
    assert_eq!(number(&p["Threshold"]), 1.0);
    let metrics = p["Metrics"].as_sequence().expect("metric math");
    let returned: Vec<&Value> = metrics
        .iter()
        .filter(|m| m["ReturnData"].as_bool() == Some(true))
        .collect();
    assert_eq!(returned.len(), 1, "{name}");
    assert_eq!(returned[0]["Expression"].as_str(), Some("SUM(METRICS())"));
    metrics
        .iter()
        .filter(|m| !m["MetricStat"].is_null())
        .map(|m| {
            let stat = &m["MetricStat"];
            assert_eq!(stat["Stat"].as_str(), Some("Sum"), "{name}");
            let metric = &stat["Metric"];
            let dims = metric["Dimensions"]
                .as_sequence()
                .expect("dimensions")
                .iter()
                .map(|d| text(&d["Value"]))
                .collect();
            (
                text(&metric["Namespace"]),
                text(&metric["MetricName"]),
                dims,
            )
        })
        .collect()
}

#[test]
fn function_errors_and_table_throttling_are_alarmed_on_every_function_and_the_table() {
    let t = template();
    let errors = math_alarm(&t, "FunctionErrorsAlarm");
    let functions = resources_of(&t, "AWS::Serverless::Function");
    assert_eq!(errors.len(), functions.len());
    for (_, f) in &functions {
        let name = text(&f["Properties"]["FunctionName"]);
        assert!(
            errors.iter().any(|(ns, metric, dims)| ns == "AWS/Lambda"
                && metric == "Errors"
                && dims == &vec![name.clone()]),
            "{name}'s errors are not watched: {errors:?}"
        );
    }
    let throttled = math_alarm(&t, "TableThrottleAlarm");
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        for dims in [
            vec!["!Ref:EventsTable".to_owned()],
            vec!["!Ref:EventsTable".to_owned(), "by_day".to_owned()],
        ] {
            assert!(
                throttled.contains(&("AWS/DynamoDB".into(), metric.into(), dims.clone())),
                "{metric} {dims:?}: {throttled:?}"
            );
        }
    }
}

#[test]
fn the_alarm_topic_is_a_required_parameter() {
    let t = template();
    let p = &t["Parameters"]["AlarmTopicArn"];
    assert_eq!(p["Type"].as_str(), Some("String"));
    assert!(p["Default"].is_null(), "no alarm goes nowhere by default");
}

#[test]
fn the_dashboard_shows_every_figure_and_every_alarm() {
    let t = template();
    let dashboards = resources_of(&t, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let Value::Tagged(sub) = &dashboards[0].1["Properties"]["DashboardBody"] else {
        panic!("the body is a !Sub")
    };
    let body: serde_json::Value =
        serde_json::from_str(sub.value.as_str().expect("text")).expect("the body is JSON");
    let body_text = body.to_string();
    for f in Figure::ALL {
        assert!(body_text.contains(f.name()), "{} is not shown", f.name());
    }
    let widgets = body["widgets"].as_array().unwrap();
    let alarms_widget = widgets
        .iter()
        .find(|w| w["type"] == "alarm")
        .expect("an alarm widget");
    let shown: Vec<&str> = alarms_widget["properties"]["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for (name, _) in resources_of(&t, "AWS::CloudWatch::Alarm") {
        assert!(
            shown.contains(&format!("${{{name}.Arn}}").as_str()),
            "{name}"
        );
    }
}

#[test]
fn queues_are_encrypted_and_async_functions_have_dead_letter_queues() {
    let t = template();
    for (name, q) in resources_of(&t, "AWS::SQS::Queue") {
        assert_eq!(
            q["Properties"]["SqsManagedSseEnabled"].as_bool(),
            Some(true),
            "{name} is not encrypted"
        );
    }
    // Invoked asynchronously: by EventBridge rules, schedules, or Scheduler timers.
    let asynchronous = ["EventBridgeRule", "Schedule", "ScheduleV2"];
    for (name, f) in resources_of(&t, "AWS::Serverless::Function") {
        let events = f["Properties"]["Events"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        let is_async = events
            .values()
            .any(|e| asynchronous.contains(&e["Type"].as_str().unwrap_or("")))
            || ["GrantFunction", "RevokeFunction"].contains(&name.as_str());
        if !is_async {
            continue;
        }
        let dlq = text(&f["Properties"]["DeadLetterQueue"]["TargetArn"]);
        assert!(
            dlq.starts_with("!GetAtt:") && dlq.ends_with("DeadLetterQueue.Arn"),
            "{name} has no dead-letter queue: {dlq}"
        );
        // And each asynchronous trigger sends what it could not deliver there too.
        for (event, e) in &events {
            if asynchronous.contains(&e["Type"].as_str().unwrap_or("")) {
                assert_eq!(
                    text(&e["Properties"]["DeadLetterConfig"]["Arn"]),
                    dlq,
                    "{name} {}",
                    text(event)
                );
            }
        }
    }
}

#[test]
fn grant_and_revoke_have_reserved_concurrency_and_the_api_logs_access() {
    let t = template();
    for f in ["GrantFunction", "RevokeFunction"] {
        let reserved = text(&t["Resources"][f]["Properties"]["ReservedConcurrentExecutions"]);
        assert!(
            reserved.contains("!Ref:GrantRevokeReservedConcurrency"),
            "{f}: {reserved}"
        );
    }
    let api = &t["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"];
    assert_eq!(text(&api["DestinationArn"]), "!GetAtt:ApiAccessLogs.Arn");
    let format: serde_json::Value =
        serde_json::from_str(api["Format"].as_str().unwrap()).expect("JSON access log lines");
    for field in ["requestId", "ip", "route", "status"] {
        assert!(format.get(field).is_some(), "{field}");
    }
    assert_eq!(
        text(&t["Resources"]["ApiAccessLogs"]["Properties"]["RetentionInDays"]),
        "!Ref:AccessLogRetentionDays"
    );
}

#[test]
fn an_optional_customer_managed_key_encrypts_the_table_and_the_bucket() {
    let t = template();
    let table = text(&t["Resources"]["EventsTable"]["Properties"]["SSESpecification"]);
    assert!(
        table.starts_with("!If:HasDataKey") && table.contains("!Ref:DataKeyArn"),
        "{table}"
    );
    let bucket = text(
        &t["Resources"]["ReportBucket"]["Properties"]["BucketEncryption"]
            ["ServerSideEncryptionConfiguration"],
    );
    assert!(
        bucket.starts_with("!If:HasDataKey") && bucket.contains("!Ref:DataKeyArn"),
        "{bucket}"
    );
    assert_eq!(
        t["Resources"]["DataKeyUse"]["Condition"].as_str(),
        Some("HasDataKey")
    );
}

/// The alarms and the dashboard watch the namespace the functions publish under: EMF lines go
/// to `STINT_METRICS_NAMESPACE`, which only the template sets. A drift would leave every
/// Stint alarm without data, which they treat as not breaching: silent.
#[test]
fn the_functions_publish_under_the_namespace_the_alarms_and_dashboard_watch() {
    let t = template();
    let published =
        text(&t["Globals"]["Function"]["Environment"]["Variables"]["STINT_METRICS_NAMESPACE"]);
    assert_eq!(published, STINT, "the functions' namespace");
    let Value::Tagged(sub) =
        &resources_of(&t, "AWS::CloudWatch::Dashboard")[0].1["Properties"]["DashboardBody"]
    else {
        panic!("the body is a !Sub")
    };
    let body: serde_json::Value =
        serde_json::from_str(sub.value.as_str().expect("text")).expect("JSON");
    let namespace = STINT.trim_start_matches("!Sub:");
    let mut checked = 0;
    for w in body["widgets"].as_array().expect("widgets") {
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            // Stint's own figures (the AWS/* ones are the services' own).
            let own = m[1]
                .as_str()
                .is_some_and(|name| Figure::ALL.iter().any(|f| f.name() == name));
            if own {
                assert_eq!(m[0].as_str(), Some(namespace), "{w}");
                checked += 1;
            }
        }
    }
    assert!(
        checked >= Figure::ALL.len(),
        "only {checked} of Stint's series found"
    );
}
