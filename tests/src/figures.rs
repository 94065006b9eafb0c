//! The figures benchmarks print for the performance table (`--bench perf_table`): besides their
//! own prose, each prints `FIGURE<TAB><json>` lines that the table collects, with the goal.

use serde_json::{json, Value};

/// The prefix of a figure's line.
pub const PREFIX: &str = "FIGURE\t";

/// One measured figure and, where the project set one, its goal.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// `("<", x)`: the value should be below x; `(">", x)`: above.
    pub goal: Option<(String, f64)>,
}

impl Figure {
    pub fn new(name: impl Into<String>, value: f64, unit: &str) -> Figure {
        Figure {
            name: name.into(),
            value,
            unit: unit.into(),
            goal: None,
        }
    }

    pub fn goal_below(mut self, limit: f64) -> Figure {
        self.goal = Some(("<".into(), limit));
        self
    }

    pub fn goal_above(mut self, limit: f64) -> Figure {
        self.goal = Some((">".into(), limit));
        self
    }

    /// Whether the goal is met; None without a goal.
    pub fn met(&self) -> Option<bool> {
        self.goal.as_ref().map(|(op, limit)| match op.as_str() {
            "<" => self.value < *limit,
            _ => self.value > *limit,
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name, "value": self.value, "unit": self.unit,
            "goal": self.goal.as_ref().map(|(op, v)| json!({ "op": op, "value": v })),
        })
    }

    /// The figure on a line a benchmark printed, if it is one.
    pub fn parse(line: &str) -> Option<Figure> {
        let v: Value = serde_json::from_str(line.strip_prefix(PREFIX)?).ok()?;
        Some(Figure {
            name: v["name"].as_str()?.to_owned(),
            value: v["value"].as_f64()?,
            unit: v["unit"].as_str()?.to_owned(),
            goal: v["goal"]["op"]
                .as_str()
                .zip(v["goal"]["value"].as_f64())
                .map(|(op, x)| (op.to_owned(), x)),
        })
    }
}

/// Prints the figure's line for the table.
pub fn emit(figure: Figure) {
    println!("{PREFIX}{}", figure.to_json());
}

/// The median of `v` (the upper one of an even count); NaN when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_reads_back_as_printed() {
        let f = Figure::new("init", 12.5, "ms").goal_below(30.0);
        let line = format!("{PREFIX}{}", f.to_json());
        assert_eq!(Figure::parse(&line), Some(f.clone()));
        assert_eq!(f.met(), Some(true));
        assert_eq!(Figure::parse("median 12 ms"), None);
        assert_eq!(
            Figure::new("x", 3.0, "s").goal_above(5.0).met(),
            Some(false)
        );
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert!(median(vec![]).is_nan());
    }
}
