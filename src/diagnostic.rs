//! The one diagnostic type every stage produces and every output format renders.

use crate::load::Span;
use crate::rules::Rule;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary place that takes part in the problem (the other duplicate route).
#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    /// The place in the checked file; when `file` is set, the primary span (unused).
    pub span: Span,
    pub message: String,
    /// Set when the place is in another file (a handler's definition in the Rust crate).
    pub file: Option<RelatedFile>,
}

/// A place in a file other than the checked one, with the text of its line so renderers can
/// show a snippet without reading files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedFile {
    /// The path as shown to the user (relative to the directory of flash.yaml in the library;
    /// the CLI makes it relative to where it runs).
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// 0-based, in characters.
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
    /// The text of line `line`, without its newline.
    pub line_text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    /// Lowercase, names the offending value and what is allowed.
    pub message: String,
    /// The exact span of the offending key or value.
    pub span: Span,
    /// Text shown under the carets of the primary span.
    pub label: String,
    pub related: Vec<Related>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(rule: &Rule, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code: rule.code,
            severity: rule.severity,
            message: message.into(),
            span,
            label: String::new(),
            related: Vec::new(),
            help: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            message: message.into(),
            file: None,
        });
        self
    }

    /// A secondary place in another file (the primary span stands in for `Related::span`).
    pub fn related_file(mut self, file: RelatedFile, message: impl Into<String>) -> Self {
        self.related.push(Related {
            span: self.span,
            message: message.into(),
            file: Some(file),
        });
        self
    }
}

/// Makes the paths of places in other files relative to where the user runs flashc: the
/// library gives them relative to the directory of flash.yaml, `dir` here.
pub fn prefix_related_files(diagnostics: &mut [Diagnostic], dir: &str) {
    let dir = dir.trim_end_matches(['/', '\\']);
    if dir.is_empty() || dir == "." {
        return;
    }
    for related in diagnostics.iter_mut().flat_map(|d| d.related.iter_mut()) {
        if let Some(file) = &mut related.file {
            file.path = format!("{dir}/{}", file.path);
        }
    }
}

/// Sorts by position and drops exact repeats, which arise when the same base file is
/// checked once per environment overlay.
pub fn normalize(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
    diagnostics.dedup_by(|a, b| a.span == b.span && a.code == b.code && a.message == b.message);
}
