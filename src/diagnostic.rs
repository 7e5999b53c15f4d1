//! The one diagnostic type every stage produces and every output format renders, with what it
//! points at ([`Span`]) and the rule it reports under ([`Rule`], declared with `declare_rule!`).
//! The bottom of the pipeline: it depends on no other module.

/// Declares a rule: its doc comment becomes its documentation.
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        $vis:vis static $id:ident = ($code:literal, $name:literal, $severity:ident);
    ) => {
        $(#[doc = $doc])*
        $vis static $id: $crate::diagnostic::Rule = $crate::diagnostic::Rule {
            code: $code,
            name: $name,
            severity: $crate::diagnostic::Severity::$severity,
            doc: concat!($($doc, "\n"),*),
            source: file!(),
        };
    };
}

/// A position in the source: 1-based line, 0-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A half-open range of source positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

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

/// A diagnostic code and its documentation (`rules::ALL` lists them all; the semantic
/// rules' checks are `rules::CHECKS`).
pub struct Rule {
    pub code: &'static str,
    /// A kebab-case name, stable like the code.
    pub name: &'static str,
    pub severity: Severity,
    /// Markdown: what it does, why, an example.
    pub doc: &'static str,
    /// The file that declares the rule (`src/rules/duplicate_route.rs`): for a semantic rule,
    /// its check is there too. `flashc explain` prints it, so a newcomer finds the logic.
    pub source: &'static str,
}

impl Rule {
    /// The documentation with the one leading space of each `///` line removed.
    pub fn documentation(&self) -> String {
        self.doc
            .lines()
            .map(|line| line.strip_prefix(' ').unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Cuts every value a message, label or help quotes (between backticks) to a readable
/// length: a megabyte value must not be echoed back, once per diagnostic.
pub fn shorten_quoted(diagnostics: &mut [Diagnostic]) {
    const MOST: usize = 80;
    fn cut(text: &mut String) {
        if text.len() <= 2 * MOST {
            return;
        }
        let mut out = String::with_capacity(4 * MOST);
        for (i, part) in text.split('`').enumerate() {
            if i > 0 {
                out.push('`');
            }
            // Odd parts are inside backticks: the quoted values.
            match part.char_indices().nth(MOST).filter(|_| i % 2 == 1) {
                Some((at, _)) => {
                    out.push_str(&part[..at]);
                    out.push('…');
                }
                None => out.push_str(part),
            }
        }
        *text = out;
    }
    for d in diagnostics {
        cut(&mut d.message);
        cut(&mut d.label);
        if let Some(help) = &mut d.help {
            cut(help);
        }
        for related in &mut d.related {
            cut(&mut related.message);
        }
    }
}

/// The most diagnostics a report shows; the rest are counted ("N more"). A file with
/// thousands of problems has one or two mistakes repeated: the first hundreds say what they are.
pub const MAX_SHOWN: usize = 500;
