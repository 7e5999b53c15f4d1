//! `flashc generate --target kubernetes` through the binary, validated offline (there is no
//! Kubernetes API server here):
//! - every example and every `tests/ui/kubernetes/cases/*.yaml` project (over examples/hello's
//!   crate) is exported into a copy, and its tree compared with `tests/ui/kubernetes/<name>.tree`
//!   (`BLESS=1 cargo test --test kubernetes` rewrites them);
//! - every object of the base, and of each overlay (its patches applied), is validated against
//!   the vendored Kubernetes 1.33 strict JSON schemas and the CRDs' `openAPIV3Schema` made strict
//!   (`tests/kubernetes/schemas/`); a misspelt field fails (`a_wrong_field_name_fails`);
//! - the KEDA trigger metadata (free-form in the CRD) is checked against the scalers'
//!   parameters, and every name an object refers to (Deployment, Service, ConfigMap, Secret,
//!   PVC, ServiceAccount, InterceptorRoute, TriggerAuthentication, probe port) is checked to exist;
//! - where `kubectl` is installed, `kubectl kustomize` (Go's YAML 1.1 reader) renders the base and
//!   each overlay to exactly the objects this test expects.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use flashc::emit::kubernetes::{queue_stream, QUEUE_GROUP, QUEUE_NAME_ENV};
use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{json, Value};

const SCHEMAS: &str = "tests/kubernetes/schemas";
const K8S: &str = "v1.33.0-local-strict";

fn flashc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flashc"))
}

/// Where project copies go: outside this repository, so each copy is a crate of its own (as a
/// user's is) rather than a stray member of flashc's workspace, whatever `CARGO_TARGET_DIR` is.
fn work_root() -> PathBuf {
    std::env::temp_dir().join("flashc-kubernetes-tests")
}

/// Every exported project: `(golden tree, project copy)`, generated once per test run.
fn exported() -> &'static Vec<(PathBuf, PathBuf)> {
    static ONCE: OnceLock<Vec<(PathBuf, PathBuf)>> = OnceLock::new();
    ONCE.get_or_init(|| {
        let work = work_root().join("kubernetes");
        let _ = fs::remove_dir_all(&work);
        let mut out = Vec::new();
        for entry in fs::read_dir("examples").unwrap().flatten() {
            if entry.path().join("flash.yaml").is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let copy = work.join(&name);
                support::project::copy_dir(&entry.path(), &copy);
                out.push((format!("tests/ui/kubernetes/{name}.tree").into(), copy));
            }
        }
        for entry in fs::read_dir("tests/ui/kubernetes/cases").unwrap().flatten() {
            let path = entry.path();
            let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let copy = work.join(format!("case-{name}"));
            support::project::copy_dir(Path::new("examples/hello"), &copy);
            fs::copy(&path, copy.join("flash.yaml")).unwrap();
            out.push((
                format!("tests/ui/kubernetes/cases/{name}.tree").into(),
                copy,
            ));
        }
        out.sort();
        for (_, dir) in &out {
            let run = flashc()
                .args(["generate", "--target", "kubernetes"])
                .arg(dir.join("flash.yaml"))
                .output()
                .unwrap();
            assert!(
                run.status.success(),
                "{}: {}{}",
                dir.display(),
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            );
        }
        out
    })
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn kube_dir(project: &Path) -> PathBuf {
    project.join(".flash/kubernetes")
}

#[test]
fn golden_trees() {
    let mut stale = Vec::new();
    for (golden, project) in exported() {
        let root = kube_dir(project);
        let mut tree = String::new();
        for file in files(&root) {
            let rel = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            tree.push_str(&format!(
                "=== {rel} ===\n{}",
                fs::read_to_string(&file).unwrap()
            ));
        }
        if std::env::var_os("BLESS").is_some() {
            fs::write(golden, &tree).unwrap();
        } else if fs::read_to_string(golden).ok().as_deref() != Some(tree.as_str()) {
            stale.push(golden.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale golden trees (BLESS=1 cargo test --test kubernetes): {stale:?}"
    );
}

/// YAML (as saphyr reads it) → JSON.
fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Value(Scalar::String(s)) => json!(s.as_ref()),
        Yaml::Value(Scalar::Integer(i)) => json!(i),
        Yaml::Value(Scalar::Boolean(b)) => json!(b),
        Yaml::Value(Scalar::FloatingPoint(f)) => json!(f.into_inner()),
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match k {
                    Yaml::Value(Scalar::String(s)) => (s.to_string(), to_json(v)),
                    other => panic!("a key that is not a string: {other:?}"),
                })
                .collect(),
        ),
        other => panic!("unexpected YAML node {other:?}"),
    }
}

fn documents(text: &str) -> Vec<Value> {
    Yaml::load_from_str(text)
        .unwrap_or_else(|e| panic!("{e}: {text}"))
        .iter()
        .map(to_json)
        .collect()
}

/// As `kubectl apply --validate=strict` reads a CRD's schema: objects with `properties` refuse
/// other fields unless they preserve unknown fields; the Kubernetes extensions in JSON Schema.
fn strict(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if map.remove("x-kubernetes-int-or-string") == Some(json!(true)) {
        map.remove("type");
        map.insert(
            "anyOf".into(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if map.remove("nullable") == Some(json!(true)) {
        if let Some(Value::String(t)) = map.get("type").cloned() {
            map.insert("type".into(), json!([t, "null"]));
        }
    }
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserve {
        map.insert("additionalProperties".into(), json!(false));
    }
    for (_, child) in map.iter_mut() {
        match child {
            Value::Array(items) => items.iter_mut().for_each(strict),
            // A schema, or a `properties` map whose values are schemas: either way the
            // schemas inside are reached.
            Value::Object(_) => strict(child),
            _ => {}
        }
    }
}

struct Schemas(BTreeMap<(String, String), jsonschema::Validator>);

fn schemas() -> &'static Schemas {
    static ONCE: OnceLock<Schemas> = OnceLock::new();
    ONCE.get_or_init(|| {
        let mut out = BTreeMap::new();
        let read = |path: String| -> Value {
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
        };
        for (api, kind, file) in [
            ("v1", "ConfigMap", "configmap-v1"),
            ("apps/v1", "Deployment", "deployment-apps-v1"),
            (
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscaler-autoscaling-v2",
            ),
            ("v1", "PersistentVolumeClaim", "persistentvolumeclaim-v1"),
            (
                "policy/v1",
                "PodDisruptionBudget",
                "poddisruptionbudget-policy-v1",
            ),
            ("v1", "Service", "service-v1"),
            ("v1", "ServiceAccount", "serviceaccount-v1"),
        ] {
            let schema = read(format!("{SCHEMAS}/{K8S}/{file}.json"));
            out.insert(
                (api.to_string(), kind.to_string()),
                jsonschema::validator_for(&schema).unwrap(),
            );
        }
        for (api, kind, file) in [
            (
                "keda.sh/v1alpha1",
                "ScaledObject",
                "scaledobject-keda.sh-v1alpha1",
            ),
            (
                "keda.sh/v1alpha1",
                "TriggerAuthentication",
                "triggerauthentication-keda.sh-v1alpha1",
            ),
            (
                "http.keda.sh/v1beta1",
                "InterceptorRoute",
                "interceptorroute-http.keda.sh-v1beta1",
            ),
            (
                "gateway.networking.k8s.io/v1",
                "HTTPRoute",
                "httproute-gateway.networking.k8s.io-v1",
            ),
        ] {
            let mut schema = read(format!("{SCHEMAS}/crd/{file}.json"));
            strict(&mut schema);
            // The CRD schema leaves these to the API server; pin them as it would.
            schema["properties"]["apiVersion"] = json!({"const": api});
            schema["properties"]["kind"] = json!({"const": kind});
            schema["required"] = json!(["apiVersion", "kind", "metadata", "spec"]);
            out.insert(
                (api.to_string(), kind.to_string()),
                jsonschema::validator_for(&schema).unwrap(),
            );
        }
        Schemas(out)
    })
}

/// The schema's complaints about `object` (none: valid); an unknown kind is one.
fn problems(object: &Value) -> Vec<String> {
    let key = (
        object["apiVersion"].as_str().unwrap_or("").to_string(),
        object["kind"].as_str().unwrap_or("").to_string(),
    );
    let Some(validator) = schemas().0.get(&key) else {
        return vec![format!("no vendored schema for {key:?}")];
    };
    let mut out: Vec<String> = validator
        .iter_errors(object)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    // ObjectMeta is free in a CRD's schema: hold every object's name to a DNS label.
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    let label = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !label {
        out.push(format!("metadata.name {name:?} is not a DNS-1035 label"));
    }
    out
}

type Key = (String, String);

fn key(object: &Value) -> Key {
    (
        object["kind"].as_str().unwrap().to_string(),
        object["metadata"]["name"].as_str().unwrap().to_string(),
    )
}

/// One JSON patch (RFC 6902) operation, as kustomize applies it: `replace` needs the value to
/// exist, `add` sets a map key, `remove` needs the key.
fn apply(object: &mut Value, op: &Value) {
    let path = op["path"].as_str().unwrap();
    let (parent, last) = path.rsplit_once('/').unwrap();
    let last = last.replace("~1", "/").replace("~0", "~");
    match op["op"].as_str().unwrap() {
        "replace" => {
            let at = object
                .pointer_mut(path)
                .unwrap_or_else(|| panic!("replace: no {path}"));
            *at = op["value"].clone();
        }
        "add" => {
            let map = object
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .unwrap();
            assert!(
                map.insert(last, op["value"].clone()).is_none(),
                "add: {path} exists"
            );
        }
        "remove" => {
            let map = object
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .unwrap();
            map.remove(&last)
                .unwrap_or_else(|| panic!("remove: no {path}"));
        }
        other => panic!("op {other}"),
    }
}

/// The base's objects, and each overlay's objects with its patches applied, as kustomize
/// would build them.
fn rendered(project: &Path) -> BTreeMap<String, BTreeMap<Key, Value>> {
    rendered_from(&kube_dir(project))
}

/// [`rendered`] of the export in `root` (`<out>/kubernetes`).
fn rendered_from(root: &Path) -> BTreeMap<String, BTreeMap<Key, Value>> {
    let load = |dir: &Path, list: &Value| -> Vec<Value> {
        list.as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .filter(|r| !r.starts_with(".."))
            .flat_map(|r| documents(&fs::read_to_string(dir.join(r)).unwrap()))
            .collect()
    };
    let base_dir = root.join("base");
    let kustomization =
        &documents(&fs::read_to_string(base_dir.join("kustomization.yaml")).unwrap())[0];
    let base: BTreeMap<Key, Value> = load(&base_dir, &kustomization["resources"])
        .into_iter()
        .map(|o| (key(&o), o))
        .collect();
    let mut out = BTreeMap::new();
    out.insert("base".to_string(), base.clone());
    for overlay in fs::read_dir(root.join("overlays"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let dir = overlay.path();
        let k = &documents(&fs::read_to_string(dir.join("kustomization.yaml")).unwrap())[0];
        assert_eq!(k["resources"][0], "../../base");
        let mut objects = base.clone();
        for added in load(&dir, &k["resources"]) {
            assert!(
                objects.insert(key(&added), added).is_none(),
                "an added object exists"
            );
        }
        for patch in k["patches"].as_array().into_iter().flatten() {
            let doc =
                &documents(&fs::read_to_string(dir.join(patch["path"].as_str().unwrap())).unwrap())
                    [0];
            if doc["$patch"] == "delete" {
                assert!(
                    objects.remove(&key(doc)).is_some(),
                    "deleting a missing {doc}"
                );
                continue;
            }
            let target = &patch["target"];
            let k = (
                target["kind"].as_str().unwrap().to_string(),
                target["name"].as_str().unwrap().to_string(),
            );
            let object = objects
                .get_mut(&k)
                .expect("the patch's target is in the base");
            let api = object["apiVersion"].as_str().unwrap();
            let group = target["group"]
                .as_str()
                .map_or(String::new(), |g| format!("{g}/"));
            assert_eq!(
                api,
                format!("{group}{}", target["version"].as_str().unwrap())
            );
            for op in doc.as_array().expect("a JSON patch") {
                apply(object, op);
            }
        }
        out.insert(overlay.file_name().to_string_lossy().into_owned(), objects);
    }
    out
}

#[test]
fn every_object_is_valid_against_the_vendored_schemas() {
    let mut failures = Vec::new();
    let mut kinds = BTreeMap::new();
    for (_, project) in exported() {
        for (build, objects) in rendered(project) {
            for (k, object) in &objects {
                *kinds.entry(k.0.clone()).or_insert(0) += 1;
                for p in problems(object) {
                    failures.push(format!("{} {build} {k:?}: {p}", project.display()));
                }
            }
            failures.extend(
                references(&objects)
                    .into_iter()
                    .map(|p| format!("{} {build}: {p}", project.display())),
            );
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Every kind flashc emits was seen (so none goes unvalidated by accident).
    for kind in [
        "ConfigMap",
        "Deployment",
        "HTTPRoute",
        "HorizontalPodAutoscaler",
        "InterceptorRoute",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "TriggerAuthentication",
    ] {
        assert!(kinds.contains_key(kind), "no {kind} exported: {kinds:?}");
    }
}

/// A misspelt field, anywhere in any kind, is a validation error: the schemas are strict.
#[test]
fn a_wrong_field_name_fails() {
    let everything = exported()
        .iter()
        .find(|(_, p)| p.ends_with("case-everything"))
        .map(|(_, p)| rendered(p))
        .unwrap();
    let base = &everything["base"];
    let get = |kind: &str| {
        base.iter()
            .find(|(k, _)| k.0 == kind)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{kind}"))
    };
    let rename = |mut object: Value, pointer: &str, to: &str| {
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let map = object.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        let value = map.remove(field).unwrap_or_else(|| panic!("{pointer}"));
        map.insert(to.into(), value);
        object
    };
    for (kind, pointer, wrong) in [
        (
            "Deployment",
            "/spec/template/spec/containers/0/readinessProbe",
            "readinesProbe",
        ),
        (
            "Deployment",
            "/spec/template/spec/securityContext/seccompProfile",
            "seccompProfil",
        ),
        ("Service", "/spec/ports/0/targetPort", "target_port"),
        (
            "PodDisruptionBudget",
            "/spec/maxUnavailable",
            "maxUnavailble",
        ),
        (
            "HorizontalPodAutoscaler",
            "/spec/minReplicas",
            "minReplicaCount",
        ),
        ("ScaledObject", "/spec/minReplicaCount", "minReplicas"),
        ("ScaledObject", "/spec/triggers/0/type", "triggerType"),
        ("ScaledObject", "/spec/scaleTargetRef", "scaleTarget"),
        (
            "InterceptorRoute",
            "/spec/scalingMetric/concurrency/targetValue",
            "target",
        ),
        ("HTTPRoute", "/spec/rules/0/backendRefs", "backends"),
        (
            "TriggerAuthentication",
            "/spec/secretTargetRef",
            "secretRef",
        ),
        ("PersistentVolumeClaim", "/spec/accessModes", "accessMode"),
    ] {
        let object = get(kind);
        assert!(problems(&object).is_empty(), "{kind} is valid as exported");
        let broken = rename(object, pointer, wrong);
        assert!(
            !problems(&broken).is_empty(),
            "{kind}: `{wrong}` was accepted"
        );
    }
    // A wrong type or value fails too.
    let mut deployment = get("Deployment");
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!("610");
    assert!(!problems(&deployment).is_empty());
}

/// KEDA's scalers read their parameters from a free-form string map: what flashc writes is
/// checked here against the parameters the scalers take (kedacore/keda 8b4f083,
/// pkg/scalers/redis_streams_scaler.go and redis_scaler.go's connection fields; http-add-on
/// 59b2f6a, pkg/k8s/scaledobject.go's `external-push` keys), and against the objects they name.
fn references(objects: &BTreeMap<Key, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let has = |kind: &str, name: &str| objects.contains_key(&(kind.to_string(), name.to_string()));
    let mut check = |ok: bool, what: String| {
        if !ok {
            out.push(what);
        }
    };
    const REDIS_STREAMS: &[&str] = &[
        "stream",
        "consumerGroup",
        "pendingEntriesCount",
        "streamLength",
        "lagCount",
        "activationLagCount",
        "databaseIndex",
        "enableTLS",
        "unsafeSsl",
        "address",
        "addresses",
        "host",
        "hosts",
        "port",
        "ports",
        "username",
        "password",
    ];
    for ((kind, name), object) in objects {
        match kind.as_str() {
            "ScaledObject" => {
                let target = object["spec"]["scaleTargetRef"]["name"]
                    .as_str()
                    .unwrap_or("");
                check(
                    has("Deployment", target),
                    format!("{name}: no Deployment {target}"),
                );
                let env = objects
                    .get(&("Deployment".into(), target.into()))
                    .map(|d| d["spec"]["template"]["spec"]["containers"][0]["env"].clone())
                    .unwrap_or_default();
                for trigger in object["spec"]["triggers"].as_array().into_iter().flatten() {
                    let meta = trigger["metadata"].as_object().cloned().unwrap_or_default();
                    check(
                        meta.values().all(Value::is_string),
                        format!("{name}: metadata values must be strings: {trigger}"),
                    );
                    match trigger["type"].as_str() {
                        Some("redis-streams") => {
                            for k in meta.keys() {
                                check(
                                    REDIS_STREAMS.contains(&k.as_str()),
                                    format!("{name}: redis-streams takes no `{k}`"),
                                );
                            }
                            // With a consumer group, the scaler uses lagCount if set, else
                            // pendingEntriesCount; one of the two, a positive integer.
                            let targets: Vec<&str> = ["lagCount", "pendingEntriesCount"]
                                .into_iter()
                                .filter(|k| meta.contains_key(*k))
                                .collect();
                            check(
                                targets.len() == 1,
                                format!("{name}: one target per trigger: {trigger}"),
                            );
                            for t in targets {
                                let n = meta[t].as_str().and_then(|v| v.parse::<u64>().ok());
                                check(
                                    n.is_some_and(|n| n > 0),
                                    format!("{name}: {t} must be a positive integer"),
                                );
                            }
                            check(
                                !meta.contains_key("streamLength"),
                                format!("{name}: streamLength is ignored with a consumer group"),
                            );
                            // The stream and group the workers use (their FLASH_QUEUE_NAME).
                            let queue = env
                                .as_array()
                                .into_iter()
                                .flatten()
                                .find(|e| e["name"] == QUEUE_NAME_ENV)
                                .and_then(|e| e["value"].as_str())
                                .unwrap_or("");
                            check(
                                meta.get("stream") == Some(&json!(queue_stream(queue))),
                                format!("{name}: stream is not {}", queue_stream(queue)),
                            );
                            check(
                                meta.get("consumerGroup") == Some(&json!(QUEUE_GROUP)),
                                format!("{name}: consumerGroup"),
                            );
                            let auth = trigger["authenticationRef"]["name"].as_str().unwrap_or("");
                            check(
                                has("TriggerAuthentication", auth),
                                format!("{name}: no TriggerAuthentication {auth}"),
                            );
                        }
                        Some("external-push") => {
                            let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
                            check(
                                keys == ["interceptorRoute", "scalerAddress"],
                                format!("{name}: external-push keys {keys:?}"),
                            );
                            let route = meta["interceptorRoute"].as_str().unwrap_or("");
                            check(
                                has("InterceptorRoute", route),
                                format!("{name}: no InterceptorRoute {route}"),
                            );
                            let address = meta["scalerAddress"].as_str().unwrap_or("");
                            check(
                                address.rsplit_once(':').is_some_and(|(h, p)| {
                                    !h.is_empty() && p.parse::<u16>().is_ok()
                                }),
                                format!("{name}: scalerAddress {address}"),
                            );
                        }
                        other => check(false, format!("{name}: trigger type {other:?}")),
                    }
                }
            }
            "TriggerAuthentication" => {
                for p in object["spec"]["secretTargetRef"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let param = p["parameter"].as_str().unwrap_or("");
                    check(
                        ["address", "password", "username", "host", "port"].contains(&param),
                        format!("{name}: redis takes no auth parameter {param}"),
                    );
                }
            }
            "HorizontalPodAutoscaler" => {
                let t = &object["spec"]["scaleTargetRef"];
                check(
                    t["kind"] == "Deployment"
                        && has("Deployment", t["name"].as_str().unwrap_or("")),
                    format!("{name}: HPA target"),
                );
                check(
                    !objects.contains_key(&("ScaledObject".into(), name.clone())),
                    format!("{name}: both an HPA and a ScaledObject"),
                );
            }
            "InterceptorRoute" => {
                let service = object["spec"]["target"]["service"].as_str().unwrap_or("");
                check(
                    has("Service", service),
                    format!("{name}: no Service {service}"),
                );
            }
            "HTTPRoute" => {
                // To the endpoint's Service, or to the interceptor, which then has a route for
                // the same prefix to that Service.
                let backend = &object["spec"]["rules"][0]["backendRefs"][0];
                let prefix = &object["spec"]["rules"][0]["matches"][0]["path"]["value"];
                let ok = match backend["namespace"].as_str() {
                    None => has("Service", backend["name"].as_str().unwrap_or("")),
                    Some(_) => objects
                        .get(&("InterceptorRoute".into(), name.clone()))
                        .is_some_and(|r| &r["spec"]["rules"][0]["paths"][0]["value"] == prefix),
                };
                check(ok, format!("{name}: the route's backend {backend}"));
            }
            "Service" => {
                let selector = &object["spec"]["selector"];
                let matched = objects.iter().any(|((k, _), d)| {
                    k == "Deployment"
                        && selector
                            .as_object()
                            .unwrap()
                            .iter()
                            .all(|(l, v)| &d["spec"]["template"]["metadata"]["labels"][l] == v)
                });
                check(matched, format!("{name}: selects no Deployment"));
            }
            "Deployment" => {
                let pod = &object["spec"]["template"]["spec"];
                let sa = pod["serviceAccountName"].as_str().unwrap_or("");
                check(
                    has("ServiceAccount", sa),
                    format!("{name}: no ServiceAccount {sa}"),
                );
                let container = &pod["containers"][0];
                let ports: Vec<&str> = container["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    let port = container[probe]["httpGet"]["port"].as_str().unwrap_or("");
                    check(
                        ports.contains(&port),
                        format!("{name}: {probe} port {port}"),
                    );
                }
                for from in container["envFrom"].as_array().into_iter().flatten() {
                    let cm = from["configMapRef"]["name"].as_str().unwrap_or("");
                    check(has("ConfigMap", cm), format!("{name}: no ConfigMap {cm}"));
                }
                for v in pod["volumes"].as_array().into_iter().flatten() {
                    if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                        check(
                            has("PersistentVolumeClaim", claim),
                            format!("{name}: no PVC {claim}"),
                        );
                    }
                }
                let secrets: Vec<&str> = container["env"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str())
                    .collect();
                check(
                    secrets.windows(2).all(|w| w[0] == w[1]),
                    format!("{name}: one Secret per project"),
                );
                check(
                    container["securityContext"]["readOnlyRootFilesystem"] == true
                        && container["securityContext"]["capabilities"]["drop"] == json!(["ALL"])
                        && pod["securityContext"]["runAsNonRoot"] == true
                        && pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault",
                    format!("{name}: pod security"),
                );
            }
            _ => {}
        }
    }
    out
}

/// `kubectl kustomize` (kustomize v5 in kubectl, reading with Go's YAML 1.1 rules) builds the
/// base and every overlay into exactly the objects `rendered` expects. Skipped, saying so,
/// where kubectl is not installed.
#[test]
fn kustomize_builds_what_the_test_expects() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("kubectl not found: kustomize builds not checked");
        return;
    }
    for (_, project) in exported() {
        let root = kube_dir(project);
        for (build, expected) in rendered(project) {
            let dir = if build == "base" {
                root.join("base")
            } else {
                root.join("overlays").join(&build)
            };
            let run = Command::new("kubectl")
                .arg("kustomize")
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                run.status.success(),
                "{}: {}",
                dir.display(),
                String::from_utf8_lossy(&run.stderr)
            );
            let built: BTreeMap<Key, Value> = documents(&String::from_utf8(run.stdout).unwrap())
                .into_iter()
                .map(|o| (key(&o), o))
                .collect();
            assert_eq!(
                built.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{}",
                dir.display()
            );
            for (k, object) in &expected {
                assert_eq!(&built[k], object, "{} {k:?}", dir.display());
            }
        }
    }
}

/// A second export writes nothing; `--check` agrees; a stale marked file is removed and a file
/// of the user's is kept; the Runpod target leaves the Kubernetes directory alone.
#[test]
fn idempotent_check_and_stale_files() {
    let project = work_root().join("kubernetes-stale/hello");
    let _ = fs::remove_dir_all(&project);
    support::project::copy_dir(Path::new("examples/hello"), &project);
    let run = |args: &[&str]| {
        let out = flashc()
            .arg("generate")
            .args(args)
            .arg(project.join("flash.yaml"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(run(&["--target", "kubernetes"]).0, Some(0));
    let (code, out) = run(&["--target", "kubernetes"]);
    assert!(
        code == Some(0) && out.contains(": 0 files written, 0 removed"),
        "{out}"
    );
    assert_eq!(run(&["--target", "kubernetes", "--check"]).0, Some(0));
    let root = kube_dir(&project);
    fs::write(root.join("base/old.yaml"), "# generated by flashc 0.0.1\n").unwrap();
    fs::write(root.join("base/mine.yaml"), "kind: Mine\n").unwrap();
    let (code, out) = run(&["--target", "kubernetes", "--check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("stale (would be removed): .flash/kubernetes/base/old.yaml")
            || out.contains("old.yaml"),
        "{out}"
    );
    assert_eq!(run(&["--target", "kubernetes"]).0, Some(0));
    assert!(!root.join("base/old.yaml").exists());
    assert!(root.join("base/mine.yaml").exists());
    // The Runpod target, then the Kubernetes one with `--env`: each keeps the other's files.
    assert_eq!(run(&[]).0, Some(0));
    assert!(root.join("base/kustomization.yaml").exists());
    assert!(root.join("overlays/production/kustomization.yaml").exists());
    assert_eq!(
        run(&["--target", "kubernetes", "--env", "production"]).0,
        Some(0)
    );
    assert!(project.join(".flash/Cargo.toml").exists());
    let (code, _) = run(&["--target", "kubernetes", "--env", "nope"]);
    assert_eq!(code, Some(2));
}

/// Images pinned by digest in the deploy record (`flash-deploy.json`, per environment, its last
/// deployment) replace the image names; a recorded tag does not (it can move).
#[test]
fn images_by_digest_come_from_the_deploy_record() {
    let project = work_root().join("kubernetes-digest/hello");
    let _ = fs::remove_dir_all(&project);
    support::project::copy_dir(Path::new("examples/hello"), &project);
    let a = format!("registry.example/hello-embed@sha256:{}", "a".repeat(64));
    let b = format!("registry.example/hello-embed@sha256:{}", "b".repeat(64));
    // The record's shape as `flashc deploy` writes it (src/cli/deploy/record.rs).
    let applied = |image: &str| {
        json!({"id": "ep1", "name": "hello-embed", "endpointVersion": 1, "image": image,
               "request": {"name": "hello-embed"}})
    };
    let deployment = |number: u32, endpoints: Value| {
        json!({"number": number, "appliedAt": "2026-12-07T00:00:00Z", "flashc": "0.1.0",
               "source": "deploy", "endpoints": endpoints})
    };
    let record = json!({"version": 1, "environments": {
        "hello": {"deployments": [
            deployment(1, json!({"embed": applied("registry.example/hello-embed:old")})),
            deployment(2, json!({
                "embed": applied(&a),
                "api": applied("registry.example/hello-api:flashc-1234"),
            })),
        ]},
        "hello.production": {"deployments": [deployment(1, json!({"embed": applied(&b)}))]},
    }});
    fs::write(project.join("flash-deploy.json"), record.to_string()).unwrap();
    let out = flashc()
        .args(["generate", "--target", "kubernetes"])
        .arg(project.join("flash.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let builds = rendered(&project);
    let image = |build: &str, name: &str| {
        builds[build][&("Deployment".to_string(), name.to_string())]["spec"]["template"]["spec"]
            ["containers"][0]["image"]
            .clone()
    };
    assert_eq!(image("base", "hello-embed"), json!(a));
    assert_eq!(image("base", "hello-api"), json!("hello-api"));
    assert_eq!(image("production", "hello-embed"), json!(b));
    for objects in builds.values() {
        for object in objects.values() {
            assert!(problems(object).is_empty(), "{object}");
        }
    }
}

/// What `flashc build --push` pushed (`flash-images.json`) pins the export's images by digest
/// for exactly the content exported, ahead of the deploy record, per environment; after a
/// handler edit the pushed image is another content and is not used.
#[test]
fn images_pushed_by_flashc_build_are_pinned_for_their_content() {
    let project = work_root().join("kubernetes-pushed/hello");
    let _ = fs::remove_dir_all(&project);
    support::project::copy_dir(Path::new("examples/hello"), &project);
    let tools = project.join("tools");
    fs::create_dir_all(&tools).unwrap();
    let docker = support::docker::fake_docker(&tools);
    let flashc_in = |args: &[&str], env: Option<&str>| {
        let mut cmd = flashc();
        cmd.args(args).current_dir(&project).env("DOCKER", &docker);
        if let Some(env) = env {
            cmd.args(["--env", env]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A stale deploy record: the pushed image of the current content wins over it.
    let old = format!("registry.example/hello-embed@sha256:{}", "0".repeat(64));
    let record = json!({"version": 1, "environments": {"hello": {"deployments": [
        {"number": 1, "appliedAt": "2026-12-07T00:00:00Z", "flashc": "0.1.0", "source": "deploy",
         "endpoints": {"embed": {"id": "ep1", "name": "hello-embed", "endpointVersion": 1,
                                 "image": old, "request": {"name": "hello-embed"}}}}]}}});
    fs::write(project.join("flash-deploy.json"), record.to_string()).unwrap();
    flashc_in(&["build", "--push", "registry.example:5000"], None);
    // Production's images go to a registry of their own: the overlay must name those.
    flashc_in(
        &["build", "--push", "other.example:5000"],
        Some("production"),
    );
    let pushed: Value =
        serde_json::from_str(&fs::read_to_string(project.join("flash-images.json")).unwrap())
            .unwrap();
    let digest =
        |owner: &str, endpoint: &str| pushed["environments"][owner][endpoint]["digest"].clone();
    assert!(
        digest("hello", "embed")
            .as_str()
            .unwrap()
            .contains("@sha256:"),
        "{pushed:#}"
    );

    // Exported into another directory than the one images are built from: tags still match.
    flashc_in(
        &["generate", "--target", "kubernetes", "--out", "deploy"],
        None,
    );
    let builds = rendered_from(&project.join("deploy/kubernetes"));
    let image = |builds: &BTreeMap<String, BTreeMap<Key, Value>>, build: &str, name: &str| {
        builds[build][&("Deployment".to_string(), name.to_string())]["spec"]["template"]["spec"]
            ["containers"][0]["image"]
            .clone()
    };
    for endpoint in ["api", "embed"] {
        let name = format!("hello-{endpoint}");
        assert_eq!(image(&builds, "base", &name), digest("hello", endpoint));
        assert_eq!(
            image(&builds, "production", &name),
            digest("hello.production", endpoint)
        );
    }
    assert!(digest("hello.production", "embed")
        .as_str()
        .unwrap()
        .starts_with("other.example:5000/"));

    // Into `.flash`, the tree the images were built from, the round's own files name them.
    flashc_in(&["generate", "--target", "kubernetes"], None);
    let builds = rendered(&project);
    assert_eq!(image(&builds, "base", "hello-api"), digest("hello", "api"));

    // A handler edit is new content: its pushed image is not what the export runs, and the
    // deploy record's (older still) is what is left.
    let lib = project.join("src/lib.rs");
    let text = fs::read_to_string(&lib).unwrap();
    fs::write(&lib, text + "\n// edited\n").unwrap();
    flashc_in(
        &["generate", "--target", "kubernetes", "--out", "deploy"],
        None,
    );
    let builds = rendered_from(&project.join("deploy/kubernetes"));
    assert_eq!(image(&builds, "base", "hello-embed"), json!(old));
    assert_eq!(image(&builds, "base", "hello-api"), json!("hello-api"));
}

/// A deploy record flashc cannot read pins nothing, and the export says so rather than pinning by
/// guesswork.
#[test]
fn an_unreadable_deploy_record_is_a_warning_and_pins_nothing() {
    let project = work_root().join("kubernetes-bad-record/hello");
    let _ = fs::remove_dir_all(&project);
    support::project::copy_dir(Path::new("examples/hello"), &project);
    fs::write(
        project.join("flash-deploy.json"),
        r#"{"version": 1, "environments": 3}"#,
    )
    .unwrap();
    let out = flashc()
        .args(["generate", "--target", "kubernetes"])
        .arg(project.join("flash.yaml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("flash-deploy.json is not a flashc deploy record")
            && stderr.contains("images are not pinned by digest"),
        "{stderr}"
    );
    let builds = rendered(&project);
    let image = &builds["base"][&("Deployment".to_string(), "hello-embed".to_string())]["spec"]
        ["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, &json!("hello-embed"));
}

/// The runtime's example workers (`runtime/examples/`, written as generate writes workers), built
/// once: example name → executable.
fn example_workers() -> &'static BTreeMap<String, PathBuf> {
    static ONCE: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    ONCE.get_or_init(|| {
        let out = Command::new(env!("CARGO"))
            .args(["build", "-p", "flash-runtime", "--example", "lb_worker"])
            .args(["--example", "queue_worker", "--message-format=json"])
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "building the runtime's examples failed"
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|m| {
                let exe = m["executable"].as_str()?;
                Some((
                    m["target"]["name"].as_str()?.to_string(),
                    PathBuf::from(exe),
                ))
            })
            .collect()
    })
}

/// The status code of `GET path` on 127.0.0.1:`port` (None: no answer).
fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An exported Deployment's container, run as a process with the container's own environment
/// (values as written; the two ports moved to free ones, loopback only; Secret-backed variables
/// left out, they come from a Secret the user creates): its startup, readiness and liveness
/// probes, read from the manifest, answer as the manifest expects — readiness 503 while `init`
/// runs and liveness 200, then both 200 — on the port the probe names; a load-balanced worker
/// answers under the HTTPRoute's prefix; SIGTERM ends it within the grace period. The processes
/// are the runtime's example workers, not the project's handlers: what is tested is the
/// manifest against the runtime's serving, not the handlers. (No Docker here: the container's
/// image is tested by tests/docker/e2e.sh.)
#[test]
fn exported_probes_answer_as_the_manifests_expect() {
    if !support::run_slow_tests("exported_probes_answer_as_the_manifests_expect") {
        return;
    }
    let (_, hello) = exported()
        .iter()
        .find(|(_, p)| p.ends_with("hello"))
        .unwrap();
    let base = &rendered(hello)["base"];
    for (deployment, example) in [("hello-api", "lb_worker"), ("hello-embed", "queue_worker")] {
        let d = &base[&("Deployment".to_string(), deployment.to_string())];
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        let mut env: BTreeMap<String, String> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| {
                Some((
                    e["name"].as_str()?.to_string(),
                    e["value"].as_str()?.to_string(),
                ))
            })
            .collect();
        // The named ports are the variables' ports.
        let port_of = |name: &str| {
            container["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["containerPort"]
                .as_u64()
                .unwrap()
                .to_string()
        };
        assert_eq!(env["PORT"], port_of("http"), "{deployment}");
        assert_eq!(env["PORT_HEALTH"], port_of("health"), "{deployment}");
        let (http, health) = (free_port(), free_port());
        let ports: BTreeMap<&str, u16> = [("http", http), ("health", health)].into();
        env.insert("PORT".into(), http.to_string());
        env.insert("PORT_HEALTH".into(), health.to_string());
        env.insert("FLASH_HOST".into(), "127.0.0.1".into());
        env.insert("EXAMPLE_INIT_MS".into(), "1500".into());
        let mut child = Child(
            Command::new(&example_workers()[example])
                .env_clear()
                .envs(&env)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let probe = |name: &str| {
            let get = &container[name]["httpGet"];
            let port = ports[get["port"].as_str().unwrap()];
            http_status(port, get["path"].as_str().unwrap())
        };
        // While init runs (lb_worker's EXAMPLE_INIT_MS; the queue example loads at once).
        let start = std::time::Instant::now();
        while probe("livenessProbe") != Some(200) {
            assert!(
                start.elapsed().as_secs() < 10,
                "{deployment}: liveness never 200"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if example == "lb_worker" {
            assert_eq!(
                probe("readinessProbe"),
                Some(503),
                "{deployment}: ready during init"
            );
        }
        let budget = container["startupProbe"]["periodSeconds"].as_u64().unwrap()
            * container["startupProbe"]["failureThreshold"]
                .as_u64()
                .unwrap();
        while probe("startupProbe") != Some(200) {
            assert!(
                start.elapsed().as_secs() < budget,
                "{deployment}: startup probe never 200"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(probe("readinessProbe"), Some(200), "{deployment}");
        assert_eq!(probe("livenessProbe"), Some(200), "{deployment}");
        if let Some(prefix) = env.get("SCRIPT_NAME") {
            let route = &base[&("HTTPRoute".to_string(), deployment.to_string())];
            assert_eq!(
                &route["spec"]["rules"][0]["matches"][0]["path"]["value"],
                prefix
            );
            assert_eq!(
                http_status(http, &format!("{prefix}/ping")),
                Some(200),
                "{deployment}"
            );
        } else {
            // The queue API on the Service's target port.
            assert_eq!(http_status(http, "/health"), Some(200), "{deployment}");
        }
        let pid = child.0.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap();
        let stop = std::time::Instant::now();
        loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                assert!(status.success(), "{deployment}: {status}");
                break;
            }
            assert!(
                stop.elapsed().as_secs() < grace,
                "{deployment}: still running after SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Kubernetes reads manifests with YAML 1.1 rules, under which `on`, `0012` or `2001-12-14` are
/// not strings. PyYAML resolves scalars by YAML 1.1 too: every exported file must load in it to
/// exactly what it is (as saphyr, a YAML 1.2 reader, loads it). Skipped, saying so, without
/// python3's `yaml` module (`.ci/run` installs Debian's python3-yaml).
#[test]
fn a_yaml_1_1_reader_reads_the_same_values() {
    const SCRIPT: &str = r#"
import datetime, json, sys, yaml
def tag(o):
    raise TypeError("not a JSON value under YAML 1.1: %r" % (o,))
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
print(json.dumps(docs, default=tag))
"#;
    let probe = Command::new("python3").args(["-c", "import yaml"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("python3 with PyYAML not found: the YAML 1.1 reading is not checked");
        return;
    }
    let mut checked = 0;
    for (_, project) in exported() {
        for file in files(&kube_dir(project)) {
            let out = Command::new("python3")
                .args(["-c", SCRIPT])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
            let ours = Value::Array(documents(&fs::read_to_string(&file).unwrap()));
            assert_eq!(theirs, ours, "{}", file.display());
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} files");
}
