//! Ports: the small traits the application services talk to. Adapters implement them.

mod access;
mod bus;
mod chat;
mod checkpoints;
mod clock;
mod delivery;
mod event_store;
mod identity_center;
mod organization;
mod scheduler;
mod sweep_memory;
mod withheld;

pub use access::{AccessProvider, ProviderError};
pub use bus::{BusMessage, EventBus};
pub use chat::{Chat, SlackApi};
pub use checkpoints::{CheckpointArchive, CheckpointKey, CheckpointSigner};
pub use clock::Clock;
pub use delivery::{Archive, Mailer};
pub use event_store::{
    check_append, EventStore, LogStream, RawScanStream, ScanStream, StoreError, MAX_APPEND,
};
pub use identity_center::{
    AssignmentRow, AssignmentStatus, DirectoryUser, IdentityCenter, Sleeper, TokioSleeper,
};
pub use organization::Organization;
pub use scheduler::{Scheduler, TimerFired, TimerKind};
pub use sweep_memory::SweepMemory;
pub use withheld::{ReadOnly, Withheld};
