//! What generated load-balanced workers rely on, over real sockets: the OpenAPI document,
//! `Reply::result` error kinds, `Context`, and `blocking` panics.

mod lb_common;

use flash_runtime::{
    bind, blocking,
    handler::{handler, Reply},
    lb::App,
    HandlerError,
};
use lb_common::{client, config, start, start_example, wait_status};
use serde_json::{json, Value};

async fn get(url: &str) -> (u16, Value) {
    let res = client().get(url).send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

#[tokio::test]
async fn openapi_document_is_served_as_json() {
    let s = start_example(&[]).await;
    let res = client().get(s.url("/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let res = client().post(s.url("/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    s.stop().await;
}

#[tokio::test]
async fn openapi_document_is_under_script_name_and_at_the_root() {
    let s = start_example(&[("SCRIPT_NAME", "/org/proj/dep/v1/ep")]).await;
    for path in ["/org/proj/dep/v1/ep/openapi.json", "/openapi.json"] {
        let (status, doc) = get(&s.url(path)).await;
        assert_eq!((status, &doc["openapi"]), (200, &json!("3.1.0")), "{path}");
    }
    // Routes themselves stay under the prefix only.
    assert_eq!(get(&s.url("/hello")).await.0, 404);
    assert_eq!(get(&s.url("/org/proj/dep/v1/ep/hello")).await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_route_named_openapi_json_wins() {
    let app = App::stateless().openapi(r#"{"openapi":"3.1.0"}"#).get(
        "/openapi.json",
        handler(|_s, _c| async move { Reply::json(json!({"mine": true})) }),
    );
    let s = start(app, config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    assert_eq!(
        get(&s.url("/openapi.json")).await,
        (200, json!({"mine": true}))
    );
    s.stop().await;
}

#[tokio::test]
async fn without_a_document_openapi_json_is_404() {
    let app = App::stateless().get("/x", handler(|_s, _c| async move { Reply::json(1) }));
    let s = start(app, config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    assert_eq!(get(&s.url("/openapi.json")).await.0, 404);
    s.stop().await;
}

/// The user's functions of the `Reply::result` routes, one per error kind.
mod user {
    use std::fmt;

    use flash_runtime::HandlerError;

    #[derive(Debug)]
    pub struct AppError(std::io::Error);

    impl fmt::Display for AppError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("loading the model")
        }
    }

    impl std::error::Error for AppError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    pub fn client(name: String) -> Result<String, HandlerError> {
        Err(HandlerError::client(format!("no user {name}")))
    }

    pub async fn string() -> Result<u32, String> {
        Err("plain string".to_string())
    }

    pub fn static_str() -> Result<u32, &'static str> {
        Err("static str")
    }

    pub fn io() -> Result<u32, std::io::Error> {
        Err(std::io::Error::other("disk gone"))
    }

    pub fn boxed() -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
        Err(Box::new(AppError(std::io::Error::other(
            "weights.bin missing",
        ))))
    }

    pub fn ok(n: u32) -> Result<u32, String> {
        Ok(n * 2)
    }
}

fn result_app() -> App<()> {
    App::stateless()
        .get(
            "/client/{name}",
            handler(|_s, mut call| async move {
                let (name,) = bind!(call, path name)?;
                Reply::result(blocking(move || user::client(name)).await?)
            }),
        )
        .get(
            "/string",
            handler(|_s, _c| async move { Reply::result(user::string().await) }),
        )
        .get(
            "/str",
            handler(|_s, _c| async move { Reply::result(blocking(user::static_str).await?) }),
        )
        .get(
            "/io",
            handler(|_s, _c| async move { Reply::result(blocking(user::io).await?) }),
        )
        .get(
            "/boxed",
            handler(|_s, _c| async move { Reply::result(blocking(user::boxed).await?) }),
        )
        .get(
            "/ok",
            handler(|_s, mut call| async move {
                let (n,) = bind!(call, n)?;
                Reply::result(blocking(move || user::ok(n)).await?)
            }),
        )
        .get(
            "/blocking-panic",
            handler(|_s, _c| async move {
                Reply::json(blocking(|| -> u32 { panic!("kaboom in blocking code") }).await?)
            }),
        )
        .get(
            "/whoami",
            handler(|_s, call| async move {
                let ctx = call.context();
                Reply::json(json!({ "id": ctx.request_id() }))
            }),
        )
}

#[tokio::test]
async fn result_errors_answer_by_kind() {
    let s = start(result_app(), config(&[("FLASH_DEBUG", "1")])).await;
    wait_status(&s.url("/ping"), 200).await;
    assert_eq!(
        get(&s.url("/client/ada")).await,
        (400, json!({"error": "no user ada"}))
    );
    assert_eq!(get(&s.url("/ok?n=21")).await, (200, json!(42)));
    // Debug on: the 500 bodies show the text and its source chain.
    for (path, text) in [
        ("/string", "plain string"),
        ("/str", "static str"),
        ("/io", "disk gone"),
        ("/boxed", "loading the model: weights.bin missing"),
    ] {
        assert_eq!(
            get(&s.url(path)).await,
            (500, json!({"error": text})),
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn result_internal_errors_hide_details_without_debug() {
    let s = start(result_app(), config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    assert_eq!(
        get(&s.url("/boxed")).await,
        (500, json!({"error": "internal server error"}))
    );
    // Client errors are always shown.
    assert_eq!(get(&s.url("/client/bo")).await.0, 400);
    s.stop().await;
}

#[tokio::test]
async fn a_panic_in_blocking_code_is_a_500_and_the_worker_keeps_serving() {
    let s = start(result_app(), config(&[("FLASH_DEBUG", "1")])).await;
    wait_status(&s.url("/ping"), 200).await;
    for _ in 0..3 {
        let (status, body) = get(&s.url("/blocking-panic")).await;
        assert_eq!(status, 500);
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains("kaboom in blocking code"), "{msg}");
    }
    assert_eq!(get(&s.url("/ok?n=1")).await, (200, json!(2)));
    s.stop().await;
}

#[tokio::test]
async fn context_carries_the_request_id() {
    let s = start(result_app(), config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    let res = client()
        .get(s.url("/whoami"))
        .header("x-request-id", "req-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"id": "req-abc"}));
    // Without one, the generated id, the same as the response header's.
    let res = client().get(s.url("/whoami")).send().await.unwrap();
    let header = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "id": header }));
    // The example worker's route, written as generated code writes it.
    let ex = start_example(&[]).await;
    let res = client()
        .get(ex.url("/whoami"))
        .header("x-request-id", "ex-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"request_id": "ex-1"})
    );
    ex.stop().await;
    s.stop().await;
}

#[test]
fn handler_error_is_at_the_root() {
    let e: flash_runtime::HandlerError = HandlerError::client("x");
    assert_eq!(e.to_string(), "x");
}
