//! Schema validation, translated into flashc diagnostics: one per real mistake, located at
//! the offending key or value, in words rather than validator output.
//!
//! Alternatives (`oneOf`/`anyOf`, from untagged enums such as `workers`) are pruned the way a
//! person reads them: branches whose type does not match the value are dropped, and the
//! errors of the closest remaining branch are reported; if no branch has the right type, one
//! "expected X or Y" diagnostic is reported.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value as Json;

use super::schema_json::Tree;
use super::schema_nav::SchemaNav;
use crate::diagnostic::Diagnostic;
use crate::load::{Node, Span, Step, Value};
use crate::rules::{INVALID_VALUE, MISSING_KEY, OUT_OF_RANGE, UNKNOWN_KEY, WRONG_TYPE};
use crate::suggest::closest;

struct Compiled {
    schema: Json,
    validator: Validator<Tree>,
}

fn compiled() -> Option<&'static Compiled> {
    static COMPILED: OnceLock<Option<Compiled>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            let schema = crate::schema::generate();
            let validator = jsonschema::options_for::<Tree>().build(&schema).ok()?;
            Some(Compiled { schema, validator })
        })
        .as_ref()
}

/// What the schema check found: diagnostics, and the paths of the values they condemn, which
/// are pruned before the rules run so that no rule reports on a value already reported.
#[derive(Default)]
pub struct Found {
    pub diagnostics: Vec<Diagnostic>,
    pub invalid: Vec<Vec<Step>>,
}

pub fn check(root: &Node) -> Found {
    let Some(compiled) = compiled() else {
        return Found::default();
    };
    let reporter = Reporter {
        root,
        nav: SchemaNav::new(&compiled.schema),
    };
    let mut out = Found::default();
    for error in compiled.validator.iter_errors(root) {
        reporter.report(&error, &mut out);
    }
    out
}

fn steps(error: &ValidationError) -> Vec<Step> {
    error
        .instance_path()
        .segments()
        .map(|s| match s {
            LocationSegment::Property(p) => Step::Key(p.into_owned()),
            LocationSegment::Index(i) => Step::Index(i),
        })
        .collect()
}

struct Reporter<'a> {
    root: &'a Node,
    nav: SchemaNav<'a>,
}

impl Reporter<'_> {
    fn report(&self, error: &ValidationError, out: &mut Found) {
        let path = steps(error);
        let diagnostic = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    out.diagnostics.push(self.unknown_key(&path, key));
                    let mut child = path.clone();
                    child.push(Step::Key(key.clone()));
                    out.invalid.push(child);
                }
                return;
            }
            ValidationErrorKind::OneOfNotValid { context }
            | ValidationErrorKind::AnyOf { context } => {
                return self.alternatives(&path, context, out);
            }
            ValidationErrorKind::Type { kind } => self.wrong_type(&path, &type_names(kind)),
            ValidationErrorKind::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                if self.misspelt_in(&path, property) {
                    // The unknown-key diagnostic already says "did you mean `{property}`?".
                    return;
                }
                self.missing(&path, property)
            }
            ValidationErrorKind::Enum { options } => self.invalid_value(&path, options),
            ValidationErrorKind::Constant { expected_value } => {
                self.invalid_value(&path, &Json::Array(vec![(**expected_value).clone()]))
            }
            ValidationErrorKind::Minimum { .. }
            | ValidationErrorKind::Maximum { .. }
            | ValidationErrorKind::ExclusiveMinimum { .. }
            | ValidationErrorKind::ExclusiveMaximum { .. } => self.out_of_range(&path),
            ValidationErrorKind::MinItems { limit }
            | ValidationErrorKind::MinProperties { limit } => self.too_few(&path, *limit),
            ValidationErrorKind::MaxItems { limit } => self.too_many(&path, *limit),
            _ => self.generic(&path),
        };
        out.diagnostics.push(diagnostic);
        // A missing key condemns the mapping that lacks it (except the file itself).
        if !path.is_empty() {
            out.invalid.push(path);
        }
    }

    fn alternatives(
        &self,
        path: &[Step],
        context: &[Vec<ValidationError<'static>>],
        out: &mut Found,
    ) {
        let type_mismatch = |branch: &Vec<ValidationError<'static>>| {
            branch
                .iter()
                .any(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }) && steps(e) == path)
        };
        let best = context
            .iter()
            .filter(|b| !type_mismatch(b))
            .min_by_key(|b| b.len());
        match best {
            Some(branch) => branch.iter().for_each(|e| self.report(e, out)),
            None => {
                let mut expected: Vec<&'static str> = Vec::new();
                for error in context.iter().flatten() {
                    if let ValidationErrorKind::Type { kind } = error.kind() {
                        for name in type_names(kind) {
                            if !expected.contains(&name) {
                                expected.push(name);
                            }
                        }
                    }
                }
                out.diagnostics.push(self.wrong_type(path, &expected));
                out.invalid.push(path.to_vec());
            }
        }
    }

    fn node(&self, path: &[Step]) -> Option<&Node> {
        self.root.at(path)
    }

    /// The value's span, or its key's when the value is empty (`gpu:` with nothing after it).
    fn value_span(&self, path: &[Step]) -> Span {
        match self.node(path) {
            Some(node) if !(node.value == Value::Null && node.span.start == node.span.end) => {
                node.span
            }
            _ => self.key_span(path),
        }
    }

    fn key_span(&self, path: &[Step]) -> Span {
        self.root
            .key_span_at(path)
            .or_else(|| self.root.entries().first().map(|e| e.key_span))
            .unwrap_or_default()
    }

    fn unknown_key(&self, parent: &[Step], key: &str) -> Diagnostic {
        let mut path = parent.to_vec();
        path.push(Step::Key(key.to_string()));
        let allowed = self.nav.properties_at(parent);
        let in_env = parent
            .iter()
            .any(|s| matches!(s, Step::Key(k) if k == "env"));
        let help = if key == "<<" {
            Some("YAML merge keys are not supported; put shared settings in `defaults`".to_string())
        } else if in_env {
            Some("an env var's value is a string, or `{secret: NAME}` for a secret".to_string())
        } else if let Some(flash) = flash_spelling(key).filter(|flash| {
            let target = flash.split([':', ' ']).next().unwrap_or_default();
            allowed.iter().any(|a| a == target)
        }) {
            Some(format!("flash.yaml writes this as `{flash}`"))
        } else if let Some(near) = closest(key, allowed.iter().map(String::as_str)) {
            Some(format!("did you mean `{near}`?"))
        } else if key.contains(' ') && key.starts_with(|c: char| c.is_ascii_alphabetic()) {
            Some(format!("routes go under `routes:` of a load-balanced endpoint: `routes: {{\"{key}\": ...}}`"))
        } else if let Some(place) = self.nav.home_of(key) {
            Some(format!(
                "`{key}` belongs in {place}, not in {}",
                describe_container(parent)
            ))
        } else if !allowed.is_empty() {
            Some(format!("allowed keys here: {}", list(&allowed, 16)))
        } else {
            None
        };
        Diagnostic::new(
            &UNKNOWN_KEY,
            self.key_span(&path),
            format!("unknown key `{key}` in {}", describe_container(parent)),
        )
        .label("not a known key")
        .help_opt(help)
    }

    fn wrong_type(&self, path: &[Step], expected: &[&str]) -> Diagnostic {
        let found = self.node(path).map_or("nothing", Node::kind_name);
        let expected = join_or(expected);
        if path.is_empty() && matches!(self.root.value, Value::Null) {
            return Diagnostic::new(&WRONG_TYPE, self.root.span_start(), "flash.yaml is empty")
                .label("expected `version`, `name` and `endpoints`")
                .help("start with `version: 1`, `name: my-app` and an `endpoints:` mapping (see examples/)");
        }
        let message = format!("{} must be {expected}, found {found}", describe(path));
        let help = self.node(path).and_then(|node| type_help(node, &expected));
        Diagnostic::new(&WRONG_TYPE, self.value_span(path), message)
            .label(format!("expected {expected}"))
            .help_opt(help)
    }

    /// Whether the mapping at `parent` has an unknown key whose nearest known key is `property`.
    fn misspelt_in(&self, parent: &[Step], property: &str) -> bool {
        let allowed = self.nav.properties_at(parent);
        self.node(parent).is_some_and(|node| {
            node.entries().iter().any(|e| {
                !allowed.contains(&e.key)
                    && closest(&e.key, allowed.iter().map(String::as_str)) == Some(property)
            })
        })
    }

    fn missing(&self, parent: &[Step], property: &str) -> Diagnostic {
        let example = match property {
            "version" => "version: 1".to_string(),
            "name" => "name: my-app".to_string(),
            "endpoints" => {
                "endpoints:\n  api:\n    type: load_balanced\n    routes: ...".to_string()
            }
            "handler" => "handler: module::function".to_string(),
            "secret" => "secret: NAME".to_string(),
            other => format!("{other}: ..."),
        };
        let span = if parent.is_empty() {
            self.root.span_start()
        } else {
            self.key_span(parent)
        };
        Diagnostic::new(
            &MISSING_KEY,
            span,
            format!(
                "missing required key `{property}` in {}",
                describe_container(parent)
            ),
        )
        .label(format!("`{property}` is required here"))
        .help(format!("add `{example}`"))
    }

    fn invalid_value(&self, path: &[Step], options: &Json) -> Diagnostic {
        let shown = self.node(path).map_or_else(String::new, show_value);
        let allowed: Vec<String> = options
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let allowed = if allowed.is_empty() {
            options
                .as_array()
                .map(|a| a.iter().map(|v| v.to_string()).collect())
                .unwrap_or_default()
        } else {
            allowed
        };
        let is_text = matches!(self.node(path).map(|n| &n.value), Some(Value::Str(_)));
        let numbers_only = options
            .as_array()
            .is_some_and(|a| a.iter().all(Json::is_number));
        let help = if is_text && numbers_only {
            Some(format!(
                "write a number without quotes: `{}`",
                list(&allowed, 3).replace('`', "")
            ))
        } else {
            closest(&shown, allowed.iter().map(String::as_str))
                .filter(|_| is_text)
                .map(|near| format!("did you mean `{near}`?"))
        };
        Diagnostic::new(
            &INVALID_VALUE,
            self.value_span(path),
            format!(
                "invalid {} `{shown}`: expected one of {}",
                describe_noun(path),
                list(&allowed, 12)
            ),
        )
        .label("not an allowed value")
        .help_opt(help)
    }

    fn out_of_range(&self, path: &[Step]) -> Diagnostic {
        let shown = self.node(path).map_or_else(String::new, show_value);
        let (min, max) = self.nav.bounds_at(path);
        let range = match (min, max) {
            (Some(min), Some(max)) => format!("between {min} and {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => "in range".to_string(),
        };
        Diagnostic::new(
            &OUT_OF_RANGE,
            self.value_span(path),
            format!("{} must be {range}, found {shown}", describe(path)),
        )
        .label(format!("must be {range}"))
    }

    fn too_few(&self, path: &[Step], limit: u64) -> Diagnostic {
        let message = match (path.last(), limit) {
            (Some(Step::Key(k)), 1) if k == "endpoints" => {
                "`endpoints` defines no endpoint".to_string()
            }
            (_, 1) => format!("{} must not be empty", describe(path)),
            _ => format!("{} must have at least {limit} items", describe(path)),
        };
        let help = (path.last() == Some(&Step::Key("workers".into())))
            .then(|| "write `[min, max]`, for example `[0, 3]`".to_string());
        Diagnostic::new(&OUT_OF_RANGE, self.value_span(path), message)
            .label("too few items")
            .help_opt(help)
    }

    fn too_many(&self, path: &[Step], limit: u64) -> Diagnostic {
        let help = (path.last() == Some(&Step::Key("workers".into())))
            .then(|| "write `[min, max]`, for example `[0, 3]`".to_string());
        Diagnostic::new(
            &OUT_OF_RANGE,
            self.value_span(path),
            format!("{} must have at most {limit} items", describe(path)),
        )
        .label("too many items")
        .help_opt(help)
    }

    fn generic(&self, path: &[Step]) -> Diagnostic {
        Diagnostic::new(
            &INVALID_VALUE,
            self.value_span(path),
            format!("{} is not valid here", describe(path)),
        )
        .label("not valid here")
    }
}

impl Node {
    fn span_start(&self) -> Span {
        Span {
            start: self.span.start,
            end: self.span.start,
        }
    }
}

/// Names Flash's Python API (and Runpod's REST API) uses for settings flash.yaml spells
/// differently, so that users moving over are told the new spelling.
fn flash_spelling(key: &str) -> Option<&'static str> {
    Some(match key {
        "dependencies" | "system_packages" | "apt_packages" => "system_dependencies",
        "network_volume" | "networkVolume" | "volumes" => "volume",
        "min_workers" | "max_workers" | "workersMin" | "workersMax" => "workers: [min, max]",
        "gpuIds" | "gpu_ids" | "gpus" | "gpu_type" | "gpu_types" => "gpu",
        "instanceIds" | "instance_ids" | "cpu_type" | "instance_type" => "cpu",
        "gpuCount" => "gpu_count",
        "idleTimeout" => "idle_timeout",
        "executionTimeout" | "executionTimeoutMs" | "timeout" => "execution_timeout",
        "datacenter" | "data_centers" | "locations" => "datacenters",
        "env_vars" | "environment" | "envs" => "env",
        "scalerType" | "scaler_type" | "scalerValue" | "scaler_value" => "scaler: {type, value}",
        "containerDiskInGb" | "container_disk_in_gb" => "container_disk",
        "flashBoot" | "flash_boot" => "flashboot",
        "cudaVersions" | "cuda_version" | "minCudaVersion" => "min_cuda_version",
        _ => return None,
    })
}

fn type_names(kind: &TypeKind) -> Vec<&'static str> {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "integer" => "an integer",
        "number" => "a number",
        "string" => "a string",
        "boolean" => "`true` or `false`",
        "array" => "a list",
        "object" => "a mapping",
        _ => "null",
    };
    match kind {
        TypeKind::Single(t) => vec![name(t)],
        TypeKind::Multiple(set) => set.iter().map(|t| name(&t)).collect(),
    }
}

fn type_help(node: &Node, expected: &str) -> Option<String> {
    match (&node.value, expected) {
        (Value::Str(s), e) if e.contains("`true`") => match s.to_ascii_lowercase().as_str() {
            "yes" | "on" | "y" => Some("write `true` (YAML 1.2 reads `yes` as a string)".into()),
            "no" | "off" | "n" => Some("write `false` (YAML 1.2 reads `no` as a string)".into()),
            _ => None,
        },
        (Value::Int(_) | Value::Float(_) | Value::Bool(_), e) if e.starts_with("a string") => {
            Some(format!("quote it: `\"{}\"`", show_value(node)))
        }
        (Value::Null, _) => Some("give it a value, or remove the key".into()),
        (Value::Str(s), e) if e.contains("integer") && s.trim().parse::<i64>().is_ok() => {
            Some(format!("remove the quotes: `{}`", s.trim()))
        }
        _ => None,
    }
}

fn show_value(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Seq(_) => "a list".into(),
        Value::Map(_) => "a mapping".into(),
    }
}

/// How a value at `path` is named in messages: "`workers`", "endpoint `api`", "item 2 of `gpu`".
pub fn describe(path: &[Step]) -> String {
    match path {
        [] => "the file".into(),
        [Step::Key(e), Step::Key(name)] if e == "endpoints" => format!("endpoint `{name}`"),
        [.., Step::Key(e), Step::Key(name)] if e == "endpoints" => format!("endpoint `{name}`"),
        [.., Step::Key(parent), Step::Key(var)] if parent == "env" => format!("env var `{var}`"),
        [.., Step::Key(parent), Step::Key(route)] if parent == "routes" => {
            format!("route `{route}`")
        }
        [.., Step::Key(parent), Step::Index(i)] => format!("item {} of `{parent}`", i + 1),
        [.., Step::Key(key)] => format!("`{key}`"),
        [.., Step::Index(i)] => format!("item {}", i + 1),
    }
}

/// The noun for an enum value: "gpu", "datacenter", "endpoint type".
fn describe_noun(path: &[Step]) -> String {
    let key = path.iter().rev().find_map(|s| match s {
        Step::Key(k) => Some(k.as_str()),
        Step::Index(_) => None,
    });
    let in_scaler = path
        .iter()
        .any(|s| matches!(s, Step::Key(k) if k == "scaler"));
    match key {
        Some("type") if in_scaler => "scaler type".into(),
        Some("type") => "endpoint type".into(),
        Some("datacenters") => "datacenter".into(),
        Some(k) => format!("`{k}` value"),
        None => "value".into(),
    }
}

fn describe_container(path: &[Step]) -> String {
    match path {
        [] => "the top level".into(),
        _ => describe(path),
    }
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => "something else".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn list(items: &[String], most: usize) -> String {
    let shown: Vec<String> = items.iter().take(most).map(|i| format!("`{i}`")).collect();
    if items.len() > most {
        format!(
            "{}, … ({} more; see docs/flash-yaml.md)",
            shown.join(", "),
            items.len() - most
        )
    } else {
        shown.join(", ")
    }
}
