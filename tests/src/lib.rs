//! Shared helpers for Stint tests.
