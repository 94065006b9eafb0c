//! Local mode: the whole broker in one process over an embedded SQLite store on disk, an
//! in-process bus and timers, and an outbox folder for mail.

pub mod broker;
pub mod checkpoints;
pub mod memory;
pub mod outbox;
pub mod sqlite;
