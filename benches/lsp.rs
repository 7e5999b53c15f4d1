//! `flashc lsp` as an editor sees it, through the real binary over stdio: from a `didChange` to
//! its `publishDiagnostics` (check with handler resolution against the crate) on a 100- and a
//! 1,000-endpoint project (`benches/make_project.py`), process start to `initialize` answered,
//! and the server's resident memory idle and with the large file open (printed; read from
//! /proc). Pin it for stable figures: `taskset -c 1 cargo bench --bench lsp`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

struct Server {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    id: i64,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flashc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("flashc lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Server {
            child,
            stdin,
            incoming,
            id: 0,
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let id = self.id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.incoming.recv_timeout(Duration::from_secs(60)).unwrap();
            if m["id"] == json!(id) && m.get("method").is_none() {
                return m;
            }
        }
    }

    fn initialize(&mut self) {
        self.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        self.notify("initialized", json!({}));
    }

    /// Waits for the diagnostics of `version`.
    fn diagnostics(&mut self, version: i32) -> usize {
        loop {
            let m = self.incoming.recv_timeout(Duration::from_secs(60)).unwrap();
            if m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["version"] == json!(version)
            {
                return m["params"]["diagnostics"].as_array().unwrap().len();
            }
        }
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let _ = self.child.wait();
    }
}

fn project(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashc-bench-lsp-{n}"));
    let status = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/make_project.py"
        ))
        .arg(n.to_string())
        .arg(&dir)
        .status()
        .expect("python3 runs benches/make_project.py");
    assert!(status.success());
    dir
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn did_change(c: &mut Criterion) {
    let mut group = c.benchmark_group("lsp_did_change_to_diagnostics");
    group.sample_size(30);
    for n in [100, 1000] {
        let dir = project(n);
        let file = dir.join("flash.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        let uri = uri(&file);
        let mut server = Server::start();
        server.initialize();
        server.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
        );
        assert_eq!(
            server.diagnostics(1),
            0,
            "the generated project checks clean"
        );
        if n == 1000 {
            println!(
                "lsp: resident memory with the {n}-endpoint file open: {:.1} MB",
                server.rss_kb() as f64 / 1024.0
            );
        }
        // `workers: [0, 3]` ↔ `[0, 4]` in `defaults` (line 4): every endpoint changes, the file
        // stays clean, and the whole check (crate included) runs each time.
        let mut version = 1;
        group.bench_function(format!("{n}_endpoints"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    version += 1;
                    let digit = if version % 2 == 0 { "4" } else { "3" };
                    let started = Instant::now();
                    server.notify(
                        "textDocument/didChange",
                        json!({"textDocument": {"uri": uri, "version": version},
                               "contentChanges": [{"range": {"start": {"line": 3, "character": 15}, "end": {"line": 3, "character": 16}}, "text": digit}]}),
                    );
                    let found = server.diagnostics(version);
                    total += started.elapsed();
                    assert_eq!(found, 0);
                }
                total
            })
        });
        server.stop();
    }
    group.finish();
}

fn startup(c: &mut Criterion) {
    let mut server = Server::start();
    server.initialize();
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "lsp: resident memory idle after initialize: {:.1} MB",
        server.rss_kb() as f64 / 1024.0
    );
    let dir = project(100);
    let file = dir.join("flash.yaml");
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&file), "languageId": "yaml", "version": 1, "text": std::fs::read_to_string(&file).unwrap()}}),
    );
    server.diagnostics(1);
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "lsp: resident memory idle with the 100-endpoint file open: {:.1} MB",
        server.rss_kb() as f64 / 1024.0
    );
    server.stop();

    let mut group = c.benchmark_group("lsp_startup");
    group.sample_size(30);
    group.bench_function("spawn_to_initialized", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let mut server = Server::start();
                server.initialize();
                total += started.elapsed();
                server.stop();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, startup, did_change);
criterion_main!(benches);
