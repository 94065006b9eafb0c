//! Ports: the small traits the application services talk to. Adapters implement them.

mod clock;
mod event_store;

pub use clock::Clock;
pub use event_store::{check_append, EventStore, LogStream, StoreError, MAX_APPEND};
