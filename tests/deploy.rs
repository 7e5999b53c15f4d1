//! `flashc deploy`, `status`, `rollback` and `destroy` through the binary, against
//! `flashc emulate` (the offline Runpod REST v2 control plane, which validates every request and
//! response against the vendored OpenAPI document). On a copy of examples/mixed-api: a queue
//! endpoint and a load-balanced endpoint that calls it.
//!
//! Runpod itself is not reachable here: these tests hold flashc to the published contract, not
//! to the platform's behaviour beyond it (see docs/deploy.md).

mod support;

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

    /// The control plane alone (`--no-workers`): these tests build nothing.
    fn with_args(faults: &str, extra: &[&str]) -> Emulator {
        Emulator::with_env(faults, extra, &[])
    }

    fn with_env(faults: &str, extra: &[&str], env: &[(&str, &str)]) -> Emulator {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashc"));
        cmd.args(["emulate", "--port", "0", "--no-workers"])
            .args(extra)
            .envs(env.iter().copied());
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
        support::project::copy_dir(&src, &dir);
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

fn command(emulator: &Emulator, project: &ProjectCopy, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashc"));
    cmd.args(args);
    // The emulator runs no workers here: deploy builds none.
    if args.first() == Some(&"deploy") && !args.contains(&"--plan") {
        cmd.arg("--no-build");
    }
    cmd.current_dir(&project.0)
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

/// A key Runpod does not know is answered 401: deploy stops before it plans anything, says
/// which key to check, and prints neither key.
#[test]
fn a_wrong_api_key_stops_deploy_with_help_and_no_key_printed() {
    let right = "rpa_RIGHTKEY_only_the_emulator_knows_42";
    let emulator = Emulator::with_env(
        "",
        &["--api-key-env", "EMULATED_RUNPOD_API_KEY"],
        &[("EMULATED_RUNPOD_API_KEY", right)],
    );
    let project = ProjectCopy::new();
    for args in [
        &["deploy", "--plan"][..],
        &["deploy", "--yes"],
        &["destroy", "--yes"],
    ] {
        let out = flashc(&emulator, &project, args);
        let all = text(&out);
        assert!(!out.status.success(), "{args:?}: {all}");
        assert!(
            all.contains("401") && all.contains("did not accept the API key"),
            "{args:?}: {all}"
        );
        assert!(!all.contains(right), "{args:?}: {all}");
    }
    assert_eq!(emulator.writes(), 0);
    let out = command(&emulator, &project, &["deploy", "--plan"])
        .env("RUNPOD_API_KEY", right)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(!text(&out).contains(right));
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

/// `myself { endpoints { … } }` through the emulator's GraphQL API.
fn graphql_endpoints(emulator: &Emulator) -> Vec<Value> {
    let (status, answer) = emulator.call(
        "POST",
        "/graphql",
        Some(json!({"query": "query { myself { endpoints { id name instanceIds workersMax version } } }"})),
    );
    assert_eq!(status, 200, "{answer}");
    answer["data"]["myself"]["endpoints"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .clone()
}

#[test]
fn a_one_vcpu_flavor_deploys_updates_and_destroys_through_graphql() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    project.edit("flash.yaml", "cpu: cpu3c-2-4", "cpu: cpu3c-1-2");
    // The plan says which endpoint goes through GraphQL, and why.
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 4);
    let api = &plan["changes"][0];
    assert_eq!(
        (&api["endpoint"], &api["action"]),
        (&json!("api"), &json!("create"))
    );
    assert_eq!(api["api"], "graphql");
    assert!(
        api["reason"].as_str().unwrap().contains("cpu3c-1-2"),
        "{api:#}"
    );
    assert_eq!(plan["changes"][1]["api"], "rest", "{plan:#}");

    // Deploy: the callee through REST, the 1-vCPU caller through saveEndpoint, verified.
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let backend = emulator.by_name("mixed-api.gpu-backend");
    let api = emulator.by_name("mixed-api.api");
    // REST v2 cannot show a 1-vCPU flavor; the rest of the endpoint it shows as any other.
    assert!(api.get("cpu").is_none(), "{api:#}");
    assert_eq!(api["type"], "LOAD_BALANCER");
    assert_eq!(api["env"]["FLASH_ENDPOINT_GPU_BACKEND"], backend["id"]);
    assert_eq!(
        api["env"]["RUNPOD_API_KEY"],
        "{{ RUNPOD_SECRET_runpod_api_key }}"
    );
    assert_eq!(api["ports"], json!(["8080/http"]));
    assert_eq!(
        api["workers"],
        json!({"min": 1, "max": 4, "idleTimeout": 60})
    );
    let live = graphql_endpoints(&emulator);
    let gql = live.iter().find(|e| e["id"] == api["id"]).unwrap();
    assert_eq!(gql["instanceIds"], json!(["cpu3c-1-2"]));
    assert!(
        project.record()["environments"]["mixed-api"]["deployments"][0]["endpoints"]["api"]
            ["request"]["cpu"]
            == json!([{"id": "cpu3c", "vcpuCount": 1}])
    );

    // Read back through GraphQL, it matches flash.yaml: nothing to change, nothing written.
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 0, "{plan:#}");
    let writes = emulator.writes();
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emulator.writes(), writes, "an unchanged deploy wrote");

    // A change is an update through saveEndpoint with the id: the same endpoint, replaced whole.
    project.edit("flash.yaml", "workers: [1, 4]", "workers: [1, 6]");
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 4);
    assert_eq!(actions(&plan)[0], pair("api", "update"));
    assert_eq!(plan["changes"][0]["api"], "graphql");
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let after = emulator.by_name("mixed-api.api");
    assert_eq!(after["id"], api["id"]);
    assert_eq!(after["workers"]["max"], 6);
    assert_eq!(
        after["env"], api["env"],
        "a whole replace lost the environment"
    );
    let out = flashc(&emulator, &project, &["status"]);
    assert!(out.status.success(), "{}", text(&out));

    // Destroy: the GraphQL endpoint scaled to zero and deleted by deleteEndpoint.
    let out = flashc(&emulator, &project, &["destroy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emulator.endpoints(), Vec::<Value>::new());
    assert_eq!(graphql_endpoints(&emulator), Vec::<Value>::new());
}

#[test]
fn a_graphql_create_whose_answer_was_lost_is_found_not_made_twice() {
    // Requests 1–4: the plan's and apply's listings and the callee's REST create; the 5th,
    // the caller's `saveEndpoint`, is carried out and its answer lost (a 500).
    let emulator = Emulator::start("0,0,0,0,599");
    let project = ProjectCopy::new();
    project.edit("flash.yaml", "cpu: cpu3c-2-4", "cpu: cpu3c-1-2");
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let named: Vec<Value> = emulator
        .endpoints()
        .into_iter()
        .filter(|e| e["name"] == "mixed-api.api")
        .collect();
    assert_eq!(named.len(), 1, "{named:#?}");
    let (code, plan) = plan_json(&emulator, &project);
    assert_eq!(code, 0, "{plan:#}");
}

#[test]
fn the_emulator_refuses_graphql_it_does_not_know() {
    let emulator = Emulator::start("");
    let save =
        "mutation saveEndpoint($input: EndpointInput!) { saveEndpoint(input: $input) { id } }";
    let input = json!({
        "name": "x", "type": "QB", "instanceIds": ["cpu3c-1-2"],
        "template": {"name": "x", "imageName": "img", "env": [{"key": "A", "value": "1"}]},
        "workersMin": 0, "workersMax": 1, "scalerType": "QUEUE_DELAY", "scalerValue": 4,
    });
    let errors = |query: &str, variables: Value| {
        let (status, answer) = emulator.call(
            "POST",
            "/graphql",
            Some(json!({"query": query, "variables": variables})),
        );
        assert_eq!(status, 200);
        answer["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|m| m["message"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut unknown = input.clone();
    unknown["gpuType"] = json!("A100");
    assert!(errors(save, json!({"input": unknown}))[0].contains("\"gpuType\" is not defined"));
    let mut both = input.clone();
    both["gpuIds"] = json!("ADA_24");
    assert!(errors(save, json!({"input": both}))[0].contains("not both"));
    let mut flavor = input.clone();
    flavor["instanceIds"] = json!(["cpu9x-1-2"]);
    assert!(errors(save, json!({"input": flavor}))[0].contains("not a CPU flavor"));
    assert!(errors("mutation { dropEverything }", json!({}))[0].contains("answers only"));
    assert!(errors(
        "mutation saveEndpoint($input: EndpointInput!) { saveEndpoint(input: $input) { id secret } }",
        json!({"input": input})
    )[0]
    .contains("Cannot query field \"secret\""));
    // A good one is made; it cannot be deleted while it has workers, nor change its type.
    let (_, made) = emulator.call(
        "POST",
        "/graphql",
        Some(json!({"query": save, "variables": {"input": input}})),
    );
    let id = made["data"]["saveEndpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let delete = "mutation deleteEndpoint($id: String!) { deleteEndpoint(id: $id) }";
    assert!(errors(delete, json!({"id": id}))[0].contains("still has workers"));
    let mut lb = input.clone();
    lb["id"] = json!(id);
    lb["type"] = json!("LB");
    lb["scalerType"] = json!("REQUEST_COUNT");
    assert!(errors(save, json!({"input": lb}))[0].contains("type cannot change"));
    assert_eq!(emulator.endpoints().len(), 1);
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

/// The emulator with real workers: each image a worker binary that `flashc deploy` builds from
/// the generated workspace into `store` (shared by test runs: images are named by content).
fn emulator_with_workers(store: &Path) -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(["emulate", "--port", "0"])
        .env("FLASHC_IMAGE_STORE", store)
        // The secret the project's `RUNPOD_API_KEY: {secret: runpod_api_key}` refers to.
        .env("RUNPOD_SECRET_runpod_api_key", CALL_KEY)
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

const CALL_KEY: &str = "rpa_CALLKEY_of_the_project_secret_42";

/// Where worker builds go: the target directory the dev tests share, so the example's
/// dependencies compile once.
fn generated_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/generated")
}

fn deploy_with_workers(emulator: &Emulator, project: &ProjectCopy, store: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashc"));
    cmd.args(["deploy", "--yes"])
        .current_dir(&project.0)
        .env("RUNPOD_API_BASE_URL", &emulator.base)
        .env("RUNPOD_API_KEY", KEY)
        .env("FLASHC_IMAGE_STORE", store)
        // The dev tests' target dir, and whatever CARGO_PROFILE_* CI sets, so both share builds.
        .env("CARGO_TARGET_DIR", generated_target())
        .env("FLASHC_RETRY_BASE_MS", "5")
        .env("FLASHC_VERIFY_TIMEOUT", "60")
        // A machine without Docker: deploy builds the worker binaries the emulator runs,
        // even with a registry named in flash.yaml.
        .env("DOCKER", "/nonexistent/docker")
        .stdin(Stdio::null());
    cmd
}

fn checked(out: Output) -> Output {
    for stream in [&out.stdout, &out.stderr] {
        let s = String::from_utf8_lossy(stream);
        assert!(
            !s.contains(KEY) && !s.contains(CALL_KEY),
            "a key was printed:\n{s}"
        );
    }
    out
}

/// `(status, JSON)` of a call to an endpoint's URL through the emulator.
fn call_url(url: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let auth = format!("Bearer {KEY}");
    let mut response = match body {
        None => agent.get(url).header("Authorization", &auth).call(),
        Some(b) => agent
            .post(url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.to_string()),
    }
    .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Processes running a binary from the image store.
fn workers_running(store: &Path) -> usize {
    let store = std::fs::canonicalize(store).unwrap_or(store.to_path_buf());
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path().join("exe")).ok())
        .filter(|exe| exe.starts_with(&store))
        .count()
}

#[test]
fn real_workers_answer_roll_out_fail_verify_roll_back_and_go() {
    if !support::run_slow_tests("real_workers_answer_roll_out_fail_verify_roll_back_and_go") {
        return;
    }
    let store = generated_target().join("flashc-image-store");
    let emulator = emulator_with_workers(&store);
    let project = ProjectCopy::new();
    // The example's caller reaches its callee with the API key from a Runpod secret (the
    // emulator fills it in from its own environment); each endpoint gets smoke requests.
    project.edit(
        "flash.yaml",
        "      RUNPOD_API_KEY: { secret: runpod_api_key }\n",
        "      RUNPOD_API_KEY: { secret: runpod_api_key }\n    smoke:\n      - request: \"POST /summarize\"\n        body: {text: \"one two three four\", max_words: 2}\n        expect: {words_in: 4, words_out: 2}\n      - request: \"GET /health\"\n        expect: {status: ok}\n",
    );
    project.edit(
        "flash.yaml",
        "    execution_timeout: 2m\n",
        "    execution_timeout: 2m\n    smoke:\n      - input: {text: \"a b c\", max_words: 1}\n        expect: {status: COMPLETED, output: {words_out: 1}}\n",
    );
    project.edit(
        "flash.yaml",
        "name: mixed-api\n",
        "name: mixed-api\nregistry:\n  url: 127.0.0.1:5999/team\n",
    );

    // Deploy: no Docker here, so the worker binaries are built (named by content in the
    // registry flash.yaml names), started, pinged, smoke-tested; the GPU is reported.
    let out = checked(
        deploy_with_workers(&emulator, &project, &store)
            .output()
            .unwrap(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Docker is not available"),
        "{}",
        text(&out)
    );
    assert!(
        emulator.by_name("mixed-api.api")["image"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:5999/team/mixed-api-api:flashc-"),
        "{:#}",
        emulator.by_name("mixed-api.api")
    );
    assert!(
        text(&out).contains("gpu-backend: worker")
            && text(&out).contains("on NVIDIA GeForce RTX 4090"),
        "{}",
        text(&out)
    );
    let api = emulator.by_name("mixed-api.api");
    let backend = emulator.by_name("mixed-api.gpu-backend");
    let base = api["requestUrls"]["base"].as_str().unwrap().to_string();
    // The routes answer, the caller through its callee (with the secret's key).
    let (status, summary) = call_url(
        &format!("{base}/summarize"),
        Some(json!({"text": "a b c d e", "max_words": 3})),
    );
    assert_eq!(
        (status, &summary["words_out"]),
        (200, &json!(3)),
        "{summary}"
    );
    assert_eq!(call_url(&format!("{base}/health"), None).1["status"], "ok");
    let (status, job) = call_url(
        backend["requestUrls"]["runSync"].as_str().unwrap(),
        Some(json!({"input": {"text": "x y"}})),
    );
    assert_eq!(
        (status, &job["status"]),
        (200, &json!("COMPLETED")),
        "{job}"
    );
    // Without a key, the platform (and the emulator) refuses.
    let anonymous: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let refused = anonymous.get(&format!("{base}/health")).call().unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    // A handler edit is a new release; its workers take 3 s to start (an `init`), and the
    // old release answers until they are ready.
    project.edit("src/api.rs", "status: \"ok\"", "status: \"fine\"");
    std::fs::write(
        project.0.join("src/api.rs"),
        std::fs::read_to_string(project.0.join("src/api.rs")).unwrap()
            + "\n/// Start-up work: three seconds.\npub fn warm_up() {\n    std::thread::sleep(std::time::Duration::from_secs(3));\n}\n",
    )
    .unwrap();
    project.edit(
        "flash.yaml",
        "    workers: [1, 4]\n",
        "    workers: [1, 4]\n    init: api::warm_up\n",
    );
    project.edit(
        "flash.yaml",
        "expect: {status: ok}",
        "expect: {status: fine}",
    );
    let api_id = api["id"].as_str().unwrap().to_string();
    let rolling = deploy_with_workers(&emulator, &project, &store)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen_old_during_rollout = false;
    let waited = std::time::Instant::now();
    while waited.elapsed() < std::time::Duration::from_secs(600) {
        let (_, releases) =
            emulator.call("GET", &format!("/v2/serverless/{api_id}/releases"), None);
        if releases["endpointVersion"].as_u64() >= Some(2) {
            if releases["rollout"]["inProgress"] == json!(true) {
                let (status, health) = call_url(&format!("{base}/health"), None);
                assert_eq!(status, 200, "no answer during the rollout: {health}");
                assert_eq!(
                    health["status"], "ok",
                    "the new release answered before it was ready"
                );
                seen_old_during_rollout = true;
            }
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = checked(rolling.wait_with_output().unwrap());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        seen_old_during_rollout,
        "the rollout was never seen in progress"
    );
    assert_eq!(
        call_url(&format!("{base}/health"), None).1["status"],
        "fine"
    );
    let (_, releases) = emulator.call("GET", &format!("/v2/serverless/{api_id}/releases"), None);
    assert_eq!(releases["rollout"]["inProgress"], false);
    assert_eq!(releases["rollout"]["percentOnLatest"], 100, "{releases}");

    // A backend whose `init` fails: verify fails on it, and the deploy rolls back to the
    // previous deployment, which answers again.
    std::fs::write(
        project.0.join("src/backend.rs"),
        std::fs::read_to_string(project.0.join("src/backend.rs")).unwrap()
            + "\n/// A model that is not there.\npub fn load() -> Result<(), String> {\n    Err(\"the model file is missing\".into())\n}\n",
    )
    .unwrap();
    project.edit(
        "flash.yaml",
        "    max_concurrency: 4\n",
        "    max_concurrency: 4\n    init: backend::load\n",
    );
    let out = checked(
        deploy_with_workers(&emulator, &project, &store)
            .output()
            .unwrap(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("verify failed: endpoint `gpu-backend`"),
        "{said}"
    );
    assert!(said.contains("UNHEALTHY"), "{said}");
    assert!(
        said.contains("rolled back: deployment 4 restores deployment 2"),
        "{said}"
    );
    let (status, summary) = call_url(
        &format!("{base}/summarize"),
        Some(json!({"text": "a b c d e", "max_words": 2})),
    );
    assert_eq!(
        (status, &summary["words_out"]),
        (200, &json!(2)),
        "{summary}"
    );
    let (_, workers) = emulator.call(
        "GET",
        &format!("/v2/serverless/{}/workers", backend["id"].as_str().unwrap()),
        None,
    );
    assert!(
        workers["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["status"] != "UNHEALTHY"),
        "{workers}"
    );

    // Destroy leaves nothing: no endpoint, no worker process.
    let out = checked(
        command(&emulator, &project, &["destroy", "--yes"])
            .output()
            .unwrap(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(emulator.endpoints().is_empty());
    let gone = std::time::Instant::now();
    while workers_running(&store) > 0 && gone.elapsed() < std::time::Duration::from_secs(15) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        workers_running(&store),
        0,
        "workers outlived their endpoints"
    );
}

#[test]
fn catalog_refresh_reads_the_emulator_and_gives_back_the_snapshot() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    let out = flashc(
        &emulator,
        &project,
        &["catalog", "refresh", "--out", "fresh-catalog.json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let fresh: Value = serde_json::from_str(
        &std::fs::read_to_string(project.0.join("fresh-catalog.json")).unwrap(),
    )
    .unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/runpod-catalog.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for key in ["dataCenters", "gpuTypes", "cpuFlavors", "cudaVersions"] {
        assert_eq!(fresh[key], committed[key], "{key}");
    }
    assert!(fresh["source"].as_str().unwrap().contains(&emulator.base));
    assert_eq!(fresh["takenAt"].as_str().unwrap().len(), 10);
}

#[test]
fn images_pushed_for_this_content_are_deployed_by_digest() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let api_tag = emulator.by_name("mixed-api.api")["image"]
        .as_str()
        .unwrap()
        .to_string();
    // What `flashc build --push` records: the api's image for exactly this content (pushed to
    // another registry), and a backend image for content that is no longer current.
    let digest = format!(
        "registry.example:5000/mixed-api-api@sha256:{}",
        "ab".repeat(32)
    );
    let pushed = json!({"format": 1, "environments": {"mixed-api": {
        "api": {"tag": api_tag.replace("flashc.local", "registry.example:5000"), "digest": digest},
        "gpu-backend": {"tag": "registry.example:5000/mixed-api-gpu-backend:flashc-0000000000000000",
                        "digest": format!("registry.example:5000/mixed-api-gpu-backend@sha256:{}", "cd".repeat(32))},
    }}});
    std::fs::write(project.0.join("flash-images.json"), pushed.to_string()).unwrap();
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emulator.by_name("mixed-api.api")["image"], json!(digest));
    let backend = emulator.by_name("mixed-api.gpu-backend");
    assert!(
        backend["image"].as_str().unwrap().contains(":flashc-"),
        "a digest of other content was deployed: {backend}"
    );
}

#[test]
fn a_caller_without_a_key_is_warned_about() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    let warning = "`api` can call gpu-backend but has no `RUNPOD_API_KEY`";
    let out = flashc(&emulator, &project, &["deploy", "--plan"]);
    assert!(!text(&out).contains(warning), "{}", text(&out));
    project.edit(
        "flash.yaml",
        "RUNPOD_API_KEY: { secret: runpod_api_key }",
        "LOG_LEVEL: info",
    );
    let out = flashc(&emulator, &project, &["deploy", "--plan"]);
    assert!(text(&out).contains(warning), "{}", text(&out));
    // Only a crate that calls (`Endpoint::named`) needs the key: one that calls nothing is not
    // warned, whatever endpoints it has.
    project.edit(
        "src/api.rs",
        "Endpoint::named(BACKEND)",
        "Endpoint::with_base(BACKEND, \"http://127.0.0.1:9\")",
    );
    let out = flashc(&emulator, &project, &["deploy", "--plan"]);
    assert!(text(&out).contains("Plan: 2 to create"), "{}", text(&out));
    assert!(!text(&out).contains("RUNPOD_API_KEY"), "{}", text(&out));
}

/// A queue endpoint the crate does not call may call one it does (an orchestrator and its
/// GPU backend): it is written after its callee, with the callee's id, and before the
/// load-balanced endpoint that may call both.
#[test]
fn a_queue_endpoint_calling_another_is_written_after_it_with_its_id() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    project.edit(
        "flash.yaml",
        "  gpu-backend:\n",
        "  orchestrator:\n    type: queue\n    handler: backend::summarize\n    cpu: cpu3c-2-4\n    env:\n      RUNPOD_API_KEY: { secret: runpod_api_key }\n  gpu-backend:\n",
    );
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let backend = emulator.by_name("mixed-api.gpu-backend");
    let orchestrator = emulator.by_name("mixed-api.orchestrator");
    let api = emulator.by_name("mixed-api.api");
    assert_eq!(
        orchestrator["env"]["FLASH_ENDPOINT_GPU_BACKEND"],
        backend["id"]
    );
    // The called backend gets no ids (so calls never wait on each other).
    assert!(
        backend["env"].get("FLASH_ENDPOINT_ORCHESTRATOR").is_none(),
        "{backend}"
    );
    assert_eq!(api["env"]["FLASH_ENDPOINT_GPU_BACKEND"], backend["id"]);
    assert_eq!(
        api["env"]["FLASH_ENDPOINT_ORCHESTRATOR"],
        orchestrator["id"]
    );
    // Applied again: nothing to write.
    let writes = emulator.writes();
    let out = flashc(&emulator, &project, &["deploy", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emulator.writes(), writes, "{}", text(&out));
}

#[test]
fn deploy_builds_and_pushes_what_changed_and_deploys_it_by_digest() {
    let emulator = Emulator::start("");
    let project = ProjectCopy::new();
    let tools = project.0.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let docker = support::docker::fake_docker(&tools);
    let log = || std::fs::read_to_string(tools.join("docker.log")).unwrap_or_default();
    project.edit(
        "flash.yaml",
        "name: mixed-api\n",
        "name: mixed-api\nregistry:\n  url: 127.0.0.1:5999/team\n  auth: reg_abc\n",
    );
    let deploy = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashc"));
        cmd.args(["deploy", "--yes"])
            .args(extra)
            .current_dir(&project.0)
            .env("RUNPOD_API_BASE_URL", &emulator.base)
            .env("RUNPOD_API_KEY", KEY)
            .env("DOCKER", &docker)
            .env("FLASHC_RETRY_BASE_MS", "5")
            .env("FLASHC_VERIFY_TIMEOUT", "5")
            .stdin(Stdio::null());
        checked(cmd.output().unwrap())
    };

    // The plan names the credential the images are pulled with (an id, no secret).
    let (_, plan) = plan_json(&emulator, &project);
    assert_eq!(plan["changes"][0]["registry"], "reg_abc", "{plan:#}");

    // One command: both images built and pushed to flash.yaml's registry, deployed by digest.
    let out = deploy(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let builds = |log: &str| log.lines().filter(|l| l.starts_with("build ")).count();
    let pushes = |log: &str| log.lines().filter(|l| l.starts_with("push ")).count();
    assert_eq!((builds(&log()), pushes(&log())), (2, 2), "{}", log());
    let pinned: Value = serde_json::from_str(
        &std::fs::read_to_string(project.0.join("flash-images.json")).unwrap(),
    )
    .unwrap();
    for name in ["api", "gpu-backend"] {
        let live = emulator.by_name(&format!("mixed-api.{name}"));
        let digest = &pinned["environments"]["mixed-api"][name]["digest"];
        assert!(
            digest
                .as_str()
                .unwrap()
                .starts_with(&format!("127.0.0.1:5999/team/mixed-api-{name}@sha256:")),
            "{pinned:#}"
        );
        assert_eq!(&live["image"], digest);
        assert_eq!(live["registry"], "reg_abc");
    }

    // Nothing changed: nothing is built, pushed or written.
    let writes = emulator.writes();
    let out = deploy(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!((builds(&log()), pushes(&log())), (2, 2), "{}", log());
    assert_eq!(emulator.writes(), writes);

    // A handler edit is new content: built, pushed and rolled out again.
    project.edit(
        "src/api.rs",
        "use serde::Serialize;\n",
        "use serde::Serialize;\n// edited\n",
    );
    let out = deploy(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!((builds(&log()), pushes(&log())), (4, 4), "{}", log());
    assert_ne!(
        emulator.by_name("mixed-api.api")["image"],
        pinned["environments"]["mixed-api"]["api"]["digest"]
    );
}
