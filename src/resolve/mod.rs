//! Stage 3, resolve: every `handler:`, `init:` and route handler of flash.yaml is found in the
//! user's Rust crate and its signature read, so mistakes are reported by `flashc check` (on the
//! handler string, with a secondary place in the Rust file) and `lower` can bind every call.
//!
//! The stage does no I/O of its own: the caller hands it a [`Workspace`] that locates the crate
//! (the CLI uses `cargo metadata`) and reads its files (tests use an in-memory one).

mod check;
mod index;
mod signature;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use check::{index_crate, locate_crate, resolve_project};
pub use index::CrateIndex;
// The data resolve produces lives in `facts`, below the rules that read it.
pub use crate::facts::{
    CrateInfo, CrateSite, EndpointCall, HandlerFn, HandlerUse, InitFn, Param, ParamKind, Pass,
    Returns, RustSpan, TypeShape,
};

/// The handler crate with every function flash.yaml names, resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Resolved {
    pub krate: CrateInfo,
    /// By path as written in flash.yaml (`users::get`).
    pub handlers: BTreeMap<String, HandlerFn>,
    pub inits: BTreeMap<String, InitFn>,
    /// Every handler string of flash.yaml with what it names, in file order: what the FL07xx
    /// rules read.
    #[serde(skip)]
    pub uses: Vec<HandlerUse>,
    /// Every `Endpoint::named("…")` call of the crate (outside tests), in file order.
    #[serde(skip)]
    pub endpoint_calls: Vec<EndpointCall>,
}

/// Where the handler crate is and how to read it. Implemented by the CLI over the file system
/// and by tests in memory.
pub trait Workspace {
    /// Locates the package whose `Cargo.toml` is in `dir` (relative paths are relative to the
    /// directory of flash.yaml, which the implementation knows).
    fn locate_crate(&self, dir: &Path) -> Result<CrateInfo, CrateError>;
    /// The text of one source file of the crate, by absolute path; `None` when it is absent.
    fn read(&self, path: &Path) -> Option<String>;
}

/// Why the crate could not be located; each becomes a diagnostic on `crate:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrateError {
    /// The directory does not exist.
    NoDirectory(PathBuf),
    /// The directory has no `Cargo.toml`.
    NoManifest(PathBuf),
    /// The package has no library target (handlers must be in a lib).
    NoLib { package: String },
    /// `cargo metadata` failed (a broken Cargo.toml): its message.
    Metadata(String),
}

/// A function of the crate as an editor shows it (hover, completion, go to definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnSummary {
    /// The path as flash.yaml writes it (`users::get`).
    pub path: String,
    /// On one line, with its visibility (`pub async fn get(id: i64) -> User`).
    pub signature: String,
    /// Each parameter's pattern and type as written (`("id", "u64")`), and how it binds
    /// (`None` when it cannot).
    pub params: Vec<(String, String, Option<ParamKind>)>,
    /// The `///` doc comment, joined by newlines.
    pub doc: String,
    /// The function's name in its Rust file.
    pub span: RustSpan,
    /// Reachable from another crate (every module on the way and the function are `pub`).
    pub is_pub: bool,
}

#[cfg(test)]
mod tests;
