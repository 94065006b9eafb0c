//! Service levels of a window (`GET /stats`, `stint stats`): the requests with an event in it
//! read whole through the time index and verified, as the report reads them, folded, and
//! measured by the domain's `stats`.

use crate::ports::{EventStore, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use stint_domain::log::ChainBreak;
use stint_domain::stats::{ServiceLevels, StatsBuilder};

/// The longest window one call may read, as for reports: a year and a day.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// What is wrong with a window, if anything: it must run forwards and span at most
/// [`MAX_WINDOW_DAYS`].
pub fn window_problem(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<String> {
    if from >= to {
        Some(format!("from ({from}) must be before to ({to})"))
    } else if to - from > TimeDelta::days(MAX_WINDOW_DAYS) {
        Some(format!(
            "the window is longer than {MAX_WINDOW_DAYS} days; ask for less"
        ))
    } else {
        None
    }
}

/// The service levels, and the streams that could not be trusted while reading them.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    #[serde(flatten)]
    pub levels: ServiceLevels,
    pub streams_checked: usize,
    /// Broken chains and undecodable streams; an undecodable request is left out of the
    /// figures, a broken chain's is kept (its events still read) and named here.
    pub broken: Vec<ChainBreak>,
}

/// Reads `from..to` and measures every request with an event in it; each measurement counts
/// by when it ended.
pub async fn compile(
    store: &dyn EventStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Stats, StoreError> {
    let mut builder = StatsBuilder::new(from, to);
    let mut undecodable = Vec::new();
    let v = crate::verify::scan_period(store, from, to, |stream, events| {
        if stream.request_id().is_none() {
            return;
        }
        if let Some(state) = crate::verify::fold_request(stream, events, &mut undecodable) {
            builder.add(&state);
        }
    })
    .await?;
    let mut broken = v.breaks;
    crate::verify::merge_breaks(&mut broken, undecodable);
    let levels = builder.finish();
    tracing::info!(%from, %to, rows = levels.rows.len(), streams = v.streams_checked, broken = broken.len(), "service levels compiled");
    Ok(Stats {
        levels,
        streams_checked: v.streams_checked,
        broken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_window_must_run_forwards_and_span_at_most_366_days() {
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        assert_eq!(window_problem(t, t + TimeDelta::days(1)), None);
        assert_eq!(window_problem(t, t + TimeDelta::days(366)), None);
        assert!(window_problem(t, t).is_some());
        assert!(window_problem(t + TimeDelta::seconds(1), t).is_some());
        assert!(window_problem(t, t + TimeDelta::days(367)).is_some());
    }
}
