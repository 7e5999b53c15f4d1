use crate::diagnostic::Diagnostic;
use crate::load::{Node, Span, Value};
use crate::model::route_key::is_identifier;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks that `handler`, `init` and every route's handler is a Rust path to a function
    /// in the handler crate: identifiers joined by `::`, such as `users::create`.
    ///
    /// ## Why
    /// The path is written into generated Rust code; anything but a path would not compile
    /// (or would inject code). Flash users often write Python's dotted form; the help
    /// converts it.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   embed:
    ///     type: queue
    ///     handler: handlers.embed    # write `handlers::embed`
    /// ```
    pub static HANDLER_PATH = ("FL0204", "handler-path", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for endpoint in &project.endpoints {
        for key in ["handler", "init"] {
            if let Some(node) = endpoint.node.get(key) {
                check_node(node, out);
            }
        }
        for route in endpoint
            .node
            .get("routes")
            .map(Node::entries)
            .unwrap_or_default()
        {
            match &route.value.value {
                Value::Str(_) => check_node(&route.value, out),
                Value::Map(_) => {
                    if let Some(handler) = route.value.get("handler") {
                        check_node(handler, out);
                    }
                }
                _ => {}
            }
        }
    }
}

fn check_node(node: &Node, out: &mut Vec<Diagnostic>) {
    if let Value::Str(path) = &node.value {
        if let Some(diagnostic) = check_path(path, node.span) {
            out.push(diagnostic);
        }
    }
}

/// Sorted, for binary search.
const KEYWORDS: &[&str] = &[
    "Self", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Whether `path` is a Rust path flashc accepts (what this rule reports otherwise).
pub fn is_handler_path(path: &str) -> bool {
    path.split("::").enumerate().all(|(i, s)| {
        is_identifier(s)
            && s != "_"
            && KEYWORDS.binary_search(&s).is_err()
            && (i == 0 || s != "crate")
    })
}

fn check_path(path: &str, span: Span) -> Option<Diagnostic> {
    if is_handler_path(path) {
        return None;
    }
    let keyword = path.split("::").find(|s| KEYWORDS.binary_search(s).is_ok());
    let fixed: String = path
        .replace("::", "\u{0}")
        .replace(['.', ':', '/'], "\u{0}")
        .replace('-', "_")
        .replace('\u{0}', "::");
    let help = match keyword {
        Some(k) => {
            format!("`{k}` is a Rust keyword or reserved word and cannot name a module or function")
        }
        None if fixed != path && fixed.split("::").all(is_identifier) => format!("write `{fixed}`"),
        None => "write a Rust path such as `module::function`".to_string(),
    };
    Some(
        Diagnostic::new(
            &HANDLER_PATH,
            span,
            format!("function `{path}` is not a Rust path: expected identifiers joined by `::`"),
        )
        .label("not a Rust path")
        .help(help),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn keywords_are_sorted_for_binary_search() {
        assert!(super::KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }
}
