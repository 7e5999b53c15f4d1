//! What resolve found in the handler crate, as inert data: for every handler string of
//! flash.yaml (a queue `handler:`, a route's target, an `init:`), what it names and what its
//! signature says (each parameter's kind and type shape, the return shape, a stream or not,
//! what cannot be read or sent). Resolve computes these facts once and reports nothing; each
//! FL07xx rule (`rules/`) reads them and says what is wrong, and lower, OpenAPI and hover read
//! the same facts instead of looking at type names again.
//!
//! It sits below `rules` (a rule reads facts, never the crate index) and does no I/O.

use crate::diagnostic::RelatedFile;
use crate::load::Span;
use crate::model::route_key::Method;

/// Where flash.yaml says the handler crate is (`crate:`, default `.`), and what is there.
#[derive(Debug, Clone, PartialEq)]
pub struct CrateSite {
    /// `crate:`'s value, or `.`.
    pub dir: String,
    /// `crate:` is written (else the directory of flash.yaml is used).
    pub written: bool,
    /// Where a problem with it is reported: `crate:`'s value, or the first handler string.
    pub span: Span,
    pub found: CrateFound,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CrateFound {
    /// `crate:` is not a plain path (FL0603 on `crate:` says so): not looked for.
    NotPlain,
    /// The directory is outside the project (absolute, or `..` above it).
    Outside,
    NoDirectory,
    NoManifest,
    /// The package has no library target.
    NoLib {
        package: String,
    },
    /// `cargo metadata` failed: its message.
    Metadata(String),
    Located(Box<LocatedCrate>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocatedCrate {
    pub info: CrateInfo,
    /// The library root and the build script, where each is.
    pub files: Vec<CrateFile>,
    /// What else in the generated workspace has the package's name, if anything does
    /// (`the runtime's package`).
    pub package_taken_by: Option<String>,
    /// The project's name.
    pub project: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CrateFile {
    /// `library root`, `build script`.
    pub what: &'static str,
    pub place: CrateFilePlace,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CrateFilePlace {
    /// Inside the crate's directory: relative to it, and as a Dockerfile names it (relative to
    /// the project).
    Inside { rel: String, written: String },
    /// Outside it, as seen from the crate's directory (`../shared/lib.rs`).
    Outside { shown: String },
}

/// The handler crate, as `cargo metadata` describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CrateInfo {
    /// The package name (`my-shop`).
    pub package: String,
    /// The library's name as Rust code spells it (`my_shop`).
    pub lib_name: String,
    /// The directory holding `Cargo.toml`, absolute.
    pub manifest_dir: std::path::PathBuf,
    /// The library target's root file (`src/lib.rs`), absolute.
    pub lib_path: std::path::PathBuf,
    /// The build script (`build.rs`, or the manifest's `build = "…"`), absolute, if the package
    /// has one.
    pub build_script: Option<std::path::PathBuf>,
    /// `2018`, `2021`, `2024`.
    pub edition: String,
    /// The names of the package's `[features]`, sorted (a GPU endpoint builds the `cuda` one,
    /// see `lower::CudaBuild`).
    pub features: Vec<String>,
}

/// A position in a Rust source file (lines 1-based, columns 0-based in characters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RustSpan {
    /// Absolute path of the file.
    pub file: std::path::PathBuf,
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
}

/// A call of another endpoint in the handler crate: `Endpoint::named("gpu-backend")`, with
/// the name as written and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointCall {
    pub name: String,
    pub at: RelatedFile,
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
    /// The shape of what it answers: the value, the `Ok` value, or each item of a stream
    /// (as written: a fallible stream's item is a `Result`).
    pub answer: TypeShape,
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
    /// The binding name as Rust writes it (`user_id`, `r#type`); for a pattern parameter
    /// (`Input(order): Input<Order>`), the pattern as written. Requests name an argument
    /// [`Param::argument_name`].
    pub name: String,
    /// The type as written (`Option<bool>`), normalized to token spacing.
    pub ty: String,
    pub kind: ParamKind,
    /// What JSON the argument is, as far as the type says (`Option<T>` is T, optional).
    pub shape: TypeShape,
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
    /// `flash_runtime::Input<T>`: every argument of the call's source at once (the whole job
    /// input, JSON body or query), path parameters aside.
    Whole,
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

/// The JSON a Rust type reads or writes, as far as its syntax tells (the crate's own structs
/// are [`TypeShape::Any`]: flashc does not describe their fields).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum TypeShape {
    /// A signed integer (`i64`).
    Integer,
    /// An unsigned integer (`u32`).
    Unsigned,
    /// `f32`, `f64`.
    Number,
    Boolean,
    /// `String`, `&str`, `char`.
    String,
    /// `()`: `null`.
    Null,
    /// `Option<T>`: T, or absent.
    Optional(Box<TypeShape>),
    /// `Vec<T>`, `VecDeque<T>`, `HashSet<T>`, `BTreeSet<T>`.
    List(Box<TypeShape>),
    /// `HashMap<K, V>`, `BTreeMap<K, V>`.
    Map,
    /// Anything else.
    Any,
}

impl TypeShape {
    /// The shape itself, and whether the value may be absent (an `Option`).
    pub fn required(&self) -> (&TypeShape, bool) {
        match self {
            TypeShape::Optional(inner) => (inner, true),
            other => (other, false),
        }
    }
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

/// One handler string of flash.yaml and what it names.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerUse {
    /// The endpoint it belongs to.
    pub endpoint: String,
    /// The path as written (`users::get`).
    pub path: String,
    /// The handler string in flash.yaml.
    pub span: Span,
    pub role: Role,
    /// The function, or why the path names none.
    pub lookup: Result<Found, NotFound>,
}

/// What a handler string is used for.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// An endpoint's `init:`.
    Init,
    /// A queue endpoint's `handler:`.
    Queue {
        /// Where `return_aggregate_stream: true` is written, if it is.
        aggregate: Option<Span>,
        init: EndpointInit,
    },
    /// A route's target.
    Route {
        method: Method,
        /// The route's path (`/users/{id}`) and its parameters, in order.
        path: String,
        params: Vec<String>,
        /// The route key in flash.yaml.
        key_span: Span,
        init: EndpointInit,
    },
    /// A route whose key does not parse (FL0205's): the function is still looked up.
    UnparsedRoute,
}

impl Role {
    /// The endpoint's init as a handler sees it (`None` for an init or an unparsed route).
    pub fn init(&self) -> Option<&EndpointInit> {
        match self {
            Role::Queue { init, .. } | Role::Route { init, .. } => Some(init),
            Role::Init | Role::UnparsedRoute => None,
        }
    }
}

/// The endpoint's `init`, as its handlers' state parameters are checked against it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInit {
    /// The endpoint has an `init:` key.
    pub declared: bool,
    /// The init function, when it was found and returns a state.
    pub state: Option<InitState>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InitState {
    /// The init's path (`model::load`).
    pub path: String,
    /// The state type as written (`Model`).
    pub ty: String,
    /// A key to compare it with a handler's (`crate::Model` and `Model` alike).
    pub key: String,
    pub defined: RelatedFile,
}

/// A function the path names.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Set when the function or a module on the way is not public.
    pub private: Option<Private>,
    pub function: FnFacts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Private {
    /// `module `users``, `function `get``.
    pub what: String,
    /// The private item.
    pub at: RelatedFile,
    /// How to make it public.
    pub help: String,
    /// A public path that reaches the same function (a `pub use` re-export), if any.
    pub public_path: Option<String>,
}

/// What a function's signature says.
#[derive(Debug, Clone, PartialEq)]
pub struct FnFacts {
    /// Its name in the Rust file (`get`).
    pub name: String,
    /// Where it is defined.
    pub defined: RelatedFile,
    pub is_async: bool,
    /// Its first generic type parameter, if it has one.
    pub generic: Option<String>,
    /// A known blocking call in an `async fn` (`std::thread::sleep`), and where.
    pub blocking_call: Option<(String, RelatedFile)>,
    /// Each parameter as written (`id: u64`); recorded for an init only (it must take none).
    pub inputs: Vec<String>,
    pub params: Vec<ParamFacts>,
    pub returns: Returns,
    /// Why what it sends cannot be serialized, if it cannot.
    pub unserializable: Option<TypeProblem>,
    /// What makes its return type not `Send`, if anything does.
    pub not_send: Option<NotSend>,
}

/// One parameter: how it binds, or why it cannot.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamFacts {
    Bound(BoundParam),
    Unbindable {
        /// The parameter as written (`name: &str`).
        text: String,
        reason: String,
        help: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BoundParam {
    pub param: Param,
    /// For a state parameter, the state's type behind `&` / `Arc`, as written (empty for the
    /// other kinds: no rule names their inner type).
    pub inner_ty: String,
    /// For a state parameter, [`InitState::key`] of its type, to compare it with the init's
    /// (empty for the other kinds).
    pub inner_key: String,
    /// Why an argument cannot be deserialized, if it cannot.
    pub unreadable: Option<TypeProblem>,
    /// Why an argument cannot come from a query string, if it cannot.
    pub not_query: Option<String>,
}

/// Why a type cannot carry JSON, with the fix.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeProblem {
    pub reason: String,
    pub help: String,
    /// The crate type lacking the derive.
    pub def: Option<RelatedFile>,
}

/// What makes a return type not `Send`: a type known not to be (`Rc`, `RefCell`, `Cell`), or a
/// trait object without a `Send` bound (`Box<dyn Error>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSend {
    Type(String),
    TraitObject(String),
}

impl std::fmt::Display for NotSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotSend::Type(name) => write!(f, "`{name}`"),
            NotSend::TraitObject(text) => write!(f, "`{text}` (a trait object without `Send`)"),
        }
    }
}

/// Why a path names no function.
#[derive(Debug, Clone, PartialEq)]
pub enum NotFound {
    /// A module.
    Module {
        /// The least public function of it by path, if it has one (`users::get`).
        example: Option<String>,
        declared: Option<RelatedFile>,
    },
    /// A struct or an enum.
    Type {
        name: String,
        is_struct: bool,
        defined: RelatedFile,
    },
    /// An associated function (`User::new`).
    Method {
        type_name: String,
        defined: RelatedFile,
    },
    /// A module on the way has no readable items.
    Broken(Box<BrokenModule>),
    /// Nothing by that name.
    Missing(Box<MissingFn>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BrokenModule {
    /// Which module (one report per module).
    pub id: usize,
    /// Its name (`users`).
    pub name: String,
    /// It is the crate root.
    pub is_root: bool,
    /// The crate's package name.
    pub package: String,
    /// What is wrong with its file (`None`: nothing to say beyond the module's parent's).
    pub problem: Option<FileProblem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileProblem {
    /// The file is missing (rather than not parsing).
    pub missing: bool,
    pub message: String,
    /// The file as shown (`src/users.rs`).
    pub file: String,
    /// Where the module is declared, or where its file fails to parse.
    pub at: RelatedFile,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MissingFn {
    /// The library's name (`my_shop`).
    pub lib: String,
    /// A path written with a leading `my_shop::` or `crate::` whose rest names a function:
    /// the prefix and the rest.
    pub without_prefix: Option<(String, String)>,
    /// Every function by a path flash.yaml could name, sorted.
    pub paths: Vec<String>,
    /// The module the path's parent names, when the path reached it.
    pub reached: Option<ReachedModule>,
    /// The library root as shown (`src/lib.rs`).
    pub lib_file: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReachedModule {
    /// Its path (`users`; empty for the crate root).
    pub path: String,
    /// Its file as shown.
    pub file: String,
    /// Its functions' names, sorted.
    pub functions: Vec<String>,
    /// It invokes macros (which may define functions flashc does not see).
    pub has_macros: bool,
}

impl HandlerUse {
    /// The function, when the path names one.
    pub fn function(&self) -> Option<&FnFacts> {
        self.lookup.as_ref().ok().map(|f| &f.function)
    }

    /// The function, when it serves calls: a queue handler or a parsed route's (not an init,
    /// which runs once before the worker serves, nor a route whose key FL0205 refused).
    pub fn served(&self) -> Option<&FnFacts> {
        match self.role {
            Role::Queue { .. } | Role::Route { .. } => self.function(),
            Role::Init | Role::UnparsedRoute => None,
        }
    }
}
