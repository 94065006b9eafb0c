//! Wildcard matching, in the three flavours Stint needs:
//!
//! - [`glob_match`]: `*` matches any run of characters, `/` included. For names that are not
//!   paths (users, alarm names, git refs as the catalog has always read them).
//! - [`segment_match`]: `*` matches within one `/`-separated segment. For ARN patterns that say
//!   where a grant lands: `role/stint/ci-*` must not reach `role/stint/ci-x/oncall`.
//! - [`overlap`]: whether two IAM-style patterns (`*` any run, `?` any one character) can match
//!   the same string. This is how IAM itself reads `Resource` and `Action` wildcards, across
//!   `/` and `:`, so it is what the catalog's safety checks must assume.
//!
//! All are iterative or table-driven: hostile input cannot blow the stack.

/// `*`-only glob where `*` matches any run of characters, including none and including `/`.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    star_match(pattern, value, |_| true)
}

/// `*`-only glob where `*` never matches a `/`: each `*` stays inside one path segment.
pub fn segment_match(pattern: &str, value: &str) -> bool {
    star_match(pattern, value, |c| c != '/')
}

/// IAM's own wildcard match of a concrete value: `*` any run (across `/` and `:`), `?` any one
/// character.
pub fn iam_match(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Greedy matching with one backtrack point; `star_takes` says what a `*` may swallow.
///
/// With one backtrack point a later `*` replaces the earlier one, which is sound only when
/// every `*` may swallow the same characters: true for both callers (all or all-but-`/`). A
/// `*` that meets a character it may not take ends the current attempt without backtracking
/// past it, since an earlier `*` could not take that character either.
fn star_match(pattern: &str, value: &str, star_takes: impl Fn(char) -> bool) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            if !star_takes(v[mark]) {
                return false;
            }
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether some string matches both IAM-style patterns, where `*` matches any run of
/// characters (across `/` and `:`) and `?` any one character. Case-sensitive, as IAM reads
/// resource ARNs; see [`action_overlap`] for actions.
///
/// A dynamic programme over positions: `can[i][j]` says whether the rest of `a` from `i` and
/// the rest of `b` from `j` share a match. A `*` either ends (move past it) or swallows the
/// next character of the other side, which is enough even when both sides hold a `*`: the
/// one that ends first lets the other carry on.
pub fn overlap(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let mut can = vec![false; (n + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            let here = if i == n && j == m {
                true
            } else if i < n && a[i] == '*' {
                can[at(i + 1, j)] || (j < m && can[at(i, j + 1)])
            } else if j < m && b[j] == '*' {
                can[at(i, j + 1)] || (i < n && can[at(i + 1, j)])
            } else if i < n && j < m {
                (a[i] == '?' || b[j] == '?' || a[i] == b[j]) && can[at(i + 1, j + 1)]
            } else {
                false
            };
            can[at(i, j)] = here;
        }
    }
    can[at(0, 0)]
}

/// [`overlap`] for ARN patterns, knowing that in a real ARN
/// (`arn:partition:service:region:account:resource`) only the resource may hold a `:`. When
/// both patterns have all six parts, the first five are compared part by part (a `*` in the
/// region cannot swallow the account and half the resource) and the resources as wholes, where
/// `*` crosses `/` and `:` as in IAM. Anything else (`*`, `arn:aws:*`) is compared as a plain
/// string ignoring case, which can only find more overlap, never less.
pub fn arn_overlap(a: &str, b: &str) -> bool {
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.splitn(6, ':').collect(), b.splitn(6, ':').collect());
    if pa.len() == 6 && pb.len() == 6 {
        // The first five parts are compared ignoring case: a catalog that writes `DynamoDB`
        // must not slip past a check IAM might not make the same way.
        pa.iter().zip(&pb).enumerate().all(|(i, (x, y))| {
            if i < 5 {
                overlap(&x.to_ascii_lowercase(), &y.to_ascii_lowercase())
            } else {
                overlap(x, y)
            }
        })
    } else {
        overlap(&a.to_ascii_lowercase(), &b.to_ascii_lowercase())
    }
}

/// [`overlap`] for IAM actions (`service:Action`), which IAM compares case-insensitively.
pub fn action_overlap(a: &str, b: &str) -> bool {
    overlap(&a.to_ascii_lowercase(), &b.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn glob_star_crosses_everything() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("refs/heads/*", "refs/heads/main"));
        assert!(glob_match(
            "repo:acme/*",
            "repo:acme/orders:ref:refs/heads/main"
        ));
        assert!(!glob_match("refs/heads/*", "refs/tags/v1"));
        assert!(!glob_match("a*b", "a"));
        assert!(glob_match("*stint*", "my-stint-table"));
    }

    #[test]
    fn segment_star_stays_inside_one_path_segment() {
        let ci = "arn:aws:iam::123456789012:role/stint/ci-*";
        assert!(segment_match(
            ci,
            "arn:aws:iam::123456789012:role/stint/ci-orders"
        ));
        assert!(segment_match(
            ci,
            "arn:aws:iam::123456789012:role/stint/ci-"
        ));
        // The attack of issue 12: a path under the pattern, whose last segment IAM takes as
        // the role name.
        assert!(!segment_match(
            ci,
            "arn:aws:iam::123456789012:role/stint/ci-x/oncall"
        ));
        assert!(!segment_match(
            ci,
            "arn:aws:iam::123456789012:role/stint/ci-/oncall"
        ));
        let any = "arn:aws:iam::123456789012:role/stint/*";
        assert!(segment_match(
            any,
            "arn:aws:iam::123456789012:role/stint/oncall"
        ));
        assert!(!segment_match(
            any,
            "arn:aws:iam::123456789012:role/stint/a/b"
        ));
        assert!(segment_match("a/*/c", "a/b/c"));
        assert!(!segment_match("a/*/c", "a/b/x/c"));
        assert!(segment_match("a/*-*/c", "a/b-x-y/c"));
        assert!(segment_match("*", "no-slash"));
        assert!(!segment_match("*", "one/slash"));
        assert!(segment_match("exact", "exact"));
        assert!(!segment_match("exact", "exactly"));
    }

    #[test]
    fn overlap_of_arn_patterns() {
        let stint_fn = "arn:aws:lambda:eu-west-1:123456789012:function:stint-grant";
        assert!(overlap(
            "arn:aws:lambda:eu-west-1:123456789012:function:*",
            stint_fn
        ));
        assert!(overlap(
            "arn:aws:lambda:eu-west-1:123456789012:function:*",
            "arn:aws:lambda:*:*:function:stint-*"
        ));
        assert!(overlap(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-EventsTable-1ABC"
        ));
        assert!(overlap(
            "arn:aws:dynamodb:*:*:table/*",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-events/index/by_day"
        ));
        for anything in [stint_fn, "", "arn:aws:s3:::stint-reports/x", "*"] {
            assert!(overlap("*", anything), "{anything}");
            assert!(overlap(anything, "*"), "{anything}");
        }
        // `?` is one character, as in IAM.
        assert!(overlap(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-event?",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-events"
        ));
        assert!(!overlap("a?", "a"));
        // No overlap: another account, another function, another table.
        assert!(!overlap(
            "arn:aws:lambda:eu-west-1:999999999999:function:*",
            stint_fn
        ));
        assert!(!overlap(
            "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
            "arn:aws:lambda:*:*:function:stint-*"
        ));
        assert!(!overlap(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-events"
        ));
        // Both sides wild in different places.
        assert!(overlap("a*c", "ab*"));
        assert!(overlap("*x", "x*"));
        assert!(!overlap("a*", "b*"));
        assert!(!overlap("*a", "*b"));
        assert!(overlap("*a*", "*b*"));
        assert!(overlap("", ""));
        assert!(overlap("**", ""));
        assert!(!overlap("?", ""));
    }

    #[test]
    fn arn_overlap_keeps_the_first_five_parts_apart() {
        // As plain strings these overlap: the protected region `*` could swallow
        // "eu-west-1:123456789012:table/orders/index/" and the catalog's final `*` supply
        // ":x:table/stint". No real ARN is like that.
        let index = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/index/*";
        let stint = "arn:aws:dynamodb:*:*:table/stint*";
        assert!(overlap(index, stint));
        assert!(!arn_overlap(index, stint));
        assert!(arn_overlap(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
            stint
        ));
        assert!(arn_overlap(
            "arn:aws:lambda:eu-west-1:123456789012:function:*",
            "arn:aws:lambda:eu-west-1:123456789012:function:stint-grant"
        ));
        assert!(!arn_overlap(
            "arn:aws:lambda:eu-west-1:123456789012:function:*",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/stint"
        ));
        assert!(arn_overlap(
            "arn:AWS:DynamoDB:EU-west-1:123456789012:table/*",
            stint
        ));
        // Short or bare patterns are compared as strings: conservative.
        assert!(arn_overlap("*", stint));
        assert!(arn_overlap("arn:aws:*", stint));
        assert!(arn_overlap("arn:*", "arn:aws:s3:::stint-reports"));
        assert!(arn_overlap("arn:AWS:*", "arn:aws:s3:::stint-reports"));
        // The resource part still crosses `/` and `:`.
        assert!(arn_overlap(
            "arn:aws:lambda:eu-west-1:123456789012:*",
            "arn:aws:lambda:eu-west-1:123456789012:function:stint-grant:live"
        ));
    }

    #[test]
    fn actions_overlap_case_insensitively() {
        assert!(action_overlap(
            "lambda:Update*",
            "lambda:UpdateFunctionCode"
        ));
        assert!(action_overlap(
            "LAMBDA:updatefunctioncode",
            "lambda:UpdateFunctionCode"
        ));
        assert!(action_overlap("cognito-idp:*", "cognito-idp:Admin*"));
        assert!(action_overlap(
            "cognito-idp:?dmin*",
            "cognito-idp:AdminAddUserToGroup"
        ));
        assert!(action_overlap("sts:Assume*", "sts:AssumeRole"));
        assert!(action_overlap("*", "iam:PassRole"));
        assert!(action_overlap("*:*", "iam:PassRole"));
        assert!(!action_overlap("lambda:Get*", "lambda:Update*"));
        assert!(!action_overlap("cognito-idp:List*", "cognito-idp:Admin*"));
    }

    /// Reference matcher: `*` any run, `?` one character; recursive, for tiny inputs only.
    fn iam_match_ref(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('*', rest)) => (0..=v.len()).any(|k| iam_match_ref(rest, &v[k..])),
            Some((c, rest)) => {
                !v.is_empty() && (*c == '?' || *c == v[0]) && iam_match_ref(rest, &v[1..])
            }
        }
    }

    /// Every string over `abc` up to `len` characters (`c` stands for "anything else").
    fn all_strings(len: usize) -> Vec<Vec<char>> {
        let mut out = vec![vec![]];
        let mut last = vec![vec![]];
        for _ in 0..len {
            last = last
                .iter()
                .flat_map(|s: &Vec<char>| {
                    ['a', 'b', 'c'].map(|c| {
                        let mut t = s.clone();
                        t.push(c);
                        t
                    })
                })
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    proptest! {
        // Checked against brute force: a shortest common match is never longer than the two
        // patterns together.
        #[test]
        fn overlap_agrees_with_brute_force(a in "[ab*?]{0,4}", b in "[ab*?]{0,4}") {
            let (pa, pb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            let witness = all_strings(pa.len() + pb.len())
                .into_iter()
                .any(|w| iam_match_ref(&pa, &w) && iam_match_ref(&pb, &w));
            prop_assert_eq!(overlap(&a, &b), witness, "{} vs {}", a, b);
        }

        #[test]
        fn segment_match_is_glob_match_segment_by_segment(p in "[ab*/]{0,8}", v in "[ab/]{0,8}") {
            let (ps, vs): (Vec<&str>, Vec<&str>) = (p.split('/').collect(), v.split('/').collect());
            let reference = ps.len() == vs.len()
                && ps.iter().zip(&vs).all(|(p, v)| glob_match(p, v));
            prop_assert_eq!(segment_match(&p, &v), reference, "{} vs {}", p, v);
        }

        #[test]
        fn iam_match_agrees_with_the_reference(p in "[ab*?]{0,6}", v in "[abc]{0,6}") {
            let (pc, vc): (Vec<char>, Vec<char>) = (p.chars().collect(), v.chars().collect());
            prop_assert_eq!(iam_match(&p, &v), iam_match_ref(&pc, &vc), "{} vs {}", p, v);
        }

        #[test]
        fn overlap_is_symmetric(a in "[ab*?/]{0,8}", b in "[ab*?/]{0,8}") {
            prop_assert_eq!(overlap(&a, &b), overlap(&b, &a));
        }

        #[test]
        fn a_literal_overlaps_a_pattern_exactly_when_it_matches(p in "[ab*/]{0,8}", v in "[ab/]{0,8}") {
            prop_assert_eq!(overlap(&p, &v), glob_match(&p, &v));
        }

        #[test]
        fn segment_match_implies_glob_match(p in "[ab*/]{0,8}", v in "[ab/]{0,8}") {
            if segment_match(&p, &v) {
                prop_assert!(glob_match(&p, &v));
            }
            // And with no `/` in the value the two agree.
            if !v.contains('/') {
                prop_assert_eq!(segment_match(&p, &v), glob_match(&p, &v));
            }
        }
    }
}
