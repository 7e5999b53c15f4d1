//! The crate index: every module, function, type and re-export of the handler crate, each
//! file parsed once with syn, so that looking a handler up is a few hash-map probes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::{Item, UseTree, Visibility};

use super::{CrateInfo, RustSpan, Workspace};

/// Bounds against hostile or accidental input: files, modules and re-export chains.
const MAX_FILES: usize = 10_000;
const MAX_USE_DEPTH: usize = 16;
const MAX_NESTING: usize = 256;
/// Name lookups one path may take through re-exports and globs (modules that glob each other
/// could otherwise branch exponentially).
const MAX_STEPS: usize = 4096;

/// The line where bracket nesting first exceeds [`MAX_NESTING`] (counting brackets in strings
/// and comments too, which only errs on the safe side).
fn too_deep(text: &str) -> Option<u32> {
    let mut depth = 0usize;
    let mut line = 1u32;
    for byte in text.bytes() {
        match byte {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
    }
    None
}

/// Why a module's items are unknown: its file is missing, unreadable or does not parse.
#[derive(Debug, Clone)]
pub(crate) struct FileProblem {
    pub message: String,
    /// Where: the syntax error, or the `mod x;` whose file is missing.
    pub span: RustSpan,
    /// The file that is missing or broken, as the user sees it.
    pub file: PathBuf,
    pub missing: bool,
}

#[derive(Debug)]
pub(crate) struct Module {
    /// The path from the crate root (`a::b`); empty for the root.
    pub path: String,
    pub name: String,
    pub parent: Option<usize>,
    /// Declared `pub` (plain `pub`, visible to other crates).
    pub is_pub: bool,
    /// The `mod name` declaration (for "make it pub").
    pub decl: Option<RustSpan>,
    pub inline: bool,
    /// The file holding the module's items.
    pub file: PathBuf,
    pub problem: Option<FileProblem>,
    pub children: HashMap<String, usize>,
    pub fns: HashMap<String, usize>,
    pub types: HashMap<String, usize>,
    pub uses: HashMap<String, UseDecl>,
    pub globs: Vec<UseDecl>,
    /// Has item-level macro calls, which may define functions flashc cannot see.
    pub has_macros: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct UseDecl {
    pub target: Vec<String>,
    pub is_pub: bool,
    pub span: RustSpan,
    /// The `use` as written, for help texts.
    pub text: String,
}

#[derive(Debug)]
pub(crate) struct FnDef {
    pub module: usize,
    pub name: String,
    pub vis: Visibility,
    pub sig: syn::Signature,
    pub doc: String,
    pub span: RustSpan,
    /// In an `async fn`: the first call of a function known to block the thread, and where.
    pub blocking_call: Option<(String, RustSpan)>,
}

impl FnDef {
    pub fn is_pub(&self) -> bool {
        matches!(self.vis, Visibility::Public(_))
    }
}

#[derive(Debug)]
pub(crate) struct TypeDef {
    pub name: String,
    pub is_struct: bool,
    /// An enum whose variants all have no fields.
    pub unit_only: bool,
    pub serialize: bool,
    pub deserialize: bool,
    pub span: RustSpan,
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Fn(usize),
    Module(usize),
    Type(usize),
}

/// Why a function found is not reachable from another crate.
#[derive(Debug, Clone)]
pub(crate) struct Private {
    /// `module `users``, `function `get``.
    pub what: String,
    pub span: RustSpan,
    pub help: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Lookup {
    Found {
        target: Target,
        private: Option<Private>,
    },
    /// A module on the way has no readable items.
    Broken(usize),
    /// A path through a type (`User::new`): an associated function, which cannot be a handler.
    Method { ty: usize },
    /// Nothing by that name; `module` is the deepest module the path reached.
    Missing { module: usize },
}

/// The handler crate, parsed once and reused for the base file and every environment.
pub struct CrateIndex {
    pub krate: CrateInfo,
    /// The crate directory as flash.yaml writes it (`handlers`; empty for `.`), to show Rust
    /// paths relative to flash.yaml.
    display_root: String,
    pub(crate) modules: Vec<Module>,
    pub(crate) fns: Vec<FnDef>,
    pub(crate) types: Vec<TypeDef>,
    types_by_name: HashMap<String, Vec<usize>>,
    /// Every function by a path flash.yaml could name (definitions and `pub use`), for "did
    /// you mean".
    pub(crate) all_paths: Vec<String>,
    /// Each `Endpoint::named(…)` call whose argument is a string literal or a constant's
    /// name, in the crate's items outside tests, in file order: the endpoints the crate calls.
    pub(crate) endpoint_calls: Vec<(CalledName, RustSpan)>,
    /// Every `const NAME: &str = "…"` outside tests, by name: the value, or `None` when two
    /// constants of that name differ (a call naming it is then not checked).
    str_consts: HashMap<String, Option<String>>,
    texts: HashMap<PathBuf, String>,
    /// Where each line of each text starts: a related place's line is found without scanning
    /// the file (resolve records one for every handler string).
    line_starts: HashMap<PathBuf, Vec<usize>>,
    /// Lookups taken by the current path (see [`MAX_STEPS`]).
    steps: std::cell::Cell<usize>,
}

struct Pending {
    module: usize,
    items: Vec<Item>,
    file: PathBuf,
    /// Where `mod x;` looks for `x.rs` / `x/mod.rs`.
    child_dir: PathBuf,
    /// Inside an inline `mod x { }` (changes what `#[path]` is relative to).
    inline: bool,
}

impl CrateIndex {
    /// Parses the crate from its library root. Problems with single files are recorded on
    /// their modules and reported when a handler path goes through them.
    pub fn build(krate: CrateInfo, crate_dir: &str, ws: &dyn Workspace) -> CrateIndex {
        crate::stats::count(crate::stats::Counter::CrateIndex);
        let display_root = crate_dir
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let display_root = if display_root == "." {
            String::new()
        } else {
            display_root
        };
        let mut index = CrateIndex {
            display_root,
            modules: Vec::new(),
            fns: Vec::new(),
            types: Vec::new(),
            types_by_name: HashMap::new(),
            all_paths: Vec::new(),
            endpoint_calls: Vec::new(),
            str_consts: HashMap::new(),
            texts: HashMap::new(),
            line_starts: HashMap::new(),
            steps: std::cell::Cell::new(0),
            krate,
        };
        let lib = index.krate.lib_path.clone();
        index.modules.push(Module {
            path: String::new(),
            name: String::new(),
            parent: None,
            is_pub: true,
            decl: None,
            inline: false,
            file: lib.clone(),
            problem: None,
            children: HashMap::new(),
            fns: HashMap::new(),
            types: HashMap::new(),
            uses: HashMap::new(),
            globs: Vec::new(),
            has_macros: false,
        });
        let mut visited = HashSet::new();
        let mut queue = Vec::new();
        let root_span = RustSpan {
            file: lib.clone(),
            line: 1,
            col: 0,
            end_line: 1,
            end_col: 0,
        };
        match index.parse_file(&lib, root_span, ws) {
            Ok(items) => {
                visited.insert(lib.clone());
                queue.push(Pending {
                    module: 0,
                    items,
                    child_dir: lib.parent().map(Path::to_path_buf).unwrap_or_default(),
                    file: lib,
                    inline: false,
                });
            }
            Err(problem) => index.modules[0].problem = Some(problem),
        }
        while let Some(pending) = queue.pop() {
            index.add_items(pending, ws, &mut visited, &mut queue);
        }
        index.finish();
        index
    }

    fn parse_file(
        &mut self,
        path: &Path,
        decl: RustSpan,
        ws: &dyn Workspace,
    ) -> Result<Vec<Item>, FileProblem> {
        let text = ws.read(path);
        self.parse_text(path, text, decl)
    }

    fn parse_text(
        &mut self,
        path: &Path,
        text: Option<String>,
        decl: RustSpan,
    ) -> Result<Vec<Item>, FileProblem> {
        let Some(text) = text else {
            return Err(FileProblem {
                message: format!("cannot read `{}`", self.display(path)),
                span: decl,
                file: path.to_path_buf(),
                missing: true,
            });
        };
        // syn's parser recurses on nesting; refuse what could exhaust the stack.
        if let Some(line) = too_deep(&text) {
            let problem = FileProblem {
                message: format!("brackets nest deeper than {MAX_NESTING} levels here"),
                span: RustSpan {
                    file: path.to_path_buf(),
                    line,
                    col: 0,
                    end_line: line,
                    end_col: 0,
                },
                file: path.to_path_buf(),
                missing: false,
            };
            self.keep_text(path, text);
            return Err(problem);
        }
        let parsed = syn::parse_file(&text);
        self.keep_text(path, text);
        match parsed {
            Ok(file) => Ok(file.items),
            Err(err) => Err(FileProblem {
                message: err.to_string(),
                span: span_of(path, err.span()),
                file: path.to_path_buf(),
                missing: false,
            }),
        }
    }

    fn add_items(
        &mut self,
        pending: Pending,
        ws: &dyn Workspace,
        visited: &mut HashSet<PathBuf>,
        queue: &mut Vec<Pending>,
    ) {
        let m = pending.module;
        // `Endpoint::named` is flash-runtime's only where the module imports it from there (a
        // type of the crate's own may have the same name).
        let imports_endpoint = pending.items.iter().any(|item| match item {
            Item::Use(u) => imports_runtime_endpoint(&u.tree, false),
            _ => false,
        });
        for item in pending.items {
            // Inline modules come back as their own pending items.
            if !matches!(item, Item::Mod(_)) && !is_cfg_test(item_attrs(&item)) {
                for (name, span) in endpoint_calls(&item, imports_endpoint) {
                    let at = span_of(&pending.file, span);
                    self.endpoint_calls.push((name, at));
                }
                if let Some((name, value)) = str_const(&item) {
                    self.str_consts
                        .entry(name)
                        .and_modify(|v| {
                            if v.as_ref() != Some(&value) {
                                *v = None;
                            }
                        })
                        .or_insert(Some(value));
                }
            }
            match item {
                Item::Fn(f) if !is_cfg_test(&f.attrs) => {
                    let name = f.sig.ident.to_string();
                    let blocking_call = f
                        .sig
                        .asyncness
                        .and_then(|_| first_blocking_call(&f.block))
                        .map(|(call, span)| (call, span_of(&pending.file, span)));
                    let def = FnDef {
                        module: m,
                        span: span_of(&pending.file, f.sig.ident.span()),
                        doc: doc_of(&f.attrs),
                        name: name.clone(),
                        vis: f.vis,
                        sig: f.sig,
                        blocking_call,
                    };
                    self.fns.push(def);
                    let id = self.fns.len() - 1;
                    self.modules[m].fns.entry(name).or_insert(id);
                }
                Item::Mod(module) if !is_cfg_test(&module.attrs) => {
                    let name = module.ident.to_string();
                    let decl = span_of(&pending.file, module.ident.span());
                    let path = if self.modules[m].path.is_empty() {
                        name.clone()
                    } else {
                        format!("{}::{name}", self.modules[m].path)
                    };
                    let child = self.modules.len();
                    self.modules.push(Module {
                        path,
                        name: name.clone(),
                        parent: Some(m),
                        is_pub: matches!(module.vis, Visibility::Public(_)),
                        decl: Some(decl.clone()),
                        inline: module.content.is_some(),
                        file: pending.file.clone(),
                        problem: None,
                        children: HashMap::new(),
                        fns: HashMap::new(),
                        types: HashMap::new(),
                        uses: HashMap::new(),
                        globs: Vec::new(),
                        has_macros: false,
                    });
                    self.modules[m]
                        .children
                        .entry(name.clone())
                        .or_insert(child);
                    if let Some((_, items)) = module.content {
                        queue.push(Pending {
                            module: child,
                            items,
                            file: pending.file.clone(),
                            child_dir: pending.child_dir.join(&name),
                            inline: true,
                        });
                        continue;
                    }
                    if visited.len() >= MAX_FILES {
                        continue;
                    }
                    let explicit = path_attr(&module.attrs).map(|p| {
                        if pending.inline {
                            pending.child_dir.join(p)
                        } else {
                            pending
                                .file
                                .parent()
                                .map(|d| d.join(&p))
                                .unwrap_or_else(|| PathBuf::from(p))
                        }
                    });
                    let candidates = match explicit {
                        Some(p) => vec![p],
                        None => vec![
                            pending.child_dir.join(format!("{name}.rs")),
                            pending.child_dir.join(&name).join("mod.rs"),
                        ],
                    };
                    let Some((file, text)) = candidates
                        .iter()
                        .find_map(|p| ws.read(p).map(|text| (p.clone(), text)))
                    else {
                        let shown: Vec<String> = candidates
                            .iter()
                            .map(|p| format!("`{}`", self.display(p)))
                            .collect();
                        self.modules[child].problem = Some(FileProblem {
                            message: format!(
                                "module `{}` has no file: neither {} exists",
                                self.modules[child].path,
                                shown.join(" nor ")
                            ),
                            span: decl,
                            file: candidates[0].clone(),
                            missing: true,
                        });
                        continue;
                    };
                    if !visited.insert(file.clone()) {
                        continue;
                    }
                    self.modules[child].file = file.clone();
                    match self.parse_text(&file, Some(text), decl) {
                        Ok(items) => {
                            let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs");
                            let child_dir = if is_mod_rs || path_attr(&module.attrs).is_some() {
                                file.parent().map(Path::to_path_buf).unwrap_or_default()
                            } else {
                                pending.child_dir.join(&name)
                            };
                            queue.push(Pending {
                                module: child,
                                items,
                                file,
                                child_dir,
                                inline: false,
                            });
                        }
                        Err(problem) => self.modules[child].problem = Some(problem),
                    }
                }
                Item::Struct(s) if !is_cfg_test(&s.attrs) => {
                    let (serialize, deserialize) = derives(&s.attrs);
                    self.add_type(
                        m,
                        TypeDef {
                            name: s.ident.to_string(),
                            is_struct: true,
                            unit_only: false,
                            serialize,
                            deserialize,
                            span: span_of(&pending.file, s.ident.span()),
                        },
                    );
                }
                Item::Enum(e) if !is_cfg_test(&e.attrs) => {
                    let (serialize, deserialize) = derives(&e.attrs);
                    self.add_type(
                        m,
                        TypeDef {
                            name: e.ident.to_string(),
                            is_struct: false,
                            unit_only: e
                                .variants
                                .iter()
                                .all(|v| matches!(v.fields, syn::Fields::Unit)),
                            serialize,
                            deserialize,
                            span: span_of(&pending.file, e.ident.span()),
                        },
                    );
                }
                Item::Impl(imp) => {
                    let Some((_, trait_path, _)) = &imp.trait_ else {
                        continue;
                    };
                    let Some(trait_name) = trait_path.segments.last().map(|s| s.ident.to_string())
                    else {
                        continue;
                    };
                    let syn::Type::Path(self_ty) = &*imp.self_ty else {
                        continue;
                    };
                    let Some(self_name) = self_ty.path.segments.last().map(|s| s.ident.to_string())
                    else {
                        continue;
                    };
                    // Recorded on the name; applied to the type definitions in `finish`.
                    let marker = match trait_name.as_str() {
                        "Serialize" => "S",
                        "Deserialize" => "D",
                        _ => continue,
                    };
                    self.types_by_name
                        .entry(format!("{marker}:{self_name}"))
                        .or_default();
                }
                Item::Use(u) if !is_cfg_test(&u.attrs) => {
                    let is_pub = matches!(u.vis, Visibility::Public(_));
                    let span = span_of(&pending.file, use_span(&u));
                    let text = tidy(&u.to_token_stream().to_string());
                    let mut flat = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), &mut flat);
                    for (name, target) in flat {
                        let decl = UseDecl {
                            target,
                            is_pub,
                            span: span.clone(),
                            text: text.clone(),
                        };
                        match name {
                            Some(name) => {
                                self.modules[m].uses.entry(name).or_insert(decl);
                            }
                            None => self.modules[m].globs.push(decl),
                        }
                    }
                }
                Item::Macro(mac) if !mac.mac.path.is_ident("macro_rules") => {
                    self.modules[m].has_macros = true;
                }
                _ => {}
            }
        }
    }

    fn add_type(&mut self, module: usize, def: TypeDef) {
        let name = def.name.clone();
        self.types.push(def);
        let id = self.types.len() - 1;
        self.modules[module].types.entry(name.clone()).or_insert(id);
        self.types_by_name.entry(name).or_default().push(id);
    }

    fn finish(&mut self) {
        for def in &mut self.types {
            if self.types_by_name.contains_key(&format!("S:{}", def.name)) {
                def.serialize = true;
            }
            if self.types_by_name.contains_key(&format!("D:{}", def.name)) {
                def.deserialize = true;
            }
        }
        let mut paths: Vec<String> = self
            .fns
            .iter()
            .map(|f| join(&self.modules[f.module].path, &f.name))
            .collect();
        for module in &self.modules {
            for (name, decl) in &module.uses {
                if decl.is_pub && decl.target.last().is_some_and(|l| l != "self") {
                    paths.push(join(&module.path, name));
                }
            }
        }
        paths.sort();
        paths.dedup();
        self.all_paths = paths;
    }

    /// The crate-defined types a type path may name (several when modules reuse a name);
    /// empty for a foreign type.
    pub(crate) fn crate_types(&self, path: &syn::TypePath) -> Vec<&TypeDef> {
        if path.qself.is_some() {
            return Vec::new();
        }
        let segments = &path.path.segments;
        let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
            return Vec::new();
        };
        let first = first.ident.to_string();
        let local = segments.len() == 1
            || matches!(first.as_str(), "crate" | "self" | "super")
            || self.modules[0].children.contains_key(&first);
        if path.path.leading_colon.is_some() || !local {
            return Vec::new();
        }
        self.types_by_name
            .get(&last.ident.to_string())
            .map(|ids| ids.iter().map(|&i| &self.types[i]).collect())
            .unwrap_or_default()
    }

    /// Looks up a path as flash.yaml writes it, from the crate root, noting the first step
    /// another crate could not take.
    pub(crate) fn lookup(&self, path: &str) -> Lookup {
        self.steps.set(0);
        let segments: Vec<&str> = path.split("::").collect();
        let mut module = 0;
        let mut private: Option<Private> = None;
        for (i, segment) in segments.iter().enumerate() {
            if self.modules[module].problem.is_some() {
                return Lookup::Broken(module);
            }
            let last = i + 1 == segments.len();
            let Some((target, step_private)) = self.find_in(module, segment, last, 0) else {
                return Lookup::Missing { module };
            };
            if private.is_none() {
                private = step_private;
            }
            match target {
                Target::Module(m) if !last => module = m,
                Target::Type(t) if !last => return Lookup::Method { ty: t },
                _ if !last => return Lookup::Missing { module },
                target => return Lookup::Found { target, private },
            }
        }
        Lookup::Missing { module }
    }

    /// The shortest public path that reaches function `f` (through `pub mod`s and `pub use`
    /// re-exports), when there is one: what to write in flash.yaml instead of a path that
    /// passes a private module. Modules are walked breadth-first from the root, so the first
    /// path found is among the shortest; ties go to the name that sorts first.
    pub(crate) fn public_path_to(&self, f: usize) -> Option<String> {
        let mut queue = std::collections::VecDeque::from([0usize]);
        let mut seen = HashSet::from([0usize]);
        while let Some(m) = queue.pop_front() {
            let module = &self.modules[m];
            let mut names: Vec<&String> = module
                .fns
                .iter()
                .filter(|(_, &g)| self.fns[g].is_pub())
                .map(|(name, _)| name)
                .chain(
                    module
                        .uses
                        .iter()
                        .filter(|(_, u)| u.is_pub)
                        .map(|(name, _)| name),
                )
                .collect();
            names.sort();
            names.dedup();
            for name in names {
                let path = join(&module.path, name);
                if let Lookup::Found {
                    target: Target::Fn(g),
                    private: None,
                } = self.lookup(&path)
                {
                    if g == f {
                        return Some(path);
                    }
                }
            }
            let mut children: Vec<(&String, &usize)> = module
                .children
                .iter()
                .filter(|(_, &c)| self.modules[c].is_pub)
                .collect();
            children.sort();
            for (_, &c) in children {
                if seen.insert(c) {
                    queue.push_back(c);
                }
            }
        }
        None
    }

    /// `name` in module `m`: a function when `want_fn` (else a module first), following
    /// re-exports. The second value says why the step is private to other crates.
    fn find_in(
        &self,
        m: usize,
        name: &str,
        want_fn: bool,
        depth: usize,
    ) -> Option<(Target, Option<Private>)> {
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > MAX_STEPS {
            return None;
        }
        let module = &self.modules[m];
        let as_fn = module.fns.get(name).map(|&f| {
            let def = &self.fns[f];
            let private = (!def.is_pub()).then(|| Private {
                what: format!("function `{}`", join(&module.path, name)),
                span: def.span.clone(),
                help: format!(
                    "make it public: `pub {}fn {name}` in `{}`{}",
                    if def.sig.asyncness.is_some() {
                        "async "
                    } else {
                        ""
                    },
                    self.display(&module.file),
                    if matches!(def.vis, Visibility::Restricted(_)) {
                        " (a restricted `pub(...)` is not enough: the generated worker is another crate)"
                    } else {
                        ""
                    }
                ),
            });
            (Target::Fn(f), private)
        });
        let as_module = module.children.get(name).map(|&c| {
            let child = &self.modules[c];
            let private = (!child.is_pub).then(|| Private {
                what: format!("module `{}`", child.path),
                span: child
                    .decl
                    .clone()
                    .unwrap_or_else(|| self.fns_span_fallback()),
                help: format!(
                    "make it public: `pub mod {name}{}` in `{}`",
                    if child.inline { " { ... }" } else { ";" },
                    self.display(&module.file)
                ),
            });
            (Target::Module(c), private)
        });
        let direct = if want_fn {
            as_fn.or(as_module)
        } else {
            as_module.or(as_fn)
        };
        if direct.is_some() {
            return direct;
        }
        if let Some(&t) = module.types.get(name) {
            return Some((Target::Type(t), None));
        }
        if depth >= MAX_USE_DEPTH {
            return None;
        }
        if let Some(decl) = module.uses.get(name) {
            if let Some((target, inner_private)) = self.resolve_use(m, &decl.target, want_fn, depth)
            {
                return Some((target, self.through_use(m, name, decl, inner_private)));
            }
        }
        for decl in &module.globs {
            let Some((Target::Module(g), _)) = self.resolve_use(m, &decl.target, false, depth)
            else {
                continue;
            };
            if g == m {
                continue;
            }
            if let Some((target, inner_private)) = self.find_in(g, name, want_fn, depth + 1) {
                return Some((target, self.through_use(m, name, decl, inner_private)));
            }
        }
        None
    }

    /// The target of a `use` path written in module `m`.
    fn resolve_use(
        &self,
        m: usize,
        target: &[String],
        want_fn: bool,
        depth: usize,
    ) -> Option<(Target, Option<Private>)> {
        let mut module = m;
        let mut rest = target;
        loop {
            match rest.first().map(String::as_str) {
                Some("crate") => module = 0,
                Some("self") => {}
                Some("super") => module = self.modules[module].parent?,
                _ => break,
            }
            rest = &rest[1..];
        }
        if rest.is_empty() {
            return Some((Target::Module(module), None));
        }
        let mut private = None;
        for (i, segment) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            if self.modules[module].problem.is_some() {
                return None;
            }
            let (found, step_private) =
                self.find_in(module, segment, want_fn || !last, depth + 1)?;
            if step_private
                .as_ref()
                .is_some_and(|p| p.what.starts_with("function"))
            {
                private = step_private;
            }
            match found {
                Target::Module(next) if !last => module = next,
                _ if !last => return None,
                found => return Some((found, private)),
            }
        }
        None
    }

    fn fns_span_fallback(&self) -> RustSpan {
        RustSpan {
            file: self.krate.lib_path.clone(),
            line: 1,
            col: 0,
            end_line: 1,
            end_col: 0,
        }
    }

    /// What keeps `name`, reached through `decl` in module `m`, from being public: the `use`
    /// itself when it is not `pub`; else only a private function behind it (a re-export makes
    /// private modules on the way irrelevant, not a private function).
    fn through_use(
        &self,
        m: usize,
        name: &str,
        decl: &UseDecl,
        inner_private: Option<Private>,
    ) -> Option<Private> {
        if decl.is_pub {
            return inner_private.filter(|p| p.what.starts_with("function"));
        }
        Some(Private {
            what: format!(
                "the `use` that brings `{name}` into {}",
                self.shown_module(m)
            ),
            span: decl.span.clone(),
            help: format!("re-export it: `pub {}`", decl.text),
        })
    }

    fn shown_module(&self, m: usize) -> String {
        if m == 0 {
            "the crate root".to_string()
        } else {
            format!("module `{}`", self.modules[m].path)
        }
    }

    /// Every file the index read, and every missing module file it looked for (for an editor
    /// to tell when the index is stale).
    pub fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = self.texts.keys().map(PathBuf::as_path).collect();
        files.extend(self.modules.iter().filter_map(|m| {
            m.problem
                .as_ref()
                .filter(|p| p.missing)
                .map(|p| p.file.as_path())
        }));
        files
    }

    /// A Rust file's path as the user sees it: relative to the directory of flash.yaml.
    pub fn display(&self, path: &Path) -> String {
        let relative = path
            .strip_prefix(&self.krate.manifest_dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        if self.display_root.is_empty() || path.strip_prefix(&self.krate.manifest_dir).is_err() {
            relative
        } else {
            format!("{}/{relative}", self.display_root)
        }
    }

    fn keep_text(&mut self, path: &Path, text: String) {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.line_starts.insert(path.to_path_buf(), starts);
        self.texts.insert(path.to_path_buf(), text);
    }

    /// The text of line `line` (1-based) of `file`, without its line ending (as `lines()` gives
    /// it).
    fn line_text(&self, file: &Path, line: u32) -> &str {
        let (Some(text), Some(starts)) = (self.texts.get(file), self.line_starts.get(file)) else {
            return "";
        };
        let i = line.saturating_sub(1) as usize;
        let Some(&start) = starts.get(i) else {
            return "";
        };
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        let line = &text[start..end];
        let line = line.strip_suffix('\n').unwrap_or(line);
        line.strip_suffix('\r').unwrap_or(line)
    }

    /// A place in the crate, ready for a diagnostic's secondary label.
    pub fn related_file(&self, span: &RustSpan) -> crate::diagnostic::RelatedFile {
        let line_text = self.line_text(&span.file, span.line).to_string();
        crate::diagnostic::RelatedFile {
            path: self.display(&span.file),
            line: span.line.max(1),
            col: span.col,
            end_line: span.end_line.max(1),
            end_col: span.end_col,
            line_text,
        }
    }
}

pub(crate) fn join(module: &str, name: &str) -> String {
    if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}::{name}")
    }
}

/// Functions that block their thread, by their last path segments (`fs::read_to_string`
/// matches `std::fs::read_to_string` and a `use std::fs;` call alike).
const BLOCKING_FNS: &[&[&str]] = &[
    &["thread", "sleep"],
    &["fs", "read"],
    &["fs", "read_to_string"],
    &["fs", "write"],
    &["fs", "copy"],
    &["File", "open"],
    &["File", "create"],
    &["blocking", "get"],
];

/// Methods of `std::process::Command` that wait for the child.
const BLOCKING_COMMAND_METHODS: &[&str] = &["output", "status"];

/// The first call in `block` of a function known to block its thread (not inside a closure
/// or a nested item, which may well run elsewhere, such as in `blocking(move || …)`).
fn first_blocking_call(block: &syn::Block) -> Option<(String, proc_macro2::Span)> {
    use syn::visit::Visit;
    struct Finder(Option<(String, proc_macro2::Span)>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
            if self.0.is_some() {
                return;
            }
            if let syn::Expr::Path(path) = &*call.func {
                let segments: Vec<String> = path
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                let blocking = BLOCKING_FNS
                    .iter()
                    .any(|tail| segments.len() >= tail.len() && segments.ends_with_strs(tail));
                if blocking {
                    let text = segments.join("::");
                    self.0 = Some((text, syn::spanned::Spanned::span(&path.path)));
                    return;
                }
            }
            syn::visit::visit_expr_call(self, call);
        }
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            if self.0.is_some() {
                return;
            }
            let method = call.method.to_string();
            if BLOCKING_COMMAND_METHODS.contains(&method.as_str()) && is_command(&call.receiver) {
                self.0 = Some((format!("Command::{method}"), call.method.span()));
                return;
            }
            syn::visit::visit_expr_method_call(self, call);
        }
    }
    /// A receiver that is visibly a `Command` (`Command::new(…)…`).
    fn is_command(expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::MethodCall(m) => is_command(&m.receiver),
            syn::Expr::Call(c) => matches!(&*c.func, syn::Expr::Path(p)
                if p.path.segments.iter().rev().nth(1).is_some_and(|s| s.ident == "Command")),
            _ => false,
        }
    }
    trait EndsWith {
        fn ends_with_strs(&self, tail: &[&str]) -> bool;
    }
    impl EndsWith for Vec<String> {
        fn ends_with_strs(&self, tail: &[&str]) -> bool {
            self[self.len() - tail.len()..]
                .iter()
                .zip(tail)
                .all(|(a, b)| a == b)
        }
    }
    let mut finder = Finder(None);
    finder.visit_block(block);
    finder.0
}

pub(crate) fn span_of(file: &Path, span: proc_macro2::Span) -> RustSpan {
    let start = span.start();
    let end = span.end();
    RustSpan {
        file: file.to_path_buf(),
        line: start.line as u32,
        col: start.column as u32,
        end_line: end.line as u32,
        end_col: end.column as u32,
    }
}

fn use_span(u: &syn::ItemUse) -> proc_macro2::Span {
    let start = u.use_token.span;
    start.join(u.semi_token.span).unwrap_or(start)
}

/// An item's attributes, for the kinds that hold code.
fn item_attrs(item: &Item) -> &[syn::Attribute] {
    match item {
        Item::Fn(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Const(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        _ => &[],
    }
}

/// What an `Endpoint::named(…)` call passes: a literal, or a constant found by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CalledName {
    Literal(String),
    Const(String),
}

impl CrateIndex {
    /// The endpoint name a call passes, when it is known: a literal, or a string constant of
    /// the crate whose name is not ambiguous.
    pub(crate) fn called_name<'a>(&'a self, called: &'a CalledName) -> Option<&'a str> {
        match called {
            CalledName::Literal(name) => Some(name),
            CalledName::Const(name) => self.str_consts.get(name)?.as_deref(),
        }
    }
}

/// `const NAME: &str = "…";` (or `&'static str`): its name and value.
fn str_const(item: &Item) -> Option<(String, String)> {
    let Item::Const(c) = item else { return None };
    let syn::Type::Reference(r) = &*c.ty else {
        return None;
    };
    let syn::Type::Path(p) = &*r.elem else {
        return None;
    };
    if !p.path.is_ident("str") {
        return None;
    }
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(value),
        ..
    }) = &*c.expr
    else {
        return None;
    };
    Some((c.ident.to_string(), value.value()))
}

/// The `Endpoint::named(…)` calls in `item` (any path ending `Endpoint::named`, as imported
/// or in full) whose argument is a string literal or a path (a constant, `BACKEND` or
/// `crate::api::BACKEND`), with the argument's place.
fn endpoint_calls(item: &Item, imported: bool) -> Vec<(CalledName, proc_macro2::Span)> {
    use syn::spanned::Spanned;
    use syn::visit::Visit;
    struct Finder {
        calls: Vec<(CalledName, proc_macro2::Span)>,
        /// The module imports `Endpoint` from flash-runtime.
        imported: bool,
    }
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
            if let syn::Expr::Path(path) = &*call.func {
                let segments = &path.path.segments;
                let mut tail = segments.iter().rev().map(|s| &s.ident);
                // `Endpoint::named` as imported, or in full from `flash_runtime`.
                let runtime = match segments.len() {
                    2 => self.imported,
                    _ => segments.first().is_some_and(|s| s.ident == "flash_runtime"),
                };
                let named = runtime
                    && tail.next().is_some_and(|i| i == "named")
                    && tail.next().is_some_and(|i| i == "Endpoint");
                let called = match call.args.first() {
                    Some(syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(name),
                        ..
                    })) => Some((CalledName::Literal(name.value()), name.span())),
                    Some(syn::Expr::Path(p)) if p.qself.is_none() => p
                        .path
                        .segments
                        .last()
                        .map(|s| (CalledName::Const(s.ident.to_string()), p.span())),
                    _ => None,
                };
                if let (true, Some(called)) = (named, called) {
                    self.calls.push(called);
                }
            }
            syn::visit::visit_expr_call(self, call);
        }
        // Test code inside an item (`#[cfg(test)] fn` in an impl) may name anything.
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            if !is_cfg_test(&f.attrs) {
                syn::visit::visit_impl_item_fn(self, f);
            }
        }
    }
    let mut finder = Finder {
        calls: Vec::new(),
        imported,
    };
    finder.visit_item(item);
    finder.calls
}

/// Whether a `use` tree brings flash-runtime's `Endpoint` into scope (`use
/// flash_runtime::endpoints::Endpoint;`, in a group, or by a glob under `flash_runtime`).
fn imports_runtime_endpoint(tree: &syn::UseTree, under_runtime: bool) -> bool {
    match tree {
        syn::UseTree::Path(p) => {
            imports_runtime_endpoint(&p.tree, under_runtime || p.ident == "flash_runtime")
        }
        syn::UseTree::Name(n) => under_runtime && n.ident == "Endpoint",
        syn::UseTree::Rename(r) => under_runtime && r.ident == "Endpoint" && r.rename == "Endpoint",
        syn::UseTree::Glob(_) => under_runtime,
        syn::UseTree::Group(g) => g
            .items
            .iter()
            .any(|t| imports_runtime_endpoint(t, under_runtime)),
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().trim() == "test")
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        if !a.path().is_ident("path") {
            return None;
        }
        let syn::Meta::NameValue(nv) = &a.meta else {
            return None;
        };
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

pub(crate) fn doc_of(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|a| {
            let syn::Meta::NameValue(nv) = &a.meta else {
                return None;
            };
            if !nv.path.is_ident("doc") {
                return None;
            }
            match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => {
                    let v = s.value();
                    Some(v.strip_prefix(' ').unwrap_or(&v).to_string())
                }
                _ => None,
            }
        })
        .collect();
    lines.join("\n")
}

/// Whether `derive(...)` (or a `cfg_attr` holding one) names `Serialize` / `Deserialize`.
fn derives(attrs: &[syn::Attribute]) -> (bool, bool) {
    let mut found = (false, false);
    for attr in attrs {
        if !(attr.path().is_ident("derive") || attr.path().is_ident("cfg_attr")) {
            continue;
        }
        let mut stack = vec![attr.meta.to_token_stream()];
        while let Some(tokens) = stack.pop() {
            for token in tokens {
                match token {
                    proc_macro2::TokenTree::Ident(ident) if ident == "Serialize" => found.0 = true,
                    proc_macro2::TokenTree::Ident(ident) if ident == "Deserialize" => {
                        found.1 = true
                    }
                    proc_macro2::TokenTree::Group(group) => stack.push(group.stream()),
                    _ => {}
                }
            }
        }
    }
    found
}

/// Flattens a use tree into (name it binds or `None` for a glob, full target path).
fn flatten_use(
    tree: &UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            let mut target = prefix.clone();
            if name == "self" {
                let bound = prefix.last().cloned();
                if let Some(bound) = bound {
                    out.push((Some(bound), target));
                }
            } else {
                target.push(name.clone());
                out.push((Some(name), target));
            }
        }
        UseTree::Rename(r) => {
            let mut target = prefix.clone();
            if r.ident != "self" {
                target.push(r.ident.to_string());
            }
            let name = r.rename.to_string();
            if name != "_" {
                out.push((Some(name), target));
            }
        }
        UseTree::Glob(_) => out.push((None, prefix.clone())),
        UseTree::Group(g) => {
            for item in &g.items {
                flatten_use(item, prefix, out);
            }
        }
    }
}

/// Token text with rustfmt-like spacing (`Option<Vec<u8>>`, `&'a str`, `a::b`).
pub(crate) fn tidy(tokens: &str) -> String {
    let mut s = tokens
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" ::", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace(" ;", ";")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace("[ ", "[")
        .replace(" ]", "]")
        .replace(" :", ":")
        .replace("- >", "->");
    // `->` and `=>` lost their surrounding spaces above only when written `<` `>`; restore.
    s = s.replace(")->", ") ->");
    s
}
