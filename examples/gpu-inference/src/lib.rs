//! Handlers of the `gpu-inference` project: `model::load` (the endpoint's `init`) and
//! `model::classify` (the queue handler).

pub mod model;
