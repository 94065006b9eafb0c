//! Stint: temporary, scoped, audited production access on AWS.
//!
//! Floors, from the bottom: `domain` (pure), `ports` (traits), then `adapters` and `app`
//! (siblings that never import each other). A lower floor never imports a higher one.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod http;
pub mod lambda;
pub mod local;
pub mod ports;
pub mod runtime;
