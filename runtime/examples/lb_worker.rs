//! A load-balanced worker written by hand exactly as `flashc generate` will write one: user
//! functions (here inline; normally the user's own module), one closure per route that binds
//! arguments and calls the function, a route table, and `main`.
//!
//! The integration tests (`tests/lb_*.rs`) run this binary and also reuse [`app`] in-process.
//! Knobs for the tests only: `EXAMPLE_INIT_MS` delays init, `EXAMPLE_INIT_FAIL` makes it fail.
//!
//! The idioms of generated code: `bind!` without types (the user's function's parameters type
//! them), a plain `fn` runs through `blocking` (never on the async threads), a `Result` answers
//! through `Reply::result`, `call.context()` is the `Context` a function may ask for.

use std::{sync::Arc, time::Duration};

use flash_runtime::{
    bind, blocking,
    handler::{handler, Reply},
    lb::App,
    Context, HandlerError,
};
use serde::Serialize;

/// What `flashc generate` writes next to `main.rs` (here a small inline stand-in).
const OPENAPI: &str =
    r#"{"openapi":"3.1.0","info":{"title":"lb_worker","version":"0.1.0"},"paths":{}}"#;

// ---- the user's code (what a flash.yaml's handlers point at) ----

/// What the `init` hook loads once per worker (a model, in real life).
pub struct Model {
    greeting: String,
}

async fn load_model() -> Result<Model, String> {
    let delay = std::env::var("EXAMPLE_INIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    if std::env::var_os("EXAMPLE_INIT_FAIL").is_some() {
        return Err("model weights not found".into());
    }
    Ok(Model {
        greeting: "hello".into(),
    })
}

#[derive(Serialize)]
struct User {
    id: i64,
    name: String,
    email: String,
}

async fn get_user(user_id: i64, verbose: Option<bool>) -> serde_json::Value {
    serde_json::json!({ "id": user_id, "verbose": verbose.unwrap_or(false) })
}

async fn create_user(name: String, email: String) -> User {
    tracing::info!("creating user {name}");
    User { id: 1, name, email }
}

fn divide(a: f64, b: f64) -> Result<f64, HandlerError> {
    if b == 0.0 {
        return Err(HandlerError::client("cannot divide by zero"));
    }
    Ok(a / b)
}

/// CPU-bound work (model inference, in real life): spins a core for `ms` milliseconds.
fn busy(ms: u64) -> serde_json::Value {
    let start = std::time::Instant::now();
    let mut rounds: u64 = 0;
    while start.elapsed() < Duration::from_millis(ms) {
        rounds = std::hint::black_box(rounds.wrapping_add(1));
    }
    serde_json::json!({ "busy_ms": ms, "rounds": rounds })
}

async fn whoami(ctx: &Context) -> serde_json::Value {
    serde_json::json!({ "request_id": ctx.request_id() })
}

/// Looks an order up: only order 1 exists (an unknown id is a 404, as FastAPI's
/// `HTTPException(404)`); order 2 is being written (409); any other code is answered as asked.
fn order(id: u16) -> Result<serde_json::Value, HandlerError> {
    match id {
        1 => Ok(serde_json::json!({ "order": 1 })),
        2 => Err(HandlerError::status(409, "order 2 is being written")),
        3..=99 => Err(HandlerError::not_found(format!("no order {id}"))),
        code => Err(HandlerError::status(code, format!("asked for {code}"))),
    }
}

async fn slow(ms: u64) -> serde_json::Value {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    serde_json::json!({ "slept": ms })
}

fn generate(
    prompt: String,
    n: u32,
    delay_ms: Option<u64>,
) -> impl futures_util::Stream<Item = serde_json::Value> {
    let delay = Duration::from_millis(delay_ms.unwrap_or(0));
    futures_util::stream::unfold(0u32, move |i| {
        let prompt = prompt.clone();
        async move {
            if i >= n {
                return None;
            }
            tokio::time::sleep(delay).await;
            let token = format!("{prompt}-{i}");
            Some((serde_json::json!({ "token": token, "index": i }), i + 1))
        }
    })
}

// ---- what generated code looks like: a route table, one closure per route ----

pub fn app() -> App<Model> {
    App::new(load_model)
        .openapi(OPENAPI)
        .get(
            "/hello",
            handler(|model: Arc<Model>, _call| async move {
                Reply::value(serde_json::json!({ "message": model.greeting }))
            }),
        )
        .get(
            "/users/{user_id}",
            handler(|_model, mut call| async move {
                let (user_id, verbose) = bind!(call, path user_id, verbose)?;
                Reply::json(get_user(user_id, verbose).await)
            }),
        )
        .post(
            "/users",
            handler(|_model, mut call| async move {
                let (name, email) = bind!(call, name, email)?;
                Reply::json(create_user(name, email).await)
            }),
        )
        .post(
            "/add",
            handler(|_model, mut call| async move {
                // Typed parameters still work (and this benchmark route stays allocation-light).
                let (a, b) = bind!(call, a: i64, b: i64)?;
                Reply::value(serde_json::json!({ "sum": a.wrapping_add(b) }))
            }),
        )
        .post(
            "/divide",
            handler(|_model, mut call| async move {
                let (a, b) = bind!(call, a, b)?;
                Reply::result(blocking(move || divide(a, b)).await?)
            }),
        )
        .get(
            "/busy",
            handler(|_model, mut call| async move {
                let (ms,) = bind!(call, ms)?;
                Reply::json(blocking(move || busy(ms)).await?)
            }),
        )
        .get(
            "/whoami",
            handler(|_model, call| async move {
                let ctx = call.context();
                Reply::json(whoami(&ctx).await)
            }),
        )
        .get(
            "/panic",
            handler(|_model, _call| async move {
                panic!("handler bug");
            }),
        )
        .get(
            "/fail",
            handler(|_model, _call| async move {
                Err(HandlerError::internal("database password is hunter2"))
            }),
        )
        .get(
            "/orders/{id}",
            handler(|_model, mut call| async move {
                let (id,) = bind!(call, path id)?;
                Reply::result(order(id))
            }),
        )
        .get(
            "/slow",
            handler(|_model, mut call| async move {
                let (ms,) = bind!(call, ms)?;
                Reply::json(slow(ms).await)
            }),
        )
        .get(
            "/count",
            handler(|_model, mut call| async move {
                let (n,) = bind!(call, n: u32)?;
                Reply::stream(futures_util::stream::iter(0..n))
            }),
        )
        .get(
            "/generate",
            handler(|_model, mut call| async move {
                let (prompt, n, delay_ms) = bind!(call, prompt, n, delay_ms)?;
                Reply::stream(generate(prompt, n, delay_ms))
            }),
        )
        .get(
            "/dict",
            // A ported Flash handler's dict reply: its keys in the order written (with the
            // `preserve-order` feature every generated workspace turns on; sorted without).
            handler(|_model, _call| async move {
                Reply::value(serde_json::json!({
                    "zeta": 1, "alpha": "a", "mid": [{ "z": 2, "a": 3 }]
                }))
            }),
        )
        .websocket(
            "/ws/generate",
            handler(|_model, mut call| async move {
                let (prompt, n, delay_ms) = bind!(call, prompt, n, delay_ms)?;
                Reply::stream(generate(prompt, n, delay_ms))
            }),
        )
}

#[allow(dead_code)] // the tests include this file for `app` only
fn main() -> std::process::ExitCode {
    flash_runtime::lb::run(app())
}
