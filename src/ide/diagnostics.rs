//! flashc diagnostics as LSP diagnostics: code, severity, UTF-16 range, related information for
//! secondary labels (places in flash.yaml and in the handler crate), a link to the rule's
//! documentation, and the help text.

use std::path::Path;

use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, Url,
};

use super::text::utf16_col;
use super::Document;
use crate::diagnostic::{Diagnostic, Severity};

/// Where diagnostics point their readers.
pub struct Context<'a> {
    /// The document's URI (for secondary places in the same file).
    pub uri: &'a Url,
    /// The directory of flash.yaml, to which places in the crate are relative; `None` for a
    /// document that is not a file.
    pub base: Option<&'a Path>,
    /// The rules' documentation (`docs/rules.md`); `#fl0101` is appended.
    pub rules_url: Option<&'a Url>,
}

/// One LSP diagnostic per flashc diagnostic, in the same order.
pub fn to_lsp(
    doc: &Document,
    diagnostics: &[Diagnostic],
    cx: &Context,
) -> Vec<lsp_types::Diagnostic> {
    diagnostics.iter().map(|d| one(doc, d, cx)).collect()
}

fn one(doc: &Document, d: &Diagnostic, cx: &Context) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut related = Vec::new();
    if !d.label.is_empty() {
        related.push(DiagnosticRelatedInformation {
            location: Location::new(cx.uri.clone(), doc.range(d.span)),
            message: d.label.clone(),
        });
    }
    for r in &d.related {
        let location = match (&r.file, cx.base) {
            (None, _) => Location::new(cx.uri.clone(), doc.range(r.span)),
            (Some(file), Some(base)) => {
                let Ok(uri) = Url::from_file_path(base.join(&file.path)) else {
                    continue;
                };
                // Only the first line's text is known; a range ending on a later line keeps
                // its column in characters, which is exact for ASCII.
                let end_col = if file.end_line == file.line {
                    utf16_col(&file.line_text, file.end_col)
                } else {
                    file.end_col
                };
                let range = Range::new(
                    Position::new(
                        file.line.saturating_sub(1),
                        utf16_col(&file.line_text, file.col),
                    ),
                    Position::new(file.end_line.saturating_sub(1), end_col),
                );
                Location::new(uri, range)
            }
            (Some(_), None) => continue,
        };
        let message = if r.message.is_empty() {
            "related".to_string()
        } else {
            r.message.clone()
        };
        related.push(DiagnosticRelatedInformation { location, message });
    }
    let code_description = cx.rules_url.map(|base| {
        let mut href = base.clone();
        href.set_fragment(Some(&d.code.to_lowercase()));
        CodeDescription { href }
    });
    lsp_types::Diagnostic {
        range: doc.range(d.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        code_description,
        source: Some("flashc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_severity_range_link_and_help() {
        let text = "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n    worker: 3\n";
        let doc = Document::new(text);
        let found = crate::check(text.as_bytes(), None).unwrap();
        let uri = Url::parse("file:///p/flash.yaml").unwrap();
        let rules = Url::parse("file:///docs/rules.md").unwrap();
        let cx = Context {
            uri: &uri,
            base: Some(Path::new("/p")),
            rules_url: Some(&rules),
        };
        let lsp = to_lsp(&doc, &found, &cx);
        assert_eq!(lsp.len(), 1);
        let d = &lsp[0];
        assert_eq!(d.code, Some(NumberOrString::String("FL0101".into())));
        assert_eq!(d.severity, Some(DiagnosticSeverity::ERROR));
        assert_eq!(
            d.range,
            Range::new(Position::new(6, 4), Position::new(6, 10))
        );
        assert!(
            d.message.contains("help: did you mean `workers`?"),
            "{}",
            d.message
        );
        assert_eq!(
            d.code_description.as_ref().unwrap().href.as_str(),
            "file:///docs/rules.md#fl0101"
        );
    }
}
