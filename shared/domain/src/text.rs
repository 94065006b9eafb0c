//! Free-text fields people type: the justification, the ticket reference and a reviewer's
//! comment.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidText {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {len} characters; the limit is {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} contains control characters")]
    Control { field: &'static str },
}

fn check(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidText> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(InvalidText::Empty { field });
    }
    let len = t.chars().count();
    if len > max {
        return Err(InvalidText::TooLong { field, len, max });
    }
    // Newlines and tabs are fine in prose; other control characters corrupt logs and reports.
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(InvalidText::Control { field });
    }
    Ok(t.to_owned())
}

/// Why access is needed: 1 to 1,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Justification(String);

impl Justification {
    pub const MAX: usize = 1_000;
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        check("justification", raw, Self::MAX).map(Justification)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket, pull request or incident reference: 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketRef(String);

impl TicketRef {
    pub const MAX: usize = 200;
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        check("ticket", raw, Self::MAX).map(TicketRef)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A reviewer's comment on a grant: 1 to 1,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReviewComment(String);

impl ReviewComment {
    pub const MAX: usize = 1_000;
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        check("comment", raw, Self::MAX).map(ReviewComment)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_conversions {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = InvalidText;
            fn try_from(s: String) -> Result<Self, InvalidText> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_conversions!(Justification);
string_conversions!(TicketRef);
string_conversions!(ReviewComment);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn justification_bounds() {
        assert!(Justification::parse("fix the orders table").is_ok());
        assert!(matches!(
            Justification::parse("   "),
            Err(InvalidText::Empty { .. })
        ));
        assert!(Justification::parse(&"x".repeat(1_000)).is_ok());
        assert!(matches!(
            Justification::parse(&"x".repeat(1_001)),
            Err(InvalidText::TooLong { len: 1_001, .. })
        ));
        assert!(matches!(
            Justification::parse("a\u{7}b"),
            Err(InvalidText::Control { .. })
        ));
        assert!(Justification::parse("line one\nline two").is_ok());
    }

    #[test]
    fn review_comment_bounds() {
        assert_eq!(
            ReviewComment::parse("  still needed  ").unwrap().as_str(),
            "still needed"
        );
        assert!(matches!(
            ReviewComment::parse(""),
            Err(InvalidText::Empty { field: "comment" })
        ));
        assert!(ReviewComment::parse(&"c".repeat(1_001)).is_err());
        assert!(ReviewComment::parse("a\u{1b}[31m").is_err());
    }

    #[test]
    fn ticket_bounds() {
        assert!(TicketRef::parse("OPS-123").is_ok());
        assert!(TicketRef::parse(&"t".repeat(201)).is_err());
    }
}
