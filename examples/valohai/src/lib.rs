//! Handlers of the `valohai` project: `model::load` (the endpoint's `init`), `model::predict`
//! and `model::info`. Nothing here knows about the path prefix: the runtime strips it.

pub mod model;
