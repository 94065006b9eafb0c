//! CloudWatch Embedded Metric Format: a `metrics` recorder that writes each observation as one
//! EMF JSON line on stdout. Lambda sends stdout to CloudWatch Logs, which extracts the metric:
//! no API call, and no buffer to flush, so a function that times out has already written its
//! figures.
//!
//! Own code rather than `metrics_cloudwatch_embedded`: that crate publishes one dimension set
//! per document, and the alarms need a second, empty one (a fleet-wide p99 of revoke lag
//! cannot be assembled from per-role metrics in an alarm).

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Where finished lines go: stdout in a function, a buffer in tests.
pub type Sink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// The namespace a deployment's figures are published under: `STINT_METRICS_NAMESPACE`, which
/// the template sets per stack, else `Stint`.
pub const DEFAULT_NAMESPACE: &str = "Stint";

/// One EMF document for one value of the metric `key`: its labels are dimensions, published
/// both with them and without any (the empty set), so alarms can watch the whole deployment.
pub fn document(
    namespace: &str,
    key: &Key,
    unit: Option<Unit>,
    value: f64,
    timestamp_ms: u64,
) -> Value {
    let dimensions: Vec<&str> = key.labels().map(|l| l.key()).collect();
    let sets = if dimensions.is_empty() {
        json!([[]])
    } else {
        json!([dimensions, []])
    };
    let mut metric = Map::new();
    metric.insert("Name".into(), key.name().into());
    if let Some(unit) = unit {
        metric.insert("Unit".into(), cloudwatch_unit(unit).into());
    }
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": sets,
                "Metrics": [metric],
            }],
        }),
    );
    for label in key.labels() {
        doc.insert(label.key().into(), label.value().into());
    }
    doc.insert(key.name().into(), value.into());
    Value::Object(doc)
}

/// CloudWatch's name for a unit (the ones Stint uses, and the rest for completeness).
fn cloudwatch_unit(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "Count",
        Unit::Percent => "Percent",
        Unit::Seconds => "Seconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Microseconds => "Microseconds",
        Unit::Nanoseconds => "Nanoseconds",
        Unit::Tebibytes => "Terabytes",
        Unit::Gibibytes => "Gigabytes",
        Unit::Mebibytes => "Megabytes",
        Unit::Kibibytes => "Kilobytes",
        Unit::Bytes => "Bytes",
        Unit::TerabitsPerSecond => "Terabits/Second",
        Unit::GigabitsPerSecond => "Gigabits/Second",
        Unit::MegabitsPerSecond => "Megabits/Second",
        Unit::KilobitsPerSecond => "Kilobits/Second",
        Unit::BitsPerSecond => "Bits/Second",
        Unit::CountPerSecond => "Count/Second",
    }
}

struct Shared {
    namespace: String,
    units: Mutex<HashMap<String, Unit>>,
    sink: Sink,
}

impl Shared {
    fn write(&self, key: &Key, value: f64) {
        let unit = self
            .units
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key.name())
            .copied();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut line = document(&self.namespace, key, unit, value, now).to_string();
        line.push('\n');
        (self.sink)(line.as_bytes());
    }
}

/// The recorder. Counters and histograms each write a line per call; gauges are not used by
/// Stint and record nothing.
#[derive(Clone)]
pub struct EmfRecorder {
    shared: Arc<Shared>,
}

impl EmfRecorder {
    pub fn new(namespace: impl Into<String>, sink: Sink) -> EmfRecorder {
        EmfRecorder {
            shared: Arc::new(Shared {
                namespace: namespace.into(),
                units: Mutex::new(HashMap::new()),
                sink,
            }),
        }
    }

    /// Writing to stdout in one call per line, so a line never interleaves with a log line.
    pub fn stdout(namespace: impl Into<String>) -> EmfRecorder {
        EmfRecorder::new(
            namespace,
            Arc::new(|line: &[u8]| {
                let _ = std::io::stdout().lock().write_all(line);
            }),
        )
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        if let Some(unit) = unit {
            self.shared
                .units
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.as_str().to_owned(), unit);
        }
    }
}

struct Handle {
    key: Key,
    shared: Arc<Shared>,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        if value > 0 {
            self.shared.write(&self.key, value as f64);
        }
    }

    // EMF values are summed per period: an absolute count has no meaning there.
    fn absolute(&self, _value: u64) {}
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.shared.write(&self.key, value);
    }
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle {
            key: key.clone(),
            shared: self.shared.clone(),
        }))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Handle {
            key: key.clone(),
            shared: self.shared.clone(),
        }))
    }
}

/// Installs the EMF recorder on stdout for this process, under `STINT_METRICS_NAMESPACE`, and
/// describes Stint's figures to it. A second call (a test that installed one) changes nothing.
pub fn install() {
    let namespace = crate::runtime::var_or("STINT_METRICS_NAMESPACE", DEFAULT_NAMESPACE);
    if metrics::set_global_recorder(EmfRecorder::stdout(namespace)).is_ok() {
        stint_app::telemetry::describe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_domain::metrics::{Figure, Labels, Measure, Observation};

    fn captured() -> (EmfRecorder, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let out = buf.clone();
        let sink: Sink = Arc::new(move |line: &[u8]| out.lock().unwrap().extend_from_slice(line));
        (EmfRecorder::new("Stint/test", sink), buf)
    }

    #[test]
    fn each_observation_is_one_emf_line_with_role_source_and_a_rollup() {
        let (recorder, buf) = captured();
        metrics::with_local_recorder(&recorder, || {
            stint_app::telemetry::describe();
            stint_app::telemetry::emit([
                Observation {
                    figure: Figure::RevokeLag,
                    labels: Labels {
                        role: "db-read".into(),
                        source: "alert",
                    },
                    measure: Measure::Seconds(1.5),
                },
                Observation {
                    figure: Figure::RevokeFailures,
                    labels: Labels {
                        role: "db-read".into(),
                        source: "person",
                    },
                    measure: Measure::Count(2),
                },
            ]);
        });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let lag = &lines[0];
        let directive = &lag["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Stint/test");
        assert_eq!(directive["Dimensions"], json!([["role", "source"], []]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "stint_revoke_lag_seconds", "Unit": "Seconds"}])
        );
        assert!(lag["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        assert_eq!(lag["role"], "db-read");
        assert_eq!(lag["source"], "alert");
        assert_eq!(lag["stint_revoke_lag_seconds"], 1.5);
        let failed = &lines[1];
        assert_eq!(
            failed["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Count"
        );
        assert_eq!(failed["stint_revoke_failures_total"], 2.0);
        assert_eq!(failed["source"], "person");
    }

    #[test]
    fn a_metric_without_labels_has_only_the_empty_dimension_set() {
        let key = Key::from_name("plain");
        let doc = document("N", &key, None, 3.0, 7);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "plain"}])
        );
        assert_eq!(doc["plain"], 3.0);
        assert_eq!(doc["_aws"]["Timestamp"], 7);
    }
}
