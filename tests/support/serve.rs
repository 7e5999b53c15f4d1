//! Runs every worker of generated projects and calls it the way its users will: `/ping`, the
//! OpenAPI document, routes (with good and bad input), WebSocket routes, queue jobs through the
//! local queue API, and SIGTERM. Checks every endpoint generically from the manifest and its
//! OpenAPI document, and a known set of calls per example.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http::{free_port, get, send};

/// A worker process; killed if the test fails before it stops it. What it prints goes to a
/// file, shown when it fails to start.
pub struct Worker {
    pub child: Child,
    pub port: u16,
    pub prefix: String,
    pub name: String,
    log: std::path::PathBuf,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// How long a worker may take to answer `/ping` with 200: generous, because a loaded CI
/// machine (the whole suite builds in parallel) can be slow to start a process; a worker that
/// exits is reported at once instead.
const READY_DEADLINE: Duration = Duration::from_secs(180);

impl Worker {
    pub fn start(bin: &Path, name: &str, env: &[(String, String)]) -> Worker {
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("flashc-worker-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .env("PORT", port.to_string())
            .env("FLASH_WORKER_THREADS", "2")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let prefix = env
            .iter()
            .find(|(k, _)| k == "SCRIPT_NAME")
            .map(|(_, v)| format!("/{}", v.trim_matches('/')))
            .unwrap_or_default();
        let mut worker = Worker {
            child,
            port,
            prefix,
            name: name.to_string(),
            log,
        };
        worker.wait_ready();
        worker
    }

    /// What the worker printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(r) = super::http::request(self.port, "GET", "/ping", None) {
                if r.status == 200 {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{}: exited ({status}) before /ping answered 200; it printed:\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                started.elapsed() < READY_DEADLINE,
                "{}: /ping never answered 200 within {READY_DEADLINE:?}; it printed:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// SIGTERM, then a clean exit (0) within a few seconds.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert_eq!(
                    status.code(),
                    Some(0),
                    "{}: exit after SIGTERM; it printed:\n{}",
                    self.name,
                    self.output()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running 30 s after SIGTERM; it printed:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs and calls every worker of the generated project in `dir`, built into `bin_dir`.
pub fn exercise(bin_dir: &Path, dir: &Path) {
    {
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(".flash/flash_manifest.json")).unwrap(),
        )
        .unwrap();
        let project = manifest["project_name"].as_str().unwrap().to_string();
        for (name, resource) in manifest["resources"].as_object().unwrap() {
            let env = plain_env(resource);
            let bin = bin_dir.join(resource["package"].as_str().unwrap());
            let worker = Worker::start(&bin, &format!("{project}/{name}"), &env);
            if resource["is_load_balanced"].as_bool().unwrap() {
                load_balanced(&worker, dir, name);
            } else {
                queue(&worker);
            }
            specific(&project, name, &worker);
            worker.stop();
        }
        together(&project, &manifest, bin_dir);
    }
}

fn plain_env(resource: &Value) -> Vec<(String, String)> {
    resource["env"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .filter(|(_, v)| !v.contains("RUNPOD_SECRET_"))
        .collect()
}

/// Scenarios that need more than one worker, or a worker started differently.
fn together(project: &str, manifest: &Value, bin_dir: &Path) {
    let resources = &manifest["resources"];
    match project {
        // A load-balanced handler calls a queue endpoint of the same project through the
        // runtime's client; locally the variable the manifest names carries the worker's URL.
        "mixed-api" => {
            let backend = Worker::start(
                &bin_dir.join("mixed-api-gpu-backend"),
                "mixed-api/gpu-backend",
                &plain_env(&resources["gpu-backend"]),
            );
            let var = resources["gpu-backend"]["endpointIdEnv"].as_str().unwrap();
            let mut env = plain_env(&resources["api"]);
            env.push((
                var.to_string(),
                format!("http://127.0.0.1:{}", backend.port),
            ));
            let api = Worker::start(&bin_dir.join("mixed-api-api"), "mixed-api/api", &env);
            let text = "one two three four five six seven eight nine ten";
            let r = send(
                api.port,
                "POST",
                "/summarize",
                &json!({"text": text, "max_words": 3}),
            );
            assert_eq!(r.status, 200, "summarize through the backend: {}", r.body);
            let jobs = get(backend.port, "/health").json();
            assert_eq!(
                jobs["jobs"]["completed"],
                json!(1),
                "the backend ran the job: {jobs}"
            );
            api.stop();
            backend.stop();
        }
        // Valohai serves every route under SCRIPT_NAME; health stays at the root.
        "valohai" => {
            let mut env = plain_env(&resources["churn"]);
            env.push(("SCRIPT_NAME".into(), "/acme/churn/prod/v1/churn".into()));
            let w = Worker::start(&bin_dir.join("valohai-churn"), "valohai/churn", &env);
            assert_eq!(get(w.port, "/acme/churn/prod/v1/churn/info").status, 200);
            assert_eq!(
                get(w.port, "/acme/churn/prod/v1/churn/openapi.json").status,
                200
            );
            assert_eq!(get(w.port, "/ping").status, 200);
            w.stop();
        }
        _ => {}
    }
}

/// What every load-balanced worker must do, from its OpenAPI document.
fn load_balanced(w: &Worker, dir: &Path, name: &str) {
    let served = get(w.port, &w.url("/openapi.json"));
    assert_eq!(served.status, 200, "{}: /openapi.json", w.name);
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!(".flash/workers/{name}/openapi.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        served.json(),
        written,
        "{}: the served document is the generated one",
        w.name
    );
    let missing = get(w.port, &w.url("/no/such/route"));
    assert_eq!(missing.status, 404, "{}", w.name);
    for (path, ops) in written["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("x-websocket").is_some() {
                continue;
            }
            // A body missing every required field: a 422 naming each, and the worker lives on.
            let required: Vec<&str> = op["requestBody"]["content"]["application/json"]["schema"]
                ["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !required.is_empty() && !path.contains('{') {
                let r = send(w.port, &method.to_uppercase(), &w.url(path), &json!({}));
                assert_eq!(r.status, 422, "{} {method} {path}: {}", w.name, r.body);
                let detail = r.json()["detail"].clone();
                for field in &required {
                    assert!(
                        detail
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|d| d["loc"] == json!(["body", field])),
                        "{} {method} {path}: no problem for `{field}` in {detail}",
                        w.name
                    );
                }
                let garbage = super::http::request(
                    w.port,
                    &method.to_uppercase(),
                    &w.url(path),
                    Some("{not json"),
                )
                .unwrap();
                assert!(
                    garbage.status == 400 || garbage.status == 422,
                    "{} {method} {path}: bad JSON answered {}",
                    w.name,
                    garbage.status
                );
            }
        }
    }
    assert_eq!(
        get(w.port, "/ping").status,
        200,
        "{}: alive after bad input",
        w.name
    );
}

/// What every queue worker must do through the local queue API.
fn queue(w: &Worker) {
    let empty = send(w.port, "POST", "/runsync", &json!({"input": {}}));
    assert!(
        empty.status >= 400 || empty.json()["status"] == "FAILED",
        "{}: an empty input must be refused: {}",
        w.name,
        empty.body
    );
    let health = get(w.port, "/health");
    assert_eq!(health.status, 200, "{}: /health", w.name);
}

/// Calls with known answers, per example.
fn specific(project: &str, endpoint: &str, w: &Worker) {
    match (project, endpoint) {
        ("hello", "api") => {
            let r = get(w.port, &w.url("/users/7"));
            assert_eq!(
                (r.status, r.json()["id"].clone()),
                (200, json!(7)),
                "{}",
                r.body
            );
            let r = get(w.port, &w.url("/users/seven"));
            assert_eq!(r.status, 422, "{}", r.body);
            assert_eq!(r.json()["detail"][0]["loc"], json!(["path", "id"]));
            let r = send(w.port, "POST", &w.url("/users"), &json!({"name": "Ada"}));
            assert_eq!(
                (r.status, r.json()["name"].clone()),
                (200, json!("Ada")),
                "{}",
                r.body
            );
            // `Input<T>`: the whole body is one value; a field it lacks is a 422 under `body`.
            let r = send(w.port, "PUT", &w.url("/users/9"), &json!({"name": "Bo"}));
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.json(), json!({"id": 9, "name": "Bo", "email": null}));
            let r = send(w.port, "PUT", &w.url("/users/9"), &json!({"email": "b@o"}));
            assert_eq!(r.status, 422, "{}", r.body);
            assert_eq!(
                r.json()["detail"][0]["loc"],
                json!(["body", "name"]),
                "{}",
                r.body
            );
            let frames = websocket(w.port, &w.url("/stream"), &json!({"text": "one two three"}));
            // One frame per item, then a normal close.
            assert_eq!(frames.len(), 3, "{frames:?}");
            assert_eq!(frames[0]["token"], json!("one"));
        }
        ("hello", "embed") => {
            let r = send(
                w.port,
                "POST",
                "/runsync",
                &json!({"input": {"text": "a b c"}}),
            );
            let job = r.json();
            assert_eq!(job["status"], "COMPLETED", "{}", r.body);
            assert_eq!(job["output"]["tokens"], json!(3), "{}", r.body);
            let r = send(
                w.port,
                "POST",
                "/runsync",
                &json!({"input": {"txt": "typo"}}),
            );
            let job = r.json();
            assert_eq!(job["status"], "FAILED", "{}", r.body);
            assert!(job["error"].to_string().contains("text"), "{}", r.body);
        }
        ("streaming-text", "generator") => {
            let frames = websocket(
                w.port,
                &w.url("/ws"),
                &json!({"prompt": "a b c", "max_tokens": 3, "delay_ms": 1}),
            );
            // The seed's frames exactly: three tokens, then its own done frame (the runtime
            // adds none), then a normal close.
            assert_eq!(frames.len(), 4, "{frames:?}");
            assert_eq!(frames[0], json!({"token": frames[0]["token"], "index": 0}));
            assert_eq!(frames[3], json!({"done": true, "total_tokens": 3}));
            let r = get(w.port, &w.url("/stats"));
            assert_eq!(r.status, 200, "{}", r.body);
        }
        ("compute-and-text", "text") => {
            let r = send(w.port, "POST", &w.url("/validate"), &json!({"text": ""}));
            assert_eq!(
                r.status, 400,
                "an empty text is the caller's mistake: {}",
                r.body
            );
            assert!(r.json()["error"].as_str().unwrap().contains("empty"));
            let r = send(w.port, "POST", &w.url("/validate"), &json!({"text": 5}));
            assert_eq!(
                r.status, 422,
                "a number for a string does not bind: {}",
                r.body
            );
            let r = send(
                w.port,
                "POST",
                &w.url("/transform"),
                &json!({"text": "hello world", "operation": "upper"}),
            );
            assert_eq!(
                (r.status, r.json()["text"].clone()),
                (200, json!("HELLO WORLD"))
            );
        }
        ("user-service", "users") => {
            let r = send(
                w.port,
                "POST",
                &w.url("/users"),
                &json!({"name": "Ada", "email": "ada@example.com"}),
            );
            assert_eq!(r.status, 200, "{}", r.body);
            let id = r.json()["id"].clone();
            let r = get(w.port, &w.url(&format!("/users/{id}")));
            assert_eq!((r.status, r.json()["name"].clone()), (200, json!("Ada")));
            let r = get(w.port, &w.url("/users?limit=1"));
            assert_eq!(r.json().as_array().map(Vec::len), Some(1), "{}", r.body);
            // One path, three names for its parameter (`{user_id}`, `{id}`, `{uid}`): each
            // route binds its own (axum alone refuses such routes at start).
            let r = send(
                w.port,
                "PATCH",
                &w.url(&format!("/users/{id}")),
                &json!({"name": "Ada L."}),
            );
            assert_eq!((r.status, r.json()["name"].clone()), (200, json!("Ada L.")));
            let frames = websocket(w.port, &w.url(&format!("/users/{id}")), &json!({}));
            assert_eq!(frames.len(), 1, "{frames:?}");
            assert_eq!(frames[0]["name"], json!("Ada L."));
            let r = get(w.port, &w.url(&format!("/users/{id}")));
            assert_eq!((r.status, r.json()["name"].clone()), (200, json!("Ada L.")));
            let r = super::http::request(w.port, "DELETE", &w.url(&format!("/users/{id}")), None)
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            // An unknown id is a 404 (`HandlerError::not_found`), with the handler's message.
            let r = get(w.port, &w.url(&format!("/users/{id}")));
            assert_eq!(r.status, 404, "{}", r.body);
            assert_eq!(r.json(), json!({"error": format!("no user with id {id}")}));
        }
        _ => {}
    }
}

/// Opens a WebSocket route, sends one JSON message, and collects the JSON frames until the
/// server closes.
/// Sends `message` on a WebSocket to `path`; the text frames received, once the server closed
/// normally (1000, reason "done"): any other end fails the test.
pub fn websocket(port: u16, path: &str, message: &Value) -> Vec<Value> {
    let (mut socket, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}{path}"))
        .unwrap_or_else(|e| panic!("WS {path}: {e}"));
    socket
        .send(tungstenite::Message::text(message.to_string()))
        .unwrap();
    let mut frames = Vec::new();
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Text(text)) => {
                frames.push(serde_json::from_str(text.as_str()).unwrap())
            }
            Ok(tungstenite::Message::Close(frame)) => {
                let frame = frame.unwrap_or_else(|| panic!("WS {path}: a close without a code"));
                assert_eq!(
                    (u16::from(frame.code), frame.reason.as_str()),
                    (1000, "done"),
                    "WS {path}: {frames:?}"
                );
                return frames;
            }
            Ok(_) => {}
            Err(e) => panic!("WS {path}: ended without a close frame ({e}) after {frames:?}"),
        }
    }
}
