//! The domain: plain types and pure functions. No I/O, no async, no SDK types.

pub mod alert;
pub mod catalog;
pub mod duration;
pub mod event;
pub mod ids;
pub mod log;
pub mod notice;
pub mod oncall;
pub mod policy;
pub mod report;
pub mod request;
pub mod text;

pub use catalog::{Catalog, CatalogError, Role};
pub use duration::AccessDuration;
pub use event::{AccessRequested, Actor, Event, EventBody, RevokeReason, Source};
pub use ids::{GroupName, Identity, PrincipalArn, RequestId, RoleName, Scope, UserId};
pub use log::{EventRecord, Hash, StoredEvent, StreamId};
pub use request::{apply, decide, Command, Rejection, RequestState, Status, Submit};
pub use text::{Justification, TicketRef};
