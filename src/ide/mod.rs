//! Editor analysis for `flashc lsp`: positions in UTF-16, diagnostics and quick fixes, hover,
//! completion, go to definition and document symbols, as pure functions of a document's text
//! (and, for handlers, of the crate index). Like the rest of the library it does no I/O: the
//! protocol loop in `src/cli/lsp.rs` reads files and talks to the editor.
//!
//! It reads the other stages (`load`, `validate`'s schema, `resolve`'s crate index); they never
//! read it.

pub mod check;
pub mod complete;
pub mod diagnostics;
pub mod fixes;
pub mod hover;
pub mod nav;
pub mod schema;
pub mod text;

use std::cell::OnceCell;

use crate::load::{self, Node, Pos, Span, Step, Value};
pub use text::LineIndex;

/// One open flash.yaml: its text, line index and (on first use) its spanned tree.
pub struct Document {
    pub text: String,
    pub lines: LineIndex,
    root: OnceCell<Option<Node>>,
}

impl Document {
    pub fn new(text: impl Into<String>) -> Document {
        let text = text.into();
        Document {
            lines: LineIndex::new(&text),
            text,
            root: OnceCell::new(),
        }
    }

    /// The spanned tree, when the text reads as YAML at all.
    pub fn root(&self) -> Option<&Node> {
        self.root
            .get_or_init(|| load::load(self.text.as_bytes(), load::Limits::default()).0)
            .as_ref()
    }

    /// A span's text.
    pub fn slice(&self, span: Span) -> &str {
        let (start, end) = self.lines.offsets(&self.text, span);
        self.text.get(start..end).unwrap_or("")
    }

    pub fn pos(&self, position: lsp_types::Position) -> Pos {
        let offset = self.lines.offset_of_lsp(&self.text, position);
        self.lines.pos_of_offset(&self.text, offset)
    }

    pub fn range(&self, span: Span) -> lsp_types::Range {
        self.lines.range(&self.text, span)
    }
}

/// What the cursor is on in the tree.
#[derive(Debug, Clone)]
pub struct Located<'a> {
    /// Keys and indices from the root to the entry or item under the cursor (its key last).
    pub path: Vec<Step>,
    /// On a mapping key (else on a value).
    pub on_key: bool,
    /// The key's or the value's span.
    pub span: Span,
    /// The value node (for a key: the value it introduces).
    pub node: &'a Node,
}

fn contains(span: Span, pos: Pos) -> bool {
    span.start <= pos && pos <= span.end
}

/// The innermost key or scalar under `pos`. Iterative: input depth cannot overflow the stack.
pub fn locate(root: &Node, pos: Pos) -> Option<Located<'_>> {
    let mut node = root;
    let mut path = Vec::new();
    loop {
        match &node.value {
            Value::Map(entries) => {
                if let Some(e) = entries.iter().find(|e| contains(e.key_span, pos)) {
                    path.push(Step::Key(e.key.clone()));
                    return Some(Located {
                        path,
                        on_key: true,
                        span: e.key_span,
                        node: &e.value,
                    });
                }
                let e = entries.iter().find(|e| contains(e.value.span, pos))?;
                path.push(Step::Key(e.key.clone()));
                node = &e.value;
            }
            Value::Seq(items) => {
                let (i, item) = items
                    .iter()
                    .enumerate()
                    .find(|(_, n)| contains(n.span, pos))?;
                path.push(Step::Index(i));
                node = item;
            }
            _ => {
                return contains(node.span, pos).then_some(Located {
                    path,
                    on_key: false,
                    span: node.span,
                    node,
                })
            }
        }
    }
}

/// The last key of a path, skipping list indices (`gpu` for `[.., "gpu", 0]`).
pub fn last_key(path: &[Step]) -> Option<&str> {
    path.iter().rev().find_map(|s| match s {
        Step::Key(k) => Some(k.as_str()),
        Step::Index(_) => None,
    })
}

/// Is `path` (up to its last step) inside an endpoint (`endpoints.<name>` of the base file or of
/// an environment overlay)? Returns the steps after the endpoint's name.
pub fn within_endpoint(path: &[Step]) -> Option<&[Step]> {
    let keys: Vec<Option<&str>> = path
        .iter()
        .map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    match keys.as_slice() {
        [Some("endpoints"), Some(_), ..] => Some(&path[2..]),
        [Some("environments"), Some(_), Some("endpoints"), Some(_), ..] => Some(&path[4..]),
        _ => None,
    }
}

/// Is the string node at `path` a handler path (`handler`, `init`, a route's target)?
pub fn is_handler_place(path: &[Step]) -> bool {
    let Some(rest) = within_endpoint(path) else {
        return false;
    };
    let keys: Vec<&str> = rest
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.as_str(),
            Step::Index(_) => "",
        })
        .collect();
    matches!(
        keys.as_slice(),
        ["handler"] | ["init"] | ["routes", _] | ["routes", _, "handler"]
    )
}
