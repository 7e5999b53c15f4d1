//! One pass of `check` or of `generate`'s core, for instruction counts (callgrind) that compare
//! two builds of flashc in one run without the noise of wall time on a shared machine
//! (`benches/compare.sh REV`). Public API only, so the same file builds against an older
//! revision.
//!
//! Usage: `pipeline_count check ENDPOINTS` or `pipeline_count generate DIR` (a project made by
//! `benches/make_project.py`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flashc::resolve::{CrateError, CrateInfo, Workspace};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Memory {
    dir: PathBuf,
    lib: String,
}

impl Workspace for Memory {
    fn locate_crate(&self, _dir: &Path) -> Result<CrateInfo, CrateError> {
        Ok(CrateInfo {
            package: "bench".into(),
            lib_name: "bench".into(),
            manifest_dir: self.dir.clone(),
            lib_path: self.dir.join("src/lib.rs"),
            build_script: None,
            edition: "2021".into(),
            features: Vec::new(),
        })
    }

    fn read(&self, path: &Path) -> Option<String> {
        (path == self.dir.join("src/lib.rs")).then(|| self.lib.clone())
    }
}

/// The check benchmark's file (benches/check.rs): load-balanced endpoints of five routes each.
fn generated(endpoints: usize) -> String {
    let mut out = String::from(
        "version: 1\nname: bench\ndefaults:\n  workers: [0, 3]\n  idle_timeout: 120\nendpoints:\n",
    );
    for i in 0..endpoints {
        out.push_str(&format!(
            "  api-{i}:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    datacenters: [EU-RO-1]\n    workers: [0, 4]\n    \
             env:\n      MODEL: model-{i}\n    routes:\n      \"GET /users/{{id}}\": users::get_{i}\n      \
             \"POST /users\": {{ handler: users::create_{i}, timeout: 30s }}\n      \"PUT /users/{{id}}\": users::update\n      \
             \"DELETE /users/{{id}}\": users::delete\n      \"WS /stream/{{room}}\": chat::stream\n"
        ));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("check") => {
            let n = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
            let text = generated(n);
            let found = flashc::check(text.as_bytes(), None).expect("no env");
            assert!(found.is_empty(), "{found:?}");
        }
        Some("generate") => {
            let dir = PathBuf::from(args.get(2).expect("a project directory"));
            let yaml = std::fs::read(dir.join("flash.yaml")).expect("flash.yaml");
            let lib = std::fs::read_to_string(dir.join("src/lib.rs")).expect("src/lib.rs");
            let ws = Memory { dir, lib };
            let overrides = BTreeMap::new();
            let options = flashc::emit::Options {
                out_dir: ".flash",
                flashc_version: "bench",
                overrides: &overrides,
            };
            let files = flashc::generate(&yaml, None, &ws, &options)
                .unwrap_or_else(|e| panic!("the project generates: {e:?}"))
                .files
                .len();
            assert!(files > 0);
        }
        _ => {
            eprintln!("usage: pipeline_count check ENDPOINTS | generate DIR");
            std::process::exit(2);
        }
    }
}
