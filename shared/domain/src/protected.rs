//! Stint's own resources: the ARNs (or ARN patterns) of the deployment that no grant may
//! reach. In AWS the template passes the real ones in (`STINT_PROTECTED_RESOURCES`); locally
//! a set of defaults stands in for them. The catalog may add more in either case.

use crate::glob::{arn_overlap, iam_match};
use std::fmt;

/// Why a protected-resource list was refused; `index` counts from 0 in the list as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtectedError {
    #[error("the list of protected resources is empty")]
    Empty,
    #[error("protected resource {index} ({value:?}): {why}")]
    Invalid {
        index: usize,
        value: String,
        why: &'static str,
    },
}

/// One protected ARN or ARN pattern (`*` and `?` as IAM reads them), with a literal service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProtectedArn {
    arn: String,
    service: String,
}

impl ProtectedArn {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let arn = raw.trim();
        if arn.is_empty() || arn.len() > 2048 {
            return Err("must be 1 to 2048 characters");
        }
        if arn.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains whitespace or control characters");
        }
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [head, partition, service, _region, _account, resource] = parts.as_slice() else {
            return Err("must be arn:<partition>:<service>:<region>:<account>:<resource>");
        };
        if *head != "arn" || partition.is_empty() || resource.is_empty() {
            return Err("must be arn:<partition>:<service>:<region>:<account>:<resource>");
        }
        // The service decides which actions can reach the resource; a wildcard there would
        // make every action on everything "protected", and the grant's deny would deny all.
        if service.is_empty()
            || !service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err("the service part must be a literal service name such as dynamodb");
        }
        if resource.chars().all(|c| c == '*' || c == '?') {
            return Err("the resource part must name something, not only wildcards");
        }
        Ok(ProtectedArn {
            service: (*service).to_owned(),
            arn: arn.to_owned(),
        })
    }
    pub fn as_str(&self) -> &str {
        &self.arn
    }
    /// The service part of the ARN (`dynamodb`, `lambda`, ...), which is also the prefix of
    /// the actions that act on it for every resource Stint protects.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl fmt::Display for ProtectedArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// The deployment's own resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectedResources(Vec<ProtectedArn>);

impl ProtectedResources {
    /// A comma-separated list, as the template passes it. Blank entries are skipped (an empty
    /// optional template parameter leaves one); anything else must be a valid ARN pattern.
    pub fn parse_list(csv: &str) -> Result<Self, ProtectedError> {
        let mut out = Vec::new();
        for (index, raw) in csv.split(',').enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let arn = ProtectedArn::parse(raw).map_err(|why| ProtectedError::Invalid {
                index,
                value: raw.chars().take(120).collect(),
                why,
            })?;
            out.push(arn);
        }
        if out.is_empty() {
            return Err(ProtectedError::Empty);
        }
        Ok(Self::from_arns(out))
    }

    fn from_arns(mut arns: Vec<ProtectedArn>) -> Self {
        arns.sort();
        arns.dedup();
        ProtectedResources(arns)
    }

    /// What `stint serve` protects when no template says: the names the local broker and a
    /// deployment under the default stack name use. Deliberately broad; a deployment passes
    /// its real resources instead.
    pub fn local_defaults() -> Self {
        let arns = [
            "arn:aws:dynamodb:*:*:table/stint*",
            "arn:aws:iam::*:role/stint-*",
            "arn:aws:iam::*:role/stint/stint-*",
            // The member-account roles the hub assumes (infra/member-account.yaml).
            "arn:aws:iam::*:role/stint-hub/*",
            "arn:aws:iam::*:policy/stint*",
            "arn:aws:events:*:*:event-bus/stint*",
            "arn:aws:scheduler:*:*:schedule-group/stint*",
            "arn:aws:scheduler:*:*:schedule/stint*",
            "arn:aws:lambda:*:*:function:stint-*",
            "arn:aws:sqs:*:*:stint-*",
            "arn:aws:s3:::stint-*",
            "arn:aws:ssm:*:*:parameter/stint/*",
            "arn:aws:cloudformation:*:*:stack/stint/*",
        ]
        .into_iter()
        .filter_map(|a| ProtectedArn::parse(a).ok())
        .collect();
        Self::from_arns(arns)
    }

    /// This set and `more` together.
    pub fn with(&self, more: impl IntoIterator<Item = ProtectedArn>) -> Self {
        Self::from_arns(self.0.iter().cloned().chain(more).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProtectedArn> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The protected pattern that covers this concrete ARN, if any. `*` crosses `/` here, as
    /// in IAM: what is protected is read as broadly as IAM would read it.
    pub fn covering(&self, arn: &str) -> Option<&ProtectedArn> {
        self.0.iter().find(|p| iam_match(p.as_str(), arn))
    }

    /// Every protected ARN that a resource pattern could also match.
    pub fn overlapping<'a>(&'a self, pattern: &'a str) -> impl Iterator<Item = &'a ProtectedArn> {
        self.0
            .iter()
            .filter(move |p| arn_overlap(p.as_str(), pattern))
    }

    /// The ARNs as IAM `Resource` entries.
    pub fn arns(&self) -> Vec<String> {
        self.0.iter().map(|p| p.arn.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYED: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-EventsTable-1ABC,\
        arn:aws:dynamodb:eu-west-1:123456789012:table/stint-EventsTable-1ABC/*,\
        arn:aws:lambda:eu-west-1:123456789012:function:prod-broker-grant,\
        arn:aws:iam::123456789012:role/prod-broker-GrantFunctionRole-XYZ, ";

    #[test]
    fn a_deployment_list_parses_and_names_each_service() {
        let p = ProtectedResources::parse_list(DEPLOYED).unwrap();
        let services: Vec<&str> = p.iter().map(ProtectedArn::service).collect();
        assert_eq!(services, ["dynamodb", "dynamodb", "iam", "lambda"]);
        // The stack is not called stint, and the list still protects it.
        assert!(p
            .covering("arn:aws:lambda:eu-west-1:123456789012:function:prod-broker-grant")
            .is_some());
        assert!(p
            .covering(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/stint-EventsTable-1ABC/index/by_day"
            )
            .is_some());
        assert!(p
            .covering("arn:aws:lambda:eu-west-1:123456789012:function:orders-api")
            .is_none());
    }

    #[test]
    fn bad_lists_are_refused_naming_the_entry() {
        assert_eq!(
            ProtectedResources::parse_list(" , "),
            Err(ProtectedError::Empty)
        );
        for (list, index) in [
            ("*", 0),
            ("arn:aws:dynamodb:eu-west-1:123456789012:table/x,table/x", 1),
            ("arn:aws:*:eu-west-1:123456789012:x", 0),
            ("arn:aws:s3:::*", 0),
            ("arn:aws:s3:::a b", 0),
        ] {
            match ProtectedResources::parse_list(list) {
                Err(ProtectedError::Invalid { index: i, .. }) => assert_eq!(i, index, "{list}"),
                other => panic!("{list}: {other:?}"),
            }
        }
    }

    #[test]
    fn overlapping_finds_real_overlap_not_literal_wildcards() {
        let p = ProtectedResources::parse_list(DEPLOYED).unwrap();
        let hits = |r: &str| p.overlapping(r).count();
        assert_eq!(hits("arn:aws:lambda:eu-west-1:123456789012:function:*"), 1);
        assert_eq!(hits("arn:aws:dynamodb:eu-west-1:123456789012:table/*"), 2);
        assert_eq!(hits("*"), 4);
        assert_eq!(
            hits("arn:aws:dynamodb:eu-west-1:123456789012:table/orders"),
            0
        );
        assert_eq!(
            hits("arn:aws:lambda:eu-west-1:123456789012:function:orders-*"),
            0
        );
    }

    #[test]
    fn question_marks_in_protected_patterns_are_one_character() {
        let p = ProtectedResources::parse_list("arn:aws:s3:::stint-report?").unwrap();
        assert!(p.covering("arn:aws:s3:::stint-reports").is_some());
        assert!(p.covering("arn:aws:s3:::stint-report").is_none());
    }

    #[test]
    fn local_defaults_cover_the_local_names() {
        let p = ProtectedResources::local_defaults();
        assert!(p.iter().count() >= 10);
        assert!(p
            .covering("arn:aws:iam::123456789012:role/stint/stint-broker")
            .is_some());
        assert!(p
            .covering("arn:aws:iam::123456789012:role/stint/oncall")
            .is_none());
    }
}
