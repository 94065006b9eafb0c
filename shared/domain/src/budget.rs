//! IAM's inline-policy quota: a role's inline policies may total 10,240 characters, whitespace
//! not counted. A grant that would overflow it fails at grant time, never at revoke time.

use serde::{Deserialize, Serialize};

/// What IAM allows per role, summed over its inline policies.
pub const INLINE_POLICY_LIMIT: usize = 10_240;

/// One inline policy on a role, with the size IAM counts against the quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlinePolicy {
    pub name: String,
    pub size: usize,
}

/// The size IAM counts: characters of the document, whitespace excluded.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Whether `document` may be put as `name` next to `existing`: a policy of the same name is
/// replaced, so it does not count twice.
pub fn check_budget(existing: &[InlinePolicy], name: &str, document: &str) -> Result<(), String> {
    let others: usize = existing
        .iter()
        .filter(|p| p.name != name)
        .map(|p| p.size)
        .sum();
    let this = policy_size(document);
    if others + this > INLINE_POLICY_LIMIT {
        return Err(format!(
            "the role's inline policies would total {} characters, over IAM's limit of \
             {INLINE_POLICY_LIMIT} ({others} already used by {} other policies, {this} for this grant)",
            others + this,
            existing.iter().filter(|p| p.name != name).count()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, size: usize) -> InlinePolicy {
        InlinePolicy {
            name: name.into(),
            size,
        }
    }

    #[test]
    fn whitespace_does_not_count() {
        assert_eq!(policy_size("{ \"a\" :\n 1 }"), 7);
    }

    #[test]
    fn a_grant_that_fits_is_allowed_and_one_that_overflows_is_named() {
        let doc = "x".repeat(400);
        assert!(check_budget(&[p("a", 9_000)], "stint-1", &doc).is_ok());
        let err = check_budget(&[p("a", 9_000), p("b", 900)], "stint-1", &doc).unwrap_err();
        assert!(err.contains("10300") && err.contains("10240"), "{err}");
    }

    #[test]
    fn replacing_a_policy_does_not_count_it_twice() {
        let doc = "x".repeat(5_000);
        assert!(check_budget(&[p("stint-1", 5_000), p("a", 5_000)], "stint-1", &doc).is_ok());
    }
}
