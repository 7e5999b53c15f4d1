//! `flashc dev` end to end, on a copy of tests/dev/fixture: the real binary, the real build, a
//! real port. Routes, a WebSocket route, the queue API, a call from a load-balanced handler to
//! the queue endpoint, `GET /`, `/openapi.json` and `/docs`; then an edit reloads while a long
//! request is in flight and queued jobs wait; a broken flash.yaml keeps the last good build;
//! Ctrl+C (and a SIGKILL of flashc) leaves no process behind.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::http::{get, request, send};

const FIXTURE: &str = "tests/dev/fixture";
/// The dev host's binary name: the project's name + `-dev`.
const HOST_BINARY: &str = "devloop-dev";

/// The tests build and run the same dev host binary: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh copy of the fixture under target/, so edits and `.flash/` stay out of the source.
fn project(name: &str) -> PathBuf {
    let dir = repo().join("target/dev-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    for file in ["flash.yaml", "Cargo.toml", "src/lib.rs"] {
        std::fs::copy(repo().join(FIXTURE).join(file), dir.join(file)).unwrap();
    }
    dir
}

/// A copy of a bundled example under target/, without its generated output.
fn example(name: &str) -> PathBuf {
    let dir = repo()
        .join("target/dev-tests")
        .join(format!("example-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&repo().join("examples").join(name), &dir);
    // Examples are members of this repository's workspace; the copy is a package of its own.
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}\n[workspace]\n")).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == ".flash" || name == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// A running `flashc dev`, its stderr lines arriving on `lines`; killed if the test fails.
struct Dev {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    port: u16,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    fn start(dir: &Path) -> Dev {
        Dev::start_with(dir, &[])
    }

    fn start_with(dir: &Path, options: &[&str]) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flashc"))
            .args(["dev", "--port", "0"])
            .args(options)
            .arg(dir)
            // One target dir for every generated crate of the test suite (see tests/generate.rs).
            .env("CARGO_TARGET_DIR", repo().join("target/generated"))
            .env("FLASH_SHUTDOWN_GRACE_MS", "10000")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[flashc dev] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut dev = Dev {
            child,
            lines,
            seen: Vec::new(),
            port: 0,
        };
        // The first build compiles the dev host's dependencies: minutes on a cold target dir.
        let ready = dev.wait_for("flashc dev: ready", Duration::from_secs(900));
        let url = ready
            .split("http://")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        dev.port = url.rsplit(':').next().unwrap().parse().unwrap();
        dev
    }

    /// The next stderr line containing `needle` (earlier lines are kept in `seen`).
    fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {limit:?}; flashc dev said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

/// Pids of running dev hosts of the fixture project.
fn host_processes() -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let first = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        // A zombie has an empty command line; only live processes count.
        if String::from_utf8_lossy(first).ends_with(HOST_BINARY) {
            pids.push(pid);
        }
    }
    pids
}

fn wait_until_no_host(limit: Duration) {
    let deadline = Instant::now() + limit;
    while !host_processes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "dev host processes left running: {:?}",
            host_processes()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

fn job_status(port: u16, id: &str) -> Value {
    get(port, &format!("/jobs/status/{id}")).json()
}

#[test]
fn dev_serves_reloads_and_stops_cleanly() {
    if !support::run_slow_tests("dev_serves_reloads_and_stops_cleanly") {
        return;
    }
    let _serial = serial();
    let dir = project("serve-reload");
    let mut dev = Dev::start(&dir);
    let port = dev.port;
    let table = dev.seen.join("\n");
    for row in ["/api/version", "api::version", "/jobs/runsync", "jobs::run"] {
        assert!(table.contains(row), "route table lacks {row}:\n{table}");
    }

    // Load-balanced routes, under /{endpoint}.
    let version = get(port, "/api/version");
    assert_eq!((version.status, version.json()), (200, json!("v1")));
    assert_eq!(get(port, "/api/nope").status, 404);
    // A call from a load-balanced handler to the queue endpoint, through the local queue.
    let work = send(port, "POST", "/api/work", &json!({ "n": 21 }));
    assert_eq!(
        (work.status, work.json()),
        (200, json!(42)),
        "{}",
        work.body
    );
    // The queue endpoint's API, where Runpod's client looks for it.
    let job = send(
        port,
        "POST",
        "/jobs/runsync",
        &json!({ "input": { "n": 5 } }),
    )
    .json();
    assert_eq!(
        (job["status"].as_str(), &job["output"]),
        (Some("COMPLETED"), &json!(10))
    );
    let health = get(port, "/jobs/health");
    assert_eq!(health.status, 200, "{}", health.body);
    // A WebSocket route.
    let frames = support::serve::websocket(port, "/api/count", &json!({ "n": 3 }));
    assert_eq!(&frames[..3], &[json!(0), json!(1), json!(2)], "{frames:?}");
    // The index, the project's OpenAPI document and the docs, all local.
    let index = get(port, "/").json();
    let names: Vec<&str> = index["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "jobs"]);
    let openapi = get(port, "/openapi.json").json();
    assert!(openapi["paths"]["/api/slow/{ms}"]["get"].is_object());
    assert!(openapi["paths"]["/jobs/run"]["post"]["requestBody"].is_object());
    let docs = get(port, "/docs");
    assert_eq!(docs.status, 200);
    assert!(docs.body.contains("swagger-ui"), "{}", docs.body);
    let bundle = get(port, "/docs/swagger-ui-bundle.js");
    assert_eq!(bundle.status, 200);
    assert!(bundle.body.len() > 100_000);

    // Jobs queued before a reload: the queue is persisted and the new build runs them.
    let ids: Vec<String> = (1..=6)
        .map(|n| {
            let r = send(
                port,
                "POST",
                "/jobs/run",
                &json!({ "input": { "n": n, "sleep_ms": 1500 } }),
            );
            r.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    // A long request in flight across the swap.
    let slow = std::thread::spawn(move || request(port, "GET", "/api/slow/4000", None).unwrap());
    std::thread::sleep(Duration::from_millis(300));

    let lib = dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text.replace("\"v1\"", "\"v2\"")).unwrap();
    let edited = Instant::now();
    dev.wait_for("flashc dev: reloaded", Duration::from_secs(300));
    eprintln!("edit to reload: {:.1} s", edited.elapsed().as_secs_f64());
    assert_eq!(get(port, "/api/version").json(), json!("v2"));
    let slow = slow.join().unwrap();
    assert_eq!(
        (slow.status, slow.body.as_str()),
        (200, "\"v1 after 4000 ms\""),
        "the request in flight was dropped"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    for (n, id) in (1..=6u64).zip(&ids) {
        loop {
            let status = job_status(port, id);
            if status["status"] == "COMPLETED" {
                assert_eq!(status["output"], json!(n * 2), "{status}");
                break;
            }
            assert!(
                ["IN_QUEUE", "IN_PROGRESS"].contains(&status["status"].as_str().unwrap_or("")),
                "job {id} was lost in the reload: {status}"
            );
            assert!(
                Instant::now() < deadline,
                "job {id} never finished: {status}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // A broken flash.yaml: its diagnostic is shown and the last good build keeps answering.
    let yaml = dir.join("flash.yaml");
    let good = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, good.replace("max_concurrency", "max_concurency")).unwrap();
    dev.wait_for("max_concurency", Duration::from_secs(60));
    dev.wait_for("the last good build keeps serving", Duration::from_secs(60));
    assert_eq!(get(port, "/api/version").json(), json!("v2"));
    std::fs::write(&yaml, &good).unwrap();

    // Ctrl+C: every build stops, flashc exits 0.
    signal(dev.pid(), libc::SIGINT);
    dev.wait_for("flashc dev: stopped", Duration::from_secs(60));
    let status = dev.child.wait().unwrap();
    assert!(status.success(), "{status}");
    wait_until_no_host(Duration::from_secs(5));
}

#[test]
fn a_killed_flashc_leaves_no_host_running() {
    if !support::run_slow_tests("a_killed_flashc_leaves_no_host_running") {
        return;
    }
    let _serial = serial();
    let dir = project("killed");
    let dev = Dev::start(&dir);
    assert_eq!(get(dev.port, "/api/version").status, 200);
    assert!(!host_processes().is_empty());
    signal(dev.pid(), libc::SIGKILL);
    // The host gets SIGTERM from the kernel (parent death) and drains: no orphan.
    wait_until_no_host(Duration::from_secs(20));
}

/// A bundled example (a load-balanced API that runs jobs on a queue endpoint) and a project just
/// made by `flashc init` run under `flashc dev` as they are.
#[test]
fn dev_runs_an_example_and_an_init_project() {
    if !support::run_slow_tests("dev_runs_an_example_and_an_init_project") {
        return;
    }
    let _serial = serial();
    let dir = example("mixed-api");
    let mut dev = Dev::start(&dir);
    let summary = send(
        dev.port,
        "POST",
        "/api/summarize",
        &json!({ "text": "one two three four", "max_words": 2 }),
    );
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.json()["words_out"], json!(2), "{}", summary.body);
    let job = send(
        dev.port,
        "POST",
        "/gpu-backend/runsync",
        &json!({ "input": { "text": "a b c" } }),
    )
    .json();
    assert_eq!(job["status"], "COMPLETED", "{job}");
    signal(dev.pid(), libc::SIGINT);
    dev.wait_for("flashc dev: stopped", Duration::from_secs(60));
    assert!(dev.child.wait().unwrap().success());

    let dir = repo().join("target/dev-tests/init-project");
    let _ = std::fs::remove_dir_all(&dir);
    let init = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(["init", "--name", "fresh"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let mut dev = Dev::start(&dir);
    let hello = get(dev.port, "/api/hello/Ada");
    assert_eq!(hello.status, 200, "{}", hello.body);
    assert!(hello.body.contains("Hello, Ada!"), "{}", hello.body);
    let job = send(
        dev.port,
        "POST",
        "/jobs/runsync",
        &json!({ "input": { "text": "three little words" } }),
    )
    .json();
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["output"]["words"], json!(3), "{job}");
    signal(dev.pid(), libc::SIGINT);
    dev.wait_for("flashc dev: stopped", Duration::from_secs(60));
    assert!(dev.child.wait().unwrap().success());
}

/// `--env`, `--host` and `--no-watch`; the index page a browser gets and the `/docs/` redirect.
#[test]
fn dev_takes_an_environment_and_can_stay_put() {
    if !support::run_slow_tests("dev_takes_an_environment_and_can_stay_put") {
        return;
    }
    let _serial = serial();
    let dir = project("environment");
    let yaml = dir.join("flash.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    let overlay = "defaults:\n  env:\n    GREETING: base\n\
                   environments:\n  staging:\n    defaults:\n      env:\n        GREETING: staged\n";
    std::fs::write(&yaml, format!("{text}{overlay}")).unwrap();
    let mut dev = Dev::start_with(
        &dir,
        &["--env", "staging", "--no-watch", "--host", "127.0.0.1"],
    );
    let greeting = get(dev.port, "/api/env/GREETING");
    assert_eq!(greeting.json(), json!("staged"), "{}", greeting.body);

    let page = raw_get(dev.port, "/", "text/html");
    assert!(page.contains("content-type: text/html"), "{page}");
    assert!(
        page.contains("<h1>devloop</h1>") && page.contains("/api/env/{name}"),
        "{page}"
    );
    let redirect = raw_get(dev.port, "/docs/", "*/*");
    assert!(redirect.starts_with("HTTP/1.1 307"), "{redirect}");
    assert!(redirect.contains("location: /docs\r\n"), "{redirect}");

    // Without the watcher an edit changes nothing until the next `flashc dev`.
    let lib = dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, source.replace("\"v1\"", "\"v2\"")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(get(dev.port, "/api/version").json(), json!("v1"));
    signal(dev.pid(), libc::SIGINT);
    dev.wait_for("flashc dev: stopped", Duration::from_secs(60));
    assert!(dev.child.wait().unwrap().success());
    assert!(
        !dev.seen.iter().any(|l| l.contains("changed; checking")),
        "{:?}",
        dev.seen
    );
}

/// The raw response (head and body) to `GET path` with an `Accept` header.
fn raw_get(port: u16, path: &str, accept: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw
}

#[test]
fn a_busy_port_is_refused_with_a_free_one_suggested() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(["dev", "--port", &port.to_string()])
        .arg(repo().join(FIXTURE))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("port {port} is in use")),
        "{stderr}"
    );
    assert!(stderr.contains("is free"), "{stderr}");
}

/// Pids of processes whose command line mentions `needle` (a build's own target directory).
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Issue 19 item 13: SIGTERM (or SIGINT) sent to flashc's pid while cargo builds stops the
/// build at once: flashc exits within seconds and no cargo or rustc of it keeps running.
#[test]
fn a_signal_during_a_build_stops_it_at_once() {
    let _serial = serial();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let dir = project(&format!("signal-{sig}"));
        // A target directory of its own, empty: the build compiles every dependency (minutes).
        let target = dir.join("cold-target");
        let needle = target.to_string_lossy().into_owned();
        let mut child = Command::new(env!("CARGO_BIN_EXE_flashc"))
            .args(["dev", "--port", "0"])
            .arg(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let cleanup = |child: &mut Child| {
            let _ = child.kill();
            let _ = child.wait();
            for pid in processes_mentioning(&needle) {
                signal(pid, libc::SIGKILL);
            }
        };
        // Wait until rustc is compiling into that directory.
        let deadline = Instant::now() + Duration::from_secs(120);
        while processes_mentioning(&needle).is_empty() {
            if Instant::now() > deadline {
                cleanup(&mut child);
                panic!("no build started within 120 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        let signalled = Instant::now();
        signal(child.id() as i32, sig);
        let mut exited = None;
        while signalled.elapsed() < Duration::from_secs(10) {
            if let Some(status) = child.try_wait().unwrap() {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let took = signalled.elapsed();
        // The build's processes go with it.
        let mut left = processes_mentioning(&needle);
        while !left.is_empty() && signalled.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
            left = processes_mentioning(&needle);
        }
        cleanup(&mut child);
        let _ = std::fs::remove_dir_all(&target);
        assert!(
            exited.is_some(),
            "signal {sig}: flashc dev still building 10 s after it"
        );
        assert!(
            left.is_empty(),
            "signal {sig}: build processes left: {left:?}"
        );
        assert!(took < Duration::from_secs(5), "signal {sig}: took {took:?}");
    }
}
