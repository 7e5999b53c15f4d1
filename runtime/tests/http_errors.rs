//! Errors of the HTTP layer itself (requests hyper refuses before any route sees them) answer
//! JSON like every other error: a head too large (431), a URI too long (414), a malformed
//! request (400). Over real sockets, on the server every worker uses (`conn::serve`).

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use axum::{routing::get, Router};
use flash_runtime::{
    conn::{self, ConnLimits},
    shutdown::Shutdown,
};
use serde_json::Value;

async fn server() -> (SocketAddr, Shutdown) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/ping", get(|| async { "pong" }));
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move { conn::serve(listener, app, stop, ConnLimits::default()).await });
    (addr, shutdown)
}

/// Sends `request` raw and reads the whole answer (the server closes the connection).
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The server may answer and close before reading everything: ignore a reset here.
        let _ = s.write_all(&request);
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if out.is_empty() => panic!("no answer: {e}"),
                Err(_) => break,
            }
        }
        parse(&out)
    })
    .await
    .unwrap()
}

fn parse(raw: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    (status, headers, raw[end + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn assert_json_error(status: u16, headers: &[(String, String)], body: &[u8], want: u16) -> String {
    assert_eq!(status, want, "{}", String::from_utf8_lossy(body));
    assert_eq!(header(headers, "content-type"), Some("application/json"));
    assert_eq!(
        header(headers, "content-length"),
        Some(body.len().to_string().as_str())
    );
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(body)));
    v["error"].as_str().expect("an error message").to_string()
}

#[tokio::test]
async fn a_header_too_large_is_a_json_431() {
    let (addr, _stop) = server().await;
    let mut req = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 100 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    let (status, headers, body) = exchange(addr, req).await;
    let msg = assert_json_error(status, &headers, &body, 431);
    assert!(msg.contains("header"), "{msg}");
}

#[tokio::test]
async fn a_garbage_request_line_is_a_json_400() {
    let (addr, _stop) = server().await;
    let (status, headers, body) =
        exchange(addr, b"\x01\x02 not http at all\r\n\r\n".to_vec()).await;
    let msg = assert_json_error(status, &headers, &body, 400);
    assert!(msg.contains("malformed"), "{msg}");
    // A bad header line too.
    let (status, headers, body) =
        exchange(addr, b"GET /ping HTTP/1.1\r\nHost x\r\n\r\n".to_vec()).await;
    assert_json_error(status, &headers, &body, 400);
}

#[tokio::test]
async fn a_uri_too_long_is_a_json_414() {
    let (addr, _stop) = server().await;
    let mut req = b"GET /".to_vec();
    req.extend(std::iter::repeat_n(b'a', 70 * 1024));
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    let (status, headers, body) = exchange(addr, req).await;
    // hyper reports a URI past its limit as 414, or as a head too large (431) when the head
    // outgrows the read buffer first; either way the body is JSON.
    assert!(status == 414 || status == 431, "{status}");
    assert_json_error(status, &headers, &body, status);
}

/// Keep-alive requests before and after a refused one on other connections are unaffected, and
/// normal responses are not rewritten.
#[tokio::test]
async fn normal_responses_are_untouched() {
    let (addr, _stop) = server().await;
    let (status, headers, body) = exchange(
        addr,
        b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, b"pong");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    // A route's own empty-bodied answer stays as it is.
    let (status, _, body) = exchange(
        addr,
        b"POST /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    )
    .await;
    assert_eq!(status, 405);
    assert!(body.is_empty());
}
