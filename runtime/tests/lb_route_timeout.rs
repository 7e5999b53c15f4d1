//! A route's own `timeout` (flash.yaml's `{handler, timeout}`) replaces the endpoint's
//! `execution_timeout` for that route only, over real sockets.

mod lb_common;

use std::time::Duration;

use flash_runtime::{
    bind,
    handler::{handler, Reply},
    lb::{App, RouteOptions},
};
use lb_common::{client, config, start, wait_status};
use serde_json::json;

fn sleeper() -> flash_runtime::handler::Handler<()> {
    handler(|_state, mut call| async move {
        let (ms,) = bind!(call, ms: u64)?;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Reply::json(json!({ "slept": ms }))
    })
}

#[tokio::test]
async fn a_route_timeout_replaces_the_endpoint_timeout_for_that_route_only() {
    let app = App::stateless()
        .execution_timeout(Duration::from_secs(5))
        .get_with(
            "/short",
            RouteOptions::new().timeout(Duration::from_millis(200)),
            sleeper(),
        )
        .get("/long", sleeper());
    let s = start(app, config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    let status = |path: &str| {
        let url = s.url(path);
        async move { client().get(url).send().await.unwrap().status().as_u16() }
    };
    // The short route gives up after its own 200 ms: a 504, as the endpoint's limit would.
    assert_eq!(status("/short?ms=1000").await, 504);
    assert_eq!(status("/short?ms=10").await, 200);
    // The next route keeps the endpoint's limit.
    assert_eq!(status("/long?ms=1000").await, 200);
    s.stop().await;
}
