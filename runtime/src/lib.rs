//! flash-runtime: everything a flashc-generated worker needs besides its route table.
//!
//! Generated worker crates stay thin: they declare handlers (see [`handler`]) and hand them to
//! this library, which serves them over HTTP (load-balanced endpoints) or runs them as queue jobs.
//! The names a user's own code may use are at the root: [`Context`], [`HandlerError`],
//! [`blocking`], and the client for calling the project's other endpoints, [`endpoints`].

mod args;
pub mod bind;
pub mod config;
pub mod conn;
#[cfg(feature = "dev")]
pub mod dev;
pub mod endpoints;
pub mod entry;
pub mod handler;
pub mod health;
pub mod lb;
pub mod logging;
pub mod queue;
pub mod route_contract;
pub mod shutdown;
mod watch;

pub use handler::{blocking, Context, HandlerError, Input};
