//! Application services: they load streams through ports, call the domain, and append.
//! They know the ports, never SDK types.

pub mod verify;
