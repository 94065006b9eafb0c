//! The domain: plain types, the deciders of every stream, and pure functions. No I/O, no
//! async, no SDK types.

pub mod alert;
pub mod audit;
pub mod budget;
pub mod catalog;
pub mod catalog_history;
pub mod checkpoint;
pub mod claims;
pub mod cost;
pub mod decider;
pub mod drift;
pub mod duration;
pub mod effects;
pub mod event;
pub mod evidence;
pub mod glob;
pub mod guard;
pub mod identity_center;
pub mod ids;
pub mod ledger;
pub mod log;
pub mod metrics;
pub mod notice;
pub mod oncall;
pub mod org;
pub mod policy;
pub mod protected;
pub mod recorded;
pub mod reminder;
pub mod report;
pub mod request;
pub mod review;
pub mod slack;
pub mod stats;
pub mod streams;
pub mod sweep;
pub mod tag;
#[cfg(test)]
pub(crate) mod testkit;
pub mod text;
pub mod timer;

pub use catalog::{Catalog, CatalogError, Role, SessionBinding};
pub use decider::Decider;
pub use duration::AccessDuration;
pub use event::Envelope;
pub use event::{AccessRequested, Actor, Event, EventBody, RevokeReason, Source};
pub use ids::{GroupName, Identity, PrincipalArn, RequestId, RoleName, Scope, UserId};
pub use log::{EventRecord, Hash, StoredEvent, StreamId};
pub use protected::{ProtectedError, ProtectedResources};
pub use request::{
    apply, decide, AccountGrant, AccountStatus, Command, Rejection, RequestContext, RequestState,
    Requests, Status, Submit, MAX_ACCOUNTS,
};
pub use review::{Period, Verdict};
pub use text::{Justification, ReviewComment, TicketRef};
