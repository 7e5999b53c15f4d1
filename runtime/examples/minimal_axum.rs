//! The baseline of the load-balanced benchmark (`bench/lb.sh`): the smallest idiomatic axum
//! server answering the same two routes as the example worker — `GET /ping` and `POST /add`
//! with a two-field JSON body — with none of the runtime's features.

use axum::{routing::get, routing::post, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80);
    let app = Router::new()
        .route(
            "/ping",
            get(|| async { Json(json!({"status": "healthy"})) }),
        )
        .route(
            "/add",
            post(|Json(add): Json<Add>| async move {
                Json::<Value>(json!({"sum": add.a.wrapping_add(add.b)}))
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
