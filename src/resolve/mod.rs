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

pub(crate) use check::handler_strings;
pub use check::{index_crate, locate_crate, resolve_project};
pub use index::CrateIndex;

/// The handler crate with every function flash.yaml names, resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Resolved {
    pub krate: CrateInfo,
    /// By path as written in flash.yaml (`users::get`).
    pub handlers: BTreeMap<String, HandlerFn>,
    pub inits: BTreeMap<String, InitFn>,
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

/// The handler crate, as `cargo metadata` describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CrateInfo {
    /// The package name (`my-shop`).
    pub package: String,
    /// The library's name as Rust code spells it (`my_shop`).
    pub lib_name: String,
    /// The directory holding `Cargo.toml`, absolute.
    pub manifest_dir: PathBuf,
    /// The library target's root file (`src/lib.rs`), absolute.
    pub lib_path: PathBuf,
    /// The build script (`build.rs`, or the manifest's `build = "…"`), absolute, if the package
    /// has one.
    pub build_script: Option<PathBuf>,
    /// `2018`, `2021`, `2024`.
    pub edition: String,
    /// The names of the package's `[features]`, sorted (a GPU endpoint builds the `cuda` one,
    /// see `lower::CudaBuild`).
    pub features: Vec<String>,
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

/// A position in a Rust source file (lines 1-based, columns 0-based in characters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RustSpan {
    /// Absolute path of the file.
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
}

/// A function of the handler crate that flash.yaml names, with what generation needs to call it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HandlerFn {
    /// The path as flash.yaml writes it, relative to the crate root (`users::get`).
    pub path: String,
    /// `async fn`; a synchronous handler runs on the blocking pool.
    pub is_async: bool,
    pub params: Vec<Param>,
    pub returns: Returns,
    /// The function's name (its last path segment) in the Rust file.
    pub span: RustSpan,
    /// The signature as written, on one line (`pub async fn get(id: i64) -> User`), for hover.
    pub signature: String,
    /// The `///` doc comment, joined by newlines.
    pub doc: String,
}

/// One parameter of a handler.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Param {
    /// The binding name as Rust writes it (`user_id`, `r#type`); for a pattern parameter,
    /// empty. Requests name it [`Param::argument_name`].
    pub name: String,
    /// The type as written (`Option<bool>`), normalized to token spacing.
    pub ty: String,
    pub kind: ParamKind,
}

impl Param {
    /// The name a request uses for the parameter: `type` for `r#type` (the route contract's).
    pub fn argument_name(&self) -> &str {
        crate::model::route_key::argument_name(&self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ParamKind {
    /// Bound by name from the call's arguments (path, query, JSON body or job input).
    Arg,
    /// The state produced by the endpoint's `init` (`&Model` or `Arc<Model>`).
    State(Pass),
    /// The per-call context (`flash_runtime::Context` or `&Context`).
    Context(Pass),
}

/// How a state or context parameter is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Pass {
    /// `&T`.
    Ref,
    /// `Arc<T>` for state, `Context` by value for the context.
    Owned,
}

/// What a handler returns, by shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Returns {
    /// `T` (serializable; `()` and no return type answer `null`).
    Value { ty: String },
    /// `Result<T, E>`: `Err` is a 500, or a 400 when it is a `HandlerError::Client`, or the
    /// status of a `HandlerError::Status`.
    Result { ok: String, err: String },
    /// `impl Stream<Item = T>` (WebSocket routes and streaming queue handlers).
    Stream { item: String, fallible: bool },
}

/// A function of the crate as an editor shows it (hover, completion, go to definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnSummary {
    /// The path as flash.yaml writes it (`users::get`).
    pub path: String,
    /// On one line, with its visibility (`pub async fn get(id: i64) -> User`).
    pub signature: String,
    /// Each parameter's pattern and type as written (`("id", "u64")`).
    pub params: Vec<(String, String)>,
    /// The `///` doc comment, joined by newlines.
    pub doc: String,
    /// The function's name in its Rust file.
    pub span: RustSpan,
    /// Reachable from another crate (every module on the way and the function are `pub`).
    pub is_pub: bool,
}

/// An endpoint's `init` function.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InitFn {
    pub path: String,
    pub is_async: bool,
    /// The state type (`Model`), whether returned as `T` or `Result<T, E>`.
    pub state_ty: String,
    /// Returns `Result<_, E>` (an `Err` makes `/ping` answer 503).
    pub fallible: bool,
    pub span: RustSpan,
    pub signature: String,
    pub doc: String,
}

#[cfg(test)]
mod tests;
