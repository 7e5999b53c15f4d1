//! The exact shapes `flashc generate` emits, against a stand-in for a user's crate: if this file
//! compiles, generated workers compile (untyped `bind!`, `call.context()`, `blocking` for sync
//! functions and sync `init`, `Reply::{json, result, stream, try_stream}`, `App::openapi`,
//! `QueueWorker::{new, with_state}`); the tests then check the answers.

mod lb_common;

use std::time::Duration;

use flash_runtime::{
    bind, blocking,
    handler::{handler, Reply},
    lb::App,
    queue::QueueWorker,
};
use lb_common::{client, config, start, wait_status};
use serde_json::{json, Value};

/// A user's library crate, as flash.yaml's handlers point into it.
mod shop {
    pub mod model {
        pub struct Model {
            pub prefix: String,
        }

        #[derive(Debug)]
        pub struct LoadError;

        impl std::fmt::Display for LoadError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("weights missing")
            }
        }

        impl std::error::Error for LoadError {}

        pub async fn load() -> Result<Model, LoadError> {
            Ok(Model {
                prefix: "user".into(),
            })
        }

        /// A sync, fallible init (generated code runs it through `blocking`).
        pub fn load_sync() -> Result<Model, LoadError> {
            Ok(Model {
                prefix: "job".into(),
            })
        }
    }

    pub mod users {
        use flash_runtime::{Context, HandlerError};
        use serde::Serialize;

        use super::model::Model;

        #[derive(Serialize)]
        pub struct User {
            pub id: u64,
            pub name: String,
            pub verbose: bool,
        }

        pub async fn get(id: u64, verbose: Option<bool>) -> User {
            User {
                id,
                name: format!("user-{id}"),
                verbose: verbose.unwrap_or(false),
            }
        }

        /// Sync, state by reference, the context by reference, `Result` with `HandlerError`.
        pub fn create(model: &Model, ctx: &Context, name: String) -> Result<Value, HandlerError> {
            if name.is_empty() {
                return Err(HandlerError::client("name is empty"));
            }
            Ok(serde_json::json!({
                "name": format!("{}:{name}", model.prefix),
                "request": ctx.request_id(),
            }))
        }

        use serde_json::Value;
    }

    pub mod gen {
        use futures_util::Stream;

        pub fn tokens(prompt: String) -> impl Stream<Item = Result<String, std::io::Error>> {
            let words: Vec<Result<String, std::io::Error>> = prompt
                .split(' ')
                .map(|w| {
                    if w == "bad" {
                        Err(std::io::Error::other("bad token"))
                    } else {
                        Ok(w.to_string())
                    }
                })
                .collect();
            futures_util::stream::iter(words)
        }

        pub fn count(n: u32) -> impl Stream<Item = u32> {
            futures_util::stream::iter(0..n)
        }
    }

    pub mod jobs {
        use flash_runtime::Context;

        use super::model::Model;

        pub fn embed(model: &Model, ctx: Context, text: String) -> Vec<String> {
            ctx.progress(serde_json::json!({"len": text.len()}));
            vec![model.prefix.clone(), text]
        }

        pub async fn ping(n: i32) -> i32 {
            n + 1
        }
    }
}

/// The brief's load-balanced `main`, as a function.
fn lb_app() -> App<shop::model::Model> {
    App::new(|| async { shop::model::load().await.map_err(|err| err.to_string()) })
        .openapi(r#"{"openapi":"3.1.0","paths":{}}"#)
        .get(
            "/users/{id}",
            handler(|_state, mut call| async move {
                let (id, verbose) = bind!(call, path id, verbose)?;
                Reply::json(shop::users::get(id, verbose).await)
            }),
        )
        .post(
            "/users",
            handler(|state, mut call| async move {
                let ctx = call.context();
                let (name,) = bind!(call, name)?;
                Reply::result(blocking(move || shop::users::create(&state, &ctx, name)).await?)
            }),
        )
        .get(
            "/count",
            handler(|_state, mut call| async move {
                let (n,) = bind!(call, n)?;
                Reply::stream(shop::gen::count(n))
            }),
        )
        .websocket(
            "/ws",
            handler(|_state, mut call| async move {
                let (prompt,) = bind!(call, prompt)?;
                Reply::try_stream(shop::gen::tokens(prompt))
            }),
        )
}

/// The queue shapes: a sync fallible init through `blocking`, and a stateless worker.
fn queue_workers() -> (QueueWorker<shop::model::Model>, QueueWorker<()>) {
    let with_state = flash_runtime::queue::QueueWorker::with_state(
        || async {
            blocking(shop::model::load_sync)
                .await
                .map_err(|err| err.to_string())?
                .map_err(|err| err.to_string())
        },
        handler(|state, mut call| async move {
            let ctx = call.context();
            let (text,) = bind!(call, text)?;
            Reply::json(blocking(move || shop::jobs::embed(&state, ctx, text)).await?)
        }),
    )
    .max_concurrency(4)
    .retries(2)
    .execution_timeout(Some(Duration::from_secs(600)));
    let stateless = QueueWorker::new(handler(|_state, mut call| async move {
        let (n,) = bind!(call, n)?;
        Reply::json(shop::jobs::ping(n).await)
    }));
    (with_state, stateless)
}

#[tokio::test]
async fn the_generated_lb_shape_answers() {
    let s = start(lb_app(), config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    let get = |path: &str| client().get(s.url(path)).send();
    let body: Value = get("/users/7?verbose=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"id": 7, "name": "user-7", "verbose": true}));
    let res = client()
        .post(s.url("/users"))
        .header("x-request-id", "r-1")
        .json(&json!({"name": "ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"name": "user:ada", "request": "r-1"})
    );
    let res = client()
        .post(s.url("/users"))
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = get("/users/x").await.unwrap();
    assert_eq!(res.status(), 422);
    let res = get("/openapi.json").await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    let text = get("/count?n=3").await.unwrap().text().await.unwrap();
    assert_eq!(text, "0\n1\n2\n");
    s.stop().await;
}

#[tokio::test]
async fn the_generated_queue_shapes_run_jobs() {
    let (with_state, stateless) = queue_workers();
    for (worker, input, output) in [
        (
            Box::new(with_state) as Box<dyn std::any::Any>,
            json!({"text": "hi"}),
            json!(["job", "hi"]),
        ),
        (Box::new(stateless), json!({"n": 41}), json!(42)),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = flash_runtime::shutdown::Shutdown::new();
        let s = shutdown.clone();
        let timing = flash_runtime::queue::settings::LocalTiming::default();
        let grace = Duration::from_secs(5);
        let task = match worker.downcast::<QueueWorker<shop::model::Model>>() {
            Ok(w) => tokio::spawn(flash_runtime::queue::local::run(
                *w, timing, listener, s, grace,
            )),
            Err(other) => {
                let w = other.downcast::<QueueWorker<()>>().unwrap();
                tokio::spawn(flash_runtime::queue::local::run(
                    *w, timing, listener, s, grace,
                ))
            }
        };
        let job: Value = client()
            .post(format!("{base}/runsync"))
            .json(&json!({ "input": input }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(job["status"], "COMPLETED", "{job}");
        assert_eq!(job["output"], output);
        shutdown.trigger();
        task.await.unwrap().unwrap();
    }
}
