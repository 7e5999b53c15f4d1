//! Handlers of the `compute-and-text` project: `compute::*` for the GPU endpoint, `text::*` for
//! the CPU endpoint. One crate serves both; each worker links only what its routes call.

pub mod compute;
pub mod text;
