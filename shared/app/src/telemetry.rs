//! Hands the domain's metric observations to the `metrics` facade. Which recorder receives
//! them is the edge's choice: Embedded Metric Format in the functions' logs, Prometheus text
//! in `stint serve`; with none installed (unit tests, the CLI) they go nowhere.

use stint_domain::metrics::{Figure, Measure, Observation};

/// The two labels every figure carries; CloudWatch dimensions and Prometheus labels alike.
pub const ROLE: &str = "role";
pub const SOURCE: &str = "source";

/// Tells the installed recorder each figure's unit and meaning (Prometheus' HELP lines, EMF's
/// units). Call once, after installing the recorder.
pub fn describe() {
    for f in Figure::ALL {
        if f.is_duration() {
            metrics::describe_histogram!(f.name(), metrics::Unit::Seconds, f.help());
        } else {
            metrics::describe_counter!(f.name(), metrics::Unit::Count, f.help());
        }
    }
}

/// Records each observation on its figure, labelled with role and source.
pub fn emit(observations: impl IntoIterator<Item = Observation>) {
    for o in observations {
        let labels = [
            (ROLE, o.labels.role.clone()),
            (SOURCE, o.labels.source.to_owned()),
        ];
        match o.measure {
            Measure::Seconds(s) => metrics::histogram!(o.figure.name(), &labels).record(s),
            Measure::Count(n) => metrics::counter!(o.figure.name(), &labels).increment(n),
        }
    }
}
