//! Resolving one merged project against the crate index: every handler and init looked up,
//! its signature read, and each mismatch with flash.yaml reported on the handler string.

use std::collections::BTreeMap;
use std::path::Path;

use super::index::{join, CrateIndex, FnDef, Lookup, Target};
use super::signature::{
    answer_shape, deserialize_problem, param_shape, query_problem, returns, serialize_problem,
    ty_string, type_key, ParamShape,
};
use super::{CrateError, CrateInfo, HandlerFn, InitFn, ParamKind, Resolved, Returns, Workspace};
use crate::diagnostic::Diagnostic;
use crate::facts::{
    BoundParam, BrokenModule, EndpointInit, FileProblem, FnFacts, Found, HandlerUse, InitState,
    MissingFn, NotFound, ParamFacts, Private, ReachedModule, Role, TypeProblem,
};
use crate::load::{Node, Span};
use crate::model::EndpointType;
use crate::project::Project;
use crate::rules::{PathProblem, CRATE_NOT_FOUND, CRATE_PATH, PACKAGE_NAME};

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

struct Resolver<'a> {
    index: &'a CrateIndex,
    resolved: Resolved,
}

/// Resolves every handler and init of one merged project against the indexed crate: each is
/// looked up and its signature read into [`facts`](crate::facts), which the FL07xx rules read.
/// Reports nothing itself.
pub fn resolve_project(project: &Project, index: &CrateIndex) -> Resolved {
    let mut resolver = Resolver {
        index,
        resolved: Resolved {
            krate: index.krate.clone(),
            handlers: BTreeMap::new(),
            inits: BTreeMap::new(),
            uses: Vec::new(),
        },
    };
    for (endpoint, spec) in project.typed() {
        let Some(kind) = spec.kind else { continue };
        let init_node = endpoint.node.get("init").filter(|n| valid_path(n));
        let state = init_node.and_then(|node| resolver.init(endpoint.name, node));
        let init = EndpointInit {
            declared: endpoint.node.get("init").is_some(),
            state,
        };
        match kind {
            EndpointType::Queue => {
                if let Some(node) = endpoint.node.get("handler").filter(|n| valid_path(n)) {
                    let aggregate = (spec.return_aggregate_stream == Some(true))
                        .then(|| endpoint.value_span("return_aggregate_stream"));
                    let role = Role::Queue {
                        aggregate,
                        init: init.clone(),
                    };
                    resolver.handler(endpoint.name, node, role);
                }
            }
            EndpointType::LoadBalanced => {
                for route in project.routes_of(endpoint.name) {
                    let Some(node) = route.handler.filter(|n| valid_path(n)) else {
                        continue;
                    };
                    let role = match &route.key {
                        Ok(key) => Role::Route {
                            method: key.method,
                            path: key.path.to_string(),
                            params: key.params().iter().map(|p| p.to_string()).collect(),
                            key_span: route.entry.key_span,
                            init: init.clone(),
                        },
                        // The key's problem is FL0205's; the function is still looked up.
                        Err(_) => Role::UnparsedRoute,
                    };
                    resolver.handler(endpoint.name, node, role);
                }
            }
        }
    }
    resolver.resolved
}

fn valid_path(node: &Node) -> bool {
    node.as_str().is_some_and(crate::rules::is_handler_path)
}

impl Resolver<'_> {
    /// Looks `path` up: the function's definition and whether it is private, or why the path
    /// names none.
    fn find(&self, path: &str) -> Result<(usize, Option<Private>), NotFound> {
        let index = self.index;
        match index.lookup(path) {
            Lookup::Found {
                target: Target::Fn(f),
                private,
            } => Ok((
                f,
                private.map(|private| Private {
                    what: private.what,
                    at: index.related_file(&private.span),
                    help: private.help,
                    public_path: index.public_path_to(f),
                }),
            )),
            Lookup::Found {
                target: Target::Module(m),
                ..
            } => Err(NotFound::Module {
                example: index.modules[m]
                    .fns
                    .iter()
                    .filter(|(_, &f)| index.fns[f].is_pub())
                    .map(|(name, _)| join(path, name))
                    .min(),
                declared: index.modules[m]
                    .decl
                    .as_ref()
                    .map(|decl| index.related_file(decl)),
            }),
            Lookup::Found {
                target: Target::Type(t),
                ..
            } => {
                let def = &index.types[t];
                Err(NotFound::Type {
                    name: def.name.clone(),
                    is_struct: def.is_struct,
                    defined: index.related_file(&def.span),
                })
            }
            Lookup::Broken(m) => {
                let module = &index.modules[m];
                Err(NotFound::Broken(BrokenModule {
                    id: m,
                    name: module.name.clone(),
                    is_root: m == 0,
                    package: index.krate.package.clone(),
                    problem: module.problem.as_ref().map(|p| FileProblem {
                        missing: p.missing,
                        message: p.message.clone(),
                        file: index.display(&p.file),
                        at: index.related_file(&p.span),
                    }),
                }))
            }
            Lookup::Method { ty } => {
                let def = &index.types[ty];
                Err(NotFound::Method {
                    type_name: def.name.clone(),
                    defined: index.related_file(&def.span),
                })
            }
            Lookup::Missing { module } => Err(NotFound::Missing(self.missing(path, module))),
        }
    }

    fn missing(&self, path: &str, module: usize) -> MissingFn {
        let index = self.index;
        let lib = &index.krate.lib_name;
        // `my_crate::users::get` or `crate::users::get`: paths start at the crate root.
        let without_prefix = [lib.as_str(), "crate"].into_iter().find_map(|prefix| {
            let rest = path.strip_prefix(prefix)?.strip_prefix("::")?;
            matches!(
                index.lookup(rest),
                Lookup::Found {
                    target: Target::Fn(_),
                    ..
                }
            )
            .then(|| (prefix.to_string(), rest.to_string()))
        });
        let parent = path.rsplit_once("::").map_or("", |(parent, _)| parent);
        let reached = (parent == index.modules[module].path).then(|| {
            let m = &index.modules[module];
            let mut functions: Vec<String> = m.fns.keys().cloned().collect();
            functions.sort_unstable();
            ReachedModule {
                path: m.path.clone(),
                file: index.display(&m.file),
                functions,
                has_macros: m.has_macros,
            }
        });
        MissingFn {
            lib: lib.clone(),
            without_prefix,
            paths: index.all_paths.clone(),
            reached,
            lib_file: index.display(&index.krate.lib_path),
        }
    }

    /// Resolves an endpoint's `init`; its state when it returns one.
    fn init(&mut self, endpoint: &str, node: &Node) -> Option<InitState> {
        let path = node.as_str()?;
        let found = self.find(path);
        let mut state = None;
        let lookup = found.map(|(f, private)| {
            let index = self.index;
            let def = &index.fns[f];
            let function = self.facts(def);
            let (shape, sent) = returns(&def.sig.output);
            let key = sent.map_or("()".to_string(), type_key);
            let state_ty = match &shape {
                Returns::Value { ty } => Some((ty.clone(), false)),
                Returns::Result { ok, .. } => Some((ok.clone(), true)),
                Returns::Stream { .. } => None,
            };
            if let Some((ty, fallible)) = state_ty {
                let init = InitFn {
                    path: path.to_string(),
                    is_async: def.sig.asyncness.is_some(),
                    state_ty: ty.clone(),
                    fallible,
                    span: def.span.clone(),
                    signature: signature(def),
                    doc: def.doc.clone(),
                };
                self.resolved.inits.insert(path.to_string(), init);
                state = Some(InitState {
                    path: path.to_string(),
                    ty,
                    key,
                    defined: index.related_file(&def.span),
                });
            }
            Found { private, function }
        });
        self.resolved.uses.push(HandlerUse {
            endpoint: endpoint.to_string(),
            path: path.to_string(),
            span: node.span,
            role: Role::Init,
            lookup,
        });
        state
    }

    fn handler(&mut self, endpoint: &str, node: &Node, role: Role) {
        let Some(path) = node.as_str() else { return };
        let lookup = self.find(path).map(|(f, private)| {
            let def = &self.index.fns[f];
            let function = self.facts(def);
            let bound = function.params.iter().filter_map(|p| match p {
                ParamFacts::Bound(b) => Some(b.param.clone()),
                ParamFacts::Unbindable { .. } => None,
            });
            let handler = HandlerFn {
                path: path.to_string(),
                is_async: function.is_async,
                params: bound.collect(),
                returns: function.returns.clone(),
                answer: answer_shape(&def.sig.output),
                span: def.span.clone(),
                signature: signature(def),
                doc: def.doc.clone(),
            };
            self.resolved.handlers.insert(path.to_string(), handler);
            Found { private, function }
        });
        self.resolved.uses.push(HandlerUse {
            endpoint: endpoint.to_string(),
            path: path.to_string(),
            span: node.span,
            role,
            lookup,
        });
    }

    /// What the signature of `def` says, read once.
    fn facts(&self, def: &FnDef) -> FnFacts {
        let index = self.index;
        let sig = &def.sig;
        let params = sig
            .inputs
            .iter()
            .map(|arg| match param_shape(arg) {
                ParamShape::Unbindable { text, reason, help } => {
                    ParamFacts::Unbindable { text, reason, help }
                }
                ParamShape::Bound { param, ty } => {
                    let argument = matches!(param.kind, ParamKind::Arg | ParamKind::Whole);
                    let unreadable = argument
                        .then(|| deserialize_problem(ty, index))
                        .flatten()
                        .map(|p| owned_problem(p, index));
                    let not_query = (param.kind == ParamKind::Arg)
                        .then(|| query_problem(ty, index))
                        .flatten();
                    ParamFacts::Bound(BoundParam {
                        inner_ty: ty_string(ty),
                        inner_key: type_key(ty),
                        unreadable,
                        not_query,
                        param,
                    })
                }
            })
            .collect();
        let (shape, sent) = returns(&sig.output);
        let unserializable = sent
            .and_then(|sent| serialize_problem(sent, index))
            .map(|p| owned_problem(p, index));
        let not_send = match &sig.output {
            syn::ReturnType::Type(_, output) => super::signature::not_send(output),
            syn::ReturnType::Default => None,
        };
        FnFacts {
            name: def.name.clone(),
            defined: index.related_file(&def.span),
            is_async: sig.asyncness.is_some(),
            generic: sig.generics.type_params().next().map(|g| g.ident.to_string()),
            blocking_call: def
                .blocking_call
                .as_ref()
                .map(|(call, at)| (call.clone(), index.related_file(at))),
            inputs: sig.inputs.iter().map(ty_string).collect(),
            params,
            returns: shape,
            unserializable,
            not_send,
        }
    }
}

fn owned_problem(problem: super::signature::TypeProblem<'_>, index: &CrateIndex) -> TypeProblem {
    TypeProblem {
        reason: problem.reason,
        help: problem.help,
        def: problem.def.map(|def| index.related_file(&def.span)),
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
                        syn::FnArg::Typed(t) => {
                            let kind = match param_shape(arg) {
                                ParamShape::Bound { param, .. } => Some(param.kind),
                                ParamShape::Unbindable { .. } => None,
                            };
                            Some((ty_string(&t.pat), ty_string(&t.ty), kind))
                        }
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
