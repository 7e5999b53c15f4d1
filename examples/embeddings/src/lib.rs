//! Handlers of the `embeddings` project: all-MiniLM-L6-v2 sentence embeddings on candle.
//!
//! `model::load` (both endpoints' `init`) reads the model from `MODEL_DIR` once per worker and
//! starts the batcher; `api::embed` and `api::similarity` are the routes and the queue handler.

pub mod api;
pub mod batch;
pub mod encoder;
pub mod model;
