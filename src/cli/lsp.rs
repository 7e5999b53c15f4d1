//! `flashc lsp`: the language server (LSP 3.17 over stdio, rust-analyzer's `lsp-server`). A
//! synchronous loop: one message at a time, so every answer sees the edits before it. The
//! analysis itself is `flashc::ide` (pure); this file owns the protocol, the open documents and
//! the file system (the handler crate, read through an overlay of the editor's unsaved Rust
//! buffers).
//!
//! Diagnostics are exactly `flashc check`'s (`check_with_crate`, every environment). Changes
//! are debounced: every change already queued is folded into one check, and `--debounce-ms`
//! waits that long for more. A panic while answering a request is caught and answered with an
//! error; the server keeps serving, as it does after a malformed message (answered by the
//! transport, `lsp_transport.rs`) and after `shutdown` (later requests get `InvalidRequest`).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOptions, CodeActionOrCommand, CodeActionParams,
    CodeActionProviderCapability, CompletionOptions, CompletionParams, CompletionResponse,
    DidChangeTextDocumentParams, DidChangeWatchedFilesParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DidSaveTextDocumentParams, DocumentSymbolParams,
    DocumentSymbolResponse, GotoDefinitionParams, GotoDefinitionResponse, HoverContents,
    HoverParams, HoverProviderCapability, InitializeParams, Location, MarkupContent, MarkupKind,
    OneOf, PublishDiagnosticsParams, SaveOptions, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, TextEdit, Url, WorkspaceEdit,
};

use flashc::diagnostic::Diagnostic;
use flashc::ide::{self, Document};
use flashc::resolve::{CrateError, CrateIndex, CrateInfo, FnSummary, Workspace};

use super::workspace::FsWorkspace;

#[derive(clap::Args)]
pub struct Args {
    /// After a change, wait this many milliseconds for more before checking. Changes already
    /// queued are always folded into one check.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub debounce_ms: u64,
    /// The URL of docs/rules.md that each diagnostic's code links to (`#fl0101` is appended).
    /// Default: docs/rules.md of the source tree flashc was built from, when it is there.
    #[arg(long, value_name = "URL")]
    pub rules_url: Option<String>,
    /// Talk over stdin and stdout (the only transport; accepted because editors pass it).
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(args: &Args) -> ExitCode {
    let (connection, writer) = super::lsp_transport::stdio();
    let result = serve(&connection, args);
    drop(connection);
    let _ = writer.join();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flashc lsp: {e}");
            ExitCode::from(1)
        }
    }
}

/// A request that panics on purpose, to test that the server survives it; only when the
/// environment variable `FLASHC_LSP_TEST_PANIC` is set.
const TEST_PANIC: &str = "flashc/testPanic";

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..Default::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![":".into(), " ".into()]),
            ..Default::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn serve(connection: &Connection, args: &Args) -> Result<(), String> {
    let (id, params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let params: InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let watch = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|w| w.dynamic_registration)
        .unwrap_or(false);
    let result = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo { name: "flashc".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    });
    connection
        .initialize_finish(id, result)
        .map_err(|e| e.to_string())?;
    let mut server = Server::new(args);
    if watch {
        // Rust files and manifests changed outside the editor re-check the open flash.yaml files.
        let registration = serde_json::json!({"registrations": [{
            "id": "flashc-watch",
            "method": "workspace/didChangeWatchedFiles",
            "registerOptions": {"watchers": [{"globPattern": "**/*.rs"}, {"globPattern": "**/Cargo.toml"}]},
        }]});
        let request = Request::new(
            "flashc-watch".to_string().into(),
            "client/registerCapability".into(),
            registration,
        );
        let _ = connection.sender.send(request.into());
    }
    let debounce = Duration::from_millis(args.debounce_ms);
    let mut shutting_down = false;
    loop {
        let message = if server.dirty.is_empty() && server.cleared.is_empty() {
            match connection.receiver.recv() {
                Ok(m) => m,
                Err(_) => return Ok(()),
            }
        } else {
            match connection.receiver.recv_timeout(debounce) {
                Ok(m) => m,
                Err(e) if e.is_timeout() => {
                    server.flush(connection);
                    continue;
                }
                Err(_) => return Ok(()),
            }
        };
        match message {
            // After `shutdown` the server answers nothing but `exit` (LSP 3.17).
            Message::Request(req) if shutting_down => {
                let response = Response::new_err(
                    req.id,
                    ErrorCode::InvalidRequest as i32,
                    "the server is shutting down: only `exit` is accepted after `shutdown`".into(),
                );
                let _ = connection.sender.send(response.into());
            }
            Message::Request(req) if req.method == "shutdown" => {
                shutting_down = true;
                let response = Response::new_ok(req.id, serde_json::Value::Null);
                let _ = connection.sender.send(response.into());
            }
            Message::Request(req) => {
                let response = server.request(req);
                let _ = connection.sender.send(response.into());
            }
            Message::Notification(n) if n.method == "exit" => return Ok(()),
            Message::Notification(_) if shutting_down => {}
            Message::Notification(n) => {
                let method = n.method.clone();
                if catch_unwind(AssertUnwindSafe(|| server.notification(n))).is_err() {
                    eprintln!("flashc lsp: internal error while handling {method}; still serving");
                }
            }
            Message::Response(_) => {}
        }
    }
}

/// One open flash.yaml.
struct Doc {
    version: i32,
    document: Document,
    /// What `flashc check` said about this text (`None`: not checked since the last edit).
    diagnostics: Option<Rc<Vec<Diagnostic>>>,
}

/// A located crate, with the modification time of its Cargo.toml when located.
type CrateCache = RefCell<HashMap<PathBuf, (Option<SystemTime>, CrateInfo)>>;

struct Server {
    rules_url: Option<Url>,
    docs: HashMap<Url, Doc>,
    /// Other open YAML documents (not flash.yaml): their text only, to notice a schema
    /// modeline that makes one a flash.yaml.
    others: HashMap<Url, String>,
    /// Documents that stopped being a flash.yaml: their diagnostics are cleared at the next flush.
    cleared: BTreeSet<Url>,
    /// Open Rust files: the editor's text wins over the disk's.
    rust: HashMap<PathBuf, String>,
    crates: CrateCache,
    /// Bumped whenever a Rust file or a manifest changes.
    generation: u64,
    /// The crate index of each project (by the directory of flash.yaml), reused while no file
    /// of the crate changed.
    indexes: RefCell<HashMap<PathBuf, ide::check::CrateCache>>,
    dirty: BTreeSet<Url>,
}

/// The handler crate as the editor sees it: unsaved buffers over the disk, and `cargo
/// metadata` asked once per crate until its Cargo.toml changes.
struct Overlay<'a> {
    fs: FsWorkspace,
    rust: &'a HashMap<PathBuf, String>,
    crates: &'a CrateCache,
}

impl Workspace for Overlay<'_> {
    fn locate_crate(&self, dir: &Path) -> Result<CrateInfo, CrateError> {
        let full = self.fs.base.join(dir);
        let modified = std::fs::metadata(full.join("Cargo.toml"))
            .and_then(|m| m.modified())
            .ok();
        if modified.is_some() {
            if let Some((when, info)) = self.crates.borrow().get(&full) {
                if *when == modified {
                    return Ok(info.clone());
                }
            }
        }
        let found = self.fs.locate_crate(dir);
        if let Ok(info) = &found {
            self.crates
                .borrow_mut()
                .insert(full, (modified, info.clone()));
        }
        found
    }

    fn read(&self, path: &Path) -> Option<String> {
        self.rust
            .get(path)
            .cloned()
            .or_else(|| std::fs::read_to_string(path).ok())
    }
}

/// An index is fresh while none of its files (on disk) changed after it was built.
fn fresh() -> ide::check::Fresh<'static> {
    fn unchanged(index: &CrateIndex, built: SystemTime) -> bool {
        index.files().iter().all(|f| {
            std::fs::metadata(f)
                .and_then(|m| m.modified())
                .map_or(true, |m| m < built)
        })
    }
    ide::check::Fresh {
        now: SystemTime::now(),
        unchanged_since: &unchanged,
    }
}

fn is_rust(uri: &Url) -> bool {
    uri.path().ends_with(".rs")
}

/// Whether a document is a flash.yaml, which is all the server checks (an editor may attach it
/// to every YAML file): by its name, `flash.yaml`, `flash.yml` or `flash.<anything>.yaml`, or by
/// the schema modeline
/// `# yaml-language-server: $schema=<…>/flash.schema.json` on a line of its own.
fn is_flash_document(uri: &Url, text: &str) -> bool {
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    // `flash.yaml`, and variants such as `flash.staging.yaml` (the VS Code extension's pattern).
    let by_name = name.starts_with("flash.")
        && (name.ends_with(".yaml") || name.ends_with(".yml"))
        && !name.ends_with(".schema.yaml");
    if by_name {
        return true;
    }
    text.lines().any(|line| {
        line.trim_start()
            .strip_prefix('#')
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix("yaml-language-server:"))
            .and_then(|rest| rest.trim_start().strip_prefix("$schema="))
            .is_some_and(|schema| {
                let schema = schema.trim();
                schema == "flash.schema.json" || schema.ends_with("/flash.schema.json")
            })
    })
}

fn default_rules_url() -> Option<Url> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    path.is_file()
        .then(|| Url::from_file_path(path).ok())
        .flatten()
}

/// Parameters, or an "invalid params" error.
fn params<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, (i32, String)> {
    serde_json::from_value(value).map_err(|e| (ErrorCode::InvalidParams as i32, e.to_string()))
}

fn ok<T: serde::Serialize>(value: T) -> Result<serde_json::Value, (i32, String)> {
    serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError as i32, e.to_string()))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

impl Server {
    fn new(args: &Args) -> Server {
        let rules_url = match &args.rules_url {
            Some(u) => Url::parse(u).ok(),
            None => default_rules_url(),
        };
        Server {
            rules_url,
            docs: HashMap::new(),
            others: HashMap::new(),
            cleared: BTreeSet::new(),
            rust: HashMap::new(),
            crates: RefCell::new(HashMap::new()),
            generation: 0,
            indexes: RefCell::new(HashMap::new()),
            dirty: BTreeSet::new(),
        }
    }

    fn overlay(&self, base: &Path) -> Overlay<'_> {
        Overlay {
            fs: FsWorkspace::new(base),
            rust: &self.rust,
            crates: &self.crates,
        }
    }

    fn base_of(uri: &Url) -> Option<PathBuf> {
        let path = uri.to_file_path().ok()?;
        Some(path.parent()?.to_path_buf())
    }

    /// `flashc check` on `text` as the document `uri` (handlers resolved when it is a file).
    fn check(&self, uri: &Url, text: &str, with_crate: bool) -> Vec<Diagnostic> {
        match Self::base_of(uri).filter(|_| with_crate) {
            Some(base) => {
                let ws = self.overlay(&base);
                let mut indexes = self.indexes.borrow_mut();
                let cache = indexes.entry(base.clone()).or_default();
                ide::check::check(text.as_bytes(), &ws, cache, self.generation, &fresh())
            }
            None => flashc::check(text.as_bytes(), None).unwrap_or_default(),
        }
    }

    fn diagnostics(&mut self, uri: &Url) -> Option<Rc<Vec<Diagnostic>>> {
        let doc = self.docs.get(uri)?;
        if let Some(d) = &doc.diagnostics {
            return Some(d.clone());
        }
        let found = catch_unwind(AssertUnwindSafe(|| {
            self.check(uri, &doc.document.text, true)
        }))
        .unwrap_or_else(|p| {
            eprintln!(
                "flashc lsp: internal error while checking {uri}: {}",
                panic_message(&*p)
            );
            Vec::new()
        });
        let found = Rc::new(found);
        self.docs.get_mut(uri)?.diagnostics = Some(found.clone());
        Some(found)
    }

    /// Checks every changed document and publishes its diagnostics.
    fn flush(&mut self, connection: &Connection) {
        for uri in std::mem::take(&mut self.cleared) {
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics: Vec::new(),
                version: None,
            };
            let _ = connection
                .sender
                .send(Notification::new("textDocument/publishDiagnostics".into(), params).into());
        }
        for uri in std::mem::take(&mut self.dirty) {
            let Some(found) = self.diagnostics(&uri) else {
                continue;
            };
            let Some(doc) = self.docs.get(&uri) else {
                continue;
            };
            let base = Self::base_of(&uri);
            let cx = ide::diagnostics::Context {
                uri: &uri,
                base: base.as_deref(),
                rules_url: self.rules_url.as_ref(),
            };
            let diagnostics = ide::diagnostics::to_lsp(&doc.document, &found, &cx);
            let params = PublishDiagnosticsParams {
                uri: uri.clone(),
                diagnostics,
                version: Some(doc.version),
            };
            let _ = connection
                .sender
                .send(Notification::new("textDocument/publishDiagnostics".into(), params).into());
        }
    }

    /// Every open flash.yaml whose directory holds `path` (its crate is inside it).
    fn dependents(&mut self, path: &Path) {
        for uri in self.docs.keys() {
            if Self::base_of(uri).is_some_and(|base| path.starts_with(&base)) {
                self.dirty.insert(uri.clone());
            }
        }
        for doc in self.docs.values_mut() {
            doc.diagnostics = None;
        }
    }

    fn rust_changed(&mut self, uri: &Url, text: Option<String>) {
        let Ok(path) = uri.to_file_path() else {
            return;
        };
        let canonical = path.canonicalize().ok();
        for p in std::iter::once(path.clone()).chain(canonical) {
            match &text {
                Some(t) => {
                    self.rust.insert(p, t.clone());
                }
                None => {
                    self.rust.remove(&p);
                }
            }
        }
        self.generation += 1;
        self.dependents(&path);
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params) else {
                    return;
                };
                let uri = p.text_document.uri;
                if is_rust(&uri) {
                    self.rust_changed(&uri, Some(p.text_document.text));
                    return;
                }
                if !is_flash_document(&uri, &p.text_document.text) {
                    self.others.insert(uri, p.text_document.text);
                    return;
                }
                self.docs.insert(
                    uri.clone(),
                    Doc {
                        version: p.text_document.version,
                        document: Document::new(p.text_document.text),
                        diagnostics: None,
                    },
                );
                self.dirty.insert(uri);
            }
            "textDocument/didChange" => {
                let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params) else {
                    return;
                };
                let uri = p.text_document.uri;
                if is_rust(&uri) {
                    let Ok(path) = uri.to_file_path() else { return };
                    let mut text = self.rust.get(&path).cloned().unwrap_or_default();
                    for change in p.content_changes {
                        text = apply_change(&text, change);
                    }
                    self.rust_changed(&uri, Some(text));
                    return;
                }
                if let Some(mut text) = self.others.remove(&uri) {
                    for change in p.content_changes {
                        text = apply_change(&text, change);
                    }
                    if !is_flash_document(&uri, &text) {
                        self.others.insert(uri, text);
                        return;
                    }
                    let document = Document::new(text);
                    let version = p.text_document.version;
                    self.docs.insert(
                        uri.clone(),
                        Doc {
                            version,
                            document,
                            diagnostics: None,
                        },
                    );
                    self.dirty.insert(uri);
                    return;
                }
                let Some(doc) = self.docs.get_mut(&uri) else {
                    return;
                };
                let mut text = std::mem::take(&mut doc.document.text);
                for change in p.content_changes {
                    text = apply_change(&text, change);
                }
                if !is_flash_document(&uri, &text) {
                    // No longer a flash.yaml (its modeline went): its diagnostics go too.
                    self.docs.remove(&uri);
                    self.dirty.remove(&uri);
                    self.others.insert(uri.clone(), text);
                    self.cleared.insert(uri);
                    return;
                }
                doc.document = Document::new(text);
                doc.version = p.text_document.version;
                doc.diagnostics = None;
                self.dirty.insert(uri);
            }
            "textDocument/didSave" => {
                let Ok(p) = serde_json::from_value::<DidSaveTextDocumentParams>(n.params) else {
                    return;
                };
                let uri = p.text_document.uri;
                if is_rust(&uri) || uri.path().ends_with("Cargo.toml") {
                    self.generation += 1;
                    if let Ok(path) = uri.to_file_path() {
                        self.dependents(&path);
                    }
                }
            }
            "textDocument/didClose" => {
                let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params) else {
                    return;
                };
                let uri = p.text_document.uri;
                if is_rust(&uri) {
                    self.rust_changed(&uri, None);
                    return;
                }
                self.docs.remove(&uri);
                self.others.remove(&uri);
                self.dirty.remove(&uri);
            }
            "workspace/didChangeWatchedFiles" => {
                let Ok(p) = serde_json::from_value::<DidChangeWatchedFilesParams>(n.params) else {
                    return;
                };
                for change in p.changes {
                    let Ok(path) = change.uri.to_file_path() else {
                        continue;
                    };
                    if path.ends_with("Cargo.toml") {
                        self.crates.borrow_mut().clear();
                    }
                    self.generation += 1;
                    self.dependents(&path);
                }
            }
            _ => {}
        }
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let method = req.method.clone();
        match catch_unwind(AssertUnwindSafe(|| self.dispatch(req))) {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err((code, message))) => Response::new_err(id, code, message),
            Err(panic) => {
                let message = panic_message(&*panic);
                eprintln!("flashc lsp: internal error in {method}: {message}; still serving");
                Response::new_err(
                    id,
                    ErrorCode::InternalError as i32,
                    format!("flashc lsp: internal error in {method}: {message}"),
                )
            }
        }
    }

    /// The handler crate of the document, indexed (shared with the checks, rebuilt when a file
    /// of the crate changed).
    fn index(&mut self, uri: &Url) -> Option<Rc<CrateIndex>> {
        let base = Self::base_of(uri)?;
        let doc = self.docs.get(uri)?;
        let dir = doc
            .document
            .root()
            .and_then(|r| r.get("crate"))
            .and_then(|n| n.as_str())
            .unwrap_or(".")
            .to_string();
        if dir.starts_with('/') || dir.split(['/', '\\']).any(|c| c == "..") {
            return None;
        }
        let ws = self.overlay(&base);
        let mut indexes = self.indexes.borrow_mut();
        let cache = indexes.entry(base.clone()).or_default();
        let info = ws.locate_crate(std::path::Path::new(&dir)).ok()?;
        Some(cache.index(&dir, info, &ws, self.generation, &fresh()))
    }

    fn dispatch(&mut self, req: Request) -> Result<serde_json::Value, (i32, String)> {
        let null = serde_json::Value::Null;
        match req.method.as_str() {
            "textDocument/hover" => {
                let p: HoverParams = params(req.params)?;
                let uri = p.text_document_position_params.text_document.uri;
                let at = p.text_document_position_params.position;
                let index = self.index(&uri);
                let Some(doc) = self.docs.get(&uri) else {
                    return Ok(null);
                };
                let lookup = |path: &str| index.as_ref().and_then(|i| i.function(path));
                let Some(h) = ide::hover::hover(&doc.document, at, &lookup) else {
                    return Ok(null);
                };
                ok(lsp_types::Hover {
                    contents: HoverContents::Markup(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value: h.markdown,
                    }),
                    range: Some(h.range),
                })
            }
            "textDocument/completion" => {
                let p: CompletionParams = params(req.params)?;
                let uri = p.text_document_position.text_document.uri;
                let at = p.text_document_position.position;
                let functions: Vec<FnSummary> =
                    self.index(&uri).map(|i| i.functions()).unwrap_or_default();
                let Some(doc) = self.docs.get(&uri) else {
                    return Ok(null);
                };
                ok(CompletionResponse::Array(ide::complete::complete(
                    &doc.document,
                    at,
                    &functions,
                )))
            }
            "textDocument/definition" => {
                let p: GotoDefinitionParams = params(req.params)?;
                let uri = p.text_document_position_params.text_document.uri;
                let at = p.text_document_position_params.position;
                let Some(doc) = self.docs.get(&uri) else {
                    return Ok(null);
                };
                let Some((path, _)) = ide::nav::handler_at(&doc.document, at) else {
                    return Ok(null);
                };
                let Some(index) = self.index(&uri) else {
                    return Ok(null);
                };
                let Some(f) = index.function(&path) else {
                    return Ok(null);
                };
                let base = Self::base_of(&uri).unwrap_or_default();
                let text = self.overlay(&base).read(&f.span.file);
                let line = text
                    .as_deref()
                    .and_then(|t| t.lines().nth(f.span.line.saturating_sub(1) as usize));
                let Ok(target) = Url::from_file_path(&f.span.file) else {
                    return Ok(null);
                };
                ok(GotoDefinitionResponse::Scalar(Location::new(
                    target,
                    ide::nav::rust_range(&f.span, line),
                )))
            }
            "textDocument/documentSymbol" => {
                let p: DocumentSymbolParams = params(req.params)?;
                let Some(doc) = self.docs.get(&p.text_document.uri) else {
                    return Ok(null);
                };
                ok(DocumentSymbolResponse::Nested(ide::nav::symbols(
                    &doc.document,
                )))
            }
            "textDocument/codeAction" => {
                let p: CodeActionParams = params(req.params)?;
                ok(self.code_actions(&p))
            }
            TEST_PANIC if std::env::var_os("FLASHC_LSP_TEST_PANIC").is_some() => {
                panic!("a test asked for a panic")
            }
            method => Err((
                ErrorCode::MethodNotFound as i32,
                format!("flashc lsp does not answer {method}"),
            )),
        }
    }

    fn code_actions(&mut self, p: &CodeActionParams) -> Vec<CodeActionOrCommand> {
        let uri = &p.text_document.uri;
        let Some(all) = self.diagnostics(uri) else {
            return Vec::new();
        };
        let Some(doc) = self.docs.get(uri) else {
            return Vec::new();
        };
        let document = &doc.document;
        let base = Self::base_of(uri);
        let cx = ide::diagnostics::Context {
            uri,
            base: base.as_deref(),
            rules_url: self.rules_url.as_ref(),
        };
        // Fixes are verified by checking the edited text: without the crate unless the
        // problem is the crate's (FL07xx), which is much cheaper on a large project.
        let plain: Vec<Diagnostic> = self.check(uri, &document.text, false);
        let mut out = Vec::new();
        for d in all.iter() {
            let range = document.range(d.span);
            if range.end < p.range.start || range.start > p.range.end {
                continue;
            }
            let with_crate = d.code.starts_with("FL07");
            let before: &[Diagnostic] = if with_crate { &all } else { &plain };
            let check = |text: &str| self.check(uri, text, with_crate);
            let fixes = ide::fixes::fixes(document, d, before, &check);
            let lsp_diagnostic = ide::diagnostics::to_lsp(document, std::slice::from_ref(d), &cx);
            for (i, fix) in fixes.into_iter().enumerate() {
                let edit = TextEdit {
                    range: document.lines.range_of_offsets(
                        &document.text,
                        fix.edit.start,
                        fix.edit.end,
                    ),
                    new_text: fix.edit.text,
                };
                out.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: fix.title,
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(lsp_diagnostic.clone()),
                    edit: Some(WorkspaceEdit {
                        changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                        ..Default::default()
                    }),
                    is_preferred: Some(i == 0),
                    ..Default::default()
                }));
            }
        }
        out
    }
}

/// One `didChange` content change applied (a range, or the whole text).
fn apply_change(text: &str, change: lsp_types::TextDocumentContentChangeEvent) -> String {
    let Some(range) = change.range else {
        return change.text;
    };
    let lines = ide::LineIndex::new(text);
    let start = lines.offset_of_lsp(text, range.start);
    let end = lines.offset_of_lsp(text, range.end).max(start);
    let mut out = String::with_capacity(text.len() + change.text.len());
    out.push_str(&text[..start]);
    out.push_str(&change.text);
    out.push_str(&text[end..]);
    out
}
