//! The project a deploy command works on: flash.yaml read, checked and lowered in memory (the
//! same round as `flashc generate`, writing nothing), and each endpoint's image named by its
//! content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flashc::lower::Plan;

use crate::cli::dev::prepare::OUT_DIR;

pub struct Project {
    /// flash.yaml.
    pub file: PathBuf,
    pub dir: PathBuf,
    pub plan: Plan,
    /// flash.yaml name → image reference.
    pub images: BTreeMap<String, String>,
    /// The ownership marker's value (and the record's key).
    pub owner: String,
    pub locator: Locator,
    /// flash.yaml's smoke requests, by endpoint (with the environment's overlay).
    pub smoke: BTreeMap<String, Vec<flashc::model::SmokeRequest>>,
    /// flash.yaml's `registry`: where images are pushed, and the credential id they are
    /// pulled with.
    pub registry: flashc::model::Registry,
}

/// Places in flash.yaml, for API problems that name a field.
pub struct Locator {
    file: String,
    merged: flashc::load::Node,
}

impl Locator {
    /// `--> flash.yaml:9:5 (`idle_timeout`)` lines for the fields a problem names.
    pub fn places(&self, endpoint: &str, error: &super::api::ApiError) -> Vec<String> {
        let super::api::ApiError::Problem { errors, .. } = error else {
            return Vec::new();
        };
        let mut fields: Vec<Option<String>> = errors
            .iter()
            .map(|e| flashc::deploy::locate::problem_field(e))
            .collect();
        if fields.is_empty() {
            fields.push(None);
        }
        let mut out: Vec<String> = fields
            .iter()
            .filter_map(|f| flashc::deploy::locate::span(&self.merged, endpoint, f.as_deref()))
            .map(|(span, key)| {
                format!(
                    "  --> {}:{}:{}{}",
                    self.file,
                    span.start.line,
                    // Columns are 0-based inside flashc; people count from 1, as rustc does.
                    span.start.col + 1,
                    key.map(|k| format!(" (`{k}`)")).unwrap_or_default()
                )
            })
            .collect();
        out.dedup();
        out
    }
}

/// Why a project could not be loaded (already printed, with its exit code).
pub struct Failed(pub u8);

/// `registry`: the registry images are named in; `None`, flash.yaml's `registry.url`, else
/// `flashc.local`.
pub fn load(
    file: &Path,
    environment: Option<&str>,
    registry: Option<&str>,
    pinned: &[String],
) -> Result<Project, Failed> {
    let file = crate::cli::input::locate(file);
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let bytes =
        crate::cli::input::read_input(&file, false).ok_or(Failed(crate::cli::EXIT_FAILURE))?;
    let overrides = crate::cli::templates::overrides(&dir).map_err(|e| {
        eprintln!("error: {e}");
        Failed(crate::cli::EXIT_FAILURE)
    })?;
    let workspace = crate::cli::workspace::FsWorkspace::new(&dir);
    let options = flashc::emit::Options {
        out_dir: OUT_DIR,
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
            return Err(Failed(crate::cli::EXIT_USAGE));
        }
        Err(flashc::GenerateError::Problems(d)) => {
            eprint!("{}", flashc::render::human(&source, &d, false));
            eprintln!("error: flash.yaml has problems; nothing was deployed");
            return Err(Failed(crate::cli::EXIT_PROBLEMS));
        }
        Err(flashc::GenerateError::Internal(e)) => {
            eprintln!("error: {e}");
            return Err(Failed(crate::cli::EXIT_FAILURE));
        }
    };
    let plan = generated.plan;
    // Checked against the schema by generation, so it deserializes.
    let registry_settings: flashc::model::Registry = generated
        .merged
        .get("registry")
        .and_then(|node| flashc::load::from_node(node).ok())
        .unwrap_or_default();
    let registry = registry
        .or(registry_settings.url.as_deref())
        .unwrap_or("flashc.local");
    let mut images = content_images(&generated.files, &plan, &dir, registry);
    // Images `flashc build --push` pushed for exactly this content are deployed by digest.
    let owner = flashc::deploy::owner(&plan.project, environment);
    pin_pushed(&mut images, &super::build::read(&dir), &owner);
    for pin in pinned {
        let Some((name, reference)) = pin.split_once('=') else {
            eprintln!("error: --image takes ENDPOINT=REFERENCE, not `{pin}`");
            return Err(Failed(crate::cli::EXIT_USAGE));
        };
        if !images.contains_key(name) {
            eprintln!("error: --image names `{name}`, which is no endpoint of this project");
            return Err(Failed(crate::cli::EXIT_USAGE));
        }
        images.insert(name.to_string(), reference.to_string());
    }
    // The tree the plan was lowered from keeps where each value was written.
    let merged = generated.merged;
    // Checked against the schema by generation above, so each list deserializes.
    let smoke = plan
        .endpoints
        .iter()
        .filter_map(|e| {
            let node = merged.get("endpoints")?.get(&e.name)?.get("smoke")?;
            let list = flashc::load::from_node(node).ok()?;
            Some((e.name.clone(), list))
        })
        .collect();
    Ok(Project {
        smoke,
        registry: registry_settings,
        file,
        dir,
        plan,
        images,
        owner,
        locator: Locator { file: name, merged },
    })
}

/// Each endpoint's image named by its content, `REGISTRY/<project>-<endpoint>:flashc-<hash>`:
/// the hash covers the generated files every worker shares (the manifest aside), the
/// endpoint's own, and the handler crate's sources, so an edit to any of them is a new tag.
/// `files` are a generation into `.flash` ([`OUT_DIR`]), which `flashc build` builds from:
/// the tags hash its paths.
pub fn content_images(
    files: &[flashc::emit::OutputFile],
    plan: &Plan,
    dir: &Path,
    registry: &str,
) -> BTreeMap<String, String> {
    let crate_dir = dir.join(&plan.handler_crate.dir);
    let handler_files = crate_files(&crate_dir);
    // What every image contains (the shared generated files and the handler crate) is hashed
    // once; each endpoint's own files then extend a copy of that state.
    let mut shared = Fnv::default();
    let mut own_files: BTreeMap<&str, Vec<&flashc::emit::OutputFile>> = BTreeMap::new();
    for f in files {
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
    images
}

/// Replaces each of `images` that `flashc build --push` pushed for exactly this content (the
/// same tag, whatever the registry) under `owner` with the digest it was pushed as.
pub fn pin_pushed(
    images: &mut BTreeMap<String, String>,
    pushed: &super::build::Pushed,
    owner: &str,
) {
    for (endpoint, image) in pushed.environments.get(owner).into_iter().flatten() {
        if let Some(reference) = images.get_mut(endpoint) {
            if super::build::content(reference) == super::build::content(&image.tag) {
                *reference = image.digest.clone();
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::deploy::api::ApiError;

    #[test]
    fn an_api_problem_is_shown_at_the_line_of_the_field_it_names() {
        let yaml = "version: 1\nname: shop\nendpoints:\n  job:\n    type: queue\n    handler: run\n    scaler: {type: REQUEST_COUNT}\n    idle_timeout: 30\n";
        let (root, _) = flashc::load::load(yaml.as_bytes(), flashc::load::Limits::default());
        let locator = Locator {
            file: "flash.yaml".into(),
            merged: flashc::validate::resolve(root.unwrap(), None).0,
        };
        let problem = ApiError::Problem {
            status: 400,
            title: "Bad Request".into(),
            detail: "x".into(),
            errors: vec!["$.workers.idleTimeout: refused".into()],
        };
        assert_eq!(
            locator.places("job", &problem),
            ["  --> flash.yaml:8:5 (`idle_timeout`)"]
        );
        // A problem about the whole body: the endpoint.
        let whole = ApiError::Problem {
            status: 400,
            title: "Bad Request".into(),
            detail: "x".into(),
            errors: vec![],
        };
        assert_eq!(locator.places("job", &whole), ["  --> flash.yaml:4:3"]);
    }
}
