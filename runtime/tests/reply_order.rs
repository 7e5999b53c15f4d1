//! A handler's reply is serialized straight to the response: a struct's fields keep their
//! declared order (not `serde_json::Value`'s sorted keys), over real sockets, in load-balanced
//! replies and in the local queue's job outputs; and a `json!` reply keeps the order its keys
//! were written in, through the example worker built as every generated workspace builds the
//! runtime (feature `preserve-order`).

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

/// Issue 19 item 20: a ported Flash handler's dict (`json!`) came back with its keys sorted.
/// The example worker process, built with `preserve-order` (the default of the runtime flashc
/// ships, src/emit/runtime_source.rs), answers them in the order written.
#[test]
fn json_replies_keep_their_key_order_in_a_worker_built_as_shipped() {
    // Builds the runtime and its dependencies a second time, with the feature (~2 min).
    if !lb_common::run_slow_tests("json_replies_keep_their_key_order_in_a_worker_built_as_shipped")
    {
        return;
    }
    use std::io::{Read, Write};
    let bin = lb_common::worker_bin_with_features("preserve-order");
    let port = lb_common::free_port();
    let mut child = std::process::Command::new(bin)
        .env("PORT", port.to_string())
        .env("FLASH_HOST", "127.0.0.1")
        .env_remove("PORT_HEALTH")
        .env_remove("RUNPOD_ENDPOINT_ID")
        .env_remove("SCRIPT_NAME")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the example worker");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let body = loop {
        let answer = std::net::TcpStream::connect(("127.0.0.1", port))
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                s.write_all(b"GET /dict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
                let mut text = String::new();
                s.read_to_string(&mut text)?;
                Ok(text)
            })
            .unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            break answer.split_once("\r\n\r\n").unwrap().1.to_string();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let (_, out, err) = lb_common::wait_exit_output(&mut child);
            panic!(
                "GET /dict never answered 200 (last: {answer:?}); stdout:\n{out}\nstderr:\n{err}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    lb_common::sigterm(&child);
    let (status, _, _) = lb_common::wait_exit_output(&mut child);
    assert_eq!(status.code(), Some(0));
    assert_eq!(body, ORDERED);
}
