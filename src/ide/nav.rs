//! Go to definition (a handler string → its Rust function) and document symbols (endpoints with
//! their routes and handlers, environment overlays).

use lsp_types::{DocumentSymbol, Position, Range, SymbolKind};

use crate::load::{Node, Span};
use crate::resolve::RustSpan;

use super::text::utf16_col;
use super::{is_handler_place, locate, Document};

/// The handler path under the cursor, with its span.
pub fn handler_at(doc: &Document, at: Position) -> Option<(String, Span)> {
    let found = locate(doc.root()?, doc.pos(at))?;
    if found.on_key || !is_handler_place(&found.path) {
        return None;
    }
    Some((found.node.as_str()?.to_string(), found.span))
}

/// A Rust span as an LSP range; `line_text` is the text of its first line (for UTF-16).
pub fn rust_range(span: &RustSpan, line_text: Option<&str>) -> Range {
    let conv = |col: u32| line_text.map_or(col, |l| utf16_col(l, col));
    let end_col = if span.end_line == span.line {
        conv(span.end_col)
    } else {
        span.end_col
    };
    Range::new(
        Position::new(span.line.saturating_sub(1), conv(span.col)),
        Position::new(span.end_line.saturating_sub(1), end_col),
    )
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be written
fn symbol(
    name: &str,
    detail: Option<String>,
    kind: SymbolKind,
    range: Range,
    selection: Range,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name: if name.is_empty() {
            "(empty)".into()
        } else {
            name.into()
        },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range,
        selection_range: selection,
        children: (!children.is_empty()).then_some(children),
    }
}

fn whole(doc: &Document, key: Span, value: &Node) -> (Range, Range) {
    let selection = doc.range(key);
    let end = doc.range(value.span).end.max(selection.end);
    (Range::new(selection.start, end), selection)
}

fn endpoint_symbols(doc: &Document, endpoints: &Node) -> Vec<DocumentSymbol> {
    endpoints
        .entries()
        .iter()
        .map(|e| {
            let node = &e.value;
            let mut children = Vec::new();
            for key in ["handler", "init"] {
                if let Some(entry) = node.entry(key) {
                    let (range, selection) = whole(doc, entry.key_span, &entry.value);
                    let detail = entry.value.as_str().map(str::to_string);
                    children.push(symbol(
                        key,
                        detail,
                        SymbolKind::FUNCTION,
                        range,
                        selection,
                        Vec::new(),
                    ));
                }
            }
            for route in node.get("routes").map(Node::entries).unwrap_or_default() {
                let handler = crate::project::route_handler(&route.value)
                    .and_then(Node::as_str)
                    .map(str::to_string);
                let (range, selection) = whole(doc, route.key_span, &route.value);
                children.push(symbol(
                    &route.key,
                    handler,
                    SymbolKind::METHOD,
                    range,
                    selection,
                    Vec::new(),
                ));
            }
            let kind = node.get("type").and_then(Node::as_str).map(str::to_string);
            let (range, selection) = whole(doc, e.key_span, node);
            symbol(&e.key, kind, SymbolKind::CLASS, range, selection, children)
        })
        .collect()
}

/// Endpoints (with their handler, init and routes), then environment overlays.
pub fn symbols(doc: &Document) -> Vec<DocumentSymbol> {
    let Some(root) = doc.root() else {
        return Vec::new();
    };
    let mut out = root
        .get("endpoints")
        .map(|e| endpoint_symbols(doc, e))
        .unwrap_or_default();
    for env in root
        .get("environments")
        .map(Node::entries)
        .unwrap_or_default()
    {
        let children = env
            .value
            .get("endpoints")
            .map(|e| endpoint_symbols(doc, e))
            .unwrap_or_default();
        let (range, selection) = whole(doc, env.key_span, &env.value);
        out.push(symbol(
            &env.key,
            Some("environment".into()),
            SymbolKind::NAMESPACE,
            range,
            selection,
            children,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_routes_and_handlers() {
        let text = "version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    routes:\n      \"GET /x\": a::b\n      \"POST /y\": {handler: a::c}\n  job:\n    type: queue\n    handler: a::d\nenvironments:\n  prod:\n    endpoints:\n      job: {workers: 2}\n";
        let doc = Document::new(text);
        let s = symbols(&doc);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api", "job", "prod"]);
        let routes: Vec<(&str, Option<&str>)> = s[0]
            .children
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.detail.as_deref()))
            .collect();
        assert_eq!(
            routes,
            [("GET /x", Some("a::b")), ("POST /y", Some("a::c"))]
        );
        assert_eq!(
            s[1].children.as_ref().unwrap()[0].detail.as_deref(),
            Some("a::d")
        );
        let on = doc
            .lines
            .lsp_of_offset(text, text.find("a::c").unwrap() + 1);
        assert_eq!(handler_at(&doc, on).map(|h| h.0), Some("a::c".to_string()));
        let off = doc.lines.lsp_of_offset(text, text.find("queue").unwrap());
        assert_eq!(handler_at(&doc, off), None);
    }
}
