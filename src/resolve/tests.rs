//! The resolver over an in-memory crate: lookups, re-exports, visibility, and every
//! diagnostic with its help.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::diagnostic::Diagnostic;

/// A crate `shop` at `/p` whose files are given as `(path under /p, text)`.
struct Mem {
    files: HashMap<PathBuf, String>,
    error: Option<CrateError>,
}

impl Mem {
    fn new(files: &[(&str, &str)]) -> Mem {
        Mem {
            files: files
                .iter()
                .map(|(p, t)| (Path::new("/p").join(p), t.to_string()))
                .collect(),
            error: None,
        }
    }
}

impl Workspace for Mem {
    fn locate_crate(&self, _dir: &Path) -> Result<CrateInfo, CrateError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
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
        self.files.get(path).cloned()
    }
}

fn lb(routes: &str) -> String {
    format!("version: 1\nname: shop\nendpoints:\n  api:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n{routes}")
}

fn queue(init: Option<&str>, handler: &str) -> String {
    let init = init.map(|i| format!("    init: {i}\n")).unwrap_or_default();
    format!("version: 1\nname: shop\nendpoints:\n  job:\n    type: queue\n    cpu: cpu3c-2-4\n{init}    handler: {handler}\n")
}

fn check(yaml: &str, ws: &Mem) -> Vec<Diagnostic> {
    crate::check_with_crate(yaml.as_bytes(), None, ws).expect("no env")
}

fn codes(d: &[Diagnostic]) -> Vec<&str> {
    d.iter().map(|d| d.code).collect()
}

fn one<'a>(d: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    assert_eq!(codes(d), vec![code], "{d:#?}");
    &d[0]
}

fn help(d: &Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}

const LIB: &str = "pub mod users;\n";
const USERS: &str = r#"
use serde::{Deserialize, Serialize};
use std::sync::Arc;
#[derive(Serialize, Deserialize)]
pub struct User { pub id: i64 }
#[derive(Deserialize)]
pub enum Sort { Name, Id }
/// Gets one user.
pub async fn get(id: i64, sort: Option<Sort>) -> User { User { id } }
pub fn create(user: User) -> Result<User, String> { Ok(user) }
pub fn stream(ctx: flash_runtime::Context) -> impl futures::Stream<Item = Result<User, String>> { todo!() }
"#;

/// Resolves one project through `ws`, the crate indexed for it (what `Analysis` does per
/// command).
fn resolve(
    project: &crate::project::Project,
    ws: &dyn Workspace,
    out: &mut Vec<crate::diagnostic::Diagnostic>,
) -> Option<super::Resolved> {
    let (site, index) = super::index_crate(project.root, project.handler_nodes().next(), ws)?;
    crate::rules::check_crate(&site, out);
    let index = index?;
    let resolved = super::resolve_project(project, &index);
    crate::rules::check_handlers(&resolved.uses, out);
    crate::rules::check_endpoint_calls(project, &resolved.endpoint_calls, out);
    Some(resolved)
}

#[test]
fn resolves_handlers_with_their_shapes() {
    let ws = Mem::new(&[("src/lib.rs", LIB), ("src/users.rs", USERS)]);
    let yaml = lb("      \"GET /users/{id}\": users::get\n      \"POST /users\": users::create\n      \"WS /s\": users::stream\n");
    assert!(check(&yaml, &ws).is_empty(), "{:#?}", check(&yaml, &ws));
    let (root, _) = crate::load::load(yaml.as_bytes(), Default::default());
    let root = root.expect("loads");
    let project = crate::project::Project::new(&root, None, &[]);
    let mut out = Vec::new();
    let resolved = resolve(&project, &ws, &mut out).expect("crate");
    assert!(out.is_empty());
    let get = &resolved.handlers["users::get"];
    assert!(get.is_async);
    assert_eq!(get.params.len(), 2);
    assert_eq!(get.params[1].ty, "Option<Sort>");
    assert_eq!(get.params[1].kind, ParamKind::Arg);
    assert_eq!(get.returns, Returns::Value { ty: "User".into() });
    assert_eq!(get.doc, "Gets one user.");
    assert_eq!(
        get.signature,
        "pub async fn get(id: i64, sort: Option<Sort>) -> User"
    );
    assert_eq!(get.span.line, 9);
    let create = &resolved.handlers["users::create"];
    assert_eq!(
        create.returns,
        Returns::Result {
            ok: "User".into(),
            err: "String".into()
        }
    );
    let stream = &resolved.handlers["users::stream"];
    assert_eq!(stream.params[0].kind, ParamKind::Context(Pass::Owned));
    assert_eq!(
        stream.returns,
        Returns::Stream {
            item: "Result<User, String>".into(),
            fallible: true
        }
    );
}

#[test]
fn follows_nested_modules_files_and_re_exports() {
    let ws = Mem::new(&[
        ("src/lib.rs", "pub mod api;\nmod inner;\npub use inner::hidden;\npub use inner::deep::*;\npub mod inline { pub mod more { pub fn f() {} } }\n#[path = \"elsewhere.rs\"] pub mod moved;\n"),
        ("src/api/mod.rs", "pub mod v1;\n"),
        ("src/api/v1.rs", "pub mod users;\n"),
        ("src/api/v1/users.rs", "pub fn list() -> Vec<String> { vec![] }\n"),
        ("src/inner.rs", "pub fn hidden() {}\npub mod deep;\n"),
        ("src/inner/deep.rs", "pub fn globbed() {}\n"),
        ("src/elsewhere.rs", "pub fn there() {}\n"),
    ]);
    let yaml = lb("      \"GET /a\": api::v1::users::list\n      \"GET /b\": hidden\n      \"GET /c\": globbed\n      \"GET /d\": inline::more::f\n      \"GET /e\": moved::there\n");
    assert_eq!(check(&yaml, &ws), vec![]);
}

#[test]
fn private_module_function_and_use_say_what_to_make_public() {
    let ws = Mem::new(&[
        ("src/lib.rs", "mod users;\npub mod admin { fn reset() {} pub(crate) fn wipe() {} }\nmod inner { pub fn f() {} }\nuse inner::f;\n"),
        ("src/users.rs", "pub fn get(id: i64) -> i64 { id }\n"),
    ]);
    let d = check(&lb("      \"GET /users/{id}\": users::get\n"), &ws);
    let d = one(&d, "FL0703");
    assert_eq!(
        d.message,
        "function `users::get` is not public: module `users` is private"
    );
    assert_eq!(help(d), "make it public: `pub mod users;` in `src/lib.rs`");
    let file = d.related[0].file.as_ref().expect("points into Rust");
    assert_eq!(
        (file.path.as_str(), file.line, file.col),
        ("src/lib.rs", 1, 4)
    );
    let d = check(&lb("      \"GET /r\": admin::reset\n"), &ws);
    assert_eq!(
        help(one(&d, "FL0703")),
        "make it public: `pub fn reset` in `src/lib.rs`"
    );
    let d = check(&lb("      \"GET /r\": admin::wipe\n"), &ws);
    assert!(help(one(&d, "FL0703")).contains("pub(...)` is not enough"));
    let d = check(&lb("      \"GET /r\": f\n"), &ws);
    let d = one(&d, "FL0703");
    assert!(
        d.message
            .contains("the `use` that brings `f` into the crate root"),
        "{}",
        d.message
    );
    assert_eq!(help(d), "re-export it: `pub use inner::f;`");
}

#[test]
fn missing_functions_get_the_closest_path_or_the_crate_root_fix() {
    let ws = Mem::new(&[("src/lib.rs", LIB), ("src/users.rs", USERS)]);
    let d = check(&lb("      \"GET /users/{id}\": users::gett\n"), &ws);
    let d = one(&d, "FL0702");
    assert_eq!(
        d.message,
        "function `users::gett` not found in crate `shop`"
    );
    assert_eq!(help(d), "did you mean `users::get`?");
    let d = check(&lb("      \"GET /users/{id}\": shop::users::get\n"), &ws);
    assert_eq!(
        help(one(&d, "FL0702")),
        "paths are written from the crate root, without `shop::`: write `users::get`"
    );
    let d = check(&lb("      \"GET /users/{id}\": crate::users::get\n"), &ws);
    assert_eq!(
        help(one(&d, "FL0702")),
        "paths are written from the crate root, without `crate::`: write `users::get`"
    );
    let d = check(&lb("      \"GET /x\": users::something_else\n"), &ws);
    assert_eq!(help(one(&d, "FL0702")), "define `pub fn something_else` in module `users` (`src/users.rs`); it has `create`, `get`, `stream`");
    let d = check(&lb("      \"GET /x\": orders::list\n"), &ws);
    assert_eq!(
        help(one(&d, "FL0702")),
        "write the path from the crate root through `pub mod`s, such as `users::create`, `users::get`, `users::stream`"
    );
    let d = check(&lb("      \"GET /x\": listing\n"), &ws);
    assert_eq!(
        help(one(&d, "FL0702")),
        "define `pub fn listing` in the crate root (`src/lib.rs`)"
    );
    let d = check(&lb("      \"GET /x\": users\n"), &ws);
    let d = one(&d, "FL0702");
    assert_eq!(d.message, "`users` is a module, not a function");
    assert_eq!(help(d), "name a function in it, such as `users::create`");
    let d = check(&lb("      \"GET /x\": users::User::new\n"), &ws);
    assert_eq!(
        one(&d, "FL0702").message,
        "`users::User::new` is an associated function of `User`, not a free function"
    );
    let d = check(&lb("      \"GET /x\": users::User\n"), &ws);
    assert_eq!(
        one(&d, "FL0702").message,
        "`users::User` is a struct, not a function"
    );
}

#[test]
fn broken_files_are_named_with_their_line() {
    let ws = Mem::new(&[
        ("src/lib.rs", "pub mod users;\npub mod gone;\n"),
        ("src/users.rs", "pub fn get( -> {}\n"),
    ]);
    let d = check(&lb("      \"GET /a\": users::get\n      \"GET /b\": users::list\n      \"GET /c\": gone::f\n"), &ws);
    assert_eq!(codes(&d), vec!["FL0702", "FL0702"], "{d:#?}");
    assert_eq!(
        d[0].message,
        "cannot look up `users::get`: `src/users.rs` does not parse"
    );
    assert_eq!(d[0].related[0].file.as_ref().map(|f| f.line), Some(1));
    assert_eq!(d[1].message, "cannot look up `gone::f`: module `gone` has no file: neither `src/gone.rs` nor `src/gone/mod.rs` exists");
    assert!(help(&d[1]).starts_with("create `src/gone.rs`"));
}

#[test]
fn crate_errors_point_at_crate_or_the_first_handler() {
    let mut ws = Mem::new(&[]);
    ws.error = Some(CrateError::NoManifest("/p".into()));
    let d = check(&queue(None, "jobs::run"), &ws);
    let d = one(&d, "FL0701");
    assert_eq!(d.span.start.line, 7);
    assert!(help(d).starts_with("run `cargo init --lib` next to flash.yaml"));
    ws.error = Some(CrateError::NoLib {
        package: "shop".into(),
    });
    let yaml = format!("crate: handlers\n{}", queue(None, "jobs::run"));
    let d = check(&yaml, &ws);
    let d = one(&d, "FL0701");
    assert_eq!(d.span.start.line, 1);
    assert_eq!(
        d.message,
        "package `shop` has no library target: handlers must be in a library"
    );
    let d = check(&format!("crate: ../up\n{}", queue(None, "jobs::run")), &ws);
    assert_eq!(
        one(&d, "FL0701").message,
        "crate directory `../up` is outside the directory of flash.yaml"
    );
    assert!(crate::rules::leaves_project("/abs"));
    assert!(crate::rules::leaves_project("a/../../b"));
    assert!(!crate::rules::leaves_project("a/../b"));
}

#[test]
fn route_parameters_must_be_taken() {
    let ws = Mem::new(&[(
        "src/lib.rs",
        "pub fn get(user_id: i64) -> i64 { user_id }\npub fn other(x: i64) -> i64 { x }\n",
    )]);
    let d = check(&lb("      \"GET /users/{id}\": get\n"), &ws);
    let d = one(&d, "FL0704");
    assert_eq!(
        d.message,
        "route parameter `{id}` is not a parameter of `get`"
    );
    // `user_id` ends with `id`: the help names it (issue 15).
    assert_eq!(
        help(d),
        "rename `{id}` to `{user_id}` in the route, or the parameter `user_id` to `id`"
    );
    let d = check(&lb("      \"GET /users/{slug}\": get\n"), &ws);
    assert_eq!(help(one(&d, "FL0704")), "add a parameter named `slug` (such as `slug: String`) to `get`, or remove `{slug}` from the route");
    let d = check(&lb("      \"GET /users/{user}\": get\n"), &ws);
    assert_eq!(
        help(one(&d, "FL0704")),
        "rename `{user}` to `{user_id}` in the route, or the parameter `user_id` to `user`"
    );
}

#[test]
fn unbindable_parameters() {
    let ws = Mem::new(&[(
        "src/lib.rs",
        r#"
pub struct Plain;
pub fn a(name: &str) {}
pub fn b((x, y): (i32, i32)) {}
pub fn c(m: &mut Vec<u8>) {}
pub fn d(x: impl Into<String>) {}
pub fn e<T>(x: T) {}
pub fn f(model: &Model) {}
pub fn g(p: Plain) {}
pub struct Model;
"#,
    )]);
    let cases = [
        ("a", "parameter `name: &str` of `a` cannot be bound: a reference is only allowed for the endpoint's state (`&S`) and the context (`&Context`)", "take an owned value: `name: String`"),
        ("b", "parameter `(x, y): (i32, i32)` of `b` cannot be bound: arguments are bound by name, and a pattern has none", "name the parameter (`value: (i32, i32)`) and destructure it in the body"),
        ("c", "parameter `m: &mut Vec<u8>` of `c` cannot be bound: state and context are shared between calls, so they cannot be borrowed mutably", "take `&Vec<u8>` (or `Arc<Vec<u8>>`) for the endpoint's state and use interior mutability (`Mutex`, atomics) for what changes"),
        ("d", "parameter `x: impl Into<String>` of `d` cannot be bound: generated code needs a concrete type to read the argument into", "use a concrete type that implements `serde::Deserialize`"),
        ("e", "`e` is generic over `T`: generated code cannot choose the type", "give the handler concrete parameter and return types"),
        ("f", "parameter `model: &Model` of `f` takes the endpoint's state, but endpoint `job` has no `init`", "add `init:` to endpoint `job`, naming a function that returns `Model`; or take the value as an argument (`model: Model`)"),
        ("g", "parameter `p: Plain` of `g` cannot be read from a request: `Plain` does not implement `serde::Deserialize`", "add `#[derive(serde::Deserialize)]` to `Plain` in `src/lib.rs`"),
    ];
    for (handler, message, fix) in cases {
        let d = check(&queue(None, handler), &ws);
        let d = one(&d, "FL0705");
        assert_eq!((d.message.as_str(), help(d)), (message, fix));
    }
}

#[test]
fn get_arguments_must_fit_a_query_string() {
    let ws = Mem::new(&[(
        "src/lib.rs",
        r#"
#[derive(Deserialize)] pub struct Filter { a: i32 }
#[derive(Deserialize)] pub enum Order { Asc, Desc }
#[derive(Deserialize)] pub enum Shape { Circle(f64) }
pub fn ok(a: i64, b: Option<bool>, c: String, o: Order, t: chrono::NaiveDate) {}
pub fn tags(t: Vec<String>) {}
pub fn filter(f: Filter) {}
pub fn shape(s: Option<Shape>) {}
pub fn value(v: serde_json::Value) {}
pub fn pair(p: (i32, i32)) {}
"#,
    )]);
    assert_eq!(
        check(
            &lb("      \"GET /ok\": ok\n      \"POST /tags\": tags\n"),
            &ws
        ),
        vec![]
    );
    for (handler, reason) in [
        ("tags", "`Vec` is structured"),
        ("filter", "`Filter` is a struct"),
        ("shape", "`Shape` is an enum with data"),
        ("value", "`Value` is structured"),
        ("pair", "a tuple"),
    ] {
        let d = check(&lb(&format!("      \"GET /x\": {handler}\n")), &ws);
        let d = one(&d, "FL0706");
        assert!(d.message.ends_with(reason), "{}", d.message);
        assert!(help(d).starts_with("a GET argument must be a number"));
    }
}

#[test]
fn return_types_must_serialize() {
    let ws = Mem::new(&[(
        "src/lib.rs",
        r#"
pub struct Secret;
pub struct Manual;
impl serde::Serialize for Manual { }
pub fn a() -> &'static str { "" }
pub fn b() -> Vec<Secret> { vec![] }
pub fn c() -> impl Iterator<Item = u8> { [].into_iter() }
pub fn d() -> Box<dyn std::fmt::Debug> { todo!() }
pub fn e() -> Result<Secret, String> { todo!() }
pub fn ok() -> anyhow::Result<Manual> { todo!() }
"#,
    )]);
    assert_eq!(check(&queue(None, "ok"), &ws), vec![]);
    for (handler, fix) in [
        ("a", "return an owned value such as `String`"),
        ("b", "add `#[derive(serde::Serialize)]` to `Secret` in `src/lib.rs`"),
        ("c", "return a concrete type that implements `serde::Serialize`, or `impl Stream<Item = T>` for a stream"),
        ("d", "return a concrete type that implements `serde::Serialize`"),
        ("e", "add `#[derive(serde::Serialize)]` to `Secret` in `src/lib.rs`"),
    ] {
        let d = check(&queue(None, handler), &ws);
        assert_eq!(help(one(&d, "FL0707")), fix);
    }
}

#[test]
fn streams_serve_websockets_only() {
    let ws = Mem::new(&[(
        "src/lib.rs",
        "pub fn s() -> impl Stream<Item = u8> { todo!() }\npub fn v() -> u8 { 0 }\n",
    )]);
    assert_eq!(
        check(&lb("      \"WS /s\": s\n      \"GET /v\": v\n"), &ws),
        vec![]
    );
    assert_eq!(check(&queue(None, "s"), &ws), vec![]);
    let d = check(&lb("      \"GET /s\": s\n"), &ws);
    assert_eq!(
        help(one(&d, "FL0708")),
        "serve the stream on a WebSocket route (`\"WS /s\"`), or return a value"
    );
    let d = check(&lb("      \"WS /v\": v\n"), &ws);
    assert_eq!(help(one(&d, "FL0708")), "return `impl Stream<Item = T>` (one frame per item), or serve it on an HTTP route such as `\"GET /v\"`");
}

#[test]
fn init_and_state_agree() {
    let ws = Mem::new(&[(
        "src/lib.rs",
        r#"
pub struct Model; pub struct Tokenizer;
pub async fn load() -> anyhow::Result<Model> { todo!() }
pub fn tok() -> Tokenizer { todo!() }
pub fn with_args(n: u32) -> Model { todo!() }
pub fn streaming() -> impl Stream<Item = u8> { todo!() }
pub fn run(model: &crate::Model, text: String) -> u8 { 0 }
pub fn shared(model: std::sync::Arc<Model>, ctx: &Context) -> u8 { 0 }
"#,
    )]);
    assert_eq!(check(&queue(Some("load"), "run"), &ws), vec![]);
    assert_eq!(check(&queue(Some("load"), "shared"), &ws), vec![]);
    let d = check(&queue(Some("tok"), "run"), &ws);
    let d = one(&d, "FL0709");
    assert_eq!(d.message, "parameter `model: &crate::Model` of `run` takes state `crate::Model`, but init `tok` returns `Tokenizer`");
    assert_eq!(
        help(d),
        "take `&Tokenizer` (or `Arc<Tokenizer>`), or make `tok` return `crate::Model`"
    );
    let d = check(&queue(Some("with_args"), "run"), &ws);
    assert!(one(&d, "FL0709")
        .message
        .starts_with("init `with_args` takes parameters (n: u32)"));
    let d = check(&queue(Some("streaming"), "run"), &ws);
    assert_eq!(
        one(&d, "FL0709").message,
        "init `streaming` returns a stream, but init returns the endpoint's state once"
    );

    let (root, _) = crate::load::load(queue(Some("load"), "shared").as_bytes(), Default::default());
    let root = root.expect("loads");
    let project = crate::project::Project::new(&root, None, &[]);
    let resolved = resolve(&project, &ws, &mut Vec::new()).expect("crate");
    let init = &resolved.inits["load"];
    assert!(init.is_async && init.fallible);
    assert_eq!(init.state_ty, "Model");
    let shared = &resolved.handlers["shared"];
    assert_eq!(shared.params[0].kind, ParamKind::State(Pass::Owned));
    assert_eq!(shared.params[1].kind, ParamKind::Context(Pass::Ref));
}

#[test]
fn environments_resolve_once_per_mistake() {
    let ws = Mem::new(&[("src/lib.rs", "pub fn a() {}\n")]);
    let yaml = format!("{}environments:\n  prod:\n    endpoints:\n      job:\n        handler: b\n  dev:\n    endpoints:\n      job:\n        workers: 2\n", queue(None, "x"));
    let d = check(&yaml, &ws);
    assert_eq!(codes(&d), vec!["FL0702", "FL0702"], "{d:#?}");
    assert!(!d[0].message.contains("environment"));
    assert!(
        d[1].message.ends_with("(in environment `prod`)"),
        "{}",
        d[1].message
    );
}

#[test]
fn never_panics_on_odd_rust() {
    let deep = format!(
        "pub fn f() {{ {}{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let odd = [
        deep.as_str(),
        "pub fn f(\u{e9}: &str) {}\n\t  pub mod x;",
        "pub mod a {",
        "",
        "fn",
        "pub mod a; pub mod a;",
        "pub mod r { pub use super::r::*; pub use self::*; }\npub use r::*;",
        "pub use crate::x as y; pub use y as x;",
        "pub fn f(self) {}",
        "\u{feff}pub fn g() -> impl Stream<Item = > {}",
    ];
    for text in odd {
        let ws = Mem::new(&[("src/lib.rs", text), ("src/a.rs", "pub mod a;")]);
        for path in ["f", "g", "x", "y", "r::f", "a::a::f"] {
            let yaml = queue(None, path);
            let d = check(&yaml, &ws);
            let source = crate::render::SourceFile::new("flash.yaml", &yaml);
            let _ = crate::render::human(&source, &d, false);
            let _ = crate::render::json(&source, &d);
            let _ = crate::render::sarif(&source, &d);
            let _ = crate::render::github(&source, &d);
        }
    }
}

#[test]
fn a_thousand_endpoints_resolve() {
    let mut lib = String::new();
    let mut routes = String::new();
    for i in 0..1000 {
        lib.push_str(&format!("pub mod m{i} {{ #[derive(Serialize)] pub struct R{i}; pub async fn get(id: i64, q: Option<String>) -> R{i} {{ R{i} }} }}\n"));
        routes.push_str(&format!("      \"GET /r{i}/{{id}}\": m{i}::get\n"));
    }
    let ws = Mem::new(&[("src/lib.rs", &lib)]);
    let yaml = lb(&routes);
    // Its speed is measured by benches/generate.rs (resolution is part of generate's core).
    assert_eq!(check(&yaml, &ws), vec![]);
}

#[test]
fn modules_globbing_each_other_stay_cheap() {
    let mut lib = String::new();
    for i in 0..12 {
        lib.push_str(&format!("pub mod m{i} {{"));
        for j in 0..12 {
            lib.push_str(&format!(" pub use crate::m{j}::*;"));
        }
        lib.push_str(" }\n");
    }
    let ws = Mem::new(&[("src/lib.rs", &lib)]);
    let start = std::time::Instant::now();
    let d = check(&queue(None, "m0::missing"), &ws);
    assert_eq!(codes(&d), vec!["FL0702"]);
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_rust_never_panics(text in "(pub |mod |fn |use |\\{|\\}|\\(|\\)|::|\\*|;|a|b|self|super|crate|-> |impl Stream<Item = |>|&|Arc<|#\\[path = \"x.rs\"\\]| )*") {
        let ws = Mem::new(&[("src/lib.rs", &text), ("src/a.rs", &text), ("src/x.rs", &text)]);
        for path in ["a", "a::b", "b", "a::a::b"] {
            let _ = check(&queue(None, path), &ws);
        }
    }
}

#[test]
fn macro_made_functions_are_explained() {
    let ws = Mem::new(&[(
        "src/lib.rs",
        "macro_rules! m { () => {} }\nmake_handlers!(get);\n",
    )]);
    let d = check(&queue(None, "get_user"), &ws);
    assert!(help(one(&d, "FL0702")).contains("one a macro generates is not seen"));
}

#[test]
fn other_files_render_in_every_format() {
    let ws = Mem::new(&[("src/lib.rs", LIB), ("src/users.rs", USERS)]);
    let yaml = lb("      \"GET /users/{key}\": users::get\n");
    let d = check(&yaml, &ws);
    let d = one(&d, "FL0704").clone();
    let source = crate::render::SourceFile::new("flash.yaml", &yaml);
    let human = crate::render::human(&source, std::slice::from_ref(&d), false);
    assert!(human.contains(" ::: src/users.rs:9:14"), "{human}");
    assert!(
        human.contains("pub async fn get(id: i64, sort: Option<Sort>) -> User"),
        "{human}"
    );
    let github = crate::render::github(&source, std::slice::from_ref(&d));
    assert!(
        github.contains("%0Anote: src/users.rs:9:14: defined here"),
        "{github}"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&crate::render::sarif(&source, std::slice::from_ref(&d)))
            .expect("json");
    let related = &sarif["runs"][0]["results"][0]["relatedLocations"][1]["physicalLocation"];
    assert_eq!(related["artifactLocation"]["uri"], "src/users.rs");
    assert_eq!(related["region"]["startLine"], 9);
    let json: serde_json::Value =
        serde_json::from_str(&crate::render::json(&source, std::slice::from_ref(&d)))
            .expect("json");
    assert_eq!(json["diagnostics"][0]["related"][1]["file"], "src/users.rs");
}
