//! Hover: a key's documentation (the schema's description), what a `gpu` value admits and the
//! exact `gpuIds` string Runpod receives, a CPU flavor's size, a handler's Rust signature and
//! doc comment, and a route's parameters with their types and where each comes from.

use crate::load::{Node, Step, Value};
use crate::model::route_key::{ArgSource, Method};
use crate::model::vocab;
use crate::project::RouteView;
use crate::resolve::{FnSummary, ParamKind};

use super::{is_handler_place, last_key, locate, schema, within_endpoint, Document};

/// Markdown to show, and the span it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Hover {
    pub markdown: String,
    pub range: lsp_types::Range,
}

/// Looks a handler path up in the crate (`None` without a crate, or when it is not there).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<FnSummary>;

pub fn hover(doc: &Document, at: lsp_types::Position, lookup: Lookup) -> Option<Hover> {
    let root = doc.root()?;
    let found = locate(root, doc.pos(at))?;
    let markdown = if found.on_key {
        key_hover(root, &found.path, found.node, lookup)
    } else {
        value_hover(root, &found.path, found.node, lookup)
    }?;
    Some(Hover {
        markdown,
        range: doc.range(found.span),
    })
}

/// The schema path of a tree path: route keys are written by the user, not the schema.
fn key_hover(root: &Node, path: &[Step], value: &Node, lookup: Lookup) -> Option<String> {
    let key = last_key(path)?;
    if let Some(rest) = within_endpoint(path) {
        if let ([Step::Key(_), Step::Key(endpoint), ..], [Step::Key(routes), Step::Key(route)]) =
            (path, rest)
        {
            if routes == "routes" {
                let entry = root
                    .get("endpoints")
                    .and_then(|e| e.get(endpoint))
                    .and_then(|e| e.get("routes"))
                    .and_then(|r| r.entry(route))?;
                return Some(route_hover(&RouteView::new(endpoint, entry), lookup));
            }
        }
        if rest.is_empty() {
            let kind = value
                .get("type")
                .and_then(Node::as_str)
                .unwrap_or("endpoint");
            let doc = schema::key_doc(path).unwrap_or_default();
            return Some(format!("**endpoint `{key}`** ({kind})\n\n{doc}"));
        }
    }
    if path.len() == 2 && matches!(path.first(), Some(Step::Key(k)) if k == "environments") {
        return Some(format!(
            "**environment `{key}`**\n\n{}",
            schema::key_doc(path).unwrap_or_default()
        ));
    }
    let _ = root;
    let doc = schema::key_doc(path)?;
    Some(format!("**`{key}`**\n\n{doc}"))
}

fn value_hover(root: &Node, path: &[Step], node: &Node, lookup: Lookup) -> Option<String> {
    let key = last_key(path)?;
    let text = scalar_text(node)?;
    if is_handler_place(path) {
        return Some(handler_hover(&text, lookup));
    }
    if within_endpoint(path).is_some() || path.first() == Some(&Step::Key("defaults".into())) {
        match key {
            "gpu" => {
                if let Some(h) = gpu_hover(&text, endpoint_gpus(root, path)) {
                    return Some(h);
                }
            }
            "cpu" => {
                if let Some(f) = vocab::cpu_flavor(&text) {
                    let datacenters = vocab::cpu_flavor_datacenters(&f.id).join(", ");
                    return Some(format!(
                        "**CPU flavor `{}`**\n\n{} vCPU · {} GB RAM · container disk up to {} GB\n\nRuns in: {datacenters}",
                        f.id, f.vcpus, f.ram_gb, f.max_disk_gb
                    ));
                }
            }
            _ => {}
        }
    }
    let choice = schema::choices(path)
        .into_iter()
        .find(|c| c.value.as_str() == Some(text.as_str()) || format!("{}", c.value) == text);
    let key_doc = schema::key_doc(path).unwrap_or_default();
    match choice {
        Some(c) if !c.doc.is_empty() => Some(format!(
            "**`{text}`**: {}\n\n---\n`{key}`: {key_doc}",
            c.doc
        )),
        _ if !key_doc.is_empty() => Some(format!("**`{key}`**\n\n{key_doc}")),
        _ => None,
    }
}

fn scalar_text(node: &Node) -> Option<String> {
    Some(match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    })
}

/// Every string of the `gpu` value the hovered item belongs to (one, or the whole list).
fn endpoint_gpus<'a>(root: &'a Node, path: &[Step]) -> Vec<&'a str> {
    let cut = path
        .iter()
        .rposition(|s| matches!(s, Step::Key(k) if k == "gpu"))
        .map_or(path.len(), |i| i + 1);
    match root.at(&path[..cut]) {
        Some(n) => match &n.value {
            Value::Str(s) => vec![s.as_str()],
            Value::Seq(items) => items.iter().filter_map(Node::as_str).collect(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

fn gpu_hover(value: &str, all: Vec<&str>) -> Option<String> {
    let mut out = if value == vocab::GPU_ANY {
        "**`any`**: every GPU pool.\n".to_string()
    } else if let Some(pool) = vocab::gpu_pool(value) {
        let mut cards: Vec<&str> = pool
            .models
            .iter()
            .filter_map(|m| vocab::gpu_model(m).map(|m| m.name))
            .collect();
        cards.extend(pool.unnamed_cards.iter().copied());
        format!(
            "**GPU pool `{}`**\n\nCards: {}\n\nCUDA {} or later.\n",
            pool.id,
            cards.join(", "),
            pool.min_cuda
        )
    } else if let Some(model) = vocab::gpu_model(value) {
        let pool = vocab::pool_of_model(model.id).map_or("", |p| p.id);
        format!(
            "**GPU model `{}`**: {} (in pool `{pool}`; the pool's other cards are excluded).\n",
            model.id, model.name
        )
    } else {
        return None;
    };
    out.push_str(&format!("\n`gpuIds`: `{}`", vocab::gpu_ids(&[value])));
    let known: Vec<&str> = all
        .iter()
        .copied()
        .filter(|g| {
            *g == vocab::GPU_ANY || vocab::gpu_pool(g).is_some() || vocab::gpu_model(g).is_some()
        })
        .collect();
    if known.len() > 1 {
        out.push_str(&format!(
            "\n\nThe whole list (`{}`): `gpuIds`: `{}`",
            known.join("`, `"),
            vocab::gpu_ids(&known)
        ));
    }
    Some(out)
}

fn handler_hover(path: &str, lookup: Lookup) -> String {
    match lookup(path) {
        Some(f) => {
            let mut out = format!("```rust\n{}\n```", f.signature);
            if !f.doc.trim().is_empty() {
                out.push_str("\n\n");
                out.push_str(f.doc.trim());
            }
            if !f.is_pub {
                out.push_str("\n\n*not reachable from the generated worker: it or a module on the way is private*");
            }
            out
        }
        None => format!("`{path}`: a function of the handler crate (not found, or no crate)"),
    }
}

fn route_hover(route: &RouteView, lookup: Lookup) -> String {
    let Ok(key) = &route.key else {
        return format!("route `{}`: not `\"METHOD /path\"`", route.entry.key);
    };
    let method = key.method;
    let path_params = key.params();
    let handler = route.handler.and_then(Node::as_str);
    let what = if method == Method::Ws {
        "WebSocket route".to_string()
    } else {
        format!("{method} route")
    };
    let mut out = format!("**{what}** `{}`", key.path);
    let function = handler.and_then(lookup);
    if let Some(h) = handler {
        out.push_str(&format!(" → `{h}`"));
    }
    out.push_str("\n\n");
    let mut rows = Vec::new();
    match &function {
        Some(f) => {
            for (name, ty, kind) in &f.params {
                let argument = crate::model::route_key::argument_name(name);
                let from = match kind {
                    Some(ParamKind::Context(_)) => "context",
                    Some(ParamKind::State(_)) => "state (from `init`)",
                    Some(ParamKind::Whole) => match method {
                        Method::Get => "the whole query",
                        Method::Ws => "the whole first message",
                        _ => "the whole JSON body",
                    },
                    Some(ParamKind::Arg) | None => {
                        match ArgSource::of_route_argument(argument, method, &path_params) {
                            ArgSource::Path => "path",
                            ArgSource::Query => "query",
                            _ if method == Method::Ws => "first message",
                            _ => "JSON body",
                        }
                    }
                };
                rows.push(format!("| `{name}` | `{ty}` | {from} |"));
            }
            for p in &path_params {
                let taken = f.params.iter().any(|(n, _, kind)| {
                    *kind == Some(ParamKind::Arg) && crate::model::route_key::argument_name(n) == *p
                });
                if !taken {
                    rows.push(format!("| `{p}` | (not taken by the handler) | path |"));
                }
            }
        }
        None => {
            for p in &path_params {
                rows.push(format!("| `{p}` | ? | path |"));
            }
        }
    }
    if rows.is_empty() {
        out.push_str("No parameters.");
    } else {
        out.push_str("| parameter | type | from |\n|---|---|---|\n");
        out.push_str(&rows.join("\n"));
    }
    if let Some(f) = function {
        out.push_str(&format!("\n\n```rust\n{}\n```", f.signature));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::Position;

    fn at(text: &str, needle: &str) -> Position {
        let doc = Document::new(text);
        let offset = text.find(needle).unwrap() + 1;
        doc.lines.lsp_of_offset(text, offset)
    }

    const FILE: &str = "version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n      \"GET /users/{id}\": users::get\n  gen:\n    type: queue\n    handler: gen::run\n    gpu: [ADA_24, NVIDIA_L4]\n";

    fn lookup(path: &str) -> Option<FnSummary> {
        (path == "users::get").then(|| FnSummary {
            path: path.into(),
            signature: "pub async fn get(id: u64, verbose: Option<bool>) -> User".into(),
            params: vec![
                ("id".into(), "u64".into(), Some(ParamKind::Arg)),
                (
                    "verbose".into(),
                    "Option<bool>".into(),
                    Some(ParamKind::Arg),
                ),
            ],
            doc: "Reads one user.".into(),
            span: crate::resolve::RustSpan {
                file: "/x/src/users.rs".into(),
                line: 3,
                col: 13,
                end_line: 3,
                end_col: 16,
            },
            is_pub: true,
        })
    }

    fn show(needle: &str) -> String {
        let doc = Document::new(FILE);
        hover(&doc, at(FILE, needle), &lookup)
            .map(|h| h.markdown)
            .unwrap_or_default()
    }

    #[test]
    fn keys_values_handlers_and_routes() {
        assert!(show("cpu:").contains("CPU"), "{}", show("cpu:"));
        let cpu = show("cpu3c-2-4");
        assert!(
            cpu.contains("2 vCPU · 4 GB RAM · container disk up to 20 GB"),
            "{cpu}"
        );
        let gpu = show("ADA_24");
        assert!(gpu.contains("NVIDIA GeForce RTX 4090"), "{gpu}");
        assert!(
            gpu.contains(&format!("`gpuIds`: `{}`", vocab::gpu_ids(&["ADA_24"]))),
            "{gpu}"
        );
        assert!(
            gpu.contains(&vocab::gpu_ids(&["ADA_24", "NVIDIA_L4"])),
            "{gpu}"
        );
        let handler = show("users::get");
        assert!(handler.contains("pub async fn get(id: u64"), "{handler}");
        assert!(handler.contains("Reads one user."), "{handler}");
        let route = show("GET /users");
        assert!(route.contains("| `id` | `u64` | path |"), "{route}");
        assert!(
            route.contains("| `verbose` | `Option<bool>` | query |"),
            "{route}"
        );
        assert!(
            show("queue").contains("Jobs arrive through a queue"),
            "{}",
            show("queue")
        );
        assert!(show("type: queue").contains("`type`"));
    }
}
