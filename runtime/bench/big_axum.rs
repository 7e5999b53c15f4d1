//! The baseline of `big_json.sh`: the smallest idiomatic axum server answering `GET /big` with
//! the same ~100 KB payload (`axum::Json` of the struct) and `GET /ping`.

#[path = "big_payload.rs"]
mod big_payload;

use std::sync::Arc;

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;

/// Serializes the shared payload by reference (no clone per request).
struct Shared(Arc<big_payload::Payload>);

impl Serialize for Shared {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80);
    let payload = Arc::new(big_payload::payload());
    let app = Router::new()
        .route("/ping", get(|| async { "ok" }))
        .route(
            "/big",
            get(|State(p): State<Arc<big_payload::Payload>>| async move { Json(Shared(p)) }),
        )
        .with_state(payload);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
