//! A property of the whole pipeline (issue 15): **every flash.yaml and handler crate that
//! `flashc check` accepts builds and starts in the generated workspace, and serves every
//! route.** Random route sets (several methods on one path shape, each naming the path's
//! parameters its own way, raw identifiers such as `r#type`, WebSocket routes beside GETs)
//! and random handler signatures (sync and async, path, query and body arguments of several
//! types, plain, `Result` and stream returns) are written as a project, checked, generated,
//! built once, and every worker is started and every route called.
//!
//! Deterministic by default (seed 15); `FLASH_PROPERTY_SEED=N` tries another project and
//! `FLASH_PROPERTY_ENDPOINTS=N` a bigger one. A failure prints the seed and the project's
//! directory.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Map, Value};
use support::http::request;
use support::serve::{websocket, Worker};

/// xorshift64*: enough randomness for a generator, no dependency, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A scalar type a path segment or a query parameter can carry, and a value of it as sent.
const SCALARS: &[(&str, &str)] = &[
    ("u64", "7"),
    ("i32", "-3"),
    ("String", "abc"),
    ("bool", "true"),
];
/// Body argument types and a JSON value of each.
const BODY_TYPES: &[(&str, &str)] = &[
    ("String", r#""text""#),
    ("Option<String>", "null"),
    ("Vec<u32>", "[1, 2]"),
    ("serde_json::Value", r#"{"any": [1]}"#),
    ("f64", "1.5"),
];
/// Query argument types and a query-string value of each.
const QUERY_TYPES: &[(&str, Option<&str>)] = &[
    ("Option<String>", Some("q")),
    ("Option<u32>", None),
    ("bool", Some("false")),
];
/// Path parameter names: one shape gets different names on different routes.
const PARAM_NAMES: &[&str] = &["id", "user_id", "uid", "key", "type", "slug"];
const SHAPES: &[&[&str]] = &[
    &["users"],
    &["users", "{}"],
    &["users", "{}", "posts", "{}"],
    &["items", "{}"],
    &["a", "b", "{}"],
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "WS"];

struct Arg {
    name: &'static str,
    ty: &'static str,
    /// What a request carries for it: a path segment or query value, or body JSON.
    value: Option<String>,
}

struct Route {
    method: &'static str,
    path: String,
    /// The path with values in place of its parameters.
    request_path: String,
    handler: String,
    path_args: Vec<Arg>,
    other_args: Vec<Arg>,
}

fn rust_ident(name: &str) -> String {
    if name == "type" {
        "r#type".to_string()
    } else {
        name.to_string()
    }
}

fn random_route(
    rng: &mut Rng,
    endpoint: usize,
    n: usize,
    taken: &mut BTreeSet<String>,
) -> Option<Route> {
    let method = *rng.pick(METHODS);
    let shape = *rng.pick(SHAPES);
    let key = format!("{method} {}", shape.join("/"));
    if !taken.insert(key) {
        return None; // one (method, shape) per endpoint: another would be FL0208
    }
    let mut path = String::new();
    let mut request_path = String::new();
    let mut path_args = Vec::new();
    let mut used = BTreeSet::new();
    for segment in shape {
        path.push('/');
        request_path.push('/');
        if *segment == "{}" {
            let name = loop {
                let name = *rng.pick(PARAM_NAMES);
                if used.insert(name) {
                    break name;
                }
            };
            let (ty, value) = *rng.pick(SCALARS);
            write!(path, "{{{name}}}").unwrap();
            request_path.push_str(value);
            path_args.push(Arg {
                name,
                ty,
                value: Some(value.to_string()),
            });
        } else {
            path.push_str(segment);
            request_path.push_str(segment);
        }
    }
    let mut other_args = Vec::new();
    for i in 0..rng.below(3) {
        let name: &'static str = ["q", "limit", "payload"][i];
        if method == "GET" {
            let (ty, value) = *rng.pick(QUERY_TYPES);
            other_args.push(Arg {
                name,
                ty,
                value: value.map(str::to_string),
            });
        } else {
            let (ty, value) = *rng.pick(BODY_TYPES);
            other_args.push(Arg {
                name,
                ty,
                value: Some(value.to_string()),
            });
        }
    }
    Some(Route {
        method,
        path,
        request_path,
        handler: format!("ep{endpoint}::route{n}"),
        path_args,
        other_args,
    })
}

/// The handler function of `route`, in module `ep{endpoint}`.
fn handler_source(rng: &mut Rng, route: &Route, n: usize) -> String {
    let params: Vec<String> = route
        .path_args
        .iter()
        .chain(&route.other_args)
        .map(|a| format!("{}: {}", rust_ident(a.name), a.ty))
        .collect();
    let used: Vec<String> = route
        .path_args
        .iter()
        .chain(&route.other_args)
        .map(|a| format!("format!(\"{{:?}}\", {})", rust_ident(a.name)))
        .collect();
    let summary = if used.is_empty() {
        "String::new()".to_string()
    } else {
        format!("[{}].join(\",\")", used.join(", "))
    };
    let params = params.join(", ");
    if route.method == "WS" {
        return format!(
            "pub fn route{n}({params}) -> impl futures_util::Stream<Item = String> {{\n    futures_util::stream::iter(vec![{summary}, \"end\".to_string()])\n}}\n"
        );
    }
    let asyncness = if rng.chance(50) { "async " } else { "" };
    match rng.below(4) {
        0 => format!("pub {asyncness}fn route{n}({params}) -> String {{\n    {summary}\n}}\n"),
        1 => format!(
            "pub {asyncness}fn route{n}({params}) -> Result<serde_json::Value, flash_runtime::HandlerError> {{\n    let args = {summary};\n    Ok(serde_json::json!({{ \"args\": args }}))\n}}\n"
        ),
        2 => format!(
            "pub {asyncness}fn route{n}({params}) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {{\n    Ok(vec![{summary}])\n}}\n"
        ),
        _ => format!(
            "pub {asyncness}fn route{n}({params}) -> Reply {{\n    Reply {{ args: {summary} }}\n}}\n"
        ),
    }
}

struct Project {
    dir: PathBuf,
    endpoints: Vec<(String, Vec<Route>)>,
}

fn write_project(seed: u64, endpoints: usize) -> Project {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("property-{seed}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("src")).unwrap();
    let mut yaml = format!("version: 1\nname: prop-{seed}\nendpoints:\n");
    let mut lib = String::from(
        "//! Handlers generated by tests/generated_property.rs.\n\n#[derive(serde::Serialize)]\npub struct Reply {\n    pub args: String,\n}\n",
    );
    let mut all = Vec::new();
    for e in 0..endpoints {
        let mut taken = BTreeSet::new();
        let mut routes = Vec::new();
        let wanted = 1 + rng.below(5);
        for n in 0..wanted * 3 {
            if routes.len() == wanted {
                break;
            }
            if let Some(route) = random_route(&mut rng, e, n, &mut taken) {
                routes.push(route);
            }
        }
        let name = format!("ep{e}");
        writeln!(
            yaml,
            "  {name}:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:"
        )
        .unwrap();
        writeln!(
            lib,
            "\npub mod {name} {{\n    #[allow(unused_imports)]\n    use super::Reply;\n"
        )
        .unwrap();
        for (n, route) in routes.iter().enumerate() {
            writeln!(
                yaml,
                "      \"{} {}\": {}",
                route.method, route.path, route.handler
            )
            .unwrap();
            let n: usize = route
                .handler
                .rsplit("route")
                .next()
                .unwrap()
                .parse()
                .unwrap_or(n);
            for line in handler_source(&mut rng, route, n).lines() {
                writeln!(lib, "    {line}").unwrap();
            }
        }
        lib.push_str("}\n");
        all.push((name, routes));
    }
    fs::write(dir.join("flash.yaml"), yaml).unwrap();
    fs::write(dir.join("src/lib.rs"), lib).unwrap();
    fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"prop-{seed}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n\
             flash-runtime = \"0.1\"\nfutures-util = \"0.3\"\nserde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    Project {
        dir,
        endpoints: all,
    }
}

fn flashc(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flashc"))
        .args(args)
        .arg(dir.join("flash.yaml"))
        .output()
        .expect("run flashc")
}

#[test]
fn every_accepted_project_builds_starts_and_serves_every_route() {
    if !support::run_slow_tests("every_accepted_project_builds_starts_and_serves_every_route") {
        return;
    }
    let seed: u64 = std::env::var("FLASH_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let endpoints: usize = std::env::var("FLASH_PROPERTY_ENDPOINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let project = write_project(seed, endpoints);
    let dir = &project.dir;
    let context = format!("seed {seed}, project {}", dir.display());

    // The generator writes only valid projects: a rejection is a false positive of check (or
    // a generator bug); either way it is shown.
    let out = flashc(&["check"], dir);
    assert!(
        out.status.success(),
        "check refused a valid project ({context}):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = flashc(&["generate"], dir);
    assert!(
        out.status.success(),
        "generate ({context}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The generate test's target dir: its dependencies are built already.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("generated");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--workspace", "--manifest-path"])
        .arg(dir.join(".flash/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "an accepted project does not build ({context}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut calls = 0;
    for (name, routes) in &project.endpoints {
        let bin = target.join("debug").join(format!("prop-{seed}-{name}"));
        // Starting waits for /ping to answer 200: a router that refuses its routes fails here.
        let worker = Worker::start(&bin, &format!("{context}: {name}"), &[]);
        for route in routes {
            let what = format!("{} {} ({context}, {name})", route.method, route.path);
            if route.method == "WS" {
                let message = body_of(route);
                let frames = websocket(worker.port, &route.request_path, &message);
                assert_eq!(frames.last(), Some(&json!("end")), "{what}: {frames:?}");
                for arg in &route.path_args {
                    let value = arg.value.as_deref().unwrap_or_default();
                    let first = frames[0].as_str().unwrap_or_default();
                    assert!(
                        first.contains(value),
                        "{what}: {frames:?} lacks {}",
                        arg.name
                    );
                }
            } else {
                let (path, body) = if route.method == "GET" {
                    (with_query(route), None)
                } else {
                    (route.request_path.clone(), Some(body_of(route).to_string()))
                };
                let r = request(worker.port, route.method, &path, body.as_deref())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(r.status, 200, "{what}: {}", r.body);
                // Each route bound its own parameter names (a 200, not a 422 "Field
                // required"), and the values came through.
                for arg in &route.path_args {
                    let value = arg.value.as_deref().unwrap_or_default();
                    assert!(
                        r.body.contains(value),
                        "{what}: {} lacks {}",
                        r.body,
                        arg.name
                    );
                }
            }
            calls += 1;
        }
        worker.stop();
    }
    assert!(
        calls >= endpoints,
        "{context}: only {calls} routes were called"
    );
}

fn body_of(route: &Route) -> Value {
    let mut map = Map::new();
    for arg in &route.other_args {
        if let Some(v) = &arg.value {
            map.insert(arg.name.to_string(), serde_json::from_str(v).unwrap());
        }
    }
    Value::Object(map)
}

fn with_query(route: &Route) -> String {
    let pairs: Vec<String> = route
        .other_args
        .iter()
        .filter_map(|a| a.value.as_ref().map(|v| format!("{}={v}", a.name)))
        .collect();
    if pairs.is_empty() {
        route.request_path.clone()
    } else {
        format!("{}?{}", route.request_path, pairs.join("&"))
    }
}
