//! Access durations: a positive, bounded number of seconds written as `90s`, `30m`, `1h30m`, `2d`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// No grant may last longer than this, whatever a catalog says.
pub const ABSOLUTE_MAX_SECS: u64 = 366 * 86_400;

/// A positive duration in whole seconds, at most a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessDuration(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration (use e.g. 90s, 30m, 1h30m, 2d; positive, at most 366d)")]
pub struct InvalidDuration(pub String);

impl AccessDuration {
    pub fn from_secs(secs: u64) -> Result<Self, InvalidDuration> {
        if secs == 0 || secs > ABSOLUTE_MAX_SECS {
            return Err(InvalidDuration(format!("{secs}s")));
        }
        Ok(AccessDuration(secs))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidDuration> {
        let err = || InvalidDuration(raw.chars().take(40).collect());
        let s = raw.trim();
        if s.is_empty() || s.len() > 32 {
            return Err(err());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                _ => return Err(err()),
            };
            let n: u64 = digits.parse().map_err(|_| err())?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(err)?;
        }
        if !digits.is_empty() {
            return Err(err());
        }
        Self::from_secs(total).map_err(|_| err())
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn to_chrono(self) -> chrono::Duration {
        // Bounded by ABSOLUTE_MAX_SECS, so the cast cannot overflow.
        chrono::Duration::seconds(self.0 as i64)
    }
}

impl fmt::Display for AccessDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, rem) = (self.0 / 86_400, self.0 % 86_400);
        let (h, rem) = (rem / 3_600, rem % 3_600);
        let (m, s) = (rem / 60, rem % 60);
        for (n, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
            if n > 0 {
                write!(f, "{n}{u}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for AccessDuration {
    type Err = InvalidDuration;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl TryFrom<String> for AccessDuration {
    type Error = InvalidDuration;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<AccessDuration> for String {
    fn from(d: AccessDuration) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(AccessDuration::parse("90s").unwrap().secs(), 90);
        assert_eq!(AccessDuration::parse("30m").unwrap().secs(), 1_800);
        assert_eq!(AccessDuration::parse("1h30m").unwrap().secs(), 5_400);
        assert_eq!(AccessDuration::parse("2d").unwrap().secs(), 172_800);
        assert_eq!(AccessDuration::parse("1h30m").unwrap().to_string(), "1h30m");
    }

    #[test]
    fn refuses_zero_negative_absurd_and_garbage() {
        for bad in [
            "",
            "0s",
            "-5m",
            "90x",
            "1e30",
            "999999999d",
            "5",
            "m",
            "1.5h",
            "18446744073709551616s",
        ] {
            assert!(
                AccessDuration::parse(bad).is_err(),
                "{bad} should be refused"
            );
        }
        assert!(AccessDuration::parse("367d").is_err());
    }
}
