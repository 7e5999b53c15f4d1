//! The pipeline derives each fact once per command (issue 15): one load, one merge per
//! environment, each route key parsed and each route value unpacked once per environment, the
//! crate indexed once. Counted by `flashc::stats` on this thread while the library runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flashc::resolve::{CrateError, CrateInfo, Workspace};
use flashc::stats::{self, Counter};

/// A handler crate in memory: `src/lib.rs` only.
struct Memory {
    lib: &'static str,
}

impl Workspace for Memory {
    fn locate_crate(&self, _dir: &Path) -> Result<CrateInfo, CrateError> {
        Ok(CrateInfo {
            package: "shop".into(),
            lib_name: "shop".into(),
            manifest_dir: PathBuf::from("/shop"),
            lib_path: PathBuf::from("/shop/src/lib.rs"),
            build_script: None,
            edition: "2021".into(),
            features: Vec::new(),
        })
    }

    fn read(&self, path: &Path) -> Option<String> {
        (path == Path::new("/shop/src/lib.rs")).then(|| self.lib.to_string())
    }
}

const LIB: &str = r#"
pub mod users {
    pub async fn list(limit: Option<u32>) -> Vec<u32> { vec![limit.unwrap_or(0)] }
    pub async fn get(id: u64) -> u64 { id }
    pub async fn update(user_id: u64, name: String) -> String { format!("{user_id} {name}") }
    pub async fn delete(user_id: u64) -> u64 { user_id }
}
"#;

const FLASH_YAML: &str = r#"
version: 1
name: shop
defaults:
  workers: [0, 2]
endpoints:
  api:
    type: load_balanced
    cpu: cpu3c-2-4
    routes:
      "GET /users": users::list
      "GET /users/{id}": users::get
      "POST /users/{user_id}": { handler: users::update, timeout: 30s }
      "DELETE /users/{user_id}": users::delete
environments:
  production:
    defaults:
      workers: [1, 4]
"#;

fn counts() -> [u64; 5] {
    [
        Counter::Load,
        Counter::Merge,
        Counter::RouteParse,
        Counter::RouteUnpack,
        Counter::CrateIndex,
    ]
    .map(stats::get)
}

#[test]
fn generate_derives_each_fact_once() {
    let ws = Memory { lib: LIB };
    let overrides = BTreeMap::new();
    let options = flashc::emit::Options {
        out_dir: ".flash",
        flashc_version: "0",
        overrides: &overrides,
    };
    for environment in [None, Some("production")] {
        stats::reset();
        let generated = flashc::generate(FLASH_YAML.as_bytes(), environment, &ws, &options)
            .unwrap_or_else(|e| panic!("{environment:?}: {e:?}"));
        assert_eq!(generated.plan.endpoints[0].routes.len(), 4);
        // Without `--env`, generate checks every environment (as `check` does) and plans the
        // base file: two merges, the routes of each tree parsed once.
        let environments = if environment.is_none() { 2 } else { 1 };
        assert_eq!(
            counts(),
            [1, environments, 4 * environments, 4 * environments, 1],
            "load, merge, route parse, route unpack, crate index ({environment:?})"
        );
    }
}

#[test]
fn check_derives_each_fact_once() {
    let ws = Memory { lib: LIB };
    stats::reset();
    let diagnostics = flashc::check_with_crate(FLASH_YAML.as_bytes(), None, &ws).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    // The production overlay changes `defaults`: its tree holds every endpoint.
    assert_eq!(counts(), [1, 2, 8, 8, 1]);

    stats::reset();
    flashc::check_with_crate(FLASH_YAML.as_bytes(), Some("production"), &ws).unwrap();
    assert_eq!(counts(), [1, 1, 4, 4, 1]);

    // One analysis answers check and plan without loading, merging or indexing again for
    // the plan's environment beyond its own pass.
    stats::reset();
    let analysis = flashc::Analysis::with_crate(FLASH_YAML.as_bytes(), &ws);
    analysis.diagnostics(Some("production")).unwrap();
    analysis.plan(Some("production")).unwrap();
    assert_eq!(stats::get(Counter::Load), 1);
    assert_eq!(stats::get(Counter::CrateIndex), 1);
}

#[test]
fn each_route_binds_where_the_contract_says() {
    let ws = Memory { lib: LIB };
    let analysis = flashc::Analysis::with_crate(FLASH_YAML.as_bytes(), &ws);
    let (plan, warnings) = analysis.plan(None).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let routes = &plan.endpoints[0].routes;
    let post = routes.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.path_params, ["user_id"]);
    assert_eq!(post.timeout_ms, Some(30_000));
    use flashc::lower::ArgSource;
    assert_eq!(post.call.sources, [ArgSource::Path, ArgSource::Body]);
    let list = routes.iter().find(|r| r.path == "/users").unwrap();
    assert_eq!(list.call.sources, [ArgSource::Query]);
}
