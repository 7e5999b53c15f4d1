//! `flashc generate`'s core (check with handler resolution, lower, emit) on a 1,000-endpoint
//! project held in memory, so the figure is the compiler's own work; `benches/generate.sh`
//! times the whole command (cargo metadata, writing, rustfmt) on the same project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use flashc::resolve::{CrateError, CrateInfo, Workspace};

struct Memory {
    dir: PathBuf,
    files: BTreeMap<PathBuf, String>,
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
        self.files.get(path).cloned()
    }
}

fn project(n: usize) -> (Vec<u8>, Memory) {
    let dir = std::env::temp_dir().join(format!("flashc-bench-generate-{n}"));
    let status = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/make_project.py"
        ))
        .arg(n.to_string())
        .arg(&dir)
        .status()
        .expect("python3 runs benches/make_project.py");
    assert!(status.success());
    let yaml = std::fs::read(dir.join("flash.yaml")).unwrap();
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let files = BTreeMap::from([(dir.join("src/lib.rs"), lib)]);
    (yaml, Memory { dir, files })
}

fn generate(c: &mut Criterion) {
    let overrides = BTreeMap::new();
    let options = flashc::emit::Options {
        out_dir: ".flash",
        flashc_version: "bench",
        overrides: &overrides,
    };
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    for n in [100, 1000] {
        let (yaml, ws) = project(n);
        let files = flashc::generate(&yaml, None, &ws, &options)
            .unwrap_or_else(|_| panic!("the {n}-endpoint project generates"))
            .files
            .len();
        assert!(files > n * 3);
        group.bench_function(format!("core/{n}-endpoints"), |b| {
            b.iter(|| flashc::generate(&yaml, None, &ws, &options).ok())
        });
        // The baseline in the same run: `check` alone (no handlers, no output).
        group.bench_function(format!("check-only/{n}-endpoints"), |b| {
            b.iter(|| flashc::check(&yaml, None).ok())
        });
    }
    group.finish();
}

// The binary's allocator, so the figures are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

criterion_group!(benches, generate);
criterion_main!(benches);
