//! Resolving one merged project against the crate index: every handler and init looked up,
//! its signature read, and each mismatch with flash.yaml reported on the handler string.

use std::collections::BTreeMap;
use std::path::Path;

use super::index::{join, CrateIndex, FnDef, Lookup, Target};
use super::signature::{
    answer_shape, deserialize_problem, param_shape, query_problem, returns, serialize_problem,
    ty_string, type_key, ParamShape,
};
use super::{
    CrateError, CrateInfo, EndpointCall, HandlerFn, InitFn, ParamKind, Resolved, Returns, Workspace,
};
use crate::facts::{
    BoundParam, BrokenModule, CrateFile, CrateFilePlace, CrateFound, CrateSite, EndpointInit,
    FileProblem, FnFacts, Found, HandlerUse, InitState, LocatedCrate, MissingFn, NotFound,
    ParamFacts, Private, ReachedModule, Role, TypeProblem,
};
use crate::load::Node;
use crate::model::EndpointType;
use crate::project::Project;
use crate::rules::PathProblem;

/// Locates the handler crate named by `crate:` (default `.`) and indexes it: what was found
/// where (for the crate-location rules, `rules::check_crate`) and the index when it was
/// located. `None` when the file names no handler.
pub fn index_crate(
    root: &Node,
    first_handler: Option<&Node>,
    ws: &dyn Workspace,
) -> Option<(CrateSite, Option<CrateIndex>)> {
    let site = locate_crate(root, first_handler, ws)?;
    let index = match &site.found {
        CrateFound::Located(located) => {
            Some(CrateIndex::build(located.info.clone(), &site.dir, ws))
        }
        _ => None,
    };
    Some((site, index))
}

/// Locates the handler crate named by `crate:` (default `.`): where it is, what it is named,
/// or why it is not there. `None` when the file names no handler. Reports nothing: the
/// crate-location rules (FL0701, FL0603's files, FL0604) read the site. The editor calls this
/// on every check and keeps the index it builds.
pub fn locate_crate(
    root: &Node,
    first_handler: Option<&Node>,
    ws: &dyn Workspace,
) -> Option<CrateSite> {
    let first_handler = first_handler?.span;
    let crate_node = root.get("crate").filter(|n| n.as_str().is_some());
    let dir = crate_node.and_then(Node::as_str).unwrap_or(".");
    let site = |found| CrateSite {
        dir: dir.to_string(),
        written: crate_node.is_some(),
        span: crate_node.map_or(first_handler, |n| n.span),
        found,
    };
    if matches!(
        crate::rules::path_problem(dir),
        Some(PathProblem::Char(_) | PathProblem::Dash)
    ) {
        return Some(site(CrateFound::NotPlain));
    }
    if crate::rules::leaves_project(dir) {
        return Some(site(CrateFound::Outside));
    }
    let found = match ws.locate_crate(Path::new(dir)) {
        Ok(info) => CrateFound::Located(Box::new(LocatedCrate {
            files: crate_files(&info, dir),
            package_taken_by: package_taken_by(&info, root),
            project: root
                .get("name")
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_string(),
            info,
        })),
        Err(CrateError::NoDirectory(_)) => CrateFound::NoDirectory,
        Err(CrateError::NoManifest(_)) => CrateFound::NoManifest,
        Err(CrateError::NoLib { package }) => CrateFound::NoLib { package },
        Err(CrateError::Metadata(message)) => CrateFound::Metadata(message),
    };
    Some(site(found))
}

/// The crate's library root and build script, and where each is: they go into the
/// Dockerfiles as `crate:` does, and only the crate's directory is copied into the image.
fn crate_files(info: &CrateInfo, dir: &str) -> Vec<CrateFile> {
    let files = [
        ("library root", Some(&info.lib_path)),
        ("build script", info.build_script.as_ref()),
    ];
    files
        .into_iter()
        .filter_map(|(what, path)| {
            let path = path?;
            let inside = path
                .strip_prefix(&info.manifest_dir)
                .ok()
                .map(|rel| rel.to_string_lossy().replace('\\', "/"))
                .filter(|rel| !crate::rules::leaves_project(rel));
            let place = match inside {
                Some(rel) => CrateFilePlace::Inside {
                    // As the Dockerfile names it: relative to the project.
                    written: if dir == "." {
                        rel.clone()
                    } else {
                        format!("{}/{rel}", dir.trim_end_matches('/'))
                    },
                    rel,
                },
                None => CrateFilePlace::Outside {
                    shown: relative_to(path, &info.manifest_dir),
                },
            };
            Some(CrateFile { what, place })
        })
        .collect()
}

/// What else in the generated workspaces has the handler crate's package name: the runtime,
/// every worker crate and (in `flashc dev`) the dev host share them with it.
fn package_taken_by(info: &CrateInfo, root: &Node) -> Option<String> {
    let project = root.get("name").and_then(Node::as_str).unwrap_or_default();
    let endpoints = root.get("endpoints").map(Node::entries).unwrap_or_default();
    let package = info.package.as_str();
    if package == crate::rules::RUNTIME_PACKAGE {
        Some("the runtime's package".to_string())
    } else if package == format!("{project}-dev") {
        Some("the package of `flashc dev`'s host".to_string())
    } else {
        endpoints
            .iter()
            .find(|e| crate::rules::worker_package(project, &e.key) == package)
            .map(|e| format!("the worker crate of endpoint `{}`", e.key))
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
            endpoint_calls: index
                .endpoint_calls
                .iter()
                .filter_map(|(called, at)| {
                    Some(EndpointCall {
                        name: index.called_name(called)?.to_string(),
                        at: index.related_file(at),
                    })
                })
                .collect(),
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
                Err(NotFound::Broken(Box::new(BrokenModule {
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
                })))
            }
            Lookup::Method { ty } => {
                let def = &index.types[ty];
                Err(NotFound::Method {
                    type_name: def.name.clone(),
                    defined: index.related_file(&def.span),
                })
            }
            Lookup::Missing { module } => {
                Err(NotFound::Missing(Box::new(self.missing(path, module))))
            }
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
            let mut function = self.facts(def);
            function.inputs = def.sig.inputs.iter().map(ty_string).collect();
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
                    // Only a state parameter is compared and named by its inner type.
                    let state = matches!(param.kind, ParamKind::State(_));
                    ParamFacts::Bound(BoundParam {
                        inner_ty: if state { ty_string(ty) } else { String::new() },
                        inner_key: if state { type_key(ty) } else { String::new() },
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
            generic: sig
                .generics
                .type_params()
                .next()
                .map(|g| g.ident.to_string()),
            blocking_call: def
                .blocking_call
                .as_ref()
                .map(|(call, at)| (call.clone(), index.related_file(at))),
            // Only an init's are shown (it must take none); see `init`.
            inputs: Vec::new(),
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
