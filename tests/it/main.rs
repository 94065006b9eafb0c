//! Stint's integration tests, as one test binary: each module below was a test binary of its own
//! and is now compiled and linked with the others once. Helpers the benchmarks share too are in
//! the library (`stint_tests`, `tests/src/lib.rs`); the ones only these tests use are in
//! `support`.
//!
//! Most tests need the AWS emulator and the workspace's binaries: run them through
//! `infra/scripts/test.sh`, which starts moto and builds the binaries first. Under nextest each
//! test still runs in a process of its own; under `cargo test` they share one process, so no test
//! may set process-wide state (environment variables, the current directory, global statics):
//! child processes get their environment through `Command::env`.

mod support;

mod alerts;
mod anchoring;
mod attacks;
mod bad_input;
mod broker_integrity;
mod catalog_trail;
mod cli_login;
mod console;
mod event_store_contract;
mod evidence;
mod faults;
mod functions;
mod http_api;
mod http_query;
mod identity_center;
mod least_privilege;
mod lifecycle;
mod local_broker;
mod local_mode;
mod notify;
mod operations;
mod orgs;
mod reports;
mod reviews;
mod slack;
mod stats;
mod sweep;
mod tls;
mod visibility;
