//! Handlers of the `streaming-text` project, all in `generate`: `start` (the endpoint's `init`),
//! `generate` (POST), `stats` (GET) and `stream` (a WebSocket route).

pub mod generate;
