//! `flashc lsp` through its real binary, as an editor drives it: a small LSP client over stdio
//! (initialize, didOpen, didChange, publishDiagnostics, codeAction, hover, completion,
//! definition, documentSymbol, shutdown/exit), on `examples/user-service` and its crate. Then
//! robustness: the check robustness corpus (mutations of a valid file, arbitrary text) through
//! every request, in process and through the server, which must keep answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

mod support;
use support::workspace::DiskWorkspace;

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    pending: Vec<Value>,
}

const TIMEOUT: Duration = Duration::from_secs(60);

impl Client {
    fn start(envs: &[(&str, &str)]) -> Client {
        let mut command = Command::new(env!("CARGO_BIN_EXE_flashc"));
        command
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("flashc lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("Content-Length")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let message: Value = serde_json::from_slice(&body).expect("JSON from the server");
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            next_id: 0,
            pending: Vec::new(),
        };
        let root = Url::dir(&repo());
        let init = client.request(
            "initialize",
            json!({"processId": null, "rootUri": root, "capabilities": {
                "textDocument": {"hover": {"contentFormat": ["markdown"]}},
                "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": false}}
            }}),
        );
        let caps = &init["result"]["capabilities"];
        assert_eq!(caps["hoverProvider"], json!(true), "{init}");
        assert_eq!(caps["definitionProvider"], json!(true), "{init}");
        assert!(caps["completionProvider"].is_object(), "{init}");
        assert!(caps["codeActionProvider"].is_object(), "{init}");
        assert_eq!(caps["textDocumentSync"]["change"], json!(2), "{init}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The whole response (`result` or `error`).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self
                .incoming
                .recv_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("no answer to {method}"));
            if message["id"] == json!(id) && message.get("method").is_none() {
                return message;
            }
            self.pending.push(message);
        }
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_ours = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(is_ours) {
            let m = self.pending.remove(i);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let message = self
                .incoming
                .recv_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("no diagnostics for {uri}"));
            if is_ours(&message) {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.pending.push(message);
        }
    }

    fn open(&mut self, uri: &str, language: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        );
    }

    fn change(&mut self, uri: &str, version: i32, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}),
        );
    }

    fn shutdown(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert!(response.get("error").is_none(), "{response}");
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit status {status}");
    }
}

/// `file://` URIs of absolute paths (ASCII ones are all the tests need).
struct Url;

impl Url {
    fn file(path: &Path) -> String {
        format!("file://{}", path.display())
    }
    fn dir(path: &Path) -> String {
        format!("file://{}/", path.display())
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn position(text: &str, needle: &str, delta: usize) -> Value {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in {text}"))
        + delta;
    let line = text[..at].matches('\n').count();
    let col = text[..at]
        .rsplit('\n')
        .next()
        .unwrap()
        .encode_utf16()
        .count();
    json!({"line": line, "character": col})
}

fn codes(diagnostics: &[Value]) -> Vec<&str> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect()
}

/// Applies LSP text edits (single-line ranges, as flashc's fixes are) to `text`.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let character = p["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let line_text = text[start..].split('\n').next().unwrap();
        let mut units = 0;
        let mut byte = line_text.len();
        for (i, c) in line_text.char_indices() {
            if units >= character {
                byte = i;
                break;
            }
            units += c.len_utf16();
        }
        start + byte
    };
    let mut out = text.to_string();
    let mut sorted: Vec<&Value> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(offset(&e["range"]["start"])));
    for e in sorted {
        let (s, t) = (offset(&e["range"]["start"]), offset(&e["range"]["end"]));
        out.replace_range(s..t, e["newText"].as_str().unwrap());
    }
    out
}

#[test]
fn an_editor_session_on_an_example_project() {
    let project = repo().join("examples/user-service");
    let file = project.join("flash.yaml");
    let uri = Url::file(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lsp = Client::start(&[]);

    // Open: the example is clean, handlers resolved against its crate.
    lsp.open(&uri, "yaml", &text);
    assert_eq!(lsp.diagnostics(&uri), Vec::<Value>::new());

    // An incremental edit: `workers` misspelled.
    let at = position(&text, "workers: 1", 0);
    let end = json!({"line": at["line"], "character": at["character"].as_u64().unwrap() + 7});
    lsp.change(
        &uri,
        2,
        json!([{"range": {"start": at, "end": end}, "text": "worker"}]),
    );
    let broken = text.replacen("workers: 1", "worker: 1", 1);
    let found = lsp.diagnostics(&uri);
    assert_eq!(codes(&found), ["FL0101"], "{found:?}");
    let d = &found[0];
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "flashc");
    assert_eq!(d["range"]["start"], at);
    assert_eq!(
        d["range"]["end"]["character"],
        at["character"].as_u64().unwrap() + 6
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `workers`?"),
        "{d}"
    );
    let link = d["codeDescription"]["href"].as_str().unwrap_or("");
    assert!(link.ends_with("rules.md#fl0101"), "{d}");

    // The quick fix, applied as an editor would, checks clean.
    let actions = lsp.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}),
    );
    let action = &actions.as_array().unwrap()[0];
    assert_eq!(action["kind"], "quickfix", "{actions}");
    assert_eq!(action["isPreferred"], true);
    let edits = action["edit"]["changes"][&uri].as_array().unwrap();
    let fixed = apply(&broken, edits);
    assert_eq!(fixed, text);
    lsp.change(&uri, 3, json!([{"text": fixed}]));
    assert_eq!(lsp.diagnostics(&uri), Vec::<Value>::new());

    // A handler misspelled: FL0702 on the handler string, and a quick fix (checked against
    // the crate) back to the function.
    let typo = text.replacen("users::list", "users::lst", 1);
    lsp.change(&uri, 4, json!([{"text": typo}]));
    let found = lsp.diagnostics(&uri);
    assert_eq!(codes(&found), ["FL0702"], "{found:?}");
    let actions = lsp.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": found[0]["range"], "context": {"diagnostics": [found[0]]}}),
    );
    let edits = actions[0]["edit"]["changes"][&uri]
        .as_array()
        .expect("a quick fix");
    let fixed = apply(&typo, edits);
    assert_eq!(fixed, text);
    lsp.change(&uri, 5, json!([{"text": fixed}]));
    assert_eq!(lsp.diagnostics(&uri), Vec::<Value>::new());

    // Hover: a CPU flavor, a handler's signature and doc, a route's parameters, a key's doc.
    let hover = |lsp: &mut Client, needle: &str| {
        let r = lsp.result(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": position(&text, needle, 1)}),
        );
        r["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let cpu = hover(&mut lsp, "cpu3g-1-4");
    assert!(cpu.contains("1 vCPU · 4 GB RAM"), "{cpu}");
    let handler = hover(&mut lsp, "users::list");
    assert!(
        handler.contains("pub async fn list(store: &Store, limit: Option<u32>)"),
        "{handler}"
    );
    assert!(handler.contains("`GET /users?limit=10`"), "{handler}");
    let route = hover(&mut lsp, "GET /users/{user_id}");
    assert!(route.contains("| `user_id` |"), "{route}");
    assert!(route.contains("| path |"), "{route}");
    let key = hover(&mut lsp, "init:");
    assert!(!key.is_empty());

    // Completion: handler paths from the crate, with signatures.
    let route_value = position(&text, "users::get", 0);
    let items = lsp.result(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": route_value}),
    );
    let items = items.as_array().unwrap();
    let create = items
        .iter()
        .find(|i| i["label"] == "users::create")
        .expect("users::create offered");
    assert!(
        create["detail"]
            .as_str()
            .unwrap()
            .starts_with("pub async fn create("),
        "{create}"
    );
    // Keys at the endpoint's level, none already present.
    let key_place = position(&text, "    cpu:", 4);
    let items = lsp.result(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": key_place}),
    );
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"gpu"), "{labels:?}");
    assert!(!labels.contains(&"routes"), "{labels:?}");

    // Go to definition: the handler's function in its Rust file.
    let definition = lsp.result(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": position(&text, "users::delete", 8)}),
    );
    let users_rs = project.join("src/users.rs");
    let rust = std::fs::read_to_string(&users_rs).unwrap();
    assert!(
        definition["uri"]
            .as_str()
            .unwrap()
            .ends_with("/examples/user-service/src/users.rs"),
        "{definition}"
    );
    assert_eq!(
        definition["range"]["start"],
        position(&rust, "delete(", 0),
        "{definition}"
    );

    // Document symbols: the endpoint and its routes.
    let symbols = lsp.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!(symbols[0]["name"], "users");
    let routes: Vec<&str> = symbols[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(routes.contains(&"GET /users/{user_id}"), "{routes:?}");

    // Editing the handler's Rust file (unsaved) re-checks flash.yaml: a renamed function is
    // a handler not found, with the place in the Rust file as related information.
    let rust_uri = Url::file(&users_rs);
    lsp.open(&rust_uri, "rust", &rust);
    assert_eq!(lsp.diagnostics(&uri), Vec::<Value>::new());
    let renamed = rust.replacen("pub async fn delete(", "pub async fn remove(", 1);
    lsp.change(&rust_uri, 2, json!([{"text": renamed}]));
    let found = lsp.diagnostics(&uri);
    assert_eq!(codes(&found), ["FL0702"], "{found:?}");
    assert_eq!(
        found[0]["range"]["start"],
        position(&text, "users::delete", 0)
    );
    lsp.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": rust_uri}}),
    );
    assert_eq!(lsp.diagnostics(&uri), Vec::<Value>::new());

    lsp.shutdown();
}

#[test]
fn secondary_labels_become_related_information_with_utf16_columns() {
    let dir = repo().join("examples/user-service");
    let uri = Url::file(&dir.join("flash.yaml"));
    // Two routes that match the same requests; a non-ASCII description before them on the line.
    let text = "version: 1\nname: user-service\nendpoints:\n  users:\n    type: load_balanced\n    cpu: cpu3g-1-4\n    init: store::open\n    routes:\n      \"GET /users/{a}\": users::get\n      \"GET /users/{b}\": {handler: users::get, description: \"😀😀\"}\n";
    let mut lsp = Client::start(&[]);
    lsp.open(&uri, "yaml", text);
    let found = lsp.diagnostics(&uri);
    let duplicate = found
        .iter()
        .find(|d| d["code"] == "FL0208" || d["message"].as_str().unwrap().contains("same"))
        .unwrap_or_else(|| panic!("{found:#?}"));
    let related = duplicate["relatedInformation"]
        .as_array()
        .expect("related information");
    assert!(
        related
            .iter()
            .any(|r| r["location"]["range"]["start"] == position(text, "\"GET /users/{a}\"", 0)),
        "{duplicate}"
    );
    lsp.shutdown();
}

#[test]
fn a_panic_in_a_request_is_an_error_answer_and_the_server_keeps_serving() {
    let mut lsp = Client::start(&[("FLASHC_LSP_TEST_PANIC", "1")]);
    let response = lsp.request("flashc/testPanic", json!({}));
    assert_eq!(response["error"]["code"], -32603, "{response}");
    let uri = "file:///nowhere/flash.yaml";
    lsp.open(
        uri,
        "yaml",
        "version: 2\nname: x\nendpoints:\n  a: {type: queue, handler: a::b, worker: 1}\n",
    );
    let found = lsp.diagnostics(uri);
    assert!(!found.is_empty());
    let unknown = lsp.request("flashc/unknown", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    lsp.shutdown();
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const EXAMPLE: &str = include_str!("../examples/hello/flash.yaml");

/// The robustness corpus of `tests/robustness.rs`: byte mutations of the example, spliced
/// lines, arbitrary bytes (as text), and hostile YAML.
fn corpus(rng: &mut Rng, cases: usize) -> Vec<String> {
    let mut out = vec![
        String::new(),
        "[".repeat(5_000),
        "{a: ".repeat(2_000),
        "- ".repeat(5_000),
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\na1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n".into(),
        "endpoints:\n  \u{1F600}:\n    routes:\n      \"GET /\u{e9}{\": \u{1F600}::x\n".into(),
        "\u{feff}version: 1\r\nname: a\rendpoints:\n\t- x".into(),
    ];
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    for _ in 0..cases {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        match rng.below(3) {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(bytes.len());
                    let pool = b" :-{}[]\"'#&*!|>%@`\n\tax1";
                    bytes[at] = pool[rng.below(pool.len())];
                }
            }
            1 => {
                let mut spliced = lines.clone();
                let cut = rng.below(lines.len());
                spliced.insert(cut, lines[rng.below(lines.len())]);
                if rng.below(2) == 0 {
                    spliced.remove(rng.below(spliced.len()));
                }
                bytes = spliced.join("\n").into_bytes();
            }
            _ => {
                bytes = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
            }
        }
        out.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    out
}

/// Every analysis at many positions of every corpus text, in process: none may panic.
#[test]
fn analysis_never_panics_on_the_robustness_corpus() {
    use flashc::ide::{self, Document};
    let mut rng = Rng(0x5eed);
    let lookup = |_: &str| None;
    for text in corpus(&mut rng, 300) {
        let doc = Document::new(text.clone());
        let all = flashc::check(text.as_bytes(), None).unwrap_or_default();
        let uri = lsp_types::Url::parse("file:///p/flash.yaml").unwrap();
        let cx = ide::diagnostics::Context {
            uri: &uri,
            base: Some(Path::new("/p")),
            rules_url: None,
        };
        let lsp = ide::diagnostics::to_lsp(&doc, &all, &cx);
        assert_eq!(lsp.len(), all.len());
        let check = |t: &str| flashc::check(t.as_bytes(), None).unwrap_or_default();
        for d in all.iter().take(4) {
            for fix in ide::fixes::fixes(&doc, d, &all, &check) {
                let _ = ide::fixes::apply(&text, &fix.edit);
            }
        }
        let _ = ide::nav::symbols(&doc);
        let lines = doc.lines.line_count() as u32;
        for _ in 0..20 {
            let at = lsp_types::Position::new(
                rng.below(lines as usize + 2) as u32,
                rng.below(90) as u32,
            );
            let _ = ide::hover::hover(&doc, at, &lookup);
            let _ = ide::complete::complete(&doc, at, &[]);
            let _ = ide::nav::handler_at(&doc, at);
        }
    }
}

/// The same corpus through the server as a stream of edits (whole-text and ranged, some out
/// of range), each followed by requests; the server answers every one and exits cleanly.
#[test]
fn the_server_survives_the_robustness_corpus_as_edits() {
    let mut rng = Rng(0xf1a5);
    let mut lsp = Client::start(&[]);
    let uri = Url::file(&repo().join("examples/hello/flash.yaml"));
    lsp.open(&uri, "yaml", EXAMPLE);
    let _ = lsp.diagnostics(&uri);
    let mut version = 1;
    for text in corpus(&mut rng, 60) {
        version += 1;
        if rng.below(2) == 0 {
            lsp.change(&uri, version, json!([{"text": text}]));
        } else {
            // A ranged edit anywhere, even past the end.
            let p = |rng: &mut Rng| json!({"line": rng.below(40), "character": rng.below(60)});
            let (a, b) = (p(&mut rng), p(&mut rng));
            let snippet: String = text.chars().take(rng.below(40)).collect();
            lsp.change(
                &uri,
                version,
                json!([{"range": {"start": a, "end": b}, "text": snippet}]),
            );
        }
        let _ = lsp.diagnostics(&uri);
        let at = json!({"line": rng.below(30), "character": rng.below(40)});
        for method in [
            "textDocument/hover",
            "textDocument/completion",
            "textDocument/definition",
        ] {
            let r = lsp.request(
                method,
                json!({"textDocument": {"uri": uri}, "position": at}),
            );
            assert!(r.get("error").is_none(), "{method}: {r}");
        }
        let r = lsp.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        );
        assert!(r.get("error").is_none(), "{r}");
        let r = lsp.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 99, "character": 0}}, "context": {"diagnostics": []}}),
        );
        assert!(r.get("error").is_none(), "{r}");
    }
    lsp.shutdown();
}

/// A real editor: Neovim headless with its built-in LSP client (tests/editors/nvim.sh), on
/// examples/user-service. Skipped, saying so, when nvim is not installed (.ci/run installs it).
#[test]
fn neovim_receives_the_diagnostics() {
    let output = Command::new("bash")
        .arg(repo().join("tests/editors/nvim.sh"))
        .arg(env!("CARGO_BIN_EXE_flashc"))
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.code() == Some(77) {
        eprintln!("SKIPPED neovim_receives_the_diagnostics: {text}");
        return;
    }
    assert!(
        output.status.success(),
        "tests/editors/nvim.sh failed:\n{text}"
    );
    assert!(text.contains("nvim received FL0101"), "{text}");
}

/// The server's check (the crate index kept between checks) says exactly what `flashc check`
/// says: on every example, every handler case, and the robustness corpus, each checked twice
/// through one cache (the second time from the cached index).
#[test]
fn the_editor_check_is_flashc_check() {
    use flashc::ide::check::{check, CrateCache, Fresh};
    let mut dirs: Vec<PathBuf> = Vec::new();
    for parent in ["examples", "tests/ui/handlers"] {
        for entry in std::fs::read_dir(repo().join(parent)).unwrap() {
            let dir = entry.unwrap().path();
            if dir.join("flash.yaml").is_file() {
                dirs.push(dir);
            }
        }
    }
    dirs.sort();
    assert!(dirs.len() > 10, "{dirs:?}");
    let fresh = Fresh {
        now: std::time::SystemTime::now(),
        unchanged_since: &|_, _| true,
    };
    let mut rng = Rng(7);
    let mutations = corpus(&mut rng, 40);
    for dir in &dirs {
        let ws = DiskWorkspace { base: dir.clone() };
        let text = std::fs::read_to_string(dir.join("flash.yaml")).unwrap();
        let mut cache = CrateCache::default();
        let texts = std::iter::once(text.clone()).chain(if dir.ends_with("hello") {
            mutations.clone()
        } else {
            Vec::new()
        });
        for t in texts {
            let expected = flashc::check_with_crate(t.as_bytes(), None, &ws).unwrap();
            for round in 0..2 {
                let got = check(t.as_bytes(), &ws, &mut cache, 0, &fresh);
                assert_eq!(got, expected, "{} (round {round}):\n{t}", dir.display());
            }
        }
    }
}

impl Client {
    /// Writes `bytes` as they are: a frame of the caller's making, malformed or not.
    fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next message that is not a notification (an answer, with or without an id).
    fn answer(&mut self) -> Value {
        loop {
            let message = self
                .incoming
                .recv_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("no answer"));
            if message.get("method").is_none() {
                return message;
            }
            self.pending.push(message);
        }
    }
}

/// Issue 19 item 14: every malformed message gets JSON-RPC's answer (-32700 for what is not
/// JSON, -32600 for JSON that is not a message) and the server keeps serving; a request after
/// `shutdown` is refused as the protocol says, and `exit` still ends it cleanly.
#[test]
fn malformed_messages_are_answered_and_the_server_keeps_serving() {
    let mut lsp = Client::start(&[]);
    let frame = |body: &[u8]| {
        let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out
    };
    let cases: Vec<(Vec<u8>, i64, Value)> = vec![
        (frame(b"{"), -32700, Value::Null),
        (frame(b"not json at all"), -32700, Value::Null),
        (
            frame(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"\xff}"),
            -32700,
            Value::Null,
        ),
        (frame(&[0xff, 0xfe, 0x00]), -32700, Value::Null),
        (frame(b"[1,2,3]"), -32600, Value::Null),
        (frame(b"[]"), -32600, Value::Null),
        (frame(b"42"), -32600, Value::Null),
        (frame(b"null"), -32600, Value::Null),
        (frame(b"{}"), -32600, Value::Null),
        (frame(br#"{"jsonrpc":"2.0","id":77}"#), -32600, json!(77)),
        (
            frame(br#"{"jsonrpc":"2.0","id":78,"method":5}"#),
            -32600,
            json!(78),
        ),
        (
            frame(br#"{"jsonrpc":"2.0","id":{"a":1},"method":"textDocument/hover"}"#),
            -32600,
            Value::Null,
        ),
        (
            frame(br#"{"jsonrpc":"2.0","id":1099511627776,"method":"textDocument/hover"}"#),
            -32600,
            json!(1099511627776_i64),
        ),
        (
            frame(br#"{"jsonrpc":"2.0","id":"s","method":"textDocument/hover","params":7}"#),
            -32602,
            json!("s"),
        ),
        (b"Content-Length: abc\r\n\r\n".to_vec(), -32700, Value::Null),
        (
            b"Content-Type: application/json\r\n\r\n".to_vec(),
            -32700,
            Value::Null,
        ),
    ];
    for (bytes, code, id) in &cases {
        lsp.send_raw(bytes);
        let answer = lsp.answer();
        assert_eq!(
            answer["error"]["code"],
            *code,
            "{:?} → {answer}",
            String::from_utf8_lossy(bytes)
        );
        assert_eq!(
            answer["id"],
            *id,
            "{:?} → {answer}",
            String::from_utf8_lossy(bytes)
        );
    }
    // Still serving: a document is checked and a request answered.
    let uri = "file:///nowhere/flash.yaml";
    lsp.open(uri, "yaml", "version: 2\nname: x\nendpoints: {}\n");
    assert!(!lsp.diagnostics(uri).is_empty());
    let symbols = lsp.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    assert!(symbols.get("error").is_none(), "{symbols}");
    let response = lsp.request("shutdown", Value::Null);
    assert!(response.get("error").is_none(), "{response}");
    let after = lsp.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!(after["error"]["code"], -32600, "{after}");
    lsp.notify("exit", Value::Null);
    let status = lsp.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

/// Issue 19 item 15: an editor may attach the server to every YAML file; only flash.yaml
/// documents (by name, or by the schema modeline) are checked and answered. A file that gains
/// the modeline is checked from then on; one that loses it has its diagnostics cleared.
#[test]
fn only_flash_yaml_documents_are_served() {
    let mut lsp = Client::start(&[]);
    let other = "file:///nowhere/docker-compose.yaml";
    lsp.open(other, "yaml", "services:\n  web:\n    image: nginx\n");
    let kube = "file:///nowhere/deploy.yml";
    lsp.open(kube, "yaml", "apiVersion: v1\nkind: Pod\n");
    let variant = "file:///nowhere/flash.staging.yaml";
    lsp.open(variant, "yaml", "version: 1\nname: x\n");
    assert!(codes(&lsp.diagnostics(variant)).contains(&"FL0105"));
    let named = "file:///nowhere/other-dir/flash.yml";
    lsp.open(named, "yaml", "version: 1\nname: x\n");
    assert!(codes(&lsp.diagnostics(named)).contains(&"FL0105"));
    let modeline = "file:///nowhere/staging.yaml";
    let text = "# yaml-language-server: $schema=.flash/flash.schema.json\nversion: 1\nname: x\n";
    lsp.open(modeline, "yaml", text);
    assert!(!lsp.diagnostics(modeline).is_empty());
    let symbols = lsp.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": other}}),
    );
    assert_eq!(symbols, Value::Null);
    let hover = lsp.result(
        "textDocument/hover",
        json!({"textDocument": {"uri": kube}, "position": {"line": 0, "character": 2}}),
    );
    assert_eq!(hover, Value::Null);
    // The other file gains the modeline: now it is a flash.yaml.
    lsp.change(
        other,
        2,
        json!([{"text": "# yaml-language-server: $schema=../schema/flash.schema.json\nservices: {}\n"}]),
    );
    assert!(!lsp.diagnostics(other).is_empty());
    // The modeline file loses it: its diagnostics are cleared.
    lsp.change(modeline, 2, json!([{"text": "version: 1\nname: x\n"}]));
    assert!(lsp.diagnostics(modeline).is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let _ = lsp.request("flashc/unknown", json!({}));
    let published_for_kube = lsp
        .pending
        .iter()
        .any(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == kube);
    assert!(!published_for_kube, "{:?}", lsp.pending);
    lsp.shutdown();
}
