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

/// The example worker binary, built once per test process so it is never stale (`cargo test
/// --test queue_sigterm` alone does not build examples).
fn example_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "flash-runtime",
                "--example",
                "queue_worker",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo build --example queue_worker");
        assert!(out.status.success(), "building the example failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["target"]["name"] == "queue_worker")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("example executable in cargo's output")
    })
    .clone()
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

/// Waits until the worker's `/ping` answers 200. Fails at once if it exits, and after 60 s (a
/// deadline that holds on a loaded machine) otherwise, with everything it printed.
async fn wait_ready(child: &mut Child, base: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/ping")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        let exited = child.try_wait().ok().flatten().is_some();
        if exited || Instant::now() > deadline {
            let _ = child.kill();
            let (status, logs) = wait_exit(child, Duration::from_secs(10)).await;
            panic!("the worker never became ready ({status}); its output:\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    wait_ready(&mut child, &base).await;
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

/// What one `/run` call during the SIGTERM race came to.
#[derive(Debug)]
enum RunOutcome {
    /// Enqueued: the job's id.
    Accepted(String),
    /// 503 with a JSON body and `Retry-After`: the client may retry (elsewhere) safely.
    Refused,
    /// The connection was refused: nothing was sent, the client may retry safely.
    NotConnected,
    /// Anything else: a closed or reset connection after the request was sent, an answer
    /// without JSON or `Retry-After`... the client cannot know whether its job was taken.
    Broken(String),
}

async fn run_once(http: &reqwest::Client, base: &str, hook: &str, i: usize) -> RunOutcome {
    let sent = http
        .post(format!("{base}/run"))
        .json(&json!({"input": {"name": format!("r{i}")}, "webhook": hook}))
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_connect() => return RunOutcome::NotConnected,
        Err(e) => return RunOutcome::Broken(format!("{e:?}")),
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return RunOutcome::Broken(format!("{status}, body cut: {e:?}")),
    };
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    match (status, json) {
        (200, Some(v)) if v["id"].is_string() => {
            RunOutcome::Accepted(v["id"].as_str().unwrap_or_default().to_string())
        }
        (503, Some(v)) if v["error"].is_string() && retry_after.is_some() => RunOutcome::Refused,
        _ => RunOutcome::Broken(format!(
            "{status} (retry-after {retry_after:?}): {}",
            String::from_utf8_lossy(&body)
        )),
    }
}

/// Item 12 of the hardening issue: clients hammer `/run` (some on keep-alive connections,
/// some on a new connection per call) while the worker gets SIGTERM. Every call must end as
/// an accepted job that then completes (its webhook arrives), a 503 with a JSON body and
/// `Retry-After`, or a refused connection; never a connection closed after the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_sigterm_race_answers_every_run_with_a_job_or_a_503() {
    use std::sync::{Arc, Mutex};
    // The webhook receiver: the ids of the jobs that completed.
    let completed: Arc<Mutex<Vec<String>>> = Arc::default();
    let hooks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/done", hooks.local_addr().unwrap());
    let app = {
        let completed = completed.clone();
        axum::Router::new().route(
            "/done",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let completed = completed.clone();
                async move {
                    if body["status"] == "COMPLETED" {
                        let id = body["id"].as_str().unwrap_or_default().to_string();
                        completed.lock().unwrap().push(id);
                    }
                    "ok"
                }
            }),
        )
    };
    let hook_server = tokio::spawn(async move { axum::serve(hooks, app).await });

    let port = free_port();
    let env = vec![
        ("PORT".to_string(), port.to_string()),
        ("FLASH_HOST".to_string(), "127.0.0.1".to_string()),
    ];
    let mut child = spawn(&env);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&mut child, &base).await;

    let stop_at = Instant::now() + Duration::from_secs(20);
    let mut clients = Vec::new();
    for c in 0..12 {
        let (base, hook) = (base.clone(), hook.clone());
        clients.push(tokio::spawn(async move {
            // Even clients reuse one keep-alive connection, odd ones open one per call.
            let http = if c % 2 == 0 {
                reqwest::Client::new()
            } else {
                reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .build()
                    .unwrap()
            };
            let mut outcomes = Vec::new();
            let mut i = c * 100_000;
            while Instant::now() < stop_at {
                i += 1;
                let outcome = run_once(&http, &base, &hook, i).await;
                let done = match &outcome {
                    // A client honouring Retry-After would come back later; the worker is
                    // gone by then.
                    RunOutcome::Refused | RunOutcome::NotConnected => true,
                    RunOutcome::Accepted(_) | RunOutcome::Broken(_) => false,
                };
                outcomes.push(outcome);
                if done {
                    break;
                }
            }
            outcomes
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    sigterm(&child);
    let mut outcomes = Vec::new();
    for client in clients {
        outcomes.extend(client.await.unwrap());
    }
    let (status, logs) = wait_exit(&mut child, Duration::from_secs(20)).await;
    hook_server.abort();
    assert!(status.success(), "exit {status:?}; logs:\n{logs}");
    let broken: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            RunOutcome::Broken(why) => Some(why),
            _ => None,
        })
        .collect();
    let accepted: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            RunOutcome::Accepted(id) => Some(id),
            _ => None,
        })
        .collect();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, RunOutcome::Refused))
        .count();
    assert!(
        broken.is_empty(),
        "{} of {} calls got no usable answer, e.g. {:?}; logs:\n{logs}",
        broken.len(),
        outcomes.len(),
        &broken[..broken.len().min(5)]
    );
    assert!(!accepted.is_empty(), "no job was accepted before SIGTERM");
    assert!(
        refused > 0,
        "no call met the drain (all {} accepted)",
        outcomes.len()
    );
    let completed = completed.lock().unwrap().clone();
    let missing: Vec<&&String> = accepted
        .iter()
        .filter(|id| !completed.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted jobs never completed, e.g. {:?}; logs:\n{logs}",
        missing.len(),
        accepted.len(),
        &missing[..missing.len().min(5)]
    );
}
