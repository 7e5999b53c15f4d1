//! Fault probes over real sockets: half-sent requests (slowloris), short bodies and a full
//! connection table must not stall legitimate requests; every such connection is closed by the
//! header-read or body-read timeout.

mod lb_common;

use std::time::{Duration, Instant};

use lb_common::{client, start_example};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Opens `n` connections that each send half a request head and then nothing.
async fn slow_clients(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        conns.push(s);
    }
    conns
}

/// The server closed the connection (EOF or reset) within `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(limit, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_slowloris_of_1000_connections_does_not_delay_a_request() {
    let s = start_example(&[("FLASH_HEADER_READ_TIMEOUT_MS", "1500")]).await;
    let c = client();
    // A warm baseline on a fresh connection each time (no keep-alive advantage).
    let fresh = || {
        reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let url = s.url("/hello");
    let timed = |n: usize| {
        let url = url.clone();
        async move {
            let mut times = Vec::new();
            for _ in 0..n {
                let t = Instant::now();
                let res = fresh().get(&url).send().await.unwrap();
                assert_eq!(res.status(), 200);
                times.push(t.elapsed());
            }
            times.sort();
            times[n / 2]
        }
    };
    let baseline = timed(5).await;
    let mut slow = slow_clients(s.addr, 1000).await;
    // Medians: one request delayed by the shared machine's other load is not the slowloris.
    let under_attack = timed(5).await;
    assert!(
        under_attack < baseline + Duration::from_millis(100),
        "a legitimate request took {under_attack:?} under a slowloris (baseline {baseline:?})"
    );
    // The header-read timeout closes every half-sent request.
    let first = &mut slow[0];
    assert!(closed_within(first, Duration::from_secs(5)).await);
    for conn in slow.iter_mut().skip(1) {
        assert!(closed_within(conn, Duration::from_secs(2)).await);
    }
    assert_eq!(c.get(s.url("/ping")).send().await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn a_full_connection_table_frees_itself() {
    let s = start_example(&[
        ("FLASH_HEADER_READ_TIMEOUT_MS", "500"),
        ("FLASH_MAX_CONNECTIONS", "100"),
    ])
    .await;
    // More half-sent requests than the cap: new connections wait in the backlog until the
    // header-read timeout frees slots, instead of exhausting descriptors.
    let _slow = slow_clients(s.addr, 150).await;
    let t = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(5), client().get(s.url("/hello")).send())
        .await
        .expect("served once the timeouts free slots")
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    s.stop().await;
}

/// One request written on `conn`; the answer's head and body, once the body (`Content-Length`
/// or chunked) is complete.
async fn exchange(conn: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .and_then(|n| n.trim().parse::<usize>().ok())
            });
            let done = match length {
                Some(n) => body.len() >= n,
                None => body.ends_with("0\r\n\r\n"),
            };
            if done {
                return text.into_owned();
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("answered")
            .unwrap();
        assert!(
            n > 0,
            "closed mid-answer: {}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn the_header_timeout_runs_only_while_a_connection_waits_for_a_request() {
    let s = start_example(&[("FLASH_HEADER_READ_TIMEOUT_MS", "300")]).await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    // A handler that takes three timeouts' worth, on a keep-alive connection.
    let slow = exchange(&mut conn, "/slow?ms=900").await;
    assert!(slow.starts_with("HTTP/1.1 200"), "{slow}");
    // A streamed answer that lasts three timeouts' worth (ten tokens, 90 ms apart).
    let streamed = exchange(&mut conn, "/generate?prompt=p&n=10&delay_ms=90").await;
    assert!(streamed.starts_with("HTTP/1.1 200"), "{streamed}");
    assert!(streamed.contains("p-9"), "{streamed}");
    // Idle after its last answer, the connection is closed once the timeout has passed, not
    // before.
    let t = Instant::now();
    assert!(closed_within(&mut conn, Duration::from_secs(3)).await);
    let idle = t.elapsed();
    assert!(
        idle >= Duration::from_millis(250) && idle < Duration::from_millis(1500),
        "closed after {idle:?} idle"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_short_body_is_a_json_408() {
    let s = start_example(&[("FLASH_BODY_READ_TIMEOUT_MS", "300")]).await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(
        b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let t = Instant::now();
    while !out.windows(4).any(|w| w == b"\r\n\r\n") || !out.ends_with(b"}") {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("answered")
            .unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/json"), "{text}");
    assert!(text.contains("\"error\""), "{text}");
    assert!(t.elapsed() >= Duration::from_millis(250));
    s.stop().await;
}
