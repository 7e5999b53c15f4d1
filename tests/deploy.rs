//! `flashc deploy`, `status`, `rollback` and `destroy` through the binary, against
//! `flashc emulate` (the offline Runpod REST v2 control plane, which validates every request and
//! response against the vendored OpenAPI document). On a copy of examples/mixed-api: a queue
//! endpoint and a load-balanced endpoint that calls it.
//!
//! Runpod itself is not reachable here: these tests hold flashc to the published contract, not
//! to the platform's behaviour beyond it (see docs/deploy.md).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};

const KEY: &str = "rpa_TESTKEY_never_printed_0123456789";

/// A running `flashc emulate`, stopped when dropped.
struct Emulator {
    child: Child,
    base: String,
}

impl Emulator {
    fn start(faults: &str) -> Emulator {
        Emulator::with_args(faults, &[])
    }

    fn with_args(faults: &str, extra: &[&str]) -> Emulator {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashc"));
        cmd.args(["emulate", "--port", "0"]).args(extra);
        if !faults.is_empty() {
            cmd.args(["--fault", faults]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        Emulator { child, base }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {KEY}");
        let mut response = match (method, body) {
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
            ("PATCH", Some(b)) => agent
                .patch(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b.to_string()),
            ("POST", b) => agent
                .post(&url)
                .header("Authorization", &auth)
                .send(b.unwrap_or(Value::Null).to_string()),
            _ => unreachable!(),
        }
        .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn endpoints(&self) -> Vec<Value> {
        let (status, body) = self.call("GET", "/v2/serverless", None);
        assert_eq!(status, 200);
        body["endpoints"].as_array().unwrap().clone()
    }

    fn by_name(&self, name: &str) -> Value {
        self.endpoints()
            .into_iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no endpoint {name}"))
    }

    fn writes(&self) -> u64 {
        self.call("GET", "/_emulator/stats", None).1["writes"]
            .as_u64()
            .unwrap()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of examples/mixed-api in a fresh directory, removed when dropped.
struct ProjectCopy(PathBuf);

impl ProjectCopy {
    fn new() -> ProjectCopy {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flashc-deploy-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mixed-api");
        copy_dir(&src, &dir);
        ProjectCopy(dir)
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.0.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} not in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn record(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.0.join("flash-deploy.json")).unwrap())
            .unwrap()
    }
}

impl Drop for ProjectCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".flash" || name == "target" {
            continue;
        }
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to.join(name));
        } else {
            std::fs::copy(entry.path(), to.join(name)).unwrap();
        }
    }
}

fn command(emulator: &Emulator, project: &ProjectCopy, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashc"));
    cmd.args(args)
        .current_dir(&project.0)
        .env("RUNPOD_API_BASE_URL", &emulator.base)
        .env("RUNPOD_API_KEY", KEY)
        .env("FLASHC_RETRY_BASE_MS", "5")
        .env("FLASHC_VERIFY_TIMEOUT", "5")
        .stdin(Stdio::null());
    cmd
}

fn flashc(emulator: &Emulator, project: &ProjectCopy, args: &[&str]) -> Output {
    let out = command(emulator, project, args).output().unwrap();
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(KEY),
            "the API key was printed by {args:?}"
        );
    }
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn plan_json(emulator: &Emulator, project: &ProjectCopy) -> (i32, Value) {
    let out = flashc(emulator, project, &["deploy", "--plan", "--format", "json"]);
    let code = out.status.code().unwrap();
    (
        code,
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out))),
    )
}

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["endpoint"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(endpoint: &str, action: &str) -> (String, String) {
    (endpoint.to_string(), action.to_string())
}

#[test]
fn deploy_plans_applies_converges_rolls_back_and_destroys() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();

    // A first plan: both endpoints to create, exit 4 (changes pending).
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 4);
    assert_eq!(
        actions(&plan),
        [pair("api", "create"), pair("gpu-backend", "create")]
    );
    assert_eq!(emulator.writes(), 0, "--plan wrote");

    // Apply: the callee first, its id in the caller's environment; recorded.
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let backend = emulator.by_name("mixed-api.gpu-backend");
    let api = emulator.by_name("mixed-api.api");
    assert_eq!(api["env"]["FLASH_ENDPOINT_GPU_BACKEND"], backend["id"]);
    assert_eq!(api["type"], "LOAD_BALANCER");
    assert_eq!(api["env"]["PORT"], "8080");
    assert_eq!(backend["gpu"]["minCudaVersion"], "12.4");
    let record = project.record();
    let first_image =
        record["environments"]["mixed-api"]["deployments"][0]["endpoints"]["api"]["image"].clone();
    assert_eq!(api["image"], first_image);
    assert!(!record.to_string().contains(KEY));

    // Nothing to do, and applying it makes no write call.
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 0);
    assert!(actions(&plan).iter().all(|(_, a)| a == "none"), "{plan:#}");
    let writes = emulator.writes();
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emulator.writes(), writes, "an unchanged deploy wrote");
    assert_eq!(emulator.endpoints().len(), 2);

    // Scaling applies at once; a handler edit is a new image (for every endpoint: they share
    // the handler crate), so a new release.
    project.edit("flash.yaml", "workers: [1, 4]", "workers: [1, 6]");
    project.edit("src/api.rs", "status: \"ok\"", "status: \"fine\"");
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 4);
    assert_eq!(
        actions(&plan),
        [pair("api", "update"), pair("gpu-backend", "update")]
    );
    let fields = &plan["changes"][0]["fields"];
    let effect = |name: &str| {
        fields
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .map(|f| f["effect"].clone())
    };
    assert_eq!(effect("workers"), Some(json!("at_once")));
    assert_eq!(effect("image"), Some(json!("rolls_workers")));
    assert_eq!(plan["changes"][0]["rolls_workers"], true);

    // A plan made stale is refused.
    let out = flashc(
        &emulator,
        &project,
        &["deploy", "--yes", "--expect", "0000000000000000"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("stale"), "{}", text(&out));

    let fingerprint = plan["fingerprint"].as_str().unwrap();
    let out = flashc(
        &emulator,
        &project,
        &["deploy", "--yes", "--expect", fingerprint],
    );
    assert!(out.status.success(), "{}", text(&out));
    let api_id = api["id"].as_str().unwrap();
    let (_, releases) = emulator.call("GET", &format!("/v2/serverless/{api_id}/releases"), None);
    assert_eq!(releases["endpointVersion"], 2, "{releases:#}");
    assert_eq!(releases["releases"][0]["diff"][0]["field"], "image");
    let api_now = emulator.by_name("mixed-api.api");
    assert_eq!(
        api_now["id"], api["id"],
        "an update must keep the endpoint's id"
    );
    assert_eq!(api_now["workers"]["max"], 6);
    assert_ne!(api_now["image"], first_image);

    // status: as recorded; then drift made behind flashc's back.
    let out = flashc(&emulator, &project, &["status"]);
    assert!(out.status.success(), "{}", text(&out));
    emulator.call(
        "PATCH",
        &format!("/v2/serverless/{api_id}"),
        Some(json!({"timeout": 1000})),
    );
    let out = flashc(&emulator, &project, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["drift"], true);
    assert!(status.to_string().contains("\"timeout\""), "{status:#}");

    // rollback --to 1 restores the first deployment exactly (and repairs the drift).
    let out = flashc(&emulator, &project, &["rollback", "--to", "1", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let api_back = emulator.by_name("mixed-api.api");
    assert_eq!(api_back["image"], first_image);
    assert_eq!(api_back["workers"]["max"], 4);
    assert_eq!(api_back["timeout"], 300_000);
    let out = flashc(&emulator, &project, &["status"]);
    assert!(out.status.success(), "{}", text(&out));

    // destroy asks (no terminal, no --yes: nothing deleted), then deletes only what we own.
    let (_, foreign) = emulator.call(
        "POST",
        "/v2/serverless",
        Some(json!({"name": "someone-else", "type": "QUEUE", "image": "x", "gpu": {"pools": ["ADA_24"]}, "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}})),
    );
    let out = flashc(&emulator, &project, &["destroy"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(emulator.endpoints().len(), 3);
    let out = flashc(&emulator, &project, &["destroy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let left = emulator.endpoints();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], foreign["id"]);
}

#[test]
fn a_rerun_after_faults_and_a_failed_apply_converges_without_duplicates() {
    // Requests 1–2 (the plans) pass; the create of gpu-backend is carried out but its answer
    // lost; then 429s and 500s. The create is found again by name, never made twice.
    let emulator = Emulator::start("0,0,599,429,500");
    let project = ProjectCopy::new();
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emulator.endpoints().len(), 2);

    // An apply that fails half-way (every call to the API failing after the callee's create):
    // what was created stays, is found again, and the re-run completes it.
    let other = ProjectCopy::new();
    other.edit("flash.yaml", "name: mixed-api", "name: other-api");
    let (status, _) = emulator.call(
        "POST",
        "/_emulator/faults",
        Some(json!({"status": 0, "count": 3})),
    );
    assert_eq!(status, 200);
    emulator.call(
        "POST",
        "/_emulator/faults",
        Some(json!({"status": 500, "count": 40})),
    );
    let out = flashc(&emulator, &other, &["deploy", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // Drain whatever faults are left.
    while emulator.call("GET", "/v2/serverless", None).0 != 200 {}
    let out = flashc(&emulator, &other, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let names: Vec<String> = emulator
        .endpoints()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names.len(), sorted.len(), "duplicates: {names:?}");
    assert_eq!(names.len(), 4, "{names:?}");
    let (code, _) = plan_json(&emulator, &other);
    assert_eq!(code, 0);
}

#[test]
fn plain_http_to_a_remote_api_is_refused_before_the_key_leaves() {
    let project = ProjectCopy::new();
    let out = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(["deploy", "--plan"])
        .current_dir(&project.0)
        .env("RUNPOD_API_BASE_URL", "http://api.runpod.io")
        .env("RUNPOD_API_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = text(&out);
    assert!(text.contains("HTTPS"), "{text}");
    assert!(!text.contains(KEY));
}

#[test]
fn the_emulator_refuses_what_the_openapi_document_refuses() {
    let emulator = Emulator::start("");
    let (status, body) = emulator.call(
        "POST",
        "/v2/serverless",
        Some(json!({"name": "a", "type": "LOAD_BALANCER", "image": "x", "cpu": [{"id": "cpu3c", "vcpuCount": 1}], "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}})),
    );
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(body["status"], 400);
    assert!(!body["errors"].as_array().unwrap().is_empty());
}

#[test]
fn a_one_vcpu_flavor_is_planned_through_graphql_and_never_half_applied() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    project.edit("flash.yaml", "cpu: cpu3c-2-4", "cpu: cpu3c-1-2");
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 4);
    let api = &plan["changes"][0];
    assert_eq!(api["endpoint"], "api");
    assert_eq!(api["api"], "graphql");
    assert!(
        api["reason"].as_str().unwrap().contains("cpu3c-1-2"),
        "{api:#}"
    );
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("GraphQL"), "{}", text(&out));
    assert_eq!(
        emulator.writes(),
        0,
        "a plan that cannot be carried out whole wrote"
    );
}

#[test]
fn a_deploy_killed_half_way_converges_on_the_next_run() {
    // Each answer takes 150 ms: the deploy (about ten calls) is killed after its first create.
    let emulator = Emulator::with_args("", &["--delay-ms", "150"]);
    let project = ProjectCopy::new();
    let mut child = command(&emulator, &project, &["deploy", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while emulator.writes() == 0 && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = emulator.endpoints().len();
    assert!(
        before < 2,
        "the deploy finished before it was killed ({before} endpoints)"
    );
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let names: Vec<Value> = emulator
        .endpoints()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 0, "{plan:#}");
}

#[test]
fn a_replaced_callee_gets_a_new_id_its_caller_follows_and_the_old_one_goes_last() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    let out = flashc(
        &emulator,
        &project,
        &["deploy", "--yes", "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    // The JSON answer: one object, with each endpoint's id and request URLs.
    let applied: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(applied["deployment"], 1);
    let old = emulator.by_name("mixed-api.gpu-backend")["id"].clone();
    assert_eq!(applied["endpoints"]["gpu-backend"]["id"], old);
    let base = applied["endpoints"]["api"]["requestUrls"]["base"]
        .as_str()
        .unwrap();
    assert!(base.starts_with(&emulator.base), "{base}");
    assert_eq!(applied["plan"]["changes"][0]["action"], "create");

    // GPU → CPU: the compute family cannot change, so the endpoint is replaced.
    project.edit(
        "flash.yaml",
        "    gpu: [ADA_24, AMPERE_24]\n    min_cuda_version: \"12.4\"\n",
        "    cpu: cpu3g-4-16\n",
    );
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 4);
    assert_eq!(
        actions(&plan),
        [pair("api", "none"), pair("gpu-backend", "replace")]
    );
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let backend = emulator.by_name("mixed-api.gpu-backend");
    assert_ne!(backend["id"], old);
    assert_eq!(backend["cpu"][0]["id"], "cpu3g");
    let api = emulator.by_name("mixed-api.api");
    assert_eq!(api["env"]["FLASH_ENDPOINT_GPU_BACKEND"], backend["id"]);
    assert_eq!(emulator.endpoints().len(), 2);
    let (status, _) = emulator.call(
        "GET",
        &format!("/v2/serverless/{}", old.as_str().unwrap()),
        None,
    );
    assert_eq!(status, 404);
    let (code, _) = plan_json(&emulator, &project);
    assert_eq!(code, 0);
}

#[test]
fn against_runpod_only_images_pinned_by_digest_are_deployed() {
    let project = ProjectCopy::new();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flashc"))
            .args(["deploy", "--yes"])
            .args(extra)
            .current_dir(&project.0)
            // Never reached: the check comes before any call.
            .env("RUNPOD_API_BASE_URL", "https://api.runpod.invalid")
            .env("RUNPOD_API_KEY", KEY)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("api, gpu-backend"), "{}", text(&out));
    let digest = format!("@sha256:{}", "a".repeat(64));
    let out = run(&["--image", &format!("api=registry.example/api{digest}")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no image pushed for gpu-backend"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(KEY));
}
