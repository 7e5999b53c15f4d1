//! The project a deploy command works on: flash.yaml read, checked and lowered in memory (the
//! same round as `flashc generate`, writing nothing), and each endpoint's image named by its
//! content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flashc::lower::Plan;

pub struct Project {
    pub dir: PathBuf,
    pub plan: Plan,
    /// flash.yaml name → image reference.
    pub images: BTreeMap<String, String>,
    /// The ownership marker's value (and the record's key).
    pub owner: String,
}

/// Why a project could not be loaded (already printed, with its exit code).
pub struct Failed(pub u8);

pub fn load(
    file: &Path,
    environment: Option<&str>,
    registry: &str,
    pinned: &[String],
) -> Result<Project, Failed> {
    let file = crate::locate(file);
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let bytes = crate::read_input(&file, false).ok_or(Failed(crate::EXIT_FAILURE))?;
    let overrides = crate::template_overrides(&dir).map_err(|e| {
        eprintln!("error: cannot read flash-templates/: {e}");
        Failed(crate::EXIT_FAILURE)
    })?;
    let workspace = crate::cli::workspace::FsWorkspace::new(&dir);
    let options = flashc::emit::Options {
        out_dir: ".flash",
        flashc_version: env!("CARGO_PKG_VERSION"),
        overrides: &overrides,
    };
    let name = file.display().to_string();
    let text = String::from_utf8_lossy(&bytes);
    let source = flashc::render::SourceFile::new(&name, &text);
    let generated = match flashc::generate(&bytes, environment, &workspace, &options) {
        Ok(g) => g,
        Err(flashc::GenerateError::UnknownEnvironment(e)) => {
            eprintln!("error: {e}");
            return Err(Failed(crate::EXIT_USAGE));
        }
        Err(flashc::GenerateError::Problems(d)) => {
            eprint!("{}", flashc::render::human(&source, &d, false));
            eprintln!("error: flash.yaml has problems; nothing was deployed");
            return Err(Failed(crate::EXIT_PROBLEMS));
        }
        Err(flashc::GenerateError::Internal(e)) => {
            eprintln!("error: {e}");
            return Err(Failed(crate::EXIT_FAILURE));
        }
    };
    let plan = generated.plan;
    let crate_dir = dir.join(&plan.handler_crate.dir);
    let handler_files = crate_files(&crate_dir);
    // What every image contains (the shared generated files and the handler crate) is hashed
    // once; each endpoint's own files then extend a copy of that state.
    let mut shared = Fnv::default();
    let mut own_files: BTreeMap<&str, Vec<&flashc::emit::OutputFile>> = BTreeMap::new();
    for f in &generated.files {
        match f.path.split_once("/workers/") {
            Some((_, rest)) => {
                let name = rest.split('/').next().unwrap_or_default();
                own_files.entry(name).or_default().push(f);
            }
            None if f.path.ends_with("flash_manifest.json") => {}
            None => {
                shared.add(f.path.as_bytes());
                shared.add(f.contents.as_bytes());
            }
        }
    }
    for (path, contents) in &handler_files {
        shared.add(path.as_bytes());
        shared.add(contents);
    }
    let mut images = BTreeMap::new();
    for endpoint in &plan.endpoints {
        let mut hash = Fnv(shared.0);
        for f in own_files.get(endpoint.name.as_str()).into_iter().flatten() {
            hash.add(f.path.as_bytes());
            hash.add(f.contents.as_bytes());
        }
        images.insert(
            endpoint.name.clone(),
            format!(
                "{}/{}:flashc-{:016x}",
                registry.trim_end_matches('/'),
                endpoint.image,
                hash.0
            ),
        );
    }
    for pin in pinned {
        let Some((name, reference)) = pin.split_once('=') else {
            eprintln!("error: --image takes ENDPOINT=REFERENCE, not `{pin}`");
            return Err(Failed(crate::EXIT_USAGE));
        };
        if !images.contains_key(name) {
            eprintln!("error: --image names `{name}`, which is no endpoint of this project");
            return Err(Failed(crate::EXIT_USAGE));
        }
        images.insert(name.to_string(), reference.to_string());
    }
    let owner = flashc::deploy::owner(&plan.project, environment);
    Ok(Project {
        dir,
        plan,
        images,
        owner,
    })
}

/// The handler crate's sources, sorted: what a handler edit changes.
fn crate_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            out.push((name.to_string(), bytes));
        }
    }
    let mut stack = vec![dir.join("src")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                out.push((rel.to_string_lossy().replace('\\', "/"), bytes));
            }
        }
    }
    out.sort();
    out
}

/// FNV-1a (the generation fingerprint's hash), fed piece by piece.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(&[0xff]) {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
