//! A handler's reply is serialized straight to the response: a struct's fields keep their
//! declared order (not `serde_json::Value`'s sorted keys), over real sockets, in load-balanced
//! replies and in the local queue's job outputs.

mod lb_common;

use std::time::Duration;

use flash_runtime::{
    handler::{handler, Reply},
    lb::App,
    queue::{local, settings::LocalTiming, QueueWorker},
    shutdown::Shutdown,
};
use serde::Serialize;

#[derive(Serialize)]
struct Inner {
    z: u8,
    a: u8,
}

#[derive(Serialize)]
struct Out {
    zeta: u32,
    alpha: &'static str,
    mid: Vec<Inner>,
}

fn out() -> Out {
    Out {
        zeta: 1,
        alpha: "a",
        mid: vec![Inner { z: 2, a: 3 }],
    }
}

const ORDERED: &str = r#"{"zeta":1,"alpha":"a","mid":[{"z":2,"a":3}]}"#;

#[tokio::test]
async fn struct_fields_keep_their_order_in_lb_replies() {
    let app = App::new(|| async { Ok(()) }).get(
        "/ordered",
        handler(|_state, _call| async move { Reply::json(out()) }),
    );
    let server = lb_common::start(app, lb_common::config(&[])).await;
    let r = reqwest::get(server.url("/ordered")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(r.text().await.unwrap(), ORDERED);
    server.stop().await;
}

#[tokio::test]
async fn struct_fields_keep_their_order_in_queue_outputs() {
    let worker = QueueWorker::new(handler(|_state, _call| async move { Reply::json(out()) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        local::run(
            worker,
            LocalTiming::default(),
            listener,
            stop,
            Duration::from_secs(5),
        )
        .await
    });
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/runsync"))
        .json(&serde_json::json!({ "input": { "x": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(&format!(r#""output":{ORDERED}"#)), "{text}");
    let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = http
        .get(format!("{base}/status/{id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        status.contains(&format!(r#""output":{ORDERED}"#)),
        "{status}"
    );
    // The platform's key order for the job body.
    assert!(status.starts_with(r#"{"delayTime":"#), "{status}");
    assert!(status.ends_with(r#","status":"COMPLETED"}"#), "{status}");
    shutdown.trigger();
    task.await.unwrap().unwrap();
}
