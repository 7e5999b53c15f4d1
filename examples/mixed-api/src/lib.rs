//! Handlers of the `mixed-api` project: the public API (`api::*`, load-balanced, CPU) and the
//! GPU backend it calls (`backend::summarize`, a queue endpoint).

pub mod api;
pub mod backend;
