//! SIGTERM while jobs run, against the example worker binary (built by `cargo test`, which
//! builds examples): the worker stops taking jobs, finishes and reports every job in flight,
//! and exits 0. Platform mode against the stand-in, and local mode with an open `/runsync`.

mod support;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use support::{standin::StandIn, wait_exit};

fn example_binary() -> PathBuf {
    // target/debug/deps/queue_sigterm-<hash> → target/debug/examples/queue_worker
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("examples").join("queue_worker");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test -p flash-runtime` (it builds examples) or \
         `cargo build -p flash-runtime --example queue_worker` first",
        bin.display()
    );
    bin
}

fn spawn(env: &[(String, String)]) -> Child {
    let mut cmd = Command::new(example_binary());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("FLASH_LOG_LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `queue_worker healthcheck` with the same environment: the Dockerfile HEALTHCHECK mode.
fn healthcheck(env: &[(String, String)]) -> bool {
    Command::new(example_binary())
        .arg("healthcheck")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .status()
        .unwrap()
        .success()
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

#[tokio::test]
async fn platform_sigterm_reports_every_job_in_flight_and_exits_0() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    // The example runs 4 jobs at once; 4 slow jobs fill it, a 5th waits in the platform queue.
    for i in 0..4 {
        stand.push_job(
            json!({"id": format!("t{i}"), "input": {"name": format!("n{i}"), "sleep_ms": 1500}}),
        );
    }
    let mut env = stand.env("w-sig", 50);
    env.push(("FLASH_QUEUE_EMPTY_TAKE_MS".into(), "20".into()));
    env.push(("FLASH_QUEUE_STOP_POLL_MS".into(), "20".into()));
    env.push(("PORT".into(), free_port().to_string()));
    env.push(("FLASH_HOST".into(), "127.0.0.1".into()));
    let mut child = spawn(&env);
    stand
        .wait_for(
            Duration::from_secs(10),
            "a heartbeat naming all 4 jobs",
            |rs| {
                rs.iter().any(|r| {
                    r.kind == "ping"
                        && r.query.get("job_id").map(String::as_str) == Some("t0,t1,t2,t3")
                })
            },
        )
        .await;
    // The binary's healthcheck mode works on the platform too (init is done: jobs run).
    assert!(healthcheck(&env));
    stand.push_job(json!({"id": "late", "input": {"name": "late"}}));
    sigterm(&child);
    let (status, logs) = wait_exit(&mut child, Duration::from_secs(10)).await;
    assert!(status.success(), "exit {status:?}; logs:\n{logs}");
    let results = stand.results();
    let mut got: Vec<(String, Value)> = results
        .iter()
        .map(|r| (r.job.clone().unwrap(), r.body.clone().unwrap()))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let want: Vec<(String, Value)> = (0..4)
        .map(|i| {
            (
                format!("t{i}"),
                json!({"output": {"greeting": format!("hello n{i}"), "count": 1}}),
            )
        })
        .collect();
    assert_eq!(got, want, "logs:\n{logs}");
    // Taking stopped at SIGTERM: the late job is still queued on the platform.
    assert_eq!(stand.queued(), 1);
}

#[tokio::test]
async fn local_sigterm_finishes_open_runsync_and_exits_0() {
    let port = free_port();
    let env = vec![
        ("PORT".to_string(), port.to_string()),
        ("FLASH_HOST".to_string(), "127.0.0.1".to_string()),
    ];
    let mut child = spawn(&env);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Wait for the worker to be ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = http.get(format!("{base}/ping")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "worker never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(healthcheck(&env));
    // The example binds `input` by name, reporting every problem at once.
    let bad: Value = http
        .post(format!("{base}/runsync"))
        .json(&json!({"input": {"count": "many"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bad["status"], "FAILED");
    let err: Value = serde_json::from_str(bad["error"].as_str().unwrap()).unwrap();
    assert_eq!(err["error_type"], "InvalidArguments");
    let msg = err["error_message"].as_str().unwrap();
    assert!(
        msg.contains("input.name") && msg.contains("input.count"),
        "{msg}"
    );
    let call = {
        let http = http.clone();
        let base = base.clone();
        tokio::spawn(async move {
            http.post(format!("{base}/runsync"))
                .json(&json!({"input": {"name": "Ada", "sleep_ms": 600}}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    // Wait until the job runs.
    loop {
        let h: Value = http
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if h["jobs"]["inProgress"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sigterm(&child);
    let body = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["output"], json!({"greeting": "hello Ada", "count": 1}));
    let (status, logs) = wait_exit(&mut child, Duration::from_secs(10)).await;
    assert!(status.success(), "exit {status:?}; logs:\n{logs}");
}
