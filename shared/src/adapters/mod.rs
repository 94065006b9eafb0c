//! Adapters: the ports implemented over AWS services and over embedded, on-disk components.

pub mod clock;
pub mod dynamodb;
pub mod sqlite;
