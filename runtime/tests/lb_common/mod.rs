//! Shared helpers of the load-balanced serving tests: an in-process server on 127.0.0.1:0 and
//! the example worker binary run as a child process.

#![allow(dead_code)] // each test file uses a different subset

use std::{
    io,
    net::{SocketAddr, TcpListener as StdListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use flash_runtime::{config::Config, lb, shutdown::Shutdown};
use tokio::task::JoinHandle;

#[path = "../../examples/lb_worker.rs"]
#[allow(dead_code)]
pub mod worker;

/// A test configuration: loopback, ephemeral port, everything else default unless `vars` says.
pub fn config(vars: &[(&str, &str)]) -> Config {
    let mut all: Vec<(String, String)> = vec![
        ("FLASH_HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(move |k| {
        all.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    })
    .expect("valid test config")
}

pub struct Server {
    pub addr: SocketAddr,
    pub health: Option<SocketAddr>,
    pub shutdown: Shutdown,
    pub task: JoinHandle<io::Result<()>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn stop(self) {
        self.shutdown.trigger();
        let result = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("server stops within 5 s");
        result.expect("server task").expect("server result");
    }
}

/// Serves `app` in this process.
pub async fn start<S: Send + Sync + 'static>(app: lb::App<S>, cfg: Config) -> Server {
    let listeners = lb::bind(&cfg).await.expect("bind");
    let addr = listeners.main_addr().expect("addr");
    let health = listeners.health_addr().expect("health addr");
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let task = tokio::spawn(async move { lb::serve(app, &cfg, listeners, s).await });
    Server {
        addr,
        health,
        shutdown,
        task,
    }
}

/// The example worker, started and ready (waits for the first 200 on /ping).
pub async fn start_example(vars: &[(&str, &str)]) -> Server {
    let server = start(worker::app(), config(vars)).await;
    wait_status(&server.url("/ping"), 200).await;
    server
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Polls `url` until it answers `status` (5 s at most).
pub async fn wait_status(url: &str, status: u16) {
    let client = client();
    let start = Instant::now();
    loop {
        if let Ok(res) = client.get(url).send().await {
            if res.status().as_u16() == status {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{url} never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether the slow tier runs (`RUN_SLOW_TESTS=1`, as `.ci/run` sets; flashc's
/// tests/support/mod.rs has the same switch); when not, says that `test` is skipped.
pub fn run_slow_tests(test: &str) -> bool {
    let on = std::env::var("RUN_SLOW_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: {test} is in the slow tier; RUN_SLOW_TESTS=1 runs it");
    }
    on
}

/// A port that was free a moment ago (for child processes, which bind it themselves).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The example worker binary, built once per test process so it is never stale.
pub fn worker_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| worker_bin_with_features("")).clone()
}

/// The example worker binary built with the runtime's `features` (comma-separated; none when
/// empty), now.
pub fn worker_bin_with_features(features: &str) -> PathBuf {
    {
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "flash-runtime",
                "--example",
                "lb_worker",
                "--message-format=json",
                "--features",
                features,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo build --example lb_worker");
        assert!(out.status.success(), "building the example failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["target"]["name"] == "lb_worker")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("example executable in cargo's output")
    }
}

/// Runs the example worker on `port` (health on the same port) with extra variables.
pub fn spawn_worker(port: u16, vars: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(worker_bin());
    cmd.env("PORT", port.to_string())
        .env("FLASH_HOST", "127.0.0.1")
        .env_remove("PORT_HEALTH")
        .env_remove("RUNPOD_ENDPOINT_ID")
        .env_remove("SCRIPT_NAME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn example worker")
}

/// Sends SIGTERM to a child (through `kill`, to need no libc binding).
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for a child to exit (20 s at most), killing it if it does not and failing with
/// everything it printed.
pub fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    wait_exit_output(child).0
}

/// [`wait_exit`], returning what the child printed too (stdout, stderr). Its pipes are read
/// while waiting, so a chatty worker cannot block on a full pipe.
pub fn wait_exit_output(child: &mut Child) -> (std::process::ExitStatus, String, String) {
    fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (
                status,
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            );
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            let out = out.join().unwrap_or_default();
            let err = err.join().unwrap_or_default();
            panic!("worker did not exit within 20 s; stdout:\n{out}\nstderr:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
