//! Quick fixes: every help that names a replacement in backticks (`did you mean `workers`?`,
//! `write `workers: [1, 3]``, `remove `gpu_count``) becomes candidate edits near the
//! diagnostic, and a candidate is offered only when applying it makes the diagnostic go away
//! (the caller's `check` runs on the edited text). Helps stay prose for people; no rule has to
//! describe its fix twice.

use crate::diagnostic::Diagnostic;
use crate::load::{Entry, Node, Span, Value};

use super::Document;

/// A text replacement, in byte offsets of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub edit: Edit,
}

/// The text with `edit` applied.
pub fn apply(text: &str, edit: &Edit) -> String {
    let start = edit.start.min(text.len());
    let end = edit.end.clamp(start, text.len());
    let mut out = String::with_capacity(text.len() + edit.text.len());
    out.push_str(text.get(..start).unwrap_or(text));
    out.push_str(&edit.text);
    out.push_str(text.get(end..).unwrap_or(""));
    out
}

/// The strings a help names in backticks.
fn named(help: &str) -> Vec<&str> {
    help.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| !s.is_empty() && s.len() <= 120)
        .collect()
}

/// Candidates tried per diagnostic (each costs one check).
const MAX_CANDIDATES: usize = 16;

/// The fixes for `d`, each verified: after it, `check` finds fewer diagnostics of `d`'s code
/// and no more diagnostics in all. `all` is what `check` found on the document as it is.
pub fn fixes(
    doc: &Document,
    d: &Diagnostic,
    all: &[Diagnostic],
    check: &dyn Fn(&str) -> Vec<Diagnostic>,
) -> Vec<Fix> {
    let Some(help) = d.help.as_deref() else {
        return Vec::new();
    };
    let mut candidates = candidates(doc, d, help);
    candidates.truncate(MAX_CANDIDATES);
    let same = |list: &[Diagnostic]| list.iter().filter(|x| x.code == d.code).count();
    let (before_same, before_all) = (same(all), all.len());
    let mut out: Vec<Fix> = Vec::new();
    let mut seen = Vec::new();
    for fix in candidates {
        let after = apply(&doc.text, &fix.edit);
        if after == doc.text || seen.contains(&after) {
            continue;
        }
        let found = check(&after);
        // Fewer problems; or as many, when the fix only quotes what was written (a version
        // quoted is then checked as written, which may be the next thing to fix).
        let was = doc.text.get(fix.edit.start..fix.edit.end).unwrap_or("");
        let quoted = fix.edit.text.len() == was.len() + 2
            && fix.edit.text.replace(['"', '\''], "") == was.replace(['"', '\''], "");
        let fewer = found.len() < before_all || (quoted && found.len() == before_all);
        if same(&found) < before_same && fewer {
            seen.push(after);
            out.push(fix);
        }
    }
    out
}

fn candidates(doc: &Document, d: &Diagnostic, help: &str) -> Vec<Fix> {
    let text = &doc.text;
    let (start, end) = doc.lines.offsets(text, d.span);
    let here = text.get(start..end).unwrap_or("");
    let root = doc.root();
    let place = root.and_then(|r| find(r, d.span));
    let lower = help.to_lowercase();
    let removal = ["remove", "delete", "drop it", "keep `", "cargo.toml"]
        .iter()
        .any(|w| lower.contains(w));
    let mut out = Vec::new();
    for name in named(help) {
        if name.starts_with("cargo ") || name.starts_with("flashc ") || name == here {
            continue;
        }
        if let (Some((key, _)), Some(place)) = (as_entry(name), &place) {
            // `key: value`: replace that entry of the mapping, or the entry at the diagnostic,
            // or add it to the mapping the diagnostic is on.
            let mut targets: Vec<&Entry> = Vec::new();
            if let Some(e) = place.map_here.and_then(|m| m.entry(key)) {
                targets.push(e);
            }
            targets.extend(place.map.entry(key));
            targets.extend(place.entry);
            let mut done: Vec<*const Entry> = Vec::new();
            for e in targets {
                if !done.contains(&(e as *const Entry)) {
                    done.push(e);
                    out.push(replace_entry(doc, e, name));
                }
            }
            if let Some(map) = place.map_here.filter(|m| m.entry(key).is_none()) {
                out.extend(insert_entry(doc, map, name));
            }
            continue;
        }
        // A key of the mapping the help says to remove.
        if removal {
            if let Some(place) = &place {
                let map = place.map_here.unwrap_or(place.map);
                if let Some(e) = map.entries().iter().find(|e| e.key == name) {
                    if let Some(fix) = remove_entry(doc, map, e) {
                        out.push(fix);
                    }
                    continue;
                }
            }
        }
        // A value or key as a whole: the diagnostic's text replaced.
        out.push(Fix {
            title: format!("Replace with `{name}`"),
            edit: Edit {
                start,
                end,
                text: scalar(here, name),
            },
        });
        // A path inside a route key (`"GET /ping"` → `/healthz`).
        let inner = here.trim_matches(['"', '\'']);
        if name.starts_with('/') {
            if let Some(slash) = inner.find(" /") {
                let at = start + (here.len() - here.trim_start_matches(['"', '\'']).len());
                out.push(Fix {
                    title: format!("Replace the path with `{name}`"),
                    edit: Edit {
                        start: at + slash + 1,
                        end: at + inner.len(),
                        text: name.to_string(),
                    },
                });
            }
        }
    }
    if removal {
        if let Some(place) = &place {
            if let Some(e) = place.entry {
                if let Some(fix) = remove_entry(doc, place.map, e) {
                    out.push(fix);
                }
            }
        }
    }
    out
}

/// `key: value` as a help writes it.
fn as_entry(name: &str) -> Option<(&str, &str)> {
    let (key, value) = name.split_once(": ")?;
    let key = key.trim_matches('"');
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    plain.then_some((key, value))
}

/// `name` as a YAML scalar in place of `here`: kept as written when it is already quoted or
/// safe plain, else double-quoted.
fn scalar(here: &str, name: &str) -> String {
    let quoted_here = here.starts_with('"') || here.starts_with('\'');
    let starts_special = name.starts_with([
        '{', '[', '*', '&', '!', '|', '>', '\'', '"', '%', '@', '`', '#', ',', '?', '-', ' ',
    ]);
    if name.starts_with('"') || name.starts_with('[') || name.starts_with('{') {
        return name.to_string();
    }
    let needs = starts_special
        || name.contains(": ")
        || name.contains(" #")
        || name.ends_with(':')
        || name.ends_with(' ');
    if needs || (quoted_here && name.contains(' ')) {
        serde_json::to_string(name).unwrap_or_else(|_| name.to_string())
    } else {
        name.to_string()
    }
}

/// Where a diagnostic's span sits in the tree.
struct Place<'a> {
    /// The mapping holding the innermost entry whose key or value holds the span.
    map: &'a Node,
    entry: Option<&'a Entry>,
    /// The span is a mapping's own (`volume: {size: 100}`).
    map_here: Option<&'a Node>,
}

fn within(outer: Span, inner: Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The innermost entry holding `span`. Iterative.
fn find(root: &Node, span: Span) -> Option<Place<'_>> {
    let mut best: Option<Place> = None;
    let mut node = root;
    loop {
        let next = match &node.value {
            Value::Map(entries) => {
                let Some(e) = entries
                    .iter()
                    .find(|e| within(e.key_span, span) || within(e.value.span, span))
                else {
                    break;
                };
                let map_here = (e.value.span == span && matches!(e.value.value, Value::Map(_)))
                    .then_some(&e.value);
                best = Some(Place {
                    map: node,
                    entry: Some(e),
                    map_here,
                });
                if within(e.key_span, span) {
                    break;
                }
                &e.value
            }
            Value::Seq(items) => match items.iter().find(|n| within(n.span, span)) {
                Some(item) => item,
                None => break,
            },
            _ => break,
        };
        if next.span == span && !matches!(next.value, Value::Map(_)) {
            break;
        }
        node = next;
    }
    best
}

/// Does the mapping's text start with `{`?
fn is_flow(doc: &Document, map: &Node) -> bool {
    doc.slice(map.span).trim_start().starts_with('{')
}

fn replace_entry(doc: &Document, e: &Entry, with: &str) -> Fix {
    let (start, _) = doc.lines.offsets(&doc.text, e.key_span);
    let (_, end) = doc.lines.offsets(&doc.text, e.value.span);
    // A block value's span may run to the next line; replace only what was written.
    let written = doc.text.get(start..end).unwrap_or("");
    let end = start + written.trim_end().len();
    Fix {
        title: format!("Write `{with}`"),
        edit: Edit {
            start,
            end: end.max(start),
            text: with.to_string(),
        },
    }
}

fn insert_entry(doc: &Document, map: &Node, entry: &str) -> Option<Fix> {
    let first = map.entries().first()?;
    let (key_start, _) = doc.lines.offsets(&doc.text, first.key_span);
    let text = if is_flow(doc, map) {
        format!("{entry}, ")
    } else {
        let line = doc.lines.line_of(key_start);
        let indent = key_start - doc.lines.line_start(line);
        format!("{entry}\n{}", " ".repeat(indent))
    };
    Some(Fix {
        title: format!("Add `{entry}`"),
        edit: Edit {
            start: key_start,
            end: key_start,
            text,
        },
    })
}

/// Removes an entry: its whole lines in a block mapping, the entry and a comma in a flow one.
fn remove_entry(doc: &Document, map: &Node, e: &Entry) -> Option<Fix> {
    let text = &doc.text;
    let (key_start, _) = doc.lines.offsets(text, e.key_span);
    let (_, value_end) = doc.lines.offsets(text, e.value.span);
    let title = format!("Remove `{}`", e.key);
    if is_flow(doc, map) {
        let entries = map.entries();
        let i = entries.iter().position(|x| std::ptr::eq(x, e))?;
        let (start, end) = if let Some(next) = entries.get(i + 1) {
            (key_start, doc.lines.offsets(text, next.key_span).0)
        } else if i > 0 {
            (
                doc.lines.offsets(text, entries[i - 1].value.span).1,
                value_end,
            )
        } else {
            (key_start, value_end)
        };
        return Some(Fix {
            title,
            edit: Edit {
                start,
                end,
                text: String::new(),
            },
        });
    }
    let first_line = doc.lines.line_of(key_start);
    let line_start = doc.lines.line_start(first_line);
    let before = text.get(line_start..key_start).unwrap_or("");
    let start = if before.trim().is_empty() {
        line_start
    } else {
        key_start
    };
    // Through the end of the value's last line (a block value's span may already end there).
    let value_end = line_end_of(doc, value_end.saturating_sub(1).max(key_start));
    Some(Fix {
        title,
        edit: Edit {
            start,
            end: value_end,
            text: String::new(),
        },
    })
}

/// The offset just past the line break of the line holding `offset`.
fn line_end_of(doc: &Document, offset: usize) -> usize {
    let line = doc.lines.line_of(offset);
    doc.lines.line_start(line + 1)
}

#[cfg(test)]
mod tests;
