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
