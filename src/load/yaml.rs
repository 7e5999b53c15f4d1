//! The YAML reader: saphyr-parser's event stream folded into a [`Node`] tree.
//!
//! Building the tree ourselves, rather than taking a ready-made DOM, is what lets flashc
//! report duplicate keys (a DOM keeps one), bound nesting and alias expansion (a DOM would
//! happily build an alias bomb), and keep a span on every key. The builder is iterative, so
//! deep input cannot overflow the stack.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError};

use super::rules::{DUPLICATE_KEY, FLOAT_VERSION, NOT_UTF8, YAML_LIMITS, YAML_SYNTAX};
use super::tree::{Entry, Node, Pos, Span, Value};
use crate::diagnostic::Diagnostic;

/// Bounds that keep loading linear in the input whatever it holds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    /// Nodes in the tree after alias expansion.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 8 << 20,
            max_depth: 64,
            max_nodes: 1_000_000,
        }
    }
}

/// Reads `bytes` as one YAML document. Returns the tree (absent when the input could not be
/// read at all) and every problem found on the way.
pub fn load(bytes: &[u8], limits: Limits) -> (Option<Node>, Vec<Diagnostic>) {
    crate::stats::count(crate::stats::Counter::Load);
    if bytes.len() > limits.max_bytes {
        let message = format!(
            "file is {} bytes; flashc reads at most {} bytes",
            bytes.len(),
            limits.max_bytes
        );
        return (
            None,
            vec![Diagnostic::new(
                &YAML_LIMITS,
                Span::default_at_start(),
                message,
            )],
        );
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => return (None, vec![not_utf8(bytes, err.valid_up_to())]),
    };
    let mut builder = Builder {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        root: None,
        documents: 0,
        diagnostics: Vec::new(),
    };
    let (root, mut diagnostics) = match builder.run(text) {
        Ok(()) => (builder.root, builder.diagnostics),
        Err(fatal) => {
            builder.diagnostics.push(fatal);
            (None, builder.diagnostics)
        }
    };
    crate::diagnostic::normalize(&mut diagnostics);
    crate::diagnostic::shorten_quoted(&mut diagnostics);
    (root, diagnostics)
}

impl Span {
    fn default_at_start() -> Span {
        let start = Pos { line: 1, col: 0 };
        Span { start, end: start }
    }
}

fn pos(m: &Marker) -> Pos {
    Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        col: u32::try_from(m.col()).unwrap_or(u32::MAX),
    }
}

fn span(s: &saphyr_parser::Span) -> Span {
    Span {
        start: pos(&s.start),
        end: pos(&s.end),
    }
}

fn not_utf8(bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    // The prefix is valid UTF-8 by construction, so columns can be counted in characters.
    let prefix = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = prefix.matches('\n').count() + 1;
    let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count());
    let at = Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    };
    Diagnostic::new(
        &NOT_UTF8,
        Span { start: at, end: at },
        format!(
            "file is not valid UTF-8: byte 0x{:02x} at this position",
            bytes[valid_up_to]
        ),
    )
    .label("not UTF-8")
    .help("save flash.yaml as UTF-8")
}

enum Frame {
    Seq {
        start: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Span)>,
        /// The values of `<<` merge keys, folded in when the mapping closes.
        merges: Vec<(Node, Span)>,
    },
}

struct Builder {
    limits: Limits,
    stack: Vec<Frame>,
    /// Anchored nodes by anchor id, with their size for the alias budget.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
    diagnostics: Vec<Diagnostic>,
}

// A fatal error ends loading once per run; boxing it would buy nothing on a path taken once.
#[allow(clippy::result_large_err)]
impl Builder {
    fn run(&mut self, text: &str) -> Result<(), Diagnostic> {
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, at) = next.map_err(|e| syntax_error(text, e))?;
            let at = span(&at);
            match event {
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(Diagnostic::new(
                            &YAML_LIMITS,
                            at,
                            "flash.yaml holds more than one YAML document",
                        )
                        .label("a second document starts here")
                        .help("keep one document; use `environments:` for variants"));
                    }
                }
                Event::Scalar(text, style, anchor, _) => {
                    let value = resolve(&text, style);
                    if let Value::Float(f) = value {
                        self.check_version_text(&text, f, at);
                    }
                    let node = Node { value, span: at };
                    self.push(node, anchor, at)?;
                }
                Event::Alias(id) => {
                    let Some((node, size)) = self.anchors.get(&id) else {
                        return Err(Diagnostic::new(
                            &YAML_LIMITS,
                            at,
                            "alias to an undefined anchor",
                        ));
                    };
                    let (mut node, size) = (node.clone(), *size);
                    self.count(size, at)?;
                    node.span = at;
                    self.place(node, at)?;
                }
                Event::SequenceStart(anchor, _) => self.open(
                    Frame::Seq {
                        start: at.start,
                        anchor,
                        items: Vec::new(),
                    },
                    at,
                )?,
                Event::MappingStart(anchor, _) => self.open(
                    Frame::Map {
                        start: at.start,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        merges: Vec::new(),
                    },
                    at,
                )?,
                Event::SequenceEnd | Event::MappingEnd => self.close(at)?,
                Event::StreamEnd => break,
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        if self.root.is_none() {
            // An empty file is an empty document: report it through the schema like `null`.
            self.root = Some(Node {
                value: Value::Null,
                span: Span::default_at_start(),
            });
        }
        Ok(())
    }

    /// An unquoted version the float reading changes (`min_cuda_version: 12.10` is 12.1).
    fn check_version_text(&mut self, text: &str, float: f64, at: Span) {
        let Some(Frame::Map {
            key: Some((key, _)),
            ..
        }) = self.stack.last()
        else {
            return;
        };
        if !key.to_ascii_lowercase().ends_with("version") || !float.is_finite() {
            return;
        }
        let unsigned = text.trim_start_matches('+');
        let exponent = unsigned.contains(['e', 'E']);
        let trailing_zero = unsigned
            .split_once('.')
            .is_some_and(|(_, fraction)| fraction.len() > 1 && fraction.ends_with('0'));
        // More digits than a float keeps (`12.10000000000000000001`).
        let lossy = !exponent
            && unsigned.parse::<f64>().ok().is_some_and(|f| {
                let shortest = f.to_string();
                let written = unsigned.trim_end_matches('0').trim_end_matches('.');
                shortest.trim_end_matches('.') != written && !trailing_zero
            });
        if !(exponent || trailing_zero || lossy) {
            return;
        }
        let read = if float.fract() == 0.0 && float.abs() < 1e15 {
            format!("{float:.1}")
        } else {
            float.to_string()
        };
        let shown: String = text.chars().take(40).collect();
        self.diagnostics.push(
            Diagnostic::new(
                &FLOAT_VERSION,
                at,
                format!("YAML reads the unquoted version `{shown}` as the number {read}"),
            )
            .label(format!("read as {read}"))
            .help(format!(
                "quote it to keep the text as written: `{key}: \"{shown}\"`"
            )),
        );
    }

    fn open(&mut self, frame: Frame, at: Span) -> Result<(), Diagnostic> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(Diagnostic::new(
                &YAML_LIMITS,
                at,
                format!("nesting deeper than {} levels", self.limits.max_depth),
            )
            .label("too deep"));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, at: Span) -> Result<(), Diagnostic> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (node, anchor) = match frame {
            Frame::Seq {
                start,
                anchor,
                items,
            } => (
                Node {
                    value: Value::Seq(items),
                    span: Span { start, end: at.end },
                },
                anchor,
            ),
            Frame::Map {
                start,
                anchor,
                entries,
                merges,
                ..
            } => {
                let mut entries = self.without_duplicates(entries);
                self.merge_into(&mut entries, merges)?;
                (
                    Node {
                        value: Value::Map(entries),
                        span: Span { start, end: at.end },
                    },
                    anchor,
                )
            }
        };
        self.push_built(node, anchor, at)
    }

    /// A scalar: counted, remembered if anchored, then placed in its parent.
    fn push(&mut self, node: Node, anchor: usize, at: Span) -> Result<(), Diagnostic> {
        self.count(1, at)?;
        self.push_built(node, anchor, at)
    }

    fn push_built(&mut self, node: Node, anchor: usize, at: Span) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), node.size()));
        }
        if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
            self.count(1, at)?;
        }
        self.place(node, at)
    }

    fn count(&mut self, n: usize, at: Span) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(Diagnostic::new(
                &YAML_LIMITS,
                at,
                format!(
                    "document expands to more than {} nodes (aliases included)",
                    self.limits.max_nodes
                ),
            )
            .label("limit reached while expanding here"));
        }
        Ok(())
    }

    fn place(&mut self, node: Node, at: Span) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                // YAML's merge key (`<<: *common`): folded in when the mapping closes.
                Some((key, key_span)) if key == "<<" => merges.push((node, key_span)),
                Some((key, key_span)) => entries.push(Entry {
                    key,
                    key_span,
                    value: node,
                }),
                None => match node.value {
                    Value::Seq(_) | Value::Map(_) => {
                        return Err(Diagnostic::new(
                            &YAML_LIMITS,
                            node.span,
                            "mapping keys must be plain strings, not lists or mappings",
                        )
                        .label("complex key"));
                    }
                    _ => *key = Some((scalar_text(node.value), at)),
                },
            },
        }
        Ok(())
    }

    /// YAML merge keys: the entries of each merged mapping (or of each mapping in a merged
    /// list, earlier ones first) that the mapping does not set itself, with their spans in
    /// the anchored mapping. Bounded like aliases: merged entries count as nodes.
    fn merge_into(
        &mut self,
        entries: &mut Vec<Entry>,
        merges: Vec<(Node, Span)>,
    ) -> Result<(), Diagnostic> {
        if merges.is_empty() {
            return Ok(());
        }
        let mut present: HashSet<String> = entries.iter().map(|e| e.key.clone()).collect();
        for (value, key_span) in merges {
            let sources = match value.value {
                Value::Map(merged) => vec![merged],
                Value::Seq(items) if items.iter().all(|i| matches!(i.value, Value::Map(_))) => {
                    items
                        .into_iter()
                        .filter_map(|i| match i.value {
                            Value::Map(merged) => Some(merged),
                            _ => None,
                        })
                        .collect()
                }
                _ => {
                    self.diagnostics.push(
                        Diagnostic::new(
                            &YAML_SYNTAX,
                            key_span,
                            "`<<` merges a mapping, but its value is not one",
                        )
                        .label("merge key")
                        .help("write `<<: *name`, where `&name` anchors a mapping above (or a list of such aliases)"),
                    );
                    continue;
                }
            };
            for source in sources {
                for entry in source {
                    if present.insert(entry.key.clone()) {
                        self.count(entry.value.size(), key_span)?;
                        entries.push(entry);
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps the first of each key and reports the others against it.
    fn without_duplicates(&mut self, entries: Vec<Entry>) -> Vec<Entry> {
        // Most mappings are small: a quadratic scan beats building a hash set for each.
        let small = entries.len() <= 16;
        if small
            && !entries
                .iter()
                .enumerate()
                .any(|(i, e)| entries[..i].iter().any(|f| f.key == e.key))
        {
            return entries;
        }
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(entries.len());
        let mut drop = HashSet::new();
        for (i, entry) in entries.iter().enumerate() {
            if let Some(first) = seen.get(entry.key.as_str()) {
                self.diagnostics.push(
                    Diagnostic::new(
                        &DUPLICATE_KEY,
                        entry.key_span,
                        format!("duplicate key `{}`", entry.key),
                    )
                    .label("defined again here")
                    .related(*first, format!("`{}` first defined here", entry.key))
                    .help("remove one of them or give it another name"),
                );
                drop.insert(i);
            } else {
                seen.insert(&entry.key, entry.key_span);
            }
        }
        if drop.is_empty() {
            return entries;
        }
        entries
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !drop.contains(i))
            .map(|(_, e)| e)
            .collect()
    }
}

fn syntax_error(text: &str, err: ScanError) -> Diagnostic {
    let at = clamp_to_text(text, pos(err.marker()));
    let info = err.info();
    if info.contains("recursion limit") {
        // The scanner looks ahead of our own depth check on flow collections.
        return Diagnostic::new(
            &YAML_LIMITS,
            Span { start: at, end: at },
            "nesting too deep for the YAML parser",
        )
        .label("too deep");
    }
    explain_syntax(text, at, info)
}

/// The lines of `text` as YAML counts them: `\r\n`, `\r` and `\n` each end one.
fn yaml_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\n', '\r']) {
            Some(at) => {
                let step = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + step..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// A position the parser gives at the end of input may lie past the last line (one line
/// further when the file ends with a newline, or when it does not): it is moved to the end
/// of the last line, where the snippet can show it.
fn clamp_to_text(text: &str, at: Pos) -> Pos {
    let mut last = None;
    let mut count = 0u32;
    for line in yaml_lines(text) {
        count += 1;
        last = Some(line);
    }
    // A final line break leaves an empty last "line" that is not a line of the file.
    let ends_with_break = text.ends_with(['\n', '\r']);
    let (lines, last_text) = if ends_with_break && count > 1 {
        let previous = yaml_lines(text).nth(count as usize - 2).unwrap_or("");
        (count - 1, previous)
    } else {
        (count.max(1), last.unwrap_or(""))
    };
    if at.line > lines || (at.line == lines + 1 && at.col == 0) {
        Pos {
            line: lines,
            col: u32::try_from(last_text.chars().count()).unwrap_or(u32::MAX),
        }
    } else {
        at
    }
}

/// A YAML syntax error in plain words, at the place the mistake is rather than where the
/// parser noticed it: a tab at the tab, an unclosed quote or bracket at its opener.
fn explain_syntax(text: &str, at: Pos, info: &str) -> Diagnostic {
    let point = |p: Pos| Span {
        start: p,
        end: Pos {
            line: p.line,
            col: p.col + 1,
        },
    };
    if info.contains("tab") {
        if let Some(tab) = find_indenting_tab(text, at) {
            return Diagnostic::new(&YAML_SYNTAX, point(tab), "tab used for indentation")
                .label("tab")
                .help("indent with spaces; YAML does not allow tabs for indentation");
        }
    }
    let at_end = clamp_to_text(
        text,
        Pos {
            line: u32::MAX,
            col: 0,
        },
    ) == at;
    let scan = scan_delimiters(text, at, at_end);
    if let Some((open, quote)) = scan.unclosed_quote {
        let kind = if quote == '"' { "double" } else { "single" };
        return Diagnostic::new(
            &YAML_SYNTAX,
            point(open),
            format!("unclosed {kind} quote: the string that starts here does not end on its line"),
        )
        .label(format!("`{quote}` opened here"))
        .help(format!(
            "add the closing `{quote}` at the end of the value on this line"
        ));
    }
    if let Some((open, bracket)) = scan.unclosed_bracket {
        let close = if bracket == '[' { ']' } else { '}' };
        let what = if bracket == '[' { "list" } else { "mapping" };
        return Diagnostic::new(
            &YAML_SYNTAX,
            point(open),
            format!("unclosed `{bracket}`: the {what} that starts here is never closed"),
        )
        .label(format!("`{bracket}` opened here"))
        .help(format!("close it with `{close}` after its last item"));
    }
    let (message, label, help) = plain_words(info);
    Diagnostic::new(&YAML_SYNTAX, Span { start: at, end: at }, message)
        .label(label)
        .help(help)
}

/// The parser's common messages, said plainly, each with a way out.
fn plain_words(info: &str) -> (String, &'static str, String) {
    let said = |m: &str, l: &'static str, h: &str| (m.to_string(), l, h.to_string());
    if info.contains("did not find expected key") || info.contains("invalid indentation") {
        said(
            "this line is not indented like the keys around it",
            "unexpected indentation",
            "align it with the other keys of its mapping, using spaces (YAML nests by indentation)",
        )
    } else if info.contains("mapping values are not allowed") {
        said(
            "a `: ` inside a plain value starts a mapping YAML does not expect here",
            "unexpected `:`",
            "quote the value if it contains `: `, or put the key on its own line",
        )
    } else if info.contains("expected '-'") || info.contains("block sequence") {
        said(
            "this list item is not aligned with the items above",
            "misaligned item",
            "start every item of a list with `- ` at the same indentation",
        )
    } else if info.contains("cannot start any token") {
        said(
            "a plain value cannot start with this character",
            "unexpected character",
            "quote the value (YAML reserves `@`, `` ` ``, `%` and `|`/`>` at the start)",
        )
    } else if info.contains("alias") || info.contains("anchor") {
        said(
            "this alias or anchor is not written correctly",
            "bad alias or anchor",
            "an anchor is `&name` before a value; an alias `*name` refers to one defined above",
        )
    } else if info.contains("flow") || info.contains("expected ','") {
        said(
            "a `[...]` or `{...}` is not written correctly here",
            "unexpected content",
            "separate items with `, ` and close the `[` or `{`; quote values that contain `,`, `:`, `[` or `{`",
        )
    } else if info.contains("block scalar") || info.contains("trailing content") {
        said(
            "unexpected text after a value",
            "unexpected text",
            "quote the whole value, or move the extra text to its own line",
        )
    } else {
        (
            "flash.yaml is not valid YAML here".to_string(),
            "the YAML parser stopped here",
            format!("the YAML parser says: {info}"),
        )
    }
}

/// The first tab in the indentation of a line at or after `near` (the parser notices a tab
/// at the end of the scalar before it); failing that, the first indenting tab in the file.
fn find_indenting_tab(text: &str, near: Pos) -> Option<Pos> {
    let mut first = None;
    for (index, line) in yaml_lines(text).enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(col) = line[..indent].find('\t') {
            let at = Pos {
                line: number,
                col: u32::try_from(col).unwrap_or(u32::MAX),
            };
            if number >= near.line {
                return Some(at);
            }
            first.get_or_insert(at);
        }
    }
    first
}

#[derive(Default)]
struct Delimiters {
    /// A quote opened and not closed on its line, at or before the error's line.
    unclosed_quote: Option<(Pos, char)>,
    /// The innermost `[`/`{` still open at the error, opened on an earlier line.
    unclosed_bracket: Option<(Pos, char)>,
}

/// A lexical pass over the text up to the error (linear): quotes are read per line (flash.yaml
/// has no reason for multi-line quoted strings), brackets across lines, comments skipped.
fn scan_delimiters(text: &str, error: Pos, at_end: bool) -> Delimiters {
    let mut found = Delimiters::default();
    let mut brackets: Vec<(Pos, char)> = Vec::new();
    'lines: for (index, line) in yaml_lines(text).enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if number > error.line {
            break;
        }
        let mut quote: Option<(Pos, char)> = None;
        let mut previous = None::<char>;
        let mut raw_previous = None::<char>;
        let mut chars = line.chars().enumerate().peekable();
        while let Some((col, c)) = chars.next() {
            let here = Pos {
                line: number,
                col: u32::try_from(col).unwrap_or(u32::MAX),
            };
            if number == error.line && here.col > error.col && quote.is_none() {
                break;
            }
            match quote {
                Some((_, '"')) => match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => quote = None,
                    _ => {}
                },
                Some((_, _)) => {
                    if c == '\'' {
                        if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                            chars.next();
                        } else {
                            quote = None;
                        }
                    }
                }
                None => {
                    let starts_value =
                        previous.is_none_or(|p| matches!(p, ':' | '-' | '[' | '{' | ',' | '?'));
                    match c {
                        '#' if raw_previous.is_none_or(|p| p == ' ' || p == '\t') => {
                            continue 'lines;
                        }
                        '"' | '\'' if starts_value => quote = Some((here, c)),
                        '[' | '{' if starts_value => brackets.push((here, c)),
                        ']' | '}' => {
                            brackets.pop();
                        }
                        _ => {}
                    }
                }
            }
            if !c.is_whitespace() {
                previous = Some(c);
            }
            raw_previous = Some(c);
        }
        if let Some(open) = quote {
            if found.unclosed_quote.is_none() {
                found.unclosed_quote = Some(open);
            }
        }
    }
    found.unclosed_bracket = brackets
        .last()
        .copied()
        .filter(|(open, _)| open.line < error.line || at_end);
    found
}

fn scalar_text(value: Value) -> String {
    match value {
        Value::Str(s) => s,
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Seq(_) | Value::Map(_) => String::new(),
    }
}

/// Resolves a scalar by the YAML 1.2 core schema: quoted scalars are strings; plain ones may
/// be null, booleans, integers or floats. (YAML 1.1's `yes`/`no`/`on` stay strings.)
fn resolve(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = resolve_int(text) {
        return Value::Int(int);
    }
    let float_chars = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if float_chars && text.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text.to_string())
}

fn resolve_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(src: &str) -> Node {
        let (root, diagnostics) = load(src.as_bytes(), Limits::default());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        root.expect("a tree")
    }

    #[test]
    fn resolves_scalars_by_the_core_schema() {
        let root = tree("a: 1\nb: 1.5\nc: yes\nd: true\ne: ~\nf: '1'\ng: 0x10\n");
        let values: Vec<_> = root
            .entries()
            .iter()
            .map(|e| e.value.value.clone())
            .collect();
        assert_eq!(
            values,
            vec![
                Value::Int(1),
                Value::Float(1.5),
                Value::Str("yes".into()),
                Value::Bool(true),
                Value::Null,
                Value::Str("1".into()),
                Value::Int(16),
            ]
        );
    }

    #[test]
    fn keeps_key_and_value_positions() {
        let root = tree("endpoints:\n  api:\n    workers: 3\n");
        let workers = root
            .at(&crate::path!["endpoints", "api", "workers"])
            .unwrap();
        assert_eq!(workers.span.start, Pos { line: 3, col: 13 });
        let key = root
            .key_span_at(&crate::path!["endpoints", "api", "workers"])
            .unwrap();
        assert_eq!(key.start, Pos { line: 3, col: 4 });
        assert_eq!(key.end, Pos { line: 3, col: 11 });
    }

    #[test]
    fn reports_duplicate_keys_and_keeps_the_first() {
        let (root, diagnostics) = load(b"a: 1\na: 2\n", Limits::default());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, "FL0004");
        assert_eq!(diagnostics[0].span.start, Pos { line: 2, col: 0 });
        assert_eq!(
            diagnostics[0].related[0].span.start,
            Pos { line: 1, col: 0 }
        );
        assert_eq!(root.unwrap().get("a").unwrap().value, Value::Int(1));
    }

    #[test]
    fn stops_alias_bombs_and_deep_nesting() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb += &format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n");
        }
        let (root, diagnostics) = load(bomb.as_bytes(), Limits::default());
        assert!(root.is_none());
        assert_eq!(diagnostics[0].code, "FL0003");

        let deep = "[".repeat(10_000);
        let (root, diagnostics) = load(deep.as_bytes(), Limits::default());
        assert!(root.is_none());
        assert!(
            diagnostics[0].message.contains("nesting"),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn locates_invalid_utf8() {
        let (_, diagnostics) = load(b"name: ok\nx: caf\xe9\n", Limits::default());
        assert_eq!(diagnostics[0].code, "FL0002");
        assert_eq!(diagnostics[0].span.start, Pos { line: 2, col: 6 });
    }
}
