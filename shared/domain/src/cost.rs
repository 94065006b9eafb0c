//! The cost model: what Stint's measured units cost at list prices, per lifecycle and per
//! month, and the same lifecycle held in a Step Functions wait state instead (AWS TEAM's shape).
//! The units come from `cargo bench --bench cost` (`infra/cost-units.json`); this only prices.

use serde::{Deserialize, Serialize};

/// One function's share of a lifecycle (or of a month, for the schedules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaUse {
    pub function: String,
    pub invocations: f64,
    pub memory_mb: u32,
    /// Billed time per invocation, ms (measured; Lambda rounds each up to 1 ms).
    pub billed_ms: f64,
    /// Log bytes per invocation sent to CloudWatch Logs (measured).
    pub log_bytes: f64,
}

/// Counted units of every billed service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub lambda: Vec<LambdaUse>,
    pub api_requests: f64,
    pub dynamodb_write_units: f64,
    pub dynamodb_read_units: f64,
    pub eventbridge_events: f64,
    pub scheduler_invocations: f64,
    pub ses_messages: f64,
    pub s3_puts: f64,
    pub kms_keys: f64,
    pub kms_sign_requests: f64,
    pub step_functions_transitions: f64,
}

/// Measured units: per lifecycle, and per month whatever the traffic (schedules, the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Units {
    /// When and where they were measured.
    pub measured: String,
    pub lifecycles: u32,
    pub per_lifecycle: Usage,
    pub fixed_per_month: Usage,
    /// Units each lifecycle may cause, but shared by all lifecycles up to a monthly ceiling
    /// whatever the volume: the signed checkpoints, at most one object and one signature per
    /// 15-minute window in which anything moved.
    #[serde(default)]
    pub shared_per_lifecycle: Usage,
    /// The ceiling of `shared_per_lifecycle` a month; a unit at 0 here has none.
    #[serde(default)]
    pub shared_max_per_month: Usage,
}

/// List prices in US dollars for one region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub region: &'static str,
    pub as_of: &'static str,
    pub lambda_per_million_requests: f64,
    pub lambda_per_gb_second: f64,
    pub api_per_million: f64,
    pub dynamodb_per_million_writes: f64,
    pub dynamodb_per_million_reads: f64,
    pub eventbridge_per_million: f64,
    pub scheduler_per_million: f64,
    pub ses_per_thousand: f64,
    pub s3_put_per_thousand: f64,
    pub logs_per_gb: f64,
    pub kms_per_key_month: f64,
    pub kms_per_10k_sign: f64,
    pub step_functions_per_thousand_transitions: f64,
}

/// us-east-1 list prices (arm64 Lambda, DynamoDB on demand after the November 2024 cut, HTTP
/// API, custom events on the bus, Standard workflows), no free tiers. See `infra/cost.md`.
pub const US_EAST_1: Prices = Prices {
    region: "us-east-1",
    as_of: "2026-12-01",
    lambda_per_million_requests: 0.20,
    lambda_per_gb_second: 0.000_013_333_4,
    api_per_million: 1.00,
    dynamodb_per_million_writes: 0.625,
    dynamodb_per_million_reads: 0.125,
    eventbridge_per_million: 1.00,
    scheduler_per_million: 1.00,
    ses_per_thousand: 0.10,
    s3_put_per_thousand: 0.005,
    logs_per_gb: 0.50,
    kms_per_key_month: 1.00,
    kms_per_10k_sign: 0.15,
    step_functions_per_thousand_transitions: 0.025,
};

/// Dollars by line item.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub lines: Vec<(&'static str, f64)>,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|(_, d)| d).sum()
    }
}

/// What `usage` costs at `p`.
pub fn price(usage: &Usage, p: &Prices) -> Bill {
    let invocations: f64 = usage.lambda.iter().map(|l| l.invocations).sum();
    let gb_seconds: f64 = usage
        .lambda
        .iter()
        .map(|l| l.invocations * l.billed_ms.ceil() / 1000.0 * f64::from(l.memory_mb) / 1024.0)
        .sum();
    let log_gb: f64 = usage
        .lambda
        .iter()
        .map(|l| l.invocations * l.log_bytes)
        .sum::<f64>()
        / 1e9;
    let m = 1e6;
    Bill {
        lines: vec![
            (
                "Lambda requests",
                invocations * p.lambda_per_million_requests / m,
            ),
            ("Lambda duration", gb_seconds * p.lambda_per_gb_second),
            ("CloudWatch Logs", log_gb * p.logs_per_gb),
            ("API Gateway", usage.api_requests * p.api_per_million / m),
            (
                "DynamoDB writes",
                usage.dynamodb_write_units * p.dynamodb_per_million_writes / m,
            ),
            (
                "DynamoDB reads",
                usage.dynamodb_read_units * p.dynamodb_per_million_reads / m,
            ),
            (
                "EventBridge events",
                usage.eventbridge_events * p.eventbridge_per_million / m,
            ),
            (
                "Scheduler",
                usage.scheduler_invocations * p.scheduler_per_million / m,
            ),
            ("SES", usage.ses_messages * p.ses_per_thousand / 1000.0),
            ("S3 puts", usage.s3_puts * p.s3_put_per_thousand / 1000.0),
            (
                "KMS",
                usage.kms_keys * p.kms_per_key_month
                    + usage.kms_sign_requests * p.kms_per_10k_sign / 10_000.0,
            ),
            (
                "Step Functions",
                usage.step_functions_transitions * p.step_functions_per_thousand_transitions
                    / 1000.0,
            ),
        ],
    }
}

/// The states one lifecycle passes through when a Standard workflow holds it from request to
/// revoke, as AWS TEAM's approval and grant/revoke state machines do: each entered state is a
/// billed transition. Waits cost nothing while they wait; the transitions do.
pub const STEP_FUNCTIONS_LIFECYCLE: [&str; 12] = [
    "Start",
    "Notify approvers (task)",
    "Wait for approval (task token)",
    "Approved? (choice)",
    "Record approval (task)",
    "Grant (task)",
    "Notify requester (task)",
    "Wait until expiry (wait)",
    "Revoke (task)",
    "Record revoke (task)",
    "Notify requester (task)",
    "Succeed",
];

/// The same lifecycle with a Standard workflow instead of the expiry schedule: the state
/// machine's transitions replace Scheduler; the functions, store, bus and mail stay.
pub fn step_functions_design(stint: &Usage) -> Usage {
    Usage {
        scheduler_invocations: 0.0,
        step_functions_transitions: STEP_FUNCTIONS_LIFECYCLE.len() as f64,
        ..stint.clone()
    }
}

/// Per 1,000 lifecycles, and per month at `lifecycles_per_day` (30 days) with the fixed part.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub per_thousand: Bill,
    pub fixed_per_month: Bill,
    pub per_month: f64,
}

/// At `lifecycles_per_day` (30-day months). The per-1,000 figure includes each lifecycle's share
/// of the shared units at that volume; at 0 a day, the worst case (each lifecycle alone).
pub fn estimate(units: &Units, p: &Prices, lifecycles_per_day: f64) -> Estimate {
    let month = lifecycles_per_day * 30.0;
    let shared_month = cap(
        &scale(&units.shared_per_lifecycle, month),
        &units.shared_max_per_month,
    );
    let shared_thousand = if month > 0.0 {
        scale(&shared_month, 1000.0 / month)
    } else {
        scale(&units.shared_per_lifecycle, 1000.0)
    };
    let per_thousand = price(
        &add(&scale(&units.per_lifecycle, 1000.0), &shared_thousand),
        p,
    );
    let fixed = price(&units.fixed_per_month, p);
    let per_month = price(&scale(&units.per_lifecycle, month), p).total()
        + price(&shared_month, p).total()
        + fixed.total();
    Estimate {
        per_thousand,
        fixed_per_month: fixed,
        per_month,
    }
}

/// Each unit of `a` and `b` together.
pub fn add(a: &Usage, b: &Usage) -> Usage {
    Usage {
        lambda: a.lambda.iter().chain(&b.lambda).cloned().collect(),
        api_requests: a.api_requests + b.api_requests,
        dynamodb_write_units: a.dynamodb_write_units + b.dynamodb_write_units,
        dynamodb_read_units: a.dynamodb_read_units + b.dynamodb_read_units,
        eventbridge_events: a.eventbridge_events + b.eventbridge_events,
        scheduler_invocations: a.scheduler_invocations + b.scheduler_invocations,
        ses_messages: a.ses_messages + b.ses_messages,
        s3_puts: a.s3_puts + b.s3_puts,
        kms_keys: a.kms_keys + b.kms_keys,
        kms_sign_requests: a.kms_sign_requests + b.kms_sign_requests,
        step_functions_transitions: a.step_functions_transitions + b.step_functions_transitions,
    }
}

/// `usage` with each unit held to its ceiling in `max` (where that is above 0). Lambda use is
/// not capped.
fn cap(usage: &Usage, max: &Usage) -> Usage {
    let c = |v: f64, m: f64| if m > 0.0 { v.min(m) } else { v };
    Usage {
        lambda: usage.lambda.clone(),
        api_requests: c(usage.api_requests, max.api_requests),
        dynamodb_write_units: c(usage.dynamodb_write_units, max.dynamodb_write_units),
        dynamodb_read_units: c(usage.dynamodb_read_units, max.dynamodb_read_units),
        eventbridge_events: c(usage.eventbridge_events, max.eventbridge_events),
        scheduler_invocations: c(usage.scheduler_invocations, max.scheduler_invocations),
        ses_messages: c(usage.ses_messages, max.ses_messages),
        s3_puts: c(usage.s3_puts, max.s3_puts),
        kms_keys: c(usage.kms_keys, max.kms_keys),
        kms_sign_requests: c(usage.kms_sign_requests, max.kms_sign_requests),
        step_functions_transitions: c(
            usage.step_functions_transitions,
            max.step_functions_transitions,
        ),
    }
}

/// `usage` repeated `n` times.
pub fn scale(usage: &Usage, n: f64) -> Usage {
    Usage {
        lambda: usage
            .lambda
            .iter()
            .map(|l| LambdaUse {
                invocations: l.invocations * n,
                ..l.clone()
            })
            .collect(),
        api_requests: usage.api_requests * n,
        dynamodb_write_units: usage.dynamodb_write_units * n,
        dynamodb_read_units: usage.dynamodb_read_units * n,
        eventbridge_events: usage.eventbridge_events * n,
        scheduler_invocations: usage.scheduler_invocations * n,
        ses_messages: usage.ses_messages * n,
        s3_puts: usage.s3_puts * n,
        kms_keys: usage.kms_keys * n,
        kms_sign_requests: usage.kms_sign_requests * n,
        step_functions_transitions: usage.step_functions_transitions * n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> Usage {
        Usage {
            lambda: vec![LambdaUse {
                function: "grant".into(),
                invocations: 1.0,
                memory_mb: 1024,
                billed_ms: 999.2,
                log_bytes: 0.0,
            }],
            dynamodb_write_units: 4.0,
            ses_messages: 1.0,
            ..Usage::default()
        }
    }

    #[test]
    fn prices_each_unit_at_its_list_price() {
        let bill = price(&usage(), &US_EAST_1);
        let line = |n: &str| bill.lines.iter().find(|(l, _)| *l == n).unwrap().1;
        // One second (rounded up from 999.2 ms) at 1 GB.
        assert!((line("Lambda duration") - 0.000_013_333_4).abs() < 1e-12);
        assert!((line("Lambda requests") - 0.000_000_2).abs() < 1e-12);
        assert!((line("DynamoDB writes") - 4.0 * 0.625e-6).abs() < 1e-12);
        assert!((line("SES") - 0.0001).abs() < 1e-12);
        assert_eq!(line("Step Functions"), 0.0);
    }

    #[test]
    fn a_month_is_thirty_days_of_lifecycles_plus_the_fixed_part() {
        let units = Units {
            measured: "test".into(),
            lifecycles: 1,
            per_lifecycle: usage(),
            fixed_per_month: Usage {
                kms_keys: 1.0,
                ..Usage::default()
            },
            shared_per_lifecycle: Usage::default(),
            shared_max_per_month: Usage::default(),
        };
        let e = estimate(&units, &US_EAST_1, 100.0);
        let one = price(&usage(), &US_EAST_1).total();
        assert!((e.per_thousand.total() - 1000.0 * one).abs() < 1e-9);
        assert!((e.per_month - (3000.0 * one + 1.0)).abs() < 1e-9);
    }

    #[test]
    fn shared_units_cost_each_lifecycle_less_as_volume_grows_up_to_their_ceiling() {
        // Two checkpoint objects a lifecycle at worst, at most 2,880 a month (one per 15 min).
        let units = Units {
            measured: "test".into(),
            lifecycles: 1,
            per_lifecycle: Usage::default(),
            fixed_per_month: Usage::default(),
            shared_per_lifecycle: Usage {
                s3_puts: 2.0,
                ..Usage::default()
            },
            shared_max_per_month: Usage {
                s3_puts: 2880.0,
                ..Usage::default()
            },
        };
        let put = US_EAST_1.s3_put_per_thousand / 1000.0;
        let worst = estimate(&units, &US_EAST_1, 0.0);
        assert!((worst.per_thousand.total() - 2000.0 * put).abs() < 1e-12);
        // 10 a day: 600 objects a month, under the ceiling: still 2 a lifecycle.
        let low = estimate(&units, &US_EAST_1, 10.0);
        assert!((low.per_thousand.total() - 2000.0 * put).abs() < 1e-12);
        assert!((low.per_month - 600.0 * put).abs() < 1e-12);
        // 1,000 a day: the ceiling, shared by 30,000 lifecycles.
        let high = estimate(&units, &US_EAST_1, 1000.0);
        assert!((high.per_month - 2880.0 * put).abs() < 1e-12);
        assert!((high.per_thousand.total() - 2880.0 * put / 30.0).abs() < 1e-12);
    }

    #[test]
    fn the_step_functions_design_pays_per_transition_instead_of_scheduler() {
        let stint = Usage {
            scheduler_invocations: 1.0,
            ..usage()
        };
        let sfn = step_functions_design(&stint);
        assert_eq!(sfn.scheduler_invocations, 0.0);
        let diff = price(&sfn, &US_EAST_1).total() - price(&stint, &US_EAST_1).total();
        assert!((diff - (12.0 * 0.025 / 1000.0 - 1e-6)).abs() < 1e-12);
    }
}
