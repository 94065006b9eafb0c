//! On-call rotations: who answers for a service at an instant, from an ordered list of users,
//! a handoff time in a time zone, a shift length, and overrides. Pure.

use super::ids::UserId;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An IANA time zone such as `Europe/Berlin`, checked on load against the time-zone database
/// (feature `oncall`: jiff's bundled copy of the IANA database, compact enough for a Lambda).
/// Builds without it keep the name, checked for shape only, and cannot say who is on call:
/// only the binaries that act on alerts carry the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(String);

impl TryFrom<String> for TimeZone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IANA time zone such as Europe/Berlin");
        let shaped = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
        if !shaped {
            return Err(bad());
        }
        // The database's own spelling: its lookup ignores ASCII case, the catalog should not.
        #[cfg(feature = "oncall")]
        let s = match jiff::tz::db().get(&s) {
            Ok(tz) => tz.iana_name().map_or_else(|| s.clone(), str::to_owned),
            Err(_) => return Err(bad()),
        };
        Ok(TimeZone(s))
    }
}
impl From<TimeZone> for String {
    fn from(t: TimeZone) -> String {
        t.0
    }
}

impl TimeZone {
    /// The local date and time at `at`.
    #[cfg(feature = "oncall")]
    fn local(&self, at: DateTime<Utc>) -> Result<chrono::NaiveDateTime, OnCallError> {
        let zone = jiff::tz::db()
            .get(&self.0)
            .map_err(|_| OnCallError::NoTimeZoneData)?;
        let ts =
            jiff::Timestamp::from_second(at.timestamp()).map_err(|_| OnCallError::OutOfRange)?;
        let dt = zone.to_datetime(ts);
        NaiveDate::from_ymd_opt(
            i32::from(dt.year()),
            u32::try_from(dt.month()).map_err(|_| OnCallError::OutOfRange)?,
            u32::try_from(dt.day()).map_err(|_| OnCallError::OutOfRange)?,
        )
        .and_then(|d| {
            d.and_hms_opt(
                u32::try_from(dt.hour()).ok()?,
                u32::try_from(dt.minute()).ok()?,
                u32::try_from(dt.second()).ok()?,
            )
        })
        .ok_or(OnCallError::OutOfRange)
    }
    #[cfg(not(feature = "oncall"))]
    fn local(&self, _at: DateTime<Utc>) -> Result<chrono::NaiveDateTime, OnCallError> {
        Err(OnCallError::NoTimeZoneData)
    }
}

/// Why a rotation names nobody at an instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnCallError {
    #[error("the rotation names nobody")]
    Nobody,
    #[error("this build has no time-zone database (stint-domain feature `oncall`)")]
    NoTimeZoneData,
    #[error("the instant is outside the time-zone database's range")]
    OutOfRange,
}

/// A wall-clock time of day, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Handoff(NaiveTime);

impl TryFrom<String> for Handoff {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        NaiveTime::parse_from_str(&s, "%H:%M")
            .map(Handoff)
            .map_err(|_| format!("{s:?} is not a time of day such as 09:00"))
    }
}
impl From<Handoff> for String {
    fn from(h: Handoff) -> String {
        h.0.format("%H:%M").to_string()
    }
}
impl fmt::Display for Handoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

/// Someone covering the rotation from `from` until `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub user: UserId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// In turn order; the first takes the shift that begins on `starts`.
    pub users: Vec<UserId>,
    /// Shifts change at this local time...
    pub handoff: Handoff,
    /// ...in this time zone, so a 09:00 handoff stays 09:00 across daylight saving changes.
    pub time_zone: TimeZone,
    /// Days per shift.
    #[serde(default = "week")]
    pub shift_days: u16,
    /// The local date of the first shift's handoff.
    pub starts: NaiveDate,
    /// Later overrides win over earlier ones.
    #[serde(default)]
    pub overrides: Vec<Override>,
}
fn week() -> u16 {
    7
}

impl Rotation {
    /// Why this rotation could never name anyone, if it could not.
    pub fn problem(&self) -> Option<String> {
        if self.users.is_empty() {
            return Some("users: the rotation names nobody".into());
        }
        if self.shift_days == 0 {
            return Some("shift_days: must be at least 1".into());
        }
        self.overrides
            .iter()
            .position(|o| o.from >= o.to)
            .map(|i| format!("overrides[{i}]: `from` must be before `to`"))
    }

    /// Who is on call at `at`: an override covering it, else the user whose shift it is.
    pub fn on_call(&self, at: DateTime<Utc>) -> Result<&UserId, OnCallError> {
        if let Some(o) = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.from <= at && at < o.to)
        {
            return Ok(&o.user);
        }
        if self.users.is_empty() || self.shift_days == 0 {
            return Err(OnCallError::Nobody);
        }
        let local = self.time_zone.local(at)?;
        // Before the handoff, the shift that began on the previous day is still running.
        let mut day = local.date();
        if local.time() < self.handoff.0 {
            day = day.pred_opt().ok_or(OnCallError::Nobody)?;
        }
        let days = i64::from(day.num_days_from_ce()) - i64::from(self.starts.num_days_from_ce());
        let shift = days.div_euclid(i64::from(self.shift_days));
        let n = i64::try_from(self.users.len()).map_err(|_| OnCallError::Nobody)?;
        let idx = usize::try_from(shift.rem_euclid(n)).map_err(|_| OnCallError::Nobody)?;
        self.users.get(idx).ok_or(OnCallError::Nobody)
    }
}

#[cfg(test)]
#[cfg(feature = "oncall")]
mod tests {
    use super::*;

    fn rotation(extra: &str) -> Rotation {
        toml::from_str(&format!(
            r#"
users = ["alice@example.com", "bob@example.com", "carol@example.com"]
handoff = "09:00"
time_zone = "Europe/Berlin"
starts = "2026-11-02"
{extra}
"#
        ))
        .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn who(r: &Rotation, t: &str) -> String {
        r.on_call(at(t)).unwrap().to_string()
    }

    #[test]
    fn weekly_shifts_turn_at_the_local_handoff() {
        let r = rotation("");
        // Berlin is UTC+1 in November: the 09:00 handoff is 08:00 UTC.
        assert_eq!(who(&r, "2026-11-02T08:00:00Z"), "alice@example.com");
        assert_eq!(who(&r, "2026-11-09T07:59:59Z"), "alice@example.com");
        assert_eq!(who(&r, "2026-11-09T08:00:00Z"), "bob@example.com");
        assert_eq!(who(&r, "2026-11-16T08:00:00Z"), "carol@example.com");
        assert_eq!(who(&r, "2026-11-23T08:00:00Z"), "alice@example.com");
        // Before the rotation starts it runs backwards, so someone is always named.
        assert_eq!(who(&r, "2026-11-02T07:59:00Z"), "carol@example.com");
    }

    #[test]
    fn handoff_follows_daylight_saving_time() {
        let r = rotation("shift_days = 1");
        // 2027-03-28: Berlin moves to UTC+2, so 09:00 local is 07:00 UTC that day.
        let before = who(&r, "2027-03-28T06:59:00Z");
        let after = who(&r, "2027-03-28T07:00:00Z");
        assert_ne!(before, after);
    }

    #[test]
    fn overrides_win_and_later_ones_win_over_earlier_ones() {
        let r = rotation(
            r#"
[[overrides]]
user = "dave@example.com"
from = "2026-11-03T00:00:00Z"
to = "2026-11-05T00:00:00Z"
[[overrides]]
user = "erin@example.com"
from = "2026-11-04T00:00:00Z"
to = "2026-11-04T12:00:00Z"
"#,
        );
        assert_eq!(who(&r, "2026-11-03T10:00:00Z"), "dave@example.com");
        assert_eq!(who(&r, "2026-11-04T10:00:00Z"), "erin@example.com");
        assert_eq!(who(&r, "2026-11-05T00:00:00Z"), "alice@example.com");
    }

    #[cfg(feature = "oncall")]
    #[test]
    fn bad_rotations_are_named() {
        assert!(toml::from_str::<Rotation>(
            r#"users = ["a"]
handoff = "9am"
time_zone = "UTC"
starts = "2026-01-01""#
        )
        .is_err());
        assert!(toml::from_str::<Rotation>(
            r#"users = ["a"]
handoff = "09:00"
time_zone = "Mars/Olympus"
starts = "2026-01-01""#
        )
        .is_err());
        let mut r = rotation("");
        r.users.clear();
        assert!(r.problem().unwrap().starts_with("users"));
    }
}
