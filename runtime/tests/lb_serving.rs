//! Readiness around the init hook, the SCRIPT_NAME prefix, the separate health port, and
//! graceful shutdown of an in-process server.

mod lb_common;

use std::time::Duration;

use flash_runtime::{
    handler::{handler, Reply},
    lb::App,
};
use lb_common::{client, config, start, start_example, wait_status};
use serde_json::{json, Value};

async fn status_and_text(url: &str) -> (u16, String) {
    let res = client().get(url).send().await.expect("request");
    (res.status().as_u16(), res.text().await.expect("body"))
}

fn app_with_init(
    init: impl std::future::Future<Output = Result<u32, String>> + Send + 'static,
) -> App<u32> {
    App::new(move || init).get(
        "/state",
        handler(|state: std::sync::Arc<u32>, _call| async move { Reply::json(*state) }),
    )
}

#[tokio::test]
async fn ping_is_204_during_init_then_200() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = start(
        app_with_init(async move {
            let _ = rx.await;
            Ok(42)
        }),
        config(&[]),
    )
    .await;
    assert_eq!(status_and_text(&s.url("/ping")).await, (204, String::new()));
    // Routes are not served before the state exists.
    let (status, body) = status_and_text(&s.url("/state")).await;
    assert_eq!(status, 503);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": "worker is initializing"})
    );
    tx.send(()).unwrap();
    wait_status(&s.url("/ping"), 200).await;
    assert_eq!(
        status_and_text(&s.url("/ping")).await,
        (200, r#"{"status":"healthy"}"#.to_string())
    );
    assert_eq!(status_and_text(&s.url("/state")).await, (200, "42".into()));
    s.stop().await;
}

#[tokio::test]
async fn ping_is_503_when_init_fails() {
    let s = start(
        app_with_init(async { Err("model weights not found".to_string()) }),
        config(&[]),
    )
    .await;
    wait_status(&s.url("/ping"), 503).await;
    let (_, body) = status_and_text(&s.url("/ping")).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "unhealthy");
    // The reason is logged, never shown to callers.
    assert!(!body.to_string().contains("weights"));
    let (status, body) = status_and_text(&s.url("/state")).await;
    assert_eq!(status, 503);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": "worker failed to initialize"})
    );
    s.stop().await;
}

#[tokio::test]
async fn a_panicking_init_is_503_too() {
    let s = start(app_with_init(async { panic!("init bug") }), config(&[])).await;
    wait_status(&s.url("/ping"), 503).await;
    s.stop().await;
}

#[tokio::test]
async fn script_name_prefixes_routes_and_ping_stays_at_root() {
    let s = start_example(&[("SCRIPT_NAME", "/org/proj/dep/v1/ep/")]).await;
    let (status, body) = status_and_text(&s.url("/org/proj/dep/v1/ep/users/5")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"id": 5, "verbose": false})
    );
    assert_eq!(status_and_text(&s.url("/users/5")).await.0, 404);
    assert_eq!(status_and_text(&s.url("/ping")).await.0, 200);
    assert_eq!(
        status_and_text(&s.url("/org/proj/dep/v1/ep/ping")).await.0,
        200
    );
    let (status, body) = status_and_text(&s.url("/org/proj/dep/v1/ep/nope")).await;
    assert_eq!((status, body.as_str()), (404, r#"{"detail":"Not Found"}"#));
    // 405 keeps its Allow header under the prefix.
    let res = client()
        .delete(s.url("/org/proj/dep/v1/ep/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    s.stop().await;
}

#[tokio::test]
async fn separate_health_port_serves_ping_only() {
    let port = lb_common::free_port();
    let s = start(
        lb_common::worker::app(),
        config(&[("PORT_HEALTH", &port.to_string())]),
    )
    .await;
    let health = s.health.expect("a health listener");
    assert_eq!(health.port(), port);
    wait_status(&format!("http://{health}/ping"), 200).await;
    assert_eq!(status_and_text(&s.url("/ping")).await.0, 200);
    // Routes live on the main port only.
    assert_eq!(
        status_and_text(&format!("http://{health}/hello")).await,
        (404, r#"{"detail":"Not Found"}"#.to_string())
    );
    assert_eq!(status_and_text(&s.url("/hello")).await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn health_check_path_is_configurable() {
    let s = start(
        lb_common::worker::app(),
        config(&[("HEALTH_CHECK_PATH", "/healthz")]),
    )
    .await;
    wait_status(&s.url("/healthz"), 200).await;
    assert_eq!(status_and_text(&s.url("/ping")).await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let s = start_example(&[]).await;
    let url = s.url("/slow?ms=700");
    let in_flight = tokio::spawn(async move { status_and_text(&url).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let addr = s.addr;
    s.shutdown.trigger();
    // While draining, a new request is answered 503 (JSON, Retry-After), not reset.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = reqwest::get(format!("http://{addr}/hello")).await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(
        in_flight.await.unwrap(),
        (200, r#"{"slept":700}"#.to_string())
    );
    tokio::time::timeout(Duration::from_secs(3), s.task)
        .await
        .expect("server returns after draining")
        .unwrap()
        .unwrap();
    // Drained and quiet: the listener is closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn conflicting_routes_fail_at_start_not_at_request() {
    let h = || handler(|_s: std::sync::Arc<()>, _c| async { Reply::json(1) });
    let app = App::stateless().get("/a/{x}", h()).get("/a/{y}", h());
    let cfg = config(&[]);
    let listeners = flash_runtime::lb::bind(&cfg).await.unwrap();
    let err = flash_runtime::lb::serve(app, &cfg, listeners, Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
