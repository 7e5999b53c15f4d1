//! `flashc generate --target kubernetes`: the project as plain Kubernetes manifests, a kustomize
//! `base/` (the file without an environment) and `overlays/<env>/` per flash.yaml environment
//! (what the environment changes, as patches over the base). Pure, as the rest of emit: plans in,
//! files out. What each flash.yaml setting becomes is in `objects.rs` and docs/kubernetes.md.

mod objects;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

pub use objects::{
    object_name, queue_stream, route_prefix, secret_name, Object, API_KEY_ENV, GATEWAY,
    HEALTH_PORT, LIVENESS_PATH, QUEUE_GROUP, QUEUE_NAME_ENV, QUEUE_URL_ENV, READINESS_PATH,
    VOLUME_MOUNT,
};

use super::{EmitError, OutputFile, Owner, GENERATED_MARK};
use crate::lower::Plan;

/// The directory, inside the output, of the manifests.
pub const KUBERNETES_DIR: &str = "kubernetes";
/// A project's replacement for entries of the GPU product table, in `flash-templates/`.
pub const GPU_PRODUCTS_OVERRIDE: &str = "kubernetes-gpu-products.json";
const GPU_PRODUCTS: &str = include_str!("../../model/gpu_products.json");

/// Runpod GPU model id (or a pool's unnamed card) → the node label values of its card.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuProducts {
    /// The node label: GPU Feature Discovery's `nvidia.com/gpu.product` unless overridden (GKE:
    /// `cloud.google.com/gke-accelerator`).
    pub label: String,
    pub products: BTreeMap<String, Vec<String>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GpuProductsFile {
    #[serde(rename = "_comment", default)]
    _comment: Option<String>,
    label: Option<String>,
    #[serde(default)]
    products: BTreeMap<String, Vec<String>>,
}

impl GpuProducts {
    /// The table kept beside the vocabulary (`src/model/gpu_products.json`).
    pub fn builtin() -> GpuProducts {
        let file: GpuProductsFile = match serde_json::from_str(GPU_PRODUCTS) {
            Ok(file) => file,
            Err(e) => unreachable!("src/model/gpu_products.json is checked by its test: {e}"),
        };
        GpuProducts {
            label: file
                .label
                .unwrap_or_else(|| "nvidia.com/gpu.product".into()),
            products: file.products,
        }
    }

    /// This table with a project's override applied: its `label` and each of its entries
    /// replace the built-in ones.
    pub fn with_override(mut self, text: &str) -> Result<GpuProducts, String> {
        let file: GpuProductsFile =
            serde_json::from_str(text).map_err(|e| format!("{GPU_PRODUCTS_OVERRIDE}: {e}"))?;
        if let Some(label) = file.label {
            self.label = label;
        }
        self.products.extend(file.products);
        Ok(self)
    }
}

/// Recorded image references: environment (`None` for the file without one) → endpoint → reference.
pub type Images = BTreeMap<Option<String>, BTreeMap<String, String>>;

/// What the export needs besides the plans.
pub struct Settings<'a> {
    pub flashc_version: &'a str,
    /// Per environment (`None`: the base), endpoint name → image reference pinned by digest,
    /// where a build recorded one; other endpoints get the image name `flashc generate` gives them.
    pub images: &'a Images,
    pub gpu_products: &'a GpuProducts,
}

/// The manifests: `<out_dir>/kubernetes/base/` from `base` (the plan without an environment)
/// and `<out_dir>/kubernetes/overlays/<env>/` for each plan of `overlays`.
pub fn emit(
    out_dir: &str,
    base: &Plan,
    overlays: &[Plan],
    settings: &Settings,
) -> Result<Vec<OutputFile>, EmitError> {
    let root = format!("{out_dir}/{KUBERNETES_DIR}");
    let header = |what: &str| {
        format!(
            "# {GENERATED_MARK} {} — do not edit; run `flashc generate --target kubernetes` instead.\n# {what}\n",
            settings.flashc_version
        )
    };
    let base_objects = objects::objects(base, settings).map_err(EmitError)?;
    let mut files = Vec::new();
    let mut by_file: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for object in &base_objects {
        by_file.entry(&object.file).or_default().push(&object.value);
    }
    for (file, values) in &by_file {
        files.push(file_of(
            format!("{root}/base/{file}"),
            header(&format!(
                "Project {:?}, without an environment overlay.",
                base.project
            )),
            values,
        )?);
    }
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": by_file.keys().collect::<Vec<_>>(),
    });
    files.push(file_of(
        format!("{root}/base/kustomization.yaml"),
        header("The base: `kubectl apply -k` this directory, or an overlay."),
        &[&kustomization],
    )?);
    for plan in overlays {
        let Some(env) = plan.environment.as_deref() else {
            continue;
        };
        let env_objects = objects::objects(plan, settings).map_err(EmitError)?;
        files.extend(overlay(&root, env, &base_objects, &env_objects, &header)?);
    }
    Ok(files)
}

fn file_of(path: String, header: String, values: &[&Value]) -> Result<OutputFile, EmitError> {
    let mut contents = header;
    for value in values {
        contents.push_str(&yaml::document(value).map_err(|e| EmitError(format!("{path}: {e}")))?);
    }
    Ok(OutputFile {
        path,
        contents,
        owner: Owner::Generated,
        rust: false,
    })
}

type Key = (String, String);

fn key(object: &Object) -> Key {
    (object.kind().to_string(), object.name().to_string())
}

/// An environment's overlay: objects only it has as resources, objects it changes as JSON
/// patches of what differs, objects it drops as delete patches.
fn overlay(
    root: &str,
    env: &str,
    base: &[Object],
    objects: &[Object],
    header: &dyn Fn(&str) -> String,
) -> Result<Vec<OutputFile>, EmitError> {
    let dir = format!("{root}/overlays/{env}");
    let in_base: BTreeMap<Key, &Object> = base.iter().map(|o| (key(o), o)).collect();
    let in_env: BTreeSet<Key> = objects.iter().map(key).collect();
    let mut files = Vec::new();
    let mut added: Vec<&Value> = Vec::new();
    let mut patches = Vec::new();
    let header = header(&format!(
        "Environment {env:?}: what it changes in the base."
    ));
    for object in objects {
        let Some(old) = in_base.get(&key(object)) else {
            added.push(&object.value);
            continue;
        };
        let ops = field_ops(&old.value, &object.value);
        if ops.is_empty() {
            continue;
        }
        let path = format!(
            "patches/{}-{}.yaml",
            object.kind().to_lowercase(),
            object.name()
        );
        files.push(file_of(
            format!("{dir}/{path}"),
            header.clone(),
            &[&Value::Array(ops)],
        )?);
        patches.push(json!({"path": path, "target": target(object)}));
    }
    for (k, old) in &in_base {
        if in_env.contains(k) {
            continue;
        }
        let path = format!(
            "patches/delete-{}-{}.yaml",
            old.kind().to_lowercase(),
            old.name()
        );
        let delete = json!({
            "apiVersion": old.api_version(),
            "kind": old.kind(),
            "metadata": {"name": old.name()},
            "$patch": "delete",
        });
        files.push(file_of(
            format!("{dir}/{path}"),
            header.clone(),
            &[&delete],
        )?);
        patches.push(json!({"path": path}));
    }
    let mut resources = vec![json!("../../base")];
    if !added.is_empty() {
        files.push(file_of(
            format!("{dir}/resources.yaml"),
            header.clone(),
            &added,
        )?);
        resources.push(json!("resources.yaml"));
    }
    let mut kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    if !patches.is_empty() {
        kustomization["patches"] = Value::Array(patches);
    }
    files.push(file_of(
        format!("{dir}/kustomization.yaml"),
        header,
        &[&kustomization],
    )?);
    Ok(files)
}

/// JSON patch operations turning `old` into `new`: maps are compared key by key and lists of
/// the same length item by item, down to the values that differ; a value of another type, or a
/// list of another length, is replaced whole. The base is flashc's own output, so the paths
/// (list indices included) are exact.
fn field_ops(old: &Value, new: &Value) -> Vec<Value> {
    let mut ops = Vec::new();
    diff(old, new, &mut String::new(), &mut ops);
    ops
}

fn diff(old: &Value, new: &Value, path: &mut String, ops: &mut Vec<Value>) {
    if old == new {
        return;
    }
    let len = path.len();
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            for (k, value) in new {
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                match old.get(k) {
                    Some(was) => diff(was, value, path, ops),
                    None => ops.push(json!({"op": "add", "path": path, "value": value})),
                }
                path.truncate(len);
            }
            for k in old.keys().filter(|k| !new.contains_key(*k)) {
                let at = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                ops.push(json!({"op": "remove", "path": at}));
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() && !path.is_empty() => {
            for (i, (was, value)) in old.iter().zip(new).enumerate() {
                path.push_str(&format!("/{i}"));
                diff(was, value, path, ops);
                path.truncate(len);
            }
        }
        _ => ops.push(json!({"op": "replace", "path": path, "value": new})),
    }
}

fn target(object: &Object) -> Value {
    let mut target = json!({"kind": object.kind(), "name": object.name()});
    match object.api_version().split_once('/') {
        Some((group, version)) => {
            target["group"] = json!(group);
            target["version"] = json!(version);
        }
        None => target["version"] = json!(object.api_version()),
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::vocab;

    #[test]
    fn every_gpu_model_and_unnamed_card_has_a_product_label() {
        let products = GpuProducts::builtin();
        let unnamed = vocab::gpu_pools()
            .iter()
            .flat_map(|p| p.unnamed_cards.iter());
        for id in vocab::gpu_models().map(|m| &m.id).chain(unnamed) {
            let labels = products.products.get(*id).unwrap_or_else(|| panic!("{id}"));
            for label in labels {
                // A label value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends.
                assert!(label.len() <= 63, "{label}");
                assert!(label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
            }
        }
    }

    #[test]
    fn an_override_replaces_the_label_and_entries() {
        let products = GpuProducts::builtin()
            .with_override(r#"{"label": "cloud.google.com/gke-accelerator", "products": {"NVIDIA_L4": ["nvidia-l4"]}}"#)
            .unwrap();
        assert_eq!(products.label, "cloud.google.com/gke-accelerator");
        assert_eq!(products.products["NVIDIA_L4"], ["nvidia-l4"]);
        assert!(products.products.contains_key("NVIDIA_B200"));
        let e = GpuProducts::builtin()
            .with_override(r#"{"lable": "x"}"#)
            .unwrap_err();
        assert!(e.contains("lable"), "{e}");
    }

    #[test]
    fn field_ops_reach_down_to_what_differs() {
        let ops = field_ops(
            &json!({"kind": "K", "spec": {"a": 1, "b": [{"x": 1}, {"y": 2}], "c": [1]}, "data": {"x": "1"}}),
            &json!({"kind": "K", "spec": {"a": 2, "b": [{"x": 1}, {"y": 3}], "c": [1, 2]}, "metadata": {"labels": {"a/b": "n"}}}),
        );
        assert_eq!(
            ops,
            vec![
                json!({"op": "add", "path": "/metadata", "value": {"labels": {"a/b": "n"}}}),
                json!({"op": "replace", "path": "/spec/a", "value": 2}),
                json!({"op": "replace", "path": "/spec/b/1/y", "value": 3}),
                json!({"op": "replace", "path": "/spec/c", "value": [1, 2]}),
                json!({"op": "remove", "path": "/data"}),
            ]
        );
        let ops = field_ops(&json!({"m": {"a/b": 1}}), &json!({"m": {"a/b": 2}}));
        assert_eq!(
            ops,
            vec![json!({"op": "replace", "path": "/m/a~1b", "value": 2})]
        );
    }
}
