//! Application services: they load streams through ports, call the domain, and append.
//! They know the ports, never SDK types.

pub mod accounts;
pub mod alerts;
pub mod catalog;
pub mod checkpoint;
pub mod clock;
pub mod evidence;
pub mod execute;
pub mod grant;
pub mod identity_center;
pub mod notify;
pub mod ports;
pub mod relay;
pub mod render;
pub mod report;
pub mod requests;
pub mod resume;
pub mod reviews;
pub mod revoke;
pub mod service;
pub mod slack;
pub mod stats;
pub mod telemetry;
pub mod verify;
pub mod view;

pub use service::{AppError, Loaded, Outcome, Ran, RetryPolicy, Stint};
