//! The Kubernetes probes over real sockets: `{health path}/ready` is 503 until `init` finishes,
//! `{health path}/live` is 200 while the process serves and 503 once `init` failed, on the
//! separate health port (`PORT_HEALTH`, where the exported manifests point them) of both kinds
//! of worker, and on a load-balanced worker's main port under `SCRIPT_NAME` too.

mod lb_common;
mod support;

use std::{sync::Arc, time::Duration};

use flash_runtime::{
    config::Config,
    handler::{handler, Reply},
    lb::App,
    queue::QueueWorker,
    shutdown::Shutdown,
};
use support::{test_handler, Tracker};

async fn status(url: &str) -> (u16, String) {
    match lb_common::client().get(url).send().await {
        Ok(res) => (res.status().as_u16(), res.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// Polls `url` until it answers `want` (5 s at most).
async fn until(url: &str, want: u16) -> String {
    let mut last = (0, String::new());
    for _ in 0..500 {
        last = status(url).await;
        if last.0 == want {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{url}: wanted {want}, last answer {last:?}");
}

fn lb_app(
    init: impl std::future::Future<Output = Result<u32, String>> + Send + 'static,
) -> App<u32> {
    App::new(move || init).get(
        "/state",
        handler(|state: Arc<u32>, _call| async move { Reply::json(*state) }),
    )
}

#[tokio::test]
async fn load_balanced_probes_follow_init_on_the_health_port_and_under_the_prefix() {
    let port = lb_common::free_port().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = lb_common::start(
        lb_app(async move {
            let _ = rx.await;
            Ok(7)
        }),
        lb_common::config(&[("PORT_HEALTH", &port), ("SCRIPT_NAME", "/org/dep")]),
    )
    .await;
    let health = s.health.expect("a health listener");
    let on_health = |p: &str| format!("http://{health}{p}");
    // Loading: /ping says 204 (which a kubelet would count as ready); the probes do not.
    assert_eq!(status(&on_health("/ping")).await.0, 204);
    assert_eq!(
        until(&on_health("/ping/ready"), 503).await,
        r#"{"status":"initializing"}"#
    );
    assert_eq!(status(&s.url("/org/dep/ping/ready")).await.0, 503);
    assert_eq!(
        until(&on_health("/ping/live"), 200).await,
        r#"{"status":"alive"}"#
    );
    tx.send(()).unwrap();
    assert_eq!(
        until(&on_health("/ping/ready"), 200).await,
        r#"{"status":"ready"}"#
    );
    for url in [
        s.url("/ping/ready"),
        s.url("/org/dep/ping/ready"),
        s.url("/org/dep/ping/live"),
    ] {
        assert_eq!(status(&url).await.0, 200, "{url}");
    }
    // A probe path takes GET only, and answers JSON otherwise.
    let res = lb_common::client()
        .post(on_health("/ping/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    s.stop().await;
}

#[tokio::test]
async fn load_balanced_failed_init_fails_both_probes() {
    let port = lb_common::free_port().to_string();
    let s = lb_common::start(
        lb_app(async { Err("weights missing".to_string()) }),
        lb_common::config(&[("PORT_HEALTH", &port)]),
    )
    .await;
    let health = s.health.expect("a health listener");
    until(&format!("http://{health}/ping/live"), 503).await;
    assert_eq!(status(&format!("http://{health}/ping/ready")).await.0, 503);
    s.stop().await;
}

/// A queue worker in local mode (what a Kubernetes pod runs) through `queue::serve`: the probes
/// on `PORT_HEALTH`, with a custom `HEALTH_CHECK_PATH`.
#[tokio::test]
async fn queue_probes_follow_init_on_the_health_port() {
    let (port, health) = (lb_common::free_port(), lb_common::free_port());
    let vars = [
        ("PORT", port.to_string()),
        ("PORT_HEALTH", health.to_string()),
        ("HEALTH_CHECK_PATH", "/healthz".to_string()),
        ("FLASH_HOST", "127.0.0.1".to_string()),
    ];
    let cfg = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = QueueWorker::with_state(
        move || async move {
            let _ = rx.await;
            Ok(())
        },
        test_handler(Arc::new(Tracker::default())),
    );
    let shutdown = Shutdown::new();
    let task = tokio::spawn(flash_runtime::queue::serve(worker, cfg, shutdown.clone()));
    let url = |p: &str| format!("http://127.0.0.1:{health}{p}");
    until(&url("/healthz/live"), 200).await;
    assert_eq!(status(&url("/healthz/ready")).await.0, 503);
    assert_eq!(status(&url("/healthz")).await.0, 204);
    tx.send(()).unwrap();
    until(&url("/healthz/ready"), 200).await;
    assert_eq!(status(&url("/healthz/live")).await.0, 200);
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .expect("task")
        .expect("result");
}
