//! A handler crate on disk for tests that call the library directly (no `cargo metadata`):
//! located by reading its Cargo.toml's `name`, which is enough for the examples and cases.

use std::path::{Path, PathBuf};

use flashc::resolve::{CrateError, CrateInfo, Workspace};

/// Projects under `base` (relative `crate:` directories are joined to it).
pub struct DiskWorkspace {
    pub base: PathBuf,
}

impl Workspace for DiskWorkspace {
    fn locate_crate(&self, dir: &Path) -> Result<CrateInfo, CrateError> {
        let dir = self.base.join(dir);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .map_err(|_| CrateError::NoManifest(dir.clone()))?;
        let name = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_string())
            .ok_or_else(|| CrateError::Metadata("no name".into()))?;
        let dir = dir.canonicalize().unwrap();
        Ok(CrateInfo {
            lib_name: name.replace('-', "_"),
            package: name,
            lib_path: dir.join("src/lib.rs"),
            build_script: None,
            manifest_dir: dir,
            edition: "2021".into(),
            features: Vec::new(),
        })
    }

    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}
