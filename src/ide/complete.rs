//! Completion, from the text around the cursor (a file being typed rarely parses): keys valid
//! at the cursor that are not already there, enum values with their descriptions, handler paths
//! from the crate with their signatures, and route methods.

use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, Position, Range, TextEdit,
};

use crate::load::Step;
use crate::model::route_key::Method;
use crate::resolve::FnSummary;

use super::{is_handler_place, schema, Document};

/// What the cursor is in, read from indentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// Keys from the root to the mapping the cursor is in (list items as `Index(0)`).
    pub parent: Vec<Step>,
    /// `Some(key)` when the cursor is in `key`'s value (after `key:`, or a `- ` item of it).
    pub value_of: Option<String>,
    /// In a `- ` item.
    pub item: bool,
    /// Keys already written in the mapping.
    pub siblings: Vec<String>,
    /// What has been typed of the current word, and where it starts (byte offset).
    pub typed: String,
    pub typed_start: usize,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// `key` of a line `key: ...` / `- key: ...` / `"key":`, unquoted.
fn key_of(line: &str) -> Option<String> {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let colon = if t.starts_with('"') || t.starts_with('\'') {
        let q = &t[..1];
        let close = t[1..].find(q)? + 1;
        close + t[close..].find(':')?
    } else {
        t.find(": ").or_else(|| t.strip_suffix(':').map(str::len))?
    };
    let key = t[..colon].trim().trim_matches(['"', '\'']);
    (!key.is_empty() && !key.starts_with('#')).then(|| key.to_string())
}

/// Reads the context of the cursor at byte `offset`.
pub fn context(doc: &Document, offset: usize) -> Context {
    let text = &doc.text;
    let lines = &doc.lines;
    let line_no = lines.line_of(offset);
    let line = lines.line(text, line_no);
    let line_start = lines.line_start(line_no);
    let before = &line[..(offset - line_start).min(line.len())];
    let mut indent = indent_of(before);
    let mut rest = &before[indent..];
    let item = rest.starts_with("- ") || rest == "-";
    if item {
        let after_dash = rest.trim_start_matches('-').trim_start_matches(' ');
        indent += rest.len() - after_dash.len();
        rest = after_dash;
    }
    let mut value_of = None;
    let typed;
    if let Some(key) = key_of(rest) {
        // `key: partial`
        let colon = rest.find(':').unwrap_or(0);
        let after = rest[colon + 1..].trim_start();
        value_of = Some(key);
        typed = after.trim_start_matches(['"', '\'', '[', ' ']).to_string();
    } else {
        typed = rest.trim_start_matches(['"', '\'']).to_string();
    }
    let typed_start = offset - typed.len();
    // A list item under `key:` is part of its value: the item's own indent is the key's or more.
    let mut parent = Vec::new();
    let mut target = indent;
    let mut first = true;
    let mut list_owner: Option<String> = None;
    for l in (0..line_no).rev() {
        let text_line = lines.line(text, l);
        if is_blank(text_line) {
            continue;
        }
        let i = indent_of(text_line);
        let dash = text_line.trim_start().starts_with("- ");
        if item && first && value_of.is_none() && (i < target || (i == target && !dash)) {
            // The key that owns the list the cursor's item is in.
            first = false;
            if let Some(k) = key_of(text_line) {
                list_owner = Some(k);
                target = i;
                continue;
            }
        }
        if i < target {
            if let Some(k) = key_of(text_line) {
                parent.push(Step::Key(k));
            }
            if dash {
                parent.push(Step::Index(0));
            }
            target = i;
            if i == 0 {
                break;
            }
        }
    }
    parent.reverse();
    if let Some(owner) = list_owner {
        value_of = Some(owner);
    }
    // Siblings: keys at the same indent in the same block, above and below.
    let mut siblings = Vec::new();
    if value_of.is_none() {
        for range in [
            Box::new((0..line_no).rev()) as Box<dyn Iterator<Item = usize>>,
            Box::new(line_no + 1..lines.line_count()),
        ] {
            for l in range {
                let t = lines.line(text, l);
                if is_blank(t) {
                    continue;
                }
                let i = indent_of(t);
                if i < indent {
                    break;
                }
                if i == indent {
                    if let Some(k) = key_of(t) {
                        siblings.push(k);
                    }
                }
            }
        }
    }
    Context {
        parent,
        value_of,
        item,
        siblings,
        typed,
        typed_start,
    }
}

fn markdown(text: &str) -> Option<Documentation> {
    (!text.is_empty()).then(|| {
        Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text.to_string(),
        })
    })
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

/// Completions at `at`. `functions` are the crate's (empty without one).
pub fn complete(doc: &Document, at: Position, functions: &[FnSummary]) -> Vec<CompletionItem> {
    let offset = doc.lines.offset_of_lsp(&doc.text, at);
    let cx = context(doc, offset);
    let range = Range::new(doc.lines.lsp_of_offset(&doc.text, cx.typed_start), at);
    let edit = |new_text: String| Some(CompletionTextEdit::Edit(TextEdit { range, new_text }));
    let mut out = Vec::new();
    match &cx.value_of {
        Some(key) => {
            let mut path = cx.parent.clone();
            path.push(Step::Key(key.clone()));
            if is_handler_place(&path) {
                for f in functions.iter().filter(|f| f.is_pub) {
                    out.push(CompletionItem {
                        label: f.path.clone(),
                        kind: Some(CompletionItemKind::FUNCTION),
                        detail: Some(f.signature.clone()),
                        documentation: markdown(&f.doc),
                        text_edit: edit(f.path.clone()),
                        ..Default::default()
                    });
                }
                return out;
            }
            for choice in schema::choices(&path) {
                let label = match &choice.value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push(CompletionItem {
                    label: label.clone(),
                    kind: Some(CompletionItemKind::ENUM_MEMBER),
                    detail: Some(first_line(&choice.doc)),
                    documentation: markdown(&choice.doc),
                    text_edit: edit(label),
                    ..Default::default()
                });
            }
        }
        None => {
            if cx.parent.last() == Some(&Step::Key("routes".into())) && !cx.item {
                for method in Method::ALL.map(Method::as_str) {
                    let text = format!("\"{method} /");
                    out.push(CompletionItem {
                        label: format!("{method} /…"),
                        kind: Some(CompletionItemKind::KEYWORD),
                        detail: Some(if method == "WS" {
                            "a WebSocket route".to_string()
                        } else {
                            format!("an HTTP {method} route")
                        }),
                        filter_text: Some(method.to_string()),
                        text_edit: edit(text),
                        ..Default::default()
                    });
                }
                return out;
            }
            for (key, doc_text) in schema::keys(&cx.parent) {
                if cx.siblings.contains(&key) {
                    continue;
                }
                out.push(CompletionItem {
                    label: key.clone(),
                    kind: Some(CompletionItemKind::PROPERTY),
                    detail: Some(first_line(&doc_text)),
                    documentation: markdown(&doc_text),
                    text_edit: edit(format!("{key}: ")),
                    filter_text: Some(key.clone()),
                    ..Default::default()
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text: &str, functions: &[FnSummary]) -> Vec<String> {
        let doc = Document::new(text.replace('|', ""));
        let offset = text.find('|').unwrap();
        let at = doc.lines.lsp_of_offset(&doc.text, offset);
        complete(&doc, at, functions)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    fn function(path: &str) -> FnSummary {
        FnSummary {
            path: path.into(),
            signature: format!("pub fn {path}()"),
            params: Vec::new(),
            doc: String::new(),
            span: crate::resolve::RustSpan {
                file: "/x.rs".into(),
                line: 1,
                col: 0,
                end_line: 1,
                end_col: 1,
            },
            is_pub: true,
        }
    }

    #[test]
    fn keys_not_present_values_handlers_and_methods() {
        let top = labels("version: 1\n|\nendpoints: {}\n", &[]);
        assert!(top.contains(&"name".to_string()), "{top:?}");
        assert!(!top.contains(&"version".to_string()), "{top:?}");
        assert!(!top.contains(&"endpoints".to_string()), "{top:?}");
        let endpoint = labels(
            "version: 1\nendpoints:\n  api:\n    type: queue\n    g|\n",
            &[],
        );
        assert!(endpoint.contains(&"gpu".to_string()), "{endpoint:?}");
        assert!(!endpoint.contains(&"type".to_string()), "{endpoint:?}");
        let kinds = labels("endpoints:\n  api:\n    type: |\n", &[]);
        assert_eq!(kinds, ["queue", "load_balanced"]);
        let gpus = labels("endpoints:\n  api:\n    gpu:\n      - |\n", &[]);
        assert!(gpus.contains(&"ADA_24".to_string()), "{gpus:?}");
        let cpu = labels("endpoints:\n  api:\n    cpu: c|\n", &[]);
        assert!(cpu.contains(&"cpu3c-2-4".to_string()), "{cpu:?}");
        let fns = [function("users::get")];
        assert_eq!(
            labels("endpoints:\n  api:\n    handler: u|\n", &fns),
            ["users::get"]
        );
        assert_eq!(
            labels(
                "endpoints:\n  api:\n    routes:\n      \"GET /x\": |\n",
                &fns
            ),
            ["users::get"]
        );
        let methods = labels("endpoints:\n  api:\n    routes:\n      |\n", &fns);
        assert_eq!(methods.len(), Method::ALL.len(), "{methods:?}");
        let env = labels(
            "environments:\n  prod:\n    endpoints:\n      api:\n        |\n",
            &[],
        );
        assert!(env.contains(&"workers".to_string()), "{env:?}");
    }
}
