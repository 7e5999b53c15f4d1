//! Handlers of the `greeting-api` project: `greet::greet` and `greet::health`.

pub mod greet;
