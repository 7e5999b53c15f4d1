//! The example worker as a real process: SIGTERM drains and exits 0, the `healthcheck` mode's
//! exit codes, readiness during init, JSON logs with request ids, and bad configuration.

mod lb_common;

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use lb_common::{free_port, sigterm, spawn_worker, wait_exit, wait_exit_output, worker_bin};

/// Blocking GET over a fresh connection: (status, body). No async runtime needed here.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    get_raw(port, path).map(|(status, _, body)| (status, body))
}

/// [`get`] with the response's head too.
fn get_raw(port: u16, path: &str) -> Option<(u16, String, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    use std::io::Write;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: req-{port}\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Some((status, head.to_string(), body.to_string()))
}

/// Waits until `/ping` on `port` answers `status`. Fails at once if the worker exits, and after
/// 60 s (a deadline that holds on a loaded machine) otherwise, with everything it printed.
fn wait_for(child: &mut std::process::Child, port: u16, status: u16) {
    let start = Instant::now();
    while get(port, "/ping").map(|r| r.0) != Some(status) {
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let (code, out, err) = wait_exit_output(child);
            panic!(
                "/ping never answered {status} (worker: {code}); stdout:\n{out}\nstderr:\n{err}"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn healthcheck(port: u16) -> i32 {
    Command::new(worker_bin())
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .env_remove("PORT_HEALTH")
        .env_remove("HEALTH_CHECK_PATH")
        .status()
        .expect("run healthcheck")
        .code()
        .expect("exit code")
}

#[test]
fn sigterm_drains_the_request_in_flight_and_exits_0() {
    let port = free_port();
    let mut child = spawn_worker(port, &[]);
    wait_for(&mut child, port, 200);
    let slow = std::thread::spawn(move || get(port, "/slow?ms=1500"));
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    std::thread::sleep(Duration::from_millis(200));
    // While the slow request still runs, a new request is answered 503 with a JSON body and
    // Retry-After (the drain keeps the listener open so no connection is reset unanswered).
    let (status, head, body) = get_raw(port, "/ping").expect("no answer while draining");
    assert_eq!(status, 503, "{head}\n{body}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("retry-after: 1") && head.contains("connection: close"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(
        slow.join().unwrap(),
        Some((200, r#"{"slept":1500}"#.to_string()))
    );
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn single_threaded_runtime_drains_too() {
    let port = free_port();
    let mut child = spawn_worker(port, &[("FLASH_WORKER_THREADS", "1")]);
    wait_for(&mut child, port, 200);
    let slow = std::thread::spawn(move || get(port, "/slow?ms=800"));
    std::thread::sleep(Duration::from_millis(200));
    // A slow handler does not hold up others on the one thread.
    assert_eq!(
        get(port, "/hello"),
        Some((200, r#"{"message":"hello"}"#.to_string()))
    );
    sigterm(&child);
    assert_eq!(
        slow.join().unwrap(),
        Some((200, r#"{"slept":800}"#.to_string()))
    );
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn sigterm_when_idle_exits_0_at_once() {
    let port = free_port();
    let mut child = spawn_worker(port, &[]);
    wait_for(&mut child, port, 200);
    let started = Instant::now();
    sigterm(&child);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn healthcheck_mode_exit_codes() {
    let port = free_port();
    // Nobody listening: unhealthy.
    assert_eq!(healthcheck(port), 1);
    let mut child = spawn_worker(port, &[("EXAMPLE_INIT_MS", "1500")]);
    // Initializing (204) is not healthy yet.
    wait_for(&mut child, port, 204);
    assert_eq!(healthcheck(port), 1);
    wait_for(&mut child, port, 200);
    assert_eq!(healthcheck(port), 0);
    sigterm(&child);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn healthcheck_mode_asks_the_health_port() {
    let (port, health) = (free_port(), free_port());
    let mut child = spawn_worker(port, &[("PORT_HEALTH", &health.to_string())]);
    wait_for(&mut child, health, 200);
    let code = |health_port: u16| {
        Command::new(worker_bin())
            .arg("healthcheck")
            .env("PORT", port.to_string())
            .env("PORT_HEALTH", health_port.to_string())
            .status()
            .expect("run healthcheck")
            .code()
    };
    assert_eq!(code(health), Some(0));
    // Pointed at a port nobody serves: unhealthy, even though PORT itself is up.
    assert_eq!(code(free_port()), Some(1));
    sigterm(&child);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn healthcheck_mode_fails_when_init_failed() {
    let port = free_port();
    let mut child = spawn_worker(port, &[("EXAMPLE_INIT_FAIL", "1")]);
    wait_for(&mut child, port, 503);
    assert_eq!(healthcheck(port), 1);
    sigterm(&child);
    let (status, out, _) = wait_exit_output(&mut child);
    assert_eq!(status.code(), Some(0));
    // The reason is in the log.
    assert!(
        out.contains("init failed: model weights not found"),
        "{out}"
    );
}

#[test]
fn ping_is_204_during_init_then_200() {
    let port = free_port();
    let mut child = spawn_worker(port, &[("EXAMPLE_INIT_MS", "800")]);
    wait_for(&mut child, port, 204);
    assert_eq!(get(port, "/ping"), Some((204, String::new())));
    wait_for(&mut child, port, 200);
    assert_eq!(
        get(port, "/ping"),
        Some((200, r#"{"status":"healthy"}"#.to_string()))
    );
    sigterm(&child);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn json_logs_carry_the_request_id() {
    let port = free_port();
    let mut child = spawn_worker(port, &[("RUNPOD_ENDPOINT_ID", "ep-test")]);
    wait_for(&mut child, port, 200);
    // The handler logs "creating user Ada"; the request id comes from X-Request-Id.
    let body = r#"{"name":"Ada","email":"a@b.c"}"#;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::Write;
    write!(
        stream,
        "POST /users HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: req-json-1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(get(port, "/panic").map(|r| r.0), Some(500));
    sigterm(&child);
    let (status, out, _) = wait_exit_output(&mut child);
    assert_eq!(status.code(), Some(0));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
        .collect();
    assert!(
        lines.contains(&serde_json::json!({
            "requestId": "req-json-1", "message": "creating user Ada", "level": "INFO"
        })),
        "{lines:?}"
    );
    // A panic is logged as one JSON line carrying its request's id.
    let panic_id = format!("req-{port}");
    assert!(
        lines.iter().any(|l| l["requestId"] == panic_id.as_str()
            && l["level"] == "ERROR"
            && l["message"].as_str().unwrap().contains("handler bug")),
        "{lines:?}"
    );
    // Lines outside any request have a null id.
    assert!(lines
        .iter()
        .any(|l| l["requestId"].is_null() && l["message"] == "worker ready"));
}

#[test]
fn invalid_configuration_exits_2() {
    let out = Command::new(worker_bin())
        .env("PORT", "eighty")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT=\"eighty\""));
}
