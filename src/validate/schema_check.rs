//! Schema validation, translated into flashc diagnostics: one per real mistake, located at
//! the offending key or value, in words rather than validator output.
//!
//! Alternatives (`oneOf`/`anyOf`, from untagged enums such as `workers`) are pruned the way a
//! person reads them: branches whose type does not match the value are dropped, and the
//! errors of the closest remaining branch are reported; if no branch has the right type, one
//! "expected X or Y" diagnostic is reported.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value as Json;

use super::schema_json::Tree;
use crate::diagnostic::Diagnostic;
use crate::load::{Node, Span, Step, Value};
use crate::rules::{INVALID_VALUE, MISSING_KEY, OUT_OF_RANGE, UNKNOWN_KEY, WRONG_TYPE};
use crate::schema::SchemaNav;
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
        index: RefCell::new(HashMap::new()),
    };
    let mut out = Found::default();
    for error in compiled.validator.iter_errors(root) {
        reporter.report(&error, &mut out);
    }
    reporter.non_finite(&mut out);
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
    /// Key → position for the large mappings errors are looked up in, built on first use:
    /// 100,000 unknown keys in one endpoint must not cost 100,000 scans of it.
    index: RefCell<HashMap<*const Node, HashMap<&'a str, usize>>>,
}

impl<'a> Reporter<'a> {
    fn report(&self, error: &ValidationError, out: &mut Found) {
        let path = steps(error);
        let diagnostic = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                // What is allowed here, worked out once for all the unknown keys of the mapping.
                let allowed = self.nav.properties_at(&path);
                for key in unexpected {
                    // Past a few thousand problems, suggestions are skipped: reports list the
                    // first 500 (by position), and the edit distances would dominate the time.
                    let diagnostic = if out.diagnostics.len() < CHEAP_AFTER {
                        self.unknown_key(&path, key, &allowed)
                    } else {
                        self.unknown_key(&path, key, &[])
                    };
                    out.diagnostics.push(diagnostic);
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

    fn node(&self, path: &[Step]) -> Option<&'a Node> {
        path.iter().try_fold(self.root, |node, step| match step {
            Step::Key(k) => self.entry(node, k).map(|e| &e.value),
            Step::Index(i) => node.items().get(*i),
        })
    }

    fn entry(&self, node: &'a Node, key: &str) -> Option<&'a crate::load::Entry> {
        let entries = node.entries();
        if entries.len() <= 32 {
            return entries.iter().find(|e| e.key == key);
        }
        let mut index = self.index.borrow_mut();
        let positions = index.entry(node as *const Node).or_insert_with(|| {
            let mut positions = HashMap::with_capacity(entries.len());
            for (i, e) in entries.iter().enumerate() {
                positions.entry(e.key.as_str()).or_insert(i);
            }
            positions
        });
        positions.get(key).map(|&i| &entries[i])
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
        let found = path.split_last().and_then(|(last, parent)| {
            let parent = self.node(parent)?;
            match last {
                Step::Key(k) => self.entry(parent, k).map(|e| e.key_span),
                Step::Index(i) => parent.items().get(*i).map(|n| n.span),
            }
        });
        found
            .or_else(|| self.root.entries().first().map(|e| e.key_span))
            .unwrap_or_default()
    }

    fn unknown_key(&self, parent: &[Step], key: &str, allowed: &[String]) -> Diagnostic {
        let mut path = parent.to_vec();
        path.push(Step::Key(key.to_string()));
        let in_env = parent
            .iter()
            .any(|s| matches!(s, Step::Key(k) if k == "env"));
        let help = if matches!(
            key,
            "dependencies"
                | "pip_dependencies"
                | "python_dependencies"
                | "requirements"
                | "packages"
        ) && !in_env
        {
            Some(
                "handlers are Rust: crates go in the handler crate's Cargo.toml (`cargo add NAME`); \
                 `system_dependencies` is for Debian packages installed in the image"
                    .to_string(),
            )
        } else if let Some(fix) = self.unit_key(&path, key).filter(|_| !in_env) {
            Some(fix)
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
            Some(format!("allowed keys here: {}", list(allowed, 16)))
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

    /// Flash's keys that carry a unit in their name (`execution_timeout_ms: 60000`): the fix
    /// converts the value, since flash.yaml durations carry their unit in the value.
    fn unit_key(&self, path: &[Step], key: &str) -> Option<String> {
        let (target, millis_per_unit) = match key {
            "execution_timeout_ms" | "executionTimeoutMs" | "timeout_ms" => {
                ("execution_timeout", 1)
            }
            "execution_timeout_s" | "execution_timeout_seconds" => ("execution_timeout", 1000),
            "idle_timeout_s" | "idle_timeout_seconds" => ("idle_timeout", 1000),
            "idle_timeout_ms" | "idleTimeoutMs" => ("idle_timeout", 1),
            _ => return None,
        };
        let allowed = self
            .nav
            .properties_at(&path[..path.len().saturating_sub(1)]);
        if !allowed.iter().any(|a| a == target) {
            return None;
        }
        let value = match self.node(path).map(|n| &n.value) {
            Some(Value::Int(n)) => u64::try_from(*n).ok(),
            Some(Value::Float(f)) if f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15 => {
                Some(*f as u64)
            }
            _ => None,
        };
        let Some(millis) = value.and_then(|v| v.checked_mul(millis_per_unit)) else {
            return Some(format!(
                "flash.yaml writes `{target}` with the unit in the value, such as `{target}: 60s`"
            ));
        };
        let converted = if millis % 1000 == 0 {
            format!("{}s", millis / 1000)
        } else if target == "idle_timeout" {
            format!("{}s", millis.div_ceil(1000))
        } else {
            format!("{millis}ms")
        };
        Some(format!(
            "flash.yaml writes durations with their unit: `{target}: {converted}`"
        ))
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
        let workers = path.last() == Some(&Step::Key("workers".into()));
        let help = self.node(path).and_then(|node| match &node.value {
            Value::Str(s) if workers && worker_range(s).is_some() => {
                worker_range(s).map(|(min, max)| {
                    format!("write `workers: [{min}, {max}]` (at least {min}, at most {max})")
                })
            }
            _ => type_help(node, &expected),
        });
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
        if is_text && numbers_only {
            // `version: "1"`: the value is right, its type is not.
            let unquoted = shown.trim();
            let help = if allowed.iter().any(|a| a == unquoted) {
                format!("remove the quotes: `{unquoted}`")
            } else {
                format!(
                    "write a number without quotes: {}",
                    list(&allowed, 3).replace('`', "")
                )
            };
            return Diagnostic::new(
                &WRONG_TYPE,
                self.value_span(path),
                format!(
                    "{} must be a number, found the string `\"{}\"`",
                    describe(path),
                    shorten(&shown)
                ),
            )
            .label("a quoted string, not a number")
            .help(help);
        }
        let help = if !is_text {
            None
        } else if let Some(fix) = python_spelling(&shown, &allowed) {
            Some(fix)
        } else {
            closest(&shown, allowed.iter().map(String::as_str))
                .map(|near| format!("did you mean `{near}`?"))
        };
        // Data centers come from Runpod's catalogue snapshot: say how old it is.
        let help = if describe_noun(path).contains("datacenter") {
            let note = format!(
                "the datacenters are those of Runpod's catalogue snapshot of {}, which `flashc catalog refresh` updates",
                crate::model::catalog::snapshot().taken_at
            );
            Some(help.map_or(note.clone(), |h| format!("{h} ({note})")))
        } else {
            help
        };
        // A long list is cut: the values nearest to what was written come first.
        let mut ordered = allowed;
        if is_text && ordered.len() > LIST_MOST && shown.len() <= 64 {
            let written = shown.to_ascii_lowercase();
            ordered.sort_by_cached_key(|a| strsim::levenshtein(&written, &a.to_ascii_lowercase()));
        }
        Diagnostic::new(
            &INVALID_VALUE,
            self.value_span(path),
            format!(
                "invalid {} `{}`: expected one of {}",
                describe_noun(path),
                shorten(&shown),
                list(&ordered, LIST_MOST)
            ),
        )
        .label("not an allowed value")
        .help_opt(help)
    }

    /// Numbers YAML reads as infinite or not-a-number (`.inf`, `.nan`, `1e400`): no field of
    /// flash.yaml can hold one, and the schema validator cannot see them (JSON has none).
    fn non_finite(&self, out: &mut Found) {
        let mut todo: Vec<(Vec<Step>, &Node)> = vec![(Vec::new(), self.root)];
        while let Some((path, node)) = todo.pop() {
            match &node.value {
                Value::Float(f) if !f.is_finite() => {
                    if out.invalid.iter().any(|p| path.starts_with(p)) {
                        continue;
                    }
                    out.diagnostics
                        .push(non_finite_diagnostic(node.span, &path, *f));
                    out.invalid.push(path);
                }
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let mut child = path.clone();
                        child.push(Step::Index(i));
                        todo.push((child, item));
                    }
                }
                Value::Map(entries) => {
                    for entry in entries {
                        let mut child = path.clone();
                        child.push(Step::Key(entry.key.clone()));
                        todo.push((child, &entry.value));
                    }
                }
                _ => {}
            }
        }
    }

    fn out_of_range(&self, path: &[Step]) -> Diagnostic {
        let shown = self.node(path).map_or_else(String::new, show_value);
        if let Some(Value::Float(f)) = self.node(path).map(|n| &n.value) {
            if !f.is_finite() {
                return non_finite_diagnostic(self.value_span(path), path, *f);
            }
        }
        let (min, mut max) = self.nav.bounds_at(path);
        // The width of the integer type (`u32`) is no bound a person chose: name it only
        // when the value is past it.
        let value = self.node(path).and_then(|n| match n.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        });
        if max.as_ref().is_some_and(|m| *m == u32::MAX.to_string())
            && value.is_some_and(|v| v <= f64::from(u32::MAX))
        {
            max = None;
        }
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
        "system_packages" | "apt_packages" => "system_dependencies",
        "network_volume" | "networkVolume" | "volumes" => "volume",
        "min_workers" | "max_workers" | "workersMin" | "workersMax" => "workers: [min, max]",
        "gpuIds" | "gpu_ids" | "gpus" | "gpu_type" | "gpu_types" => "gpu",
        "instanceIds" | "instance_ids" | "cpu_type" | "instance_type" => "cpu",
        "gpuCount" => "gpu_count",
        "idleTimeout" => "idle_timeout",
        "executionTimeout" | "timeout" => "execution_timeout",
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

/// How many diagnostics the schema stage words in full; later unknown keys get no suggestion.
const CHEAP_AFTER: usize = 4 * crate::diagnostic::MAX_SHOWN;

/// How many allowed values an "expected one of" message names before it is cut.
const LIST_MOST: usize = 12;

/// A value as quoted in a message: long values are cut, so a message stays a line.
fn shorten(text: &str) -> String {
    const MOST: usize = 80;
    match text.char_indices().nth(MOST) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `workers: (1, 3)` (a Python tuple), `1-3`, `1..3`, `1 to 3`: a range written as text.
fn worker_range(text: &str) -> Option<(u32, u32)> {
    let inner = text
        .trim()
        .trim_start_matches(['(', '['])
        .trim_end_matches([')', ']']);
    let (min, max) = inner
        .split_once(',')
        .or_else(|| inner.split_once(".."))
        .or_else(|| inner.split_once(" to "))
        .or_else(|| inner.split_once('-'))?;
    let (min, max) = (
        min.trim().parse().ok()?,
        max.trim().trim_start_matches('=').trim().parse().ok()?,
    );
    Some((min, max))
}

/// Flash's Python spellings of an allowed value: `GpuGroup.ADA_24`, `GpuType.NVIDIA_L4`,
/// `CpuInstanceType.CPU3C_1_2`, `DataCenter.EU_RO_1`, and the Flash docs' `LB`/`QB`.
fn python_spelling(written: &str, allowed: &[String]) -> Option<String> {
    let fix = |value: &str, why: &str| Some(format!("{why}: write `{value}`"));
    match written.trim() {
        "LB"
        | "lb"
        | "LoadBalanced"
        | "load-balanced"
        | "loadbalanced"
        | "LoadBalancerSlsResource"
            if allowed.iter().any(|a| a == "load_balanced") =>
        {
            return fix(
                "load_balanced",
                "`LB` is the Flash docs' name for a load-balanced endpoint",
            );
        }
        "QB" | "qb" | "Queue" | "QUEUE" | "queue-based" | "queue_based"
            if allowed.iter().any(|a| a == "queue") =>
        {
            return fix(
                "queue",
                "`QB` is the Flash docs' name for a queue-based endpoint",
            );
        }
        _ => {}
    }
    let (class, name) = written.trim().rsplit_once('.')?;
    if class.is_empty() || !class.starts_with(|c: char| c.is_ascii_alphabetic()) || name.is_empty()
    {
        return None;
    }
    let key = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let wanted = key(name);
    let value = allowed.iter().find(|a| key(a) == wanted)?;
    fix(value, &format!("`{class}.` is Flash's Python enum"))
}

fn non_finite_diagnostic(span: Span, path: &[Step], f: f64) -> Diagnostic {
    let what = if f.is_nan() {
        "not a number (`.nan`)"
    } else {
        "infinite"
    };
    Diagnostic::new(&OUT_OF_RANGE, span, format!("{} is {what}", describe(path)))
        .label("not a finite number")
        .help("write a whole number (YAML reads `.inf`, and numbers past 1e308, as infinity)")
}
