//! `stint cost`: dollars per 1,000 lifecycles and per month, from the units the cost benchmark
//! measured (`infra/cost-units.json`, carried in the binary) at the list prices in
//! `stint_domain::cost`, beside a Step Functions wait-state design.

use crate::Failure;
use serde_json::json;
use std::path::PathBuf;
use stint_domain::cost::{estimate, price, scale, step_functions_design, Units, US_EAST_1};

/// The units measured when this binary was built (see `infra/cost.md` to measure again).
const MEASURED: &str = include_str!("../../infra/cost-units.json");

#[derive(clap::Args)]
pub struct CostArgs {
    /// Lifecycles (request, approval, grant, revoke) a day.
    #[arg(long, value_parser = per_day)]
    lifecycles_per_day: f64,
    /// Units from `cargo bench -p stint-tests --bench cost -- --write` [default: those
    /// measured for this release].
    #[arg(long)]
    units: Option<PathBuf>,
}

fn per_day(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() && (0.0..=1e9).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number of lifecycles from 0 to 1e9")),
    }
}

pub fn run(args: &CostArgs, as_json: bool) -> Result<(), Failure> {
    let text = match &args.units {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| Failure::usage(format!("--units {}: {e}", p.display())))?,
        None => MEASURED.to_owned(),
    };
    let units: Units = serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("the units are not the cost benchmark's: {e}")))?;
    let n = args.lifecycles_per_day;
    let e = estimate(&units, &US_EAST_1, n);
    let sfn_units = Units {
        per_lifecycle: step_functions_design(&units.per_lifecycle),
        ..units.clone()
    };
    let sfn = estimate(&sfn_units, &US_EAST_1, n);
    let sfn_lines = price(&scale(&sfn_units.per_lifecycle, 1000.0), &US_EAST_1);
    if as_json {
        let lines = |b: &stint_domain::cost::Bill| {
            b.lines
                .iter()
                .map(|(k, v)| json!({ "item": k, "usd": v }))
                .collect::<Vec<_>>()
        };
        let out = json!({
            "region": US_EAST_1.region, "prices_as_of": US_EAST_1.as_of,
            "units_measured": units.measured, "lifecycles_per_day": n,
            "per_thousand_lifecycles": { "usd": e.per_thousand.total(), "lines": lines(&e.per_thousand) },
            "fixed_per_month": { "usd": e.fixed_per_month.total(), "lines": lines(&e.fixed_per_month) },
            "per_month_usd": e.per_month,
            "step_functions_design": {
                "per_thousand_lifecycles_usd": sfn_lines.total(), "per_month_usd": sfn.per_month,
            },
        });
        println!("{out:#}");
        return Ok(());
    }
    println!(
        "Prices: {} list, {}; units measured {}.",
        US_EAST_1.region, US_EAST_1.as_of, units.measured
    );
    println!("{:<22} {:>12} {:>16}", "", "per 1,000", "fixed a month");
    for ((item, per), (_, fixed)) in e.per_thousand.lines.iter().zip(&e.fixed_per_month.lines) {
        if *per > 0.0 || *fixed > 0.0 {
            println!("{item:<22} {:>12} {:>16}", usd(*per), usd(*fixed));
        }
    }
    println!(
        "{:<22} {:>12} {:>16}",
        "total",
        usd(e.per_thousand.total()),
        usd(e.fixed_per_month.total())
    );
    println!(
        "At {n} lifecycles a day: {} a month ({} of it fixed, whatever the traffic).",
        usd(e.per_month),
        usd(e.fixed_per_month.total())
    );
    println!(
        "Holding each lifecycle in a Step Functions Standard workflow instead of a schedule: {} per 1,000, {} a month.",
        usd(sfn_lines.total()),
        usd(sfn.per_month)
    );
    Ok(())
}

fn usd(x: f64) -> String {
    if x >= 1.0 {
        format!("${x:.2}")
    } else {
        format!("${x:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_carried_units_are_the_benchmarks() {
        let units: Units = serde_json::from_str(MEASURED).expect("infra/cost-units.json");
        assert!(units.lifecycles > 0);
        assert!(!units.per_lifecycle.lambda.is_empty());
        assert!(units.per_lifecycle.dynamodb_write_units > 0.0);
    }

    #[test]
    fn lifecycles_a_day_must_be_a_sane_number() {
        assert_eq!(per_day("250"), Ok(250.0));
        for bad in ["-1", "NaN", "inf", "1e30", "many"] {
            assert!(per_day(bad).is_err(), "{bad}");
        }
    }
}
