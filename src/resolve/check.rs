//! Resolving one merged project against the crate index: every handler and init looked up,
//! its signature read, and each mismatch with flash.yaml reported on the handler string.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::index::{join, CrateIndex, FnDef, Lookup, Target};
use super::signature::{
    deserialize_problem, param_shape, query_problem, returns, serialize_problem, ty_string,
    type_key, NotSend, ParamShape,
};
use super::{
    CrateError, CrateInfo, HandlerFn, InitFn, Param, ParamKind, Resolved, Returns, Workspace,
};
use crate::diagnostic::Diagnostic;
use crate::load::{Node, Span};
use crate::model::route_key::{Method, RouteKey, Segment};
use crate::model::EndpointType;
use crate::project::Project;
use crate::rules::{
    PathProblem, BLOCKING_CALL, CRATE_NOT_FOUND, CRATE_PATH, HANDLER_NOT_FOUND, HANDLER_NOT_PUBLIC,
    HANDLER_NOT_SEND, INIT_STATE, PACKAGE_NAME, QUERY_PARAMETER_TYPE, ROUTE_PARAMETER_NOT_TAKEN,
    STREAM_ROUTE_MISMATCH, UNBINDABLE_PARAMETER, UNSERIALIZABLE_RETURN,
};

/// Every handler string of the file (`handler`, `init`, route targets) with its node, in file
/// order; the overlay-free root is enough to find where to report a crate problem.
pub(crate) fn handler_strings(root: &Node) -> impl Iterator<Item = &Node> {
    root.get("endpoints")
        .map(Node::entries)
        .unwrap_or_default()
        .iter()
        .flat_map(|endpoint| {
            let node = &endpoint.value;
            let direct = ["handler", "init"].into_iter().filter_map(|k| node.get(k));
            let routes = node
                .get("routes")
                .map(Node::entries)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| crate::project::route_handler(&r.value));
            direct.chain(routes)
        })
        .filter(|n| n.as_str().is_some())
}

/// Locates and indexes the handler crate named by `crate:` (default `.`). `None`, with a
/// diagnostic, when it cannot be located; `None` silently when the file names no handler.
pub fn index_crate(
    root: &Node,
    first_handler: Option<&Node>,
    ws: &dyn Workspace,
    out: &mut Vec<Diagnostic>,
) -> Option<CrateIndex> {
    let info = locate_crate(root, first_handler, ws, out)?;
    let dir = root.get("crate").and_then(Node::as_str).unwrap_or(".");
    Some(CrateIndex::build(info, dir, ws))
}

/// Locates the handler crate named by `crate:` (default `.`) and reports what is wrong with
/// where it is or what it is named (FL0701, FL0603's files, FL0604); `None` when it cannot be
/// located, silently when the file names no handler. The editor calls this on every check and
/// keeps the index it builds.
pub fn locate_crate(
    root: &Node,
    first_handler: Option<&Node>,
    ws: &dyn Workspace,
    out: &mut Vec<Diagnostic>,
) -> Option<CrateInfo> {
    let first_handler = first_handler?.span;
    let crate_node = root.get("crate").filter(|n| n.as_str().is_some());
    let dir = crate_node.and_then(Node::as_str).unwrap_or(".");
    let span = crate_node.map_or(first_handler, |n| n.span);
    let shown = if crate_node.is_some() {
        format!("crate directory `{dir}`")
    } else {
        "the directory of flash.yaml (`crate:` is not set)".to_string()
    };
    let diagnostic = |message: String, label: &str, help: String| {
        let d = Diagnostic::new(&CRATE_NOT_FOUND, span, message)
            .label(label)
            .help(help);
        if crate_node.is_none() {
            d.label(format!(
                "{label} (no `crate:` in flash.yaml, so `.` is used)"
            ))
        } else {
            d
        }
    };
    if matches!(
        crate::rules::path_problem(dir),
        Some(PathProblem::Char(_) | PathProblem::Dash)
    ) {
        // FL0603 (a rule on `crate:`) has said so; looking for the directory would only add a
        // second diagnostic for the same mistake.
        return None;
    }
    if leaves_project(dir) {
        out.push(diagnostic(
            format!("crate directory `{dir}` is outside the directory of flash.yaml"),
            "outside the build context",
            "the handler crate must be inside the Docker build context: move it under the directory of flash.yaml and set `crate:` to its relative path, such as `handlers`".into(),
        ));
        return None;
    }
    let no_crate = "or run `flashc check --no-crate` to check flash.yaml alone";
    match ws.locate_crate(Path::new(dir)) {
        Ok(info) => {
            report_unplain_files(&info, dir, span, out);
            report_package_collision(&info, root, span, out);
            Some(info)
        }
        Err(CrateError::NoDirectory(_)) => {
            out.push(diagnostic(
                format!("{shown} does not exist"),
                "no such directory",
                format!("create the crate with `cargo new --lib {dir}`, or set `crate:` to the directory that holds your handler crate's Cargo.toml"),
            ));
            None
        }
        Err(CrateError::NoManifest(_)) => {
            let create = if dir == "." {
                "run `cargo init --lib` next to flash.yaml".to_string()
            } else {
                format!("run `cargo init --lib {dir}`")
            };
            out.push(diagnostic(
                format!("{shown} has no Cargo.toml: the handlers' crate is not there"),
                "no Cargo.toml",
                format!("{create}, or set `crate:` to the directory that holds your handler crate's Cargo.toml; {no_crate}"),
            ));
            None
        }
        Err(CrateError::NoLib { package }) => {
            out.push(diagnostic(
                format!("package `{package}` has no library target: handlers must be in a library"),
                "no [lib] target",
                "add `src/lib.rs` (or a `[lib]` section in Cargo.toml) and define the handlers there; a binary's functions cannot be called by the generated worker".into(),
            ));
            None
        }
        Err(CrateError::Metadata(message)) => {
            let first = message
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            out.push(diagnostic(
                format!("cannot read the handler crate's Cargo.toml: {first}"),
                "cargo metadata failed",
                format!("run `cargo metadata --no-deps` in `{dir}` to see the whole error and fix Cargo.toml"),
            ));
            None
        }
    }
}

/// FL0603 for the crate's library root and build script: they go into the Dockerfiles as
/// `crate:` does (reported on `crate:`, or on the first handler without it), and only the
/// crate's directory is copied into the image, so they must be inside it.
fn report_unplain_files(info: &CrateInfo, dir: &str, span: Span, out: &mut Vec<Diagnostic>) {
    let files = [
        ("library root", Some(&info.lib_path)),
        ("build script", info.build_script.as_ref()),
    ];
    for (what, path) in files {
        let Some(path) = path else { continue };
        let inside = path
            .strip_prefix(&info.manifest_dir)
            .ok()
            .map(|rel| rel.to_string_lossy().replace('\\', "/"))
            .filter(|rel| !crate::rules::leaves_project(rel));
        let Some(rel) = inside else {
            out.push(
                Diagnostic::new(
                    &CRATE_PATH,
                    span,
                    format!(
                        "the handler crate's {what} `{}` is outside the crate's directory `{dir}`, which is all the image's build copies",
                        relative_to(path, &info.manifest_dir)
                    ),
                )
                .label(format!("its {what} is outside the crate"))
                .help(format!("move the file into `{dir}` and set its path in Cargo.toml relative to it")),
            );
            continue;
        };
        // As the Dockerfile names it: relative to the project.
        let written = if dir == "." {
            rel.clone()
        } else {
            format!("{}/{rel}", dir.trim_end_matches('/'))
        };
        let problem = match crate::rules::path_problem(&written) {
            Some(problem @ (PathProblem::Char(_) | PathProblem::Dash)) => problem,
            _ => continue,
        };
        out.push(
            Diagnostic::new(
                &CRATE_PATH,
                span,
                format!("the handler crate's {what} `{rel}` {problem}"),
            )
            .label(format!("its {what} is not a plain path"))
            .help(match problem {
                PathProblem::Dash => "rename the file (and its path in Cargo.toml) so that no part of its path starts with `-`",
                _ => "rename the file (and its path in Cargo.toml) with ASCII letters, digits, `.`, `_`, `-` and `/` only",
            }),
        );
    }
}

/// FL0604 for the handler crate: its package shares the generated workspaces with the
/// runtime, every worker crate and (in `flashc dev`) the dev host, so its name must be none of
/// theirs (reported on `crate:`, or on the first handler without it).
fn report_package_collision(info: &CrateInfo, root: &Node, span: Span, out: &mut Vec<Diagnostic>) {
    let project = root.get("name").and_then(Node::as_str).unwrap_or_default();
    let endpoints = root.get("endpoints").map(Node::entries).unwrap_or_default();
    let package = info.package.as_str();
    let taken_by = if package == crate::rules::RUNTIME_PACKAGE {
        Some("the runtime's package".to_string())
    } else if package == format!("{project}-dev") {
        Some("the package of `flashc dev`'s host".to_string())
    } else {
        endpoints
            .iter()
            .find(|e| crate::rules::worker_package(project, &e.key) == package)
            .map(|e| format!("the worker crate of endpoint `{}`", e.key))
    };
    if let Some(taken_by) = taken_by {
        out.push(
            Diagnostic::new(
                &PACKAGE_NAME,
                span,
                format!("the handler crate's package is named `{package}`, which is also {taken_by}"),
            )
            .label("its package name is taken in the generated workspace")
            .help("rename the handler crate's package in its Cargo.toml (`[package] name`), such as `{project}-handlers`".replace("{project}", project)),
        );
    }
}

/// `path` as seen from `base` (`../shared/lib.rs`), both absolute.
fn relative_to(path: &Path, base: &Path) -> String {
    use std::path::Component;
    let mut normal: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            c => normal.push(c),
        }
    }
    let base: Vec<Component> = base.components().collect();
    let common = normal.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); base.len() - common];
    parts.extend(
        normal[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// An absolute path, or one whose `..` climbs above its start (the path policy's, FL0603).
pub(crate) fn leaves_project(dir: &str) -> bool {
    crate::rules::leaves_project(dir)
}

/// What a handler string is used for.
#[derive(Clone, Copy)]
enum Use<'a> {
    Queue {
        /// Where `return_aggregate_stream: true` is written, if it is.
        aggregate: Option<Span>,
    },
    Route {
        key: &'a RouteKey<'a>,
        key_span: Span,
    },
}

struct Resolver<'a> {
    index: &'a CrateIndex,
    out: &'a mut Vec<Diagnostic>,
    resolved: Resolved,
    broken_reported: HashSet<usize>,
}

/// Resolves every handler and init of one merged project against the indexed crate.
pub fn resolve_project(
    project: &Project,
    index: &CrateIndex,
    out: &mut Vec<Diagnostic>,
) -> Resolved {
    let mut resolver = Resolver {
        index,
        out,
        resolved: Resolved {
            krate: index.krate.clone(),
            handlers: BTreeMap::new(),
            inits: BTreeMap::new(),
        },
        broken_reported: HashSet::new(),
    };
    for (endpoint, spec) in project.typed() {
        let Some(kind) = spec.kind else { continue };
        let init_node = endpoint.node.get("init").filter(|n| valid_path(n));
        let init = init_node.and_then(|node| resolver.init(node));
        let has_init = endpoint.node.get("init").is_some();
        let ctx = EndpointCtx {
            name: endpoint.name,
            has_init,
            init: init.as_ref(),
        };
        match kind {
            EndpointType::Queue => {
                if let Some(node) = endpoint.node.get("handler").filter(|n| valid_path(n)) {
                    let aggregate = (spec.return_aggregate_stream == Some(true))
                        .then(|| endpoint.value_span("return_aggregate_stream"));
                    resolver.handler(node, Use::Queue { aggregate }, &ctx);
                }
            }
            EndpointType::LoadBalanced => {
                for route in project.routes_of(endpoint.name) {
                    let Some(node) = route.handler.filter(|n| valid_path(n)) else {
                        continue;
                    };
                    match &route.key {
                        Ok(key) => resolver.handler(
                            node,
                            Use::Route {
                                key,
                                key_span: route.entry.key_span,
                            },
                            &ctx,
                        ),
                        // The key's problem is FL0205's; the function is still looked up.
                        Err(_) => {
                            if let Some(path) = node.as_str() {
                                resolver.find(path, node.span);
                            }
                        }
                    }
                }
            }
        }
    }
    resolver.resolved
}

fn valid_path(node: &Node) -> bool {
    node.as_str().is_some_and(crate::rules::is_handler_path)
}

struct EndpointCtx<'a> {
    name: &'a str,
    has_init: bool,
    init: Option<&'a (InitFn, String)>,
}

impl Resolver<'_> {
    fn defined_here(&self, def: &FnDef) -> crate::diagnostic::RelatedFile {
        self.index.related_file(&def.span)
    }

    /// Looks `path` up; reports a missing or private function. The definition when found.
    fn find(&mut self, path: &str, span: Span) -> Option<usize> {
        let index = self.index;
        match index.lookup(path) {
            Lookup::Found {
                target: Target::Fn(f),
                private,
            } => {
                if let Some(private) = private {
                    // A public path that reaches the same function (a `pub use` re-export) is
                    // the fix that changes no Rust; making a module public comes second.
                    let help = match index.public_path_to(f) {
                        Some(public) => format!(
                            "write `{public}`: the function is public there; or {}",
                            private.help
                        ),
                        None => private.help,
                    };
                    self.out.push(
                        Diagnostic::new(
                            &HANDLER_NOT_PUBLIC,
                            span,
                            if private.what.starts_with("function") {
                                format!("function `{path}` is not `pub`")
                            } else {
                                format!(
                                    "function `{path}` is not public: {} is private",
                                    private.what
                                )
                            },
                        )
                        .label("not reachable from the generated worker")
                        .related_file(index.related_file(&private.span), "private")
                        .help(help),
                    );
                }
                Some(f)
            }
            Lookup::Found {
                target: Target::Module(m),
                ..
            } => {
                let example = index.modules[m]
                    .fns
                    .iter()
                    .filter(|(_, &f)| index.fns[f].is_pub())
                    .map(|(name, _)| join(path, name))
                    .min();
                let help = match example {
                    Some(e) => format!("name a function in it, such as `{e}`"),
                    None => format!("name a `pub fn` of the module, such as `{path}::function`"),
                };
                let mut d = Diagnostic::new(
                    &HANDLER_NOT_FOUND,
                    span,
                    format!("`{path}` is a module, not a function"),
                )
                .label("a module")
                .help(help);
                if let Some(decl) = &index.modules[m].decl {
                    d = d.related_file(index.related_file(decl), "module declared here");
                }
                self.out.push(d);
                None
            }
            Lookup::Found {
                target: Target::Type(t),
                ..
            } => {
                let def = &index.types[t];
                let what = if def.is_struct { "a struct" } else { "an enum" };
                self.out.push(
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("`{path}` is {what}, not a function"),
                    )
                    .label(what)
                    .related_file(index.related_file(&def.span), "defined here")
                    .help(format!(
                        "a handler is a free `pub fn` (not a type or a method): write one that takes or returns `{}`",
                        def.name
                    )),
                );
                None
            }
            Lookup::Broken(m) => {
                if !self.broken_reported.insert(m) {
                    return None;
                }
                let problem = index.modules[m].problem.clone()?;
                let file = index.display(&problem.file);
                let d = if problem.missing && m == 0 {
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("cannot look up `{path}`: {}", problem.message),
                    )
                    .label("not resolved")
                    .help(format!(
                        "create `{file}`, the library root of package `{}`",
                        index.krate.package
                    ))
                } else if problem.missing {
                    let module = &index.modules[m];
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("cannot look up `{path}`: {}", problem.message),
                    )
                    .label("not resolved")
                    .related_file(index.related_file(&problem.span), "module declared here")
                    .help(format!(
                        "create `{file}`, or declare the module inline (`pub mod {} {{ ... }}`)",
                        module.name
                    ))
                } else {
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("cannot look up `{path}`: `{file}` does not parse"),
                    )
                    .label("not resolved")
                    .related_file(index.related_file(&problem.span), problem.message.clone())
                    .help("fix the syntax error (`cargo check` shows it), then check again")
                };
                self.out.push(d);
                None
            }
            Lookup::Method { ty } => {
                let def = &index.types[ty];
                let owner = path.rsplit_once("::").map_or(path, |(owner, _)| owner);
                let method = path.rsplit("::").next().unwrap_or(path);
                self.out.push(
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("`{path}` is an associated function of `{}`, not a free function", def.name),
                    )
                    .label("a method path")
                    .related_file(index.related_file(&def.span), "type defined here")
                    .help(format!(
                        "handlers are free functions: write a `pub fn` that calls `{}::{method}`{} and name it here",
                        def.name,
                        match owner.rsplit_once("::") {
                            Some((module, _)) => format!(" (in module `{module}`)"),
                            None => String::new(),
                        }
                    )),
                );
                None
            }
            Lookup::Missing { module } => {
                self.out.push(self.missing(path, span, module));
                None
            }
        }
    }

    fn missing(&self, path: &str, span: Span, module: usize) -> Diagnostic {
        let index = self.index;
        let lib = &index.krate.lib_name;
        let message = format!("function `{path}` not found in crate `{lib}`");
        let d = Diagnostic::new(&HANDLER_NOT_FOUND, span, message).label("no such function");
        // `my_crate::users::get` or `crate::users::get`: paths start at the crate root.
        for prefix in [lib.as_str(), "crate"] {
            if let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix("::")) {
                if let Lookup::Found {
                    target: Target::Fn(_),
                    ..
                } = index.lookup(rest)
                {
                    return d.help(format!(
                        "paths are written from the crate root, without `{prefix}::`: write `{rest}`"
                    ));
                }
            }
        }
        if let Some(hint) =
            crate::suggest::did_you_mean(path, index.all_paths.iter().map(String::as_str))
        {
            return d.help(hint);
        }
        let name = path.rsplit("::").next().unwrap_or(path);
        let parent = path.rsplit_once("::").map_or("", |(parent, _)| parent);
        let reached = parent == index.modules[module].path;
        if reached {
            let m = &index.modules[module];
            let mut names: Vec<&str> = m.fns.keys().map(String::as_str).collect();
            names.sort_unstable();
            let place = if module == 0 {
                format!("the crate root (`{}`)", index.display(&m.file))
            } else {
                format!("module `{}` (`{}`)", m.path, index.display(&m.file))
            };
            let help = if m.has_macros {
                format!(
                    "define `pub fn {name}` in {place}; flashc reads functions as written, so one a macro generates is not seen: write the handler as a plain `pub fn` that calls it"
                )
            } else if names.is_empty() {
                format!("define `pub fn {name}` in {place}")
            } else {
                let shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
                format!(
                    "define `pub fn {name}` in {place}; it has {}",
                    shown.join(", ")
                )
            };
            return d.help(help);
        }
        let help = if index.all_paths.is_empty() {
            format!(
                "the crate defines no functions yet: write `pub fn {name}` in a `pub mod` reachable from `{}`",
                index.display(&index.krate.lib_path)
            )
        } else {
            let shown: Vec<String> = index
                .all_paths
                .iter()
                .take(8)
                .map(|p| format!("`{p}`"))
                .collect();
            format!(
                "write the path from the crate root through `pub mod`s, such as {}",
                shown.join(", ")
            )
        };
        d.help(help)
    }

    fn init(&mut self, node: &Node) -> Option<(InitFn, String)> {
        let path = node.as_str()?;
        let f = self.find(path, node.span)?;
        let index = self.index;
        let def = &index.fns[f];
        let sig = &def.sig;
        let (shape, sent) = returns(&sig.output);
        if !sig.inputs.is_empty() {
            let params: Vec<String> = sig.inputs.iter().map(ty_string).collect();
            self.out.push(
                Diagnostic::new(
                    &INIT_STATE,
                    node.span,
                    format!(
                        "init `{path}` takes parameters ({}), but init is called with none",
                        params.join(", ")
                    ),
                )
                .label("takes parameters")
                .related_file(self.defined_here(def), "defined here")
                .help(format!(
                    "remove the parameters of `{}`; read settings from environment variables (`std::env::var`) set in `env:`",
                    def.name
                )),
            );
        }
        let (state_ty, state_key, fallible) = match (&shape, sent) {
            (Returns::Stream { .. }, _) => {
                self.out.push(
                    Diagnostic::new(
                        &INIT_STATE,
                        node.span,
                        format!("init `{path}` returns a stream, but init returns the endpoint's state once"),
                    )
                    .label("returns a stream")
                    .related_file(self.defined_here(def), "defined here")
                    .help(format!("return the state (`-> Model` or `-> Result<Model, E>`) from `{}`", def.name)),
                );
                return None;
            }
            (Returns::Value { ty }, sent) => {
                (ty.clone(), sent.map_or("()".to_string(), type_key), false)
            }
            (Returns::Result { ok, .. }, sent) => {
                (ok.clone(), sent.map_or("()".to_string(), type_key), true)
            }
        };
        let init = InitFn {
            path: path.to_string(),
            is_async: sig.asyncness.is_some(),
            state_ty,
            fallible,
            span: def.span.clone(),
            signature: signature(def),
            doc: def.doc.clone(),
        };
        self.resolved.inits.insert(path.to_string(), init.clone());
        Some((init, state_key))
    }

    fn handler(&mut self, node: &Node, usage: Use, endpoint: &EndpointCtx) {
        let Some(path) = node.as_str() else { return };
        let span = node.span;
        let Some(f) = self.find(path, span) else {
            return;
        };
        let index = self.index;
        let def = &index.fns[f];
        let sig = &def.sig;
        let here = || index.related_file(&def.span);
        if let Some((call, at)) = &def.blocking_call {
            self.out.push(
                Diagnostic::new(
                    &BLOCKING_CALL,
                    span,
                    format!("`{path}` is an `async fn` that calls `{call}`, which blocks its thread: /ping and the endpoint's other requests wait meanwhile"),
                )
                .label("async handler with a blocking call")
                .related_file(index.related_file(at), "blocks here")
                .help("make the handler a plain `fn` (the worker runs it on the blocking pool), or run the call in `flash_runtime::blocking(move || …).await`, or use its async form (`tokio::fs`, `tokio::time::sleep`)"),
            );
        }
        let get = match usage {
            Use::Route { key, .. } if key.method == Method::Get => Some(key),
            _ => None,
        };
        if let Some(generic) = sig.generics.type_params().next() {
            self.out.push(
                Diagnostic::new(
                    &UNBINDABLE_PARAMETER,
                    span,
                    format!(
                        "`{path}` is generic over `{}`: generated code cannot choose the type",
                        generic.ident
                    ),
                )
                .label("generic handler")
                .related_file(here(), "defined here")
                .help("give the handler concrete parameter and return types"),
            );
        }
        let mut params = Vec::new();
        for arg in &sig.inputs {
            match param_shape(arg) {
                ParamShape::Unbindable { text, reason, help } => self.out.push(
                    Diagnostic::new(
                        &UNBINDABLE_PARAMETER,
                        span,
                        format!("parameter `{text}` of `{path}` cannot be bound: {reason}"),
                    )
                    .label("has a parameter nothing can bind")
                    .related_file(here(), "defined here")
                    .help(help),
                ),
                ParamShape::Bound { param, ty } => {
                    let text = format!("{}: {}", param.name, param.ty);
                    match param.kind {
                        ParamKind::State(_) if !endpoint.has_init => self.out.push(
                            Diagnostic::new(
                                &UNBINDABLE_PARAMETER,
                                span,
                                format!(
                                    "parameter `{text}` of `{path}` takes the endpoint's state, but endpoint `{}` has no `init`",
                                    endpoint.name
                                ),
                            )
                            .label("takes state")
                            .related_file(here(), "defined here")
                            .help(format!(
                                "add `init:` to endpoint `{}`, naming a function that returns `{}`; or take the value as an argument (`{}: {}`)",
                                endpoint.name,
                                ty_string(ty),
                                param.name,
                                ty_string(ty)
                            )),
                        ),
                        ParamKind::State(_) => {
                            if let Some((init, key)) = endpoint.init {
                                if &type_key(ty) != key {
                                    self.out.push(
                                        Diagnostic::new(
                                            &INIT_STATE,
                                            span,
                                            format!(
                                                "parameter `{text}` of `{path}` takes state `{}`, but init `{}` returns `{}`",
                                                ty_string(ty),
                                                init.path,
                                                init.state_ty
                                            ),
                                        )
                                        .label("state type differs")
                                        .related_file(here(), "handler defined here")
                                        .related_file(index.related_file(&init.span), "init defined here")
                                        .help(format!(
                                            "take `&{0}` (or `Arc<{0}>`), or make `{1}` return `{2}`",
                                            init.state_ty,
                                            init.path,
                                            ty_string(ty)
                                        )),
                                    );
                                }
                            }
                        }
                        ParamKind::Context(_) => {}
                        ParamKind::Arg => {
                            if let Some(problem) = deserialize_problem(ty, index) {
                                let mut d = Diagnostic::new(
                                    &UNBINDABLE_PARAMETER,
                                    span,
                                    format!(
                                        "parameter `{text}` of `{path}` cannot be read from a request: {}",
                                        problem.reason
                                    ),
                                )
                                .label("argument cannot be deserialized")
                                .related_file(here(), "defined here");
                                if let Some(def) = problem.def {
                                    d = d.related_file(index.related_file(&def.span), "defined here without `Deserialize`");
                                }
                                self.out.push(d.help(problem.help));
                            } else if let Some(key) = get {
                                if let Some(reason) = query_problem(ty, index) {
                                    self.out.push(
                                        Diagnostic::new(
                                            &QUERY_PARAMETER_TYPE,
                                            span,
                                            format!(
                                                "parameter `{text}` of `{path}` cannot come from the query string of `GET {}`: {reason}",
                                                key.path
                                            ),
                                        )
                                        .label("GET argument is not a plain value")
                                        .related_file(here(), "defined here")
                                        .help("a GET argument must be a number, `bool`, `String`, `char`, a unit-only enum, or `Option` of one; take structured input in a POST, PUT or PATCH route's JSON body"),
                                    );
                                }
                            }
                        }
                    }
                    params.push(param);
                }
            }
        }
        let (shape, sent) = returns(&sig.output);
        let mut unserializable = false;
        if let Some(sent) = sent {
            if let Some(problem) = serialize_problem(sent, index) {
                unserializable = true;
                let mut d = Diagnostic::new(
                    &UNSERIALIZABLE_RETURN,
                    span,
                    format!(
                        "`{path}` returns a value that cannot be sent as JSON: {}",
                        problem.reason
                    ),
                )
                .label("return type cannot be serialized")
                .related_file(here(), "defined here");
                if let Some(def) = problem.def {
                    d = d.related_file(
                        index.related_file(&def.span),
                        "defined here without `Serialize`",
                    );
                }
                self.out.push(d.help(problem.help));
            }
        }
        // One diagnostic per mistake: a value FL0707 refuses (a trait object) is not also
        // reported as not `Send`.
        if let (syn::ReturnType::Type(_, output), false) = (&sig.output, unserializable) {
            if let Some(problem) = super::signature::not_send(output) {
                self.out.push(
                    Diagnostic::new(
                        &HANDLER_NOT_SEND,
                        span,
                        format!(
                            "the return type of `{path}` holds {problem}, which cannot be sent between the worker's threads"
                        ),
                    )
                    .label("return type is not `Send`")
                    .related_file(here(), "defined here")
                    .help(match problem {
                        NotSend::TraitObject(_) => "add `+ Send + Sync` to the trait object (`Box<dyn std::error::Error + Send + Sync>`), or return `anyhow::Error` or your own error type".to_string(),
                        NotSend::Type(name) => format!("return an owned value without `{name}` (`Arc` for `Rc`, `Mutex` for `RefCell` and `Cell`)"),
                    }),
                );
            }
        }
        if let Use::Queue {
            aggregate: Some(aggregate),
        } = usage
        {
            if !matches!(shape, Returns::Stream { .. }) {
                self.out.push(
                    Diagnostic::new(
                        &STREAM_ROUTE_MISMATCH,
                        aggregate,
                        format!("`return_aggregate_stream: true` has no effect: `{path}` returns one value, not a stream"),
                    )
                    .label("only for stream handlers")
                    .related(span, "the handler")
                    .related_file(here(), "defined here")
                    .help("remove `return_aggregate_stream`, or return `impl Stream<Item = T>` (one chunk per item)"),
                );
            }
        }
        if let Use::Route { key, key_span } = usage {
            let is_stream = matches!(shape, Returns::Stream { .. });
            if is_stream && key.method != Method::Ws {
                self.out.push(
                    Diagnostic::new(
                        &STREAM_ROUTE_MISMATCH,
                        span,
                        format!(
                            "`{path}` returns a stream, but route `{} {}` answers once",
                            key.method, key.path
                        ),
                    )
                    .label("stream handler on an HTTP route")
                    .related(key_span, "an HTTP route")
                    .related_file(here(), "defined here")
                    .help(format!(
                        "serve the stream on a WebSocket route (`\"WS {}\"`), or return a value",
                        key.path
                    )),
                );
            } else if !is_stream && key.method == Method::Ws {
                self.out.push(
                    Diagnostic::new(
                        &STREAM_ROUTE_MISMATCH,
                        span,
                        format!(
                            "`{path}` returns one value, but WebSocket route `WS {}` sends a stream of frames",
                            key.path
                        ),
                    )
                    .label("not a stream handler")
                    .related(key_span, "a WebSocket route")
                    .related_file(here(), "defined here")
                    .help(format!(
                        "return `impl Stream<Item = T>` (one frame per item), or serve it on an HTTP route such as `\"GET {}\"`",
                        key.path
                    )),
                );
            }
            let args: Vec<&str> = params
                .iter()
                .filter(|p| p.kind == ParamKind::Arg)
                .map(Param::argument_name)
                .collect();
            for segment in key.segments() {
                let Segment::Param(name) = segment else {
                    continue;
                };
                if !crate::model::route_key::is_identifier(name) || args.contains(&name) {
                    continue;
                }
                let unused: Vec<&str> = args
                    .iter()
                    .copied()
                    .filter(|a| !key.segments().any(|s| s == Segment::Param(a)))
                    .collect();
                // A parameter of a similar name: one spelling near the other, or one a prefix
                // or suffix of the other (`{id}` and `user_id: u64`). Renaming either is the fix.
                let close = crate::suggest::closest(name, unused.iter().copied()).or_else(|| {
                    unused.iter().copied().find(|a| {
                        a.starts_with(name)
                            || name.starts_with(a)
                            || a.ends_with(name)
                            || name.ends_with(a)
                    })
                });
                let help = match close {
                    Some(close) => format!(
                        "rename `{{{name}}}` to `{{{close}}}` in the route, or the parameter `{close}` to `{name}`"
                    ),
                    None => format!(
                        "add a parameter named `{name}` (such as `{name}: String`) to `{}`, or remove `{{{name}}}` from the route",
                        def.name
                    ),
                };
                self.out.push(
                    Diagnostic::new(
                        &ROUTE_PARAMETER_NOT_TAKEN,
                        span,
                        format!("route parameter `{{{name}}}` is not a parameter of `{path}`"),
                    )
                    .label(format!("takes no `{name}`"))
                    .related(key_span, format!("`{{{name}}}` is in this route"))
                    .related_file(here(), "defined here")
                    .help(help),
                );
            }
        }
        let handler = HandlerFn {
            path: path.to_string(),
            is_async: sig.asyncness.is_some(),
            params,
            returns: shape,
            span: def.span.clone(),
            signature: signature(def),
            doc: def.doc.clone(),
        };
        self.resolved.handlers.insert(path.to_string(), handler);
    }
}

/// The signature on one line, with its visibility (`pub async fn get(id: i64) -> User`).
fn signature(def: &FnDef) -> String {
    let vis = ty_string(&def.vis);
    let mut sig = ty_string(&def.sig);
    // `fn get (id: i64)`: no space before the parameter list.
    let name_at = sig.find(&format!("fn {}", def.name)).unwrap_or(0);
    if let Some(paren) = sig[name_at..].find(" (") {
        sig.remove(name_at + paren);
    }
    if vis.is_empty() {
        sig
    } else {
        format!("{vis} {sig}")
    }
}

/// Read access for editors (`flashc lsp`): the crate's functions as flash.yaml would name them.
impl CrateIndex {
    /// The function `path` names (as flash.yaml writes it), following re-exports; private ones
    /// too (`is_pub` says whether a worker could call it).
    pub fn function(&self, path: &str) -> Option<super::FnSummary> {
        match self.lookup(path) {
            Lookup::Found {
                target: Target::Fn(f),
                private,
            } => {
                let def = &self.fns[f];
                let params = def
                    .sig
                    .inputs
                    .iter()
                    .filter_map(|arg| match arg {
                        syn::FnArg::Typed(t) => Some((ty_string(&t.pat), ty_string(&t.ty))),
                        syn::FnArg::Receiver(_) => None,
                    })
                    .collect();
                Some(super::FnSummary {
                    path: path.to_string(),
                    signature: signature(def),
                    params,
                    doc: def.doc.clone(),
                    span: def.span.clone(),
                    is_pub: private.is_none(),
                })
            }
            _ => None,
        }
    }

    /// Every function a handler string could name, sorted by path.
    pub fn functions(&self) -> Vec<super::FnSummary> {
        self.all_paths
            .iter()
            .filter_map(|p| self.function(p))
            .collect()
    }
}
