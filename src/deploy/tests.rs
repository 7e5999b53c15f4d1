//! flash.yaml → v2 bodies for every field, each body validated against the vendored OpenAPI
//! document; the plan's actions and effects; secrets never in the plan's output.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::body::{self, PENDING_ID};
use super::openapi::validate;
use super::*;
use crate::resolve::{CrateError, CrateInfo, Workspace};

/// A handler crate `shop` in memory with a queue handler and two routes.
struct Mem(HashMap<PathBuf, String>);

impl Workspace for Mem {
    fn locate_crate(&self, _dir: &Path) -> Result<CrateInfo, CrateError> {
        Ok(CrateInfo {
            package: "shop".into(),
            lib_name: "shop".into(),
            manifest_dir: "/p".into(),
            lib_path: "/p/src/lib.rs".into(),
            build_script: None,
            edition: "2021".into(),
            features: Vec::new(),
        })
    }
    fn read(&self, path: &Path) -> Option<String> {
        self.0.get(path).cloned()
    }
}

fn workspace() -> Mem {
    Mem(HashMap::from([(
        PathBuf::from("/p/src/lib.rs"),
        "pub fn run(text: String) -> String { text }\npub fn health() -> String { String::new() }\n"
            .to_string(),
    )]))
}

fn lowered(yaml: &str, env: Option<&str>) -> crate::lower::Plan {
    let options = crate::emit::Options {
        out_dir: ".flash",
        flashc_version: "test",
        overrides: &BTreeMap::new(),
    };
    match crate::generate(yaml.as_bytes(), env, &workspace(), &options) {
        Ok(generated) => generated.plan,
        Err(crate::GenerateError::Problems(d)) => panic!("{d:#?}"),
        Err(_) => panic!("generate failed"),
    }
}

fn images(plan: &crate::lower::Plan) -> BTreeMap<String, String> {
    plan.endpoints
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                format!("registry.example/{}@sha256:{}", e.image, "ab".repeat(32)),
            )
        })
        .collect()
}

fn bodies(yaml: &str, env: Option<&str>) -> Vec<Desired> {
    let plan = lowered(yaml, env);
    let images = images(&plan);
    body::desired(
        &plan,
        &Inputs {
            images: &images,
            ids: &BTreeMap::new(),
            registry_auth: None,
        },
    )
    .unwrap()
}

fn one(yaml: &str) -> Desired {
    let mut all = bodies(yaml, None);
    assert_eq!(all.len(), 1);
    all.remove(0)
}

/// Every REST body is a valid `CreateEndpointRequest`.
fn valid(d: &Desired) -> Value {
    let value = plan::create_body(&d.body);
    if d.api == Api::Rest {
        if let Err(errors) = validate("CreateEndpointRequest", &value) {
            panic!("{value:#}\n{errors:#?}");
        }
    }
    value
}

const HEAD: &str = "version: 1\nname: shop\nendpoints:\n";

fn queue(settings: &str) -> String {
    format!("{HEAD}  job:\n    type: queue\n    handler: run\n{settings}")
}

fn lb(settings: &str) -> String {
    format!("{HEAD}  api:\n    type: load_balanced\n    routes:\n      \"GET /health\": health\n{settings}")
}

#[test]
fn a_gpu_queue_endpoint_maps_every_field() {
    let d = one(&queue(
        "    gpu: [ADA_24, NVIDIA_L4]\n    gpu_count: 2\n    min_cuda_version: \"12.4\"\n    workers: [1, 5]\n    idle_timeout: 5m\n    scaler: {type: QUEUE_DELAY, value: 3}\n    execution_timeout: 90s\n    flashboot: false\n    datacenters: [EU-RO-1, US-CA-2]\n    volume: {id: vol_abc, datacenter: EU-RO-1}\n    container_disk: 20\n    env:\n      MODEL: bert\n      HF_TOKEN: {secret: hf_token}\n",
    ));
    assert_eq!(d.api, Api::Rest);
    let v = valid(&d);
    assert_eq!(
        v,
        json!({
            "name": "shop.job",
            "type": "QUEUE",
            "image": format!("registry.example/shop-job@sha256:{}", "ab".repeat(32)),
            "env": {"FLASHC_OWNER": "shop", "HF_TOKEN": "{{ RUNPOD_SECRET_hf_token }}", "MODEL": "bert"},
            "disk": 20,
            "gpu": {
                "pools": ["ADA_24", "AMPERE_24"],
                "excludedTypes": ["NVIDIA GeForce RTX 3090", "NVIDIA RTX A5000"],
                "count": 2,
                "minCudaVersion": "12.4"
            },
            "workers": {"min": 1, "max": 5, "idleTimeout": 300},
            "scaling": {"type": "QUEUE_DELAY", "queueDelay": 3.0},
            "dataCenterIds": ["EU-RO-1", "US-CA-2"],
            "networkVolumes": ["vol_abc"],
            "timeout": 90000,
            "flashboot": "OFF"
        })
    );
    assert_eq!(d.secret_keys, ["HF_TOKEN"]);
}

#[test]
fn a_model_excludes_the_unnamed_cards_of_its_pool_too() {
    let gpu = body::gpu(&["NVIDIA_RTX_6000_ADA_GENERATION".into()], 1, "12.8");
    assert_eq!(gpu.pools, ["ADA_48_PRO"]);
    assert_eq!(gpu.excluded_types, ["NVIDIA L40", "NVIDIA L40S"]);
    let any = body::gpu(&["any".into()], 1, "12.8");
    assert_eq!(any.pools.len(), crate::model::vocab::gpu_pools().len());
    assert!(any.excluded_types.is_empty());
}

#[test]
fn a_load_balanced_cpu_endpoint_gets_its_port_and_request_count_scaling() {
    let d = one(&lb("    cpu: [cpu3c-2-4, cpu5c-4-8]\n    workers: 2\n"));
    let v = valid(&d);
    assert_eq!(v["type"], "LOAD_BALANCER");
    assert_eq!(
        v["cpu"],
        json!([{"id": "cpu3c", "vcpuCount": 2}, {"id": "cpu5c", "vcpuCount": 4}])
    );
    assert!(v.get("gpu").is_none());
    assert_eq!(v["ports"], json!(["8080/http"]));
    assert_eq!(v["env"]["PORT"], "8080");
    assert_eq!(v["env"]["PORT_HEALTH"], "8080");
    assert_eq!(
        v["scaling"],
        json!({"type": "REQUEST_COUNT", "requestCount": 4})
    );
    assert_eq!(v["workers"], json!({"min": 0, "max": 2, "idleTimeout": 60}));
    // CPU endpoints default to the datacenter every flavor runs in; flashboot defaults on.
    assert_eq!(v["dataCenterIds"], json!(["EU-RO-1"]));
    assert_eq!(v["flashboot"], "FLASHBOOT");
    assert_eq!(v["timeout"], 300_000);
}

#[test]
fn a_queue_endpoint_scaling_on_request_count_sends_no_idle_timeout() {
    let d = one(&queue(
        "    cpu: cpu3g-2-8\n    scaler: {type: REQUEST_COUNT, value: 2}\n",
    ));
    let v = valid(&d);
    assert_eq!(v["workers"], json!({"min": 0, "max": 1}));
    assert_eq!(
        v["scaling"],
        json!({"type": "REQUEST_COUNT", "requestCount": 2})
    );
    // The API refuses idleTimeout there; the schema alone does not, so flashc must not send it.
}

#[test]
fn a_one_vcpu_flavor_goes_through_graphql_because_rest_refuses_it() {
    let d = one(&queue("    cpu: cpu3c-1-2\n"));
    assert!(matches!(&d.api, Api::GraphQl { reason } if reason.contains("cpu3c-1-2")));
    let v = plan::create_body(&d.body);
    assert_eq!(v["cpu"], json!([{"id": "cpu3c", "vcpuCount": 1}]));
    assert!(validate("CreateEndpointRequest", &v).is_err());
}

#[test]
fn a_one_vcpu_endpoint_becomes_the_graphql_save_endpoint_input_runpods_sdk_sends() {
    let d = one(&queue(
        "    cpu: cpu3c-1-2\n    env:\n      TOKEN: { secret: tok }\n",
    ));
    let input = graphql::save_endpoint_input(&d.body, None);
    assert_eq!(input["type"], "QB");
    assert_eq!(input["instanceIds"], json!(["cpu3c-1-2"]));
    assert!(input.get("gpuIds").is_none() && input.get("id").is_none());
    assert_eq!(input["template"]["imageName"], json!(d.body.image));
    assert!(input["template"]["env"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "TOKEN", "value": "{{ RUNPOD_SECRET_tok }}"})));
    assert_eq!(input["workersMin"], json!(d.body.workers.min));
    assert_eq!(input["executionTimeoutMs"], json!(d.body.timeout));
    assert_eq!(input["scalerType"], "QUEUE_DELAY");
    assert_eq!(input["flashBootType"], json!(d.body.flashboot));
    // With an id it replaces that endpoint; scaled to zero, it keeps everything but workers.
    let zero = graphql::scale_to_zero_input(&d.body, "ep1");
    assert_eq!(
        (&zero["id"], &zero["workersMin"], &zero["workersMax"]),
        (&json!("ep1"), &json!(0), &json!(0))
    );
    assert_eq!(zero["template"], input["template"]);
    // Flavors read back through GraphQL give the v2 list again.
    assert_eq!(
        graphql::cpu_from_instance_ids(&graphql::instance_ids(d.body.cpu.as_ref().unwrap())),
        d.body.cpu
    );
    assert!(graphql::needs_graphql(&d.body));
    assert!(!graphql::needs_graphql(
        &one(&queue("    cpu: cpu3c-2-4\n")).body
    ));
}

#[test]
fn names_and_markers_are_per_project_environment_and_endpoint() {
    let yaml = format!(
        "{}environments:\n  prod:\n    endpoints:\n      job:\n        workers: [1, 2]\n",
        queue("    cpu: cpu3g-2-8\n")
    );
    let base = &bodies(&yaml, None)[0];
    let prod = &bodies(&yaml, Some("prod"))[0];
    assert_eq!(base.body.name, "shop.job");
    assert_eq!(prod.body.name, "shop.job.prod");
    assert_eq!(base.body.env["FLASHC_OWNER"], "shop");
    assert_eq!(prod.body.env["FLASHC_OWNER"], "shop.prod");
    valid(prod);
}

/// With the crate's calls known, a queue endpoint it does not call gets the ids of those it
/// does; a called one gets none; a load-balanced endpoint keeps every queue endpoint's.
#[test]
fn queue_callers_get_the_called_queue_endpoints_ids() {
    let yaml = format!(
        "{HEAD}  api:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n      \"GET /health\": health\n  backend:\n    type: queue\n    handler: run\n    cpu: cpu3c-2-4\n  orchestrator:\n    type: queue\n    handler: run\n    cpu: cpu3c-2-4\n"
    );
    let mut plan = lowered(&yaml, None);
    let images = images(&plan);
    let none = BTreeMap::new();
    let inputs = Inputs {
        images: &images,
        ids: &none,
        registry_auth: None,
    };
    let callees = |plan: &crate::lower::Plan| -> Vec<(String, Vec<String>)> {
        body::desired(plan, &inputs)
            .unwrap()
            .into_iter()
            .map(|d| (d.endpoint, d.callees))
            .collect()
    };
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Calls unknown: as before, load-balanced endpoints may call every queue endpoint.
    assert_eq!(
        callees(&plan),
        [
            ("api".to_string(), names(&["backend", "orchestrator"])),
            ("backend".to_string(), names(&[])),
            ("orchestrator".to_string(), names(&[])),
        ]
    );
    plan.handler_crate.calls = names(&["backend", "api"]);
    assert_eq!(
        callees(&plan),
        [
            ("api".to_string(), names(&["backend", "orchestrator"])),
            ("backend".to_string(), names(&[])),
            ("orchestrator".to_string(), names(&["backend"])),
        ]
    );
}

#[test]
fn callers_get_their_callees_ids_and_a_placeholder_before_create() {
    let yaml = format!(
        "{HEAD}  api:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n      \"GET /health\": health\n  job:\n    type: queue\n    handler: run\n    cpu: cpu3c-2-4\n"
    );
    let plan = lowered(&yaml, None);
    let images = images(&plan);
    let none = BTreeMap::new();
    let d = body::desired(
        &plan,
        &Inputs {
            images: &images,
            ids: &none,
            registry_auth: None,
        },
    )
    .unwrap();
    assert_eq!(d[0].callees, ["job"]);
    assert_eq!(d[0].body.env["FLASH_ENDPOINT_JOB"], PENDING_ID);
    assert!(d[1].callees.is_empty());
    let ids = BTreeMap::from([("job".to_string(), "ep_1".to_string())]);
    let d = body::desired(
        &plan,
        &Inputs {
            images: &images,
            ids: &ids,
            registry_auth: None,
        },
    )
    .unwrap();
    assert_eq!(d[0].body.env["FLASH_ENDPOINT_JOB"], "ep_1");
    valid(&d[0]);
}

#[test]
fn a_volume_without_id_is_refused_with_its_key() {
    let plan = lowered(
        &queue("    cpu: cpu3g-2-8\n    volume: {name: models, datacenter: EU-RO-1}\n"),
        None,
    );
    let images = images(&plan);
    let err = body::desired(
        &plan,
        &Inputs {
            images: &images,
            ids: &BTreeMap::new(),
            registry_auth: None,
        },
    )
    .unwrap_err();
    assert_eq!(err.key, "volume");
    assert!(err.message.contains("models"), "{err}");
}

/// What Runpod answers for a created endpoint: the body plus what the server adds, in the
/// `Endpoint` schema's shape (the emulator builds the same).
fn live_of(d: &Desired, id: &str) -> Value {
    let mut v = plan::create_body(&d.body);
    v["id"] = json!(id);
    v["createdAt"] = json!("2026-12-07T00:00:00Z");
    if let Some(gpu) = v.get_mut("gpu") {
        gpu["allowedCudaVersions"] = json!([]);
    }
    for cpu in v
        .get_mut("cpu")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let memory = body::cpu_memory_gb(
            cpu["id"].as_str().unwrap(),
            cpu["vcpuCount"].as_u64().unwrap() as u32,
        );
        cpu["memory"] = json!(memory);
    }
    v["requestUrls"] = json!({"base": format!("https://{id}.api.runpod.ai"), "health": format!("https://{id}.api.runpod.ai/ping")});
    if v["type"] == "QUEUE" {
        let u = |p: &str| format!("https://api.runpod.ai/v2/{id}/{p}");
        v["requestUrls"] = json!({"run": u("run"), "runSync": u("runsync"), "status": u("status/{job_id}"), "stream": u("stream/{job_id}"), "cancel": u("cancel/{job_id}"), "retry": u("retry/{job_id}"), "purgeQueue": u("purge-queue"), "health": u("health")});
    }
    if let Err(e) = validate("Endpoint", &v) {
        panic!("{v:#}\n{e:#?}");
    }
    v
}

fn live(d: &Desired, id: &str) -> Live {
    Live::from_json(&live_of(d, id)).unwrap()
}

#[test]
fn plan_creates_then_finds_nothing_to_do() {
    let d = bodies(&queue("    gpu: ADA_24\n"), None);
    let p = plan::plan("shop", None, "shop", &d, &[]).unwrap();
    assert_eq!(p.changes[0].action, Action::Create);
    assert!(p.pending());
    let p = plan::plan("shop", None, "shop", &d, &[live(&d[0], "ep_1")]).unwrap();
    assert_eq!(p.changes[0].action, Action::None, "{:#?}", p.changes[0]);
    assert!(!p.pending());
    assert_eq!(p.changes[0].id.as_deref(), Some("ep_1"));
}

#[test]
fn workers_apply_at_once_an_image_rolls_workers_and_patches_are_valid() {
    let before = bodies(&queue("    gpu: ADA_24\n    workers: [0, 1]\n"), None);
    let after = bodies(&queue("    gpu: ADA_24\n    workers: [0, 3]\n"), None);
    let live = [live(&before[0], "ep_1")];
    let p = plan::plan("shop", None, "shop", &after, &live).unwrap();
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Update);
    assert!(!c.rolls_workers);
    assert_eq!(c.fields.len(), 1);
    assert_eq!(c.fields[0].field, "workers");
    assert_eq!(c.fields[0].effect, Effect::AtOnce);
    let patch = c.request.clone().unwrap();
    assert_eq!(
        patch,
        json!({"workers": {"min": 0, "max": 3, "idleTimeout": 60}})
    );
    validate("UpdateEndpointRequest", &patch).unwrap();

    let mut moved = after.clone();
    moved[0].body.image = "registry.example/shop-job@sha256:".to_string() + &"cd".repeat(32);
    moved[0].body.gpu.as_mut().unwrap().pools = vec!["AMPERE_24".into()];
    let p = plan::plan("shop", None, "shop", &moved, &live).unwrap();
    let c = &p.changes[0];
    assert!(c.rolls_workers);
    let patch = c.request.clone().unwrap();
    assert_eq!(
        patch["gpu"],
        json!({"pools": ["AMPERE_24"], "excludedTypes": []})
    );
    validate("UpdateEndpointRequest", &patch).unwrap();
}

#[test]
fn a_type_or_compute_family_change_is_a_replace() {
    let queue_cpu = bodies(&queue("    cpu: cpu3g-2-8\n"), None);
    let queue_gpu = bodies(&queue("    gpu: ADA_24\n"), None);
    let p = plan::plan(
        "shop",
        None,
        "shop",
        &queue_gpu,
        &[live(&queue_cpu[0], "ep_1")],
    )
    .unwrap();
    assert_eq!(p.changes[0].action, Action::Replace);
    assert!(p.changes[0]
        .fields
        .iter()
        .any(|f| f.field == "compute" && f.effect == Effect::Replace));
    let mut lb_kind = queue_gpu.clone();
    lb_kind[0].body.kind = "LOAD_BALANCER".into();
    let p = plan::plan(
        "shop",
        None,
        "shop",
        &lb_kind,
        &[live(&queue_gpu[0], "ep_1")],
    )
    .unwrap();
    assert_eq!(p.changes[0].action, Action::Replace);
}

#[test]
fn only_owned_endpoints_are_deleted_and_a_foreign_one_of_our_name_is_a_conflict() {
    let d = bodies(&queue("    gpu: ADA_24\n"), None);
    let mut gone = live(&d[0], "ep_gone");
    gone.body.name = "shop.old".into();
    let mut foreign = live(&d[0], "ep_foreign");
    foreign.body.name = "other.job".into();
    foreign
        .body
        .env
        .insert("FLASHC_OWNER".into(), "other".into());
    let p = plan::plan("shop", None, "shop", &[], &[gone, foreign.clone()]).unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::Delete);
    assert_eq!(p.changes[0].endpoint, "old");
    assert_eq!(p.changes[0].id.as_deref(), Some("ep_gone"));

    let mut squatter = foreign;
    squatter.body.name = "shop.job".into();
    let conflicts = plan::plan("shop", None, "shop", &d, &[squatter]).unwrap_err();
    assert_eq!(conflicts[0].id, "ep_foreign");
}

#[test]
fn duplicates_left_by_an_interrupted_apply_converge_to_one() {
    let d = bodies(&queue("    gpu: ADA_24\n"), None);
    let mut stale = live(&d[0], "ep_a");
    stale.body.kind = "LOAD_BALANCER".into();
    let p = plan::plan("shop", None, "shop", &d, &[stale, live(&d[0], "ep_b")]).unwrap();
    let actions: Vec<_> = p
        .changes
        .iter()
        .map(|c| (c.action, c.id.clone().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            (Action::None, "ep_b".into()),
            (Action::Delete, "ep_a".into())
        ]
    );
}

#[test]
fn the_plan_never_shows_env_values() {
    let before = bodies(
        &queue("    gpu: ADA_24\n    env: {TOKEN: {secret: tok}, A: hunter2}\n"),
        None,
    );
    let after = bodies(
        &queue("    gpu: ADA_24\n    env: {TOKEN: {secret: tok2}, A: hunter3}\n"),
        None,
    );
    let p = plan::plan("shop", None, "shop", &after, &[live(&before[0], "ep_1")]).unwrap();
    let text = serde_json::to_string(&p).unwrap();
    for secret in ["hunter2", "hunter3", "tok2", "RUNPOD_SECRET"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("env.TOKEN"));
    assert!(p.changes[0].rolls_workers);
}

#[test]
fn the_fingerprint_changes_with_the_live_state() {
    let d = bodies(&queue("    gpu: ADA_24\n"), None);
    let a = plan::plan("shop", None, "shop", &d, &[]).unwrap();
    let b = plan::plan("shop", None, "shop", &d, &[]).unwrap();
    let c = plan::plan("shop", None, "shop", &d, &[live(&d[0], "ep_1")]).unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_ne!(a.fingerprint, c.fingerprint);
}

/// flash.yaml's `registry.auth` (a Runpod registry credential id) is the v2 body's `registry`,
/// the field the vendored document describes as the credential's id.
#[test]
fn registry_auth_is_the_bodys_registry_credential_id() {
    let yaml = format!(
        "{}registry:\n  url: registry.example.com/team\n  auth: reg_abc\n",
        queue("    cpu: cpu3c-2-4\n")
    );
    let plan = lowered(&yaml, None);
    let images = images(&plan);
    let desired = body::desired(
        &plan,
        &Inputs {
            images: &images,
            ids: &BTreeMap::new(),
            registry_auth: Some("reg_abc"),
        },
    )
    .unwrap();
    let d = &desired[0];
    let v = valid(d);
    assert_eq!(v["registry"], "reg_abc");
    // The document's field is the credential's id (what `/v2/registries` lists), not a secret.
    let document: Value = serde_json::from_str(super::openapi::DOCUMENT).unwrap();
    let field =
        &document["components"]["schemas"]["ContainerConfig"]["allOf"][1]["properties"]["registry"];
    assert!(
        field["description"]
            .as_str()
            .unwrap()
            .contains("credential ID"),
        "{field}"
    );
    assert!(document["components"]["schemas"]["Registry"]["properties"]["id"].is_object());
    // Through GraphQL, the inline template's `containerRegistryAuthId`.
    let mut one_vcpu = d.body.clone();
    one_vcpu.cpu = Some(vec![body::CpuBody {
        id: "cpu3c".into(),
        vcpu_count: 1,
    }]);
    assert_eq!(
        graphql::save_endpoint_input(&one_vcpu, None)["template"]["containerRegistryAuthId"],
        "reg_abc"
    );
    // A new id rolls the workers; removed from flash.yaml, it is cleared (`null`), and both
    // PATCH bodies are valid.
    let mut live = d.body.clone();
    live.registry = Some("reg_old".into());
    let fields = plan::diff(&d.body, &live);
    assert_eq!(fields.len(), 1);
    assert_eq!(
        (fields[0].field.as_str(), fields[0].effect),
        ("registry", Effect::RollsWorkers)
    );
    let patch = plan::patch_body(&d.body, &fields);
    assert_eq!(patch, json!({"registry": "reg_abc"}));
    validate("UpdateEndpointRequest", &patch).unwrap();
    let mut unset = d.body.clone();
    unset.registry = None;
    let patch = plan::patch_body(&unset, &plan::diff(&unset, &live));
    assert_eq!(patch, json!({"registry": null}));
    validate("UpdateEndpointRequest", &patch).unwrap();
    // The plan shows the id.
    let made = plan::plan("shop", None, "shop", &desired, &[]).unwrap();
    let shown = serde_json::to_value(&made).unwrap();
    assert_eq!(shown["changes"][0]["registry"], "reg_abc");
}

/// flash.yaml names a credential by id only: a user name or password is refused.
#[test]
fn a_registry_password_in_flash_yaml_is_refused() {
    for extra in [
        "registry:\n  password: hunter2\n",
        "registry:\n  auth: {username: me, password: hunter2}\n",
        "registry:\n  auth: \"user:pass word\"\n",
    ] {
        let yaml = format!("{}{extra}", queue("    cpu: cpu3c-2-4\n"));
        let options = crate::emit::Options {
            out_dir: ".flash",
            flashc_version: "test",
            overrides: &BTreeMap::new(),
        };
        assert!(
            matches!(
                crate::generate(yaml.as_bytes(), None, &workspace(), &options),
                Err(crate::GenerateError::Problems(_))
            ),
            "{extra}"
        );
    }
}
