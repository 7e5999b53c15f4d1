//! WebSocket routes over real sockets: frames, the normal close that ends a stream, bad
//! payloads, errors, and cancellation when the client leaves.

mod lb_common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use flash_runtime::{
    bind,
    handler::{handler, HandlerError, Reply},
    lb::App,
};
use futures_util::{SinkExt, StreamExt};
use lb_common::{config, start, start_example, wait_status};
use serde_json::{json, Value};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{protocol::frame::coding::CloseCode, Message},
};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, path: &str) -> Ws {
    let (ws, _) = connect_async(format!("ws://{addr}{path}"))
        .await
        .expect("WebSocket handshake");
    ws
}

/// Every JSON text frame until the server closes, and the close code it sent.
async fn collect(ws: &mut Ws) -> (Vec<Value>, Option<CloseCode>) {
    let mut frames = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("server answers within 5 s");
        match msg {
            Some(Ok(Message::Text(t))) => {
                frames.push(serde_json::from_str(&t).expect("JSON frame"))
            }
            Some(Ok(Message::Close(frame))) => {
                // Reading on flushes our close reply and completes the handshake.
                while let Ok(Some(_)) =
                    tokio::time::timeout(Duration::from_secs(2), ws.next()).await
                {}
                return (frames, frame.map(|f| f.code));
            }
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return (frames, None),
        }
    }
}

#[tokio::test]
async fn stream_items_then_a_normal_close() {
    let s = start_example(&[]).await;
    let mut ws = connect(s.addr, "/ws/generate").await;
    ws.send(Message::text(r#"{"prompt":"hi","n":3}"#))
        .await
        .unwrap();
    let (frames, code) = collect(&mut ws).await;
    assert_eq!(
        frames,
        vec![
            json!({"token": "hi-0", "index": 0}),
            json!({"token": "hi-1", "index": 1}),
            json!({"token": "hi-2", "index": 2}),
        ]
    );
    assert_eq!(code, Some(CloseCode::Normal));
    s.stop().await;
}

#[tokio::test]
async fn an_empty_stream_is_just_a_normal_close() {
    let s = start_example(&[]).await;
    let mut ws = connect(s.addr, "/ws/generate").await;
    ws.send(Message::text(r#"{"prompt":"hi","n":0}"#))
        .await
        .unwrap();
    assert_eq!(collect(&mut ws).await, (vec![], Some(CloseCode::Normal)));
    s.stop().await;
}

#[tokio::test]
async fn bad_payloads_get_an_error_frame_and_a_clean_close() {
    let s = start_example(&[]).await;
    let mut ws = connect(s.addr, "/ws/generate").await;
    ws.send(Message::text("not json")).await.unwrap();
    let (frames, code) = collect(&mut ws).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["error"], "invalid payload");
    assert_eq!(frames[0]["detail"][0]["type"], "json_invalid");
    assert_eq!(code, Some(CloseCode::Policy));

    let mut ws = connect(s.addr, "/ws/generate").await;
    ws.send(Message::text(r#"{"n":"three"}"#)).await.unwrap();
    let (frames, code) = collect(&mut ws).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["error"], "invalid payload");
    let locs: Vec<&Value> = frames[0]["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["loc"])
        .collect();
    assert_eq!(locs, [&json!(["body", "prompt"]), &json!(["body", "n"])]);
    assert_eq!(code, Some(CloseCode::Policy));
    // The worker still serves afterwards.
    wait_status(&s.url("/ping"), 200).await;
    s.stop().await;
}

#[tokio::test]
async fn plain_get_on_a_websocket_route_is_426_json() {
    let s = start_example(&[]).await;
    let res = lb_common::client()
        .get(s.url("/ws/generate"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 426);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "expected a WebSocket upgrade"})
    );
    s.stop().await;
}

/// A stream that counts what it produced and notices when it is dropped.
struct Probe {
    produced: AtomicU32,
    dropped: AtomicBool,
}

struct DropFlag(Arc<Probe>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

fn probe_app() -> App<Probe> {
    App::new(|| async {
        Ok(Probe {
            produced: AtomicU32::new(0),
            dropped: AtomicBool::new(false),
        })
    })
    .websocket(
        "/ws/forever",
        handler(|probe: Arc<Probe>, _call| async move {
            let flag = DropFlag(probe);
            Reply::stream(futures_util::stream::unfold(flag, |flag| async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let n = flag.0.produced.fetch_add(1, Ordering::SeqCst);
                Some((n, flag))
            }))
        }),
    )
    .websocket(
        "/ws/failing",
        handler(|_probe, mut call| async move {
            let (fail_at,) = bind!(call, fail_at: u32)?;
            Reply::try_stream(futures_util::stream::iter((0..10).map(move |i| {
                if i == fail_at {
                    Err(HandlerError::client(format!("item {i} is bad")))
                } else {
                    Ok(i)
                }
            })))
        }),
    )
    .websocket(
        "/ws/status",
        handler(|_probe, mut call| async move {
            let (status,) = bind!(call, status: u16)?;
            Err::<Reply, _>(HandlerError::status(status, format!("answered {status}")))
        }),
    )
    .get(
        "/probe",
        handler(|probe: Arc<Probe>, _call| async move {
            Reply::json(json!({
                "produced": probe.produced.load(Ordering::SeqCst),
                "dropped": probe.dropped.load(Ordering::SeqCst),
            }))
        }),
    )
}

#[tokio::test]
async fn client_disconnect_cancels_the_stream() {
    let s = start(probe_app(), config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    let mut ws = connect(s.addr, "/ws/forever").await;
    ws.send(Message::text("{}")).await.unwrap();
    for _ in 0..3 {
        let msg = ws.next().await.unwrap().unwrap();
        assert!(msg.is_text());
    }
    drop(ws); // the TCP connection goes away without a close handshake
    let client = lb_common::client();
    let mut state = json!(null);
    for _ in 0..100 {
        state = client
            .get(s.url("/probe"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if state["dropped"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        state["dropped"], true,
        "the stream was not dropped: {state}"
    );
    let produced = state["produced"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let later: Value = client
        .get(s.url("/probe"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        later["produced"].as_u64().unwrap(),
        produced,
        "still producing"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_error_item_ends_the_stream_with_an_error_frame() {
    let s = start(probe_app(), config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    let mut ws = connect(s.addr, "/ws/failing").await;
    ws.send(Message::text(r#"{"fail_at":2}"#)).await.unwrap();
    let (frames, code) = collect(&mut ws).await;
    assert_eq!(
        frames,
        vec![json!(0), json!(1), json!({"error": "item 2 is bad"})]
    );
    assert_eq!(code, Some(CloseCode::Policy));
    s.stop().await;
}

#[tokio::test]
async fn a_status_error_closes_as_its_class() {
    let s = start(probe_app(), config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    for (status, close) in [(404, CloseCode::Policy), (503, CloseCode::Error)] {
        let mut ws = connect(s.addr, "/ws/status").await;
        ws.send(Message::text(format!(r#"{{"status":{status}}}"#)))
            .await
            .unwrap();
        let (frames, code) = collect(&mut ws).await;
        assert_eq!(frames, vec![json!({"error": format!("answered {status}")})]);
        assert_eq!(code, Some(close), "{status}");
    }
    s.stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_streams_in_flight() {
    let s = start_example(&[]).await;
    let mut ws = connect(s.addr, "/ws/generate").await;
    ws.send(Message::text(r#"{"prompt":"p","n":8,"delay_ms":50}"#))
        .await
        .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.is_text());
    s.shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !s.task.is_finished(),
        "serving ended with a stream in flight"
    );
    let (frames, code) = collect(&mut ws).await;
    assert_eq!(frames.len(), 7, "{frames:?}"); // the 7 items after the first
    assert_eq!(frames[6], json!({"token": "p-7", "index": 7}));
    assert_eq!(code, Some(CloseCode::Normal));
    tokio::time::timeout(Duration::from_secs(3), s.task)
        .await
        .expect("server returns once the stream ended")
        .unwrap()
        .unwrap();
}
