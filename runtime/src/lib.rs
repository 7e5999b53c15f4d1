//! flash-runtime: everything a flashc-generated worker needs besides its route table.
//!
//! Generated worker crates stay thin: they declare handlers (see [`handler`]) and hand them to
//! this library, which serves them over HTTP (load-balanced endpoints) or runs them as queue jobs.

pub mod bind;
pub mod config;
pub mod entry;
pub mod handler;
pub mod health;
pub mod lb;
pub mod logging;
pub mod queue;
pub mod shutdown;
