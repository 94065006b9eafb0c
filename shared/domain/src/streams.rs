//! The event-store stream families and their name prefixes. The prefix is the `stream`
//! partition key's start, and each function's IAM policy names the prefixes it may write
//! (`dynamodb:LeadingKeys` in template.yaml), so the names live here once.

use crate::ids::PrincipalArn;
use crate::log::StreamId;

/// A request's events (`request#<ulid>`): requested, approved, granted, revoked, reviewed.
pub const REQUEST: &str = "request#";
/// The requests an alert opened (`alert#<digest>`).
pub const ALERT: &str = "alert#";
/// The notice ledger of one event (`notice#<event id>`).
pub const NOTICE: &str = "notice#";
/// The `stint-*` policies the sweep removed from one principal (`drift#<principal>`).
pub const DRIFT: &str = "drift#";
/// The catalogs the deployment loaded (`catalog#deployment`).
pub const CATALOG: &str = "catalog#";
/// Local mode's recorded policies (`recorded#<principal>`); never written in AWS.
pub const RECORDED: &str = "recorded#";

/// Every family, for checks that each is accounted for.
pub const ALL: [&str; 6] = [REQUEST, ALERT, NOTICE, DRIFT, CATALOG, RECORDED];

/// The sweep's removals on one principal.
pub fn drift(principal: &PrincipalArn) -> Result<StreamId, String> {
    StreamId::new(format!("{DRIFT}{principal}"))
}

/// The sweep's removals of one Identity Center permission set's assignments in one account.
pub fn drift_assignment(
    permission_set: &crate::identity_center::PermissionSetArn,
    account: &str,
) -> Result<StreamId, String> {
    StreamId::new(format!("{DRIFT}{permission_set}#{account}"))
}

/// The notice ledger of one event.
pub fn notice(event_id: &str) -> Result<StreamId, String> {
    StreamId::new(format!("{NOTICE}{event_id}"))
}

/// The one stream of the deployment's catalog history: a store serves one deployment, whose
/// catalog may move from one parameter or file to another and is still one history.
pub fn catalog() -> StreamId {
    StreamId::for_catalog()
}

/// The family a stream belongs to, by its prefix.
pub fn family(stream: &StreamId) -> Option<&'static str> {
    ALL.into_iter().find(|p| stream.as_str().starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RequestId;

    #[test]
    fn every_stream_name_starts_with_its_family_prefix() {
        let p = PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/app").unwrap();
        let id = RequestId::new();
        for (stream, want) in [
            (id.stream(), REQUEST),
            (StreamId::for_alert(&[7; 16]), ALERT),
            (notice("01J0").unwrap(), NOTICE),
            (drift(&p).unwrap(), DRIFT),
            (catalog(), CATALOG),
        ] {
            assert_eq!(family(&stream), Some(want), "{stream}");
        }
        assert_eq!(family(&StreamId::new("other#x").unwrap()), None);
    }
}
