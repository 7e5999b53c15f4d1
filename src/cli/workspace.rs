//! The handler crate on disk: located with `cargo metadata` (package, lib target, edition),
//! read with `std::fs`. The library's resolver sees only the `Workspace` trait.

use std::path::{Path, PathBuf};

use flashc::resolve::{CrateError, CrateInfo, Workspace};

/// Resolves crate directories relative to `base` (the directory of flash.yaml).
pub struct FsWorkspace {
    pub base: PathBuf,
}

impl FsWorkspace {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        let base = base.into();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        FsWorkspace { base }
    }
}

impl Workspace for FsWorkspace {
    fn locate_crate(&self, dir: &Path) -> Result<CrateInfo, CrateError> {
        let dir = self.base.join(dir);
        if !dir.is_dir() {
            return Err(CrateError::NoDirectory(dir));
        }
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(CrateError::NoManifest(dir));
        }
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(&manifest)
            .no_deps()
            .exec()
            .map_err(|e| CrateError::Metadata(first_line(&e.to_string())))?;
        let manifest = manifest.canonicalize().unwrap_or(manifest);
        let package = metadata
            .packages
            .iter()
            .find(|p| p.manifest_path.as_std_path() == manifest)
            .or_else(|| metadata.root_package())
            .ok_or_else(|| CrateError::Metadata("no package in Cargo.toml".into()))?;
        let lib = package
            .targets
            .iter()
            .find(|t| t.is_lib() || t.kind.iter().any(|k| k.to_string() == "rlib"))
            .ok_or_else(|| CrateError::NoLib {
                package: package.name.to_string(),
            })?;
        let manifest_dir = manifest
            .parent()
            .map_or_else(|| dir.clone(), Path::to_path_buf);
        Ok(CrateInfo {
            package: package.name.to_string(),
            lib_name: lib.name.replace('-', "_"),
            manifest_dir,
            lib_path: lib.src_path.clone().into_std_path_buf(),
            build_script: package
                .targets
                .iter()
                .find(|t| t.is_custom_build())
                .map(|t| t.src_path.clone().into_std_path_buf()),
            edition: package.edition.to_string(),
            features: package.features.keys().cloned().collect(),
        })
    }

    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// cargo's errors run to many lines of context; the first says what is wrong.
fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(text)
        .to_string()
}
