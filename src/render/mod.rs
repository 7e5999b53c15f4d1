//! Output formats for diagnostics: rustc-like text, JSON (a documented contract), GitHub
//! workflow commands and SARIF 2.1.0. Renderers are pure: they return a `String`.

mod github;
mod human;
mod json;
mod sarif;

pub use github::github;
pub use human::human;
pub use json::json;
pub use sarif::sarif;

use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Pos;

/// The checked file: its display name and text, for snippets and positions.
pub struct SourceFile<'a> {
    pub name: &'a str,
    /// The text with every line break (`\r\n`, `\r`, `\n`) written as `\n`: the YAML parser
    /// counts all three as one break, so lines and snippets agree with its positions.
    pub text: std::borrow::Cow<'a, str>,
    line_starts: Vec<usize>,
}

impl<'a> SourceFile<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Self {
        // Positions are counted after a byte-order mark, as the YAML parser counts them.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = if text.contains('\r') {
            std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name,
            text,
            line_starts,
        }
    }

    /// The byte offset of a position (lines 1-based, columns in characters), clamped to the text.
    pub fn offset(&self, pos: Pos) -> usize {
        let line = (pos.line.max(1) - 1) as usize;
        let Some(&start) = self.line_starts.get(line) else {
            return self.text.len();
        };
        let line_text = &self.text[start..self.line_end(line)];
        // ASCII lines (nearly all of flash.yaml) need no walk: a column is a byte.
        let col = pos.col as usize;
        if col <= line_text.len() && line_text.as_bytes()[..col].is_ascii() {
            return start + col;
        }
        let within = line_text
            .char_indices()
            .nth(col)
            .map_or(line_text.len(), |(i, _)| i);
        start + within
    }

    /// The byte offset where 0-based line `line` ends (before its line break).
    fn line_end(&self, line: usize) -> usize {
        self.line_starts
            .get(line + 1)
            .map_or(self.text.len(), |next| next.saturating_sub(1))
    }

    /// The text of the 1-based line `line`, without its line break.
    pub fn line_text(&self, line: u32) -> &str {
        let index = (line.max(1) - 1) as usize;
        match self.line_starts.get(index) {
            Some(&start) => &self.text[start..self.line_end(index)],
            None => "",
        }
    }
}

impl SourceFile<'_> {
    /// The byte range of whole lines `first..=last` (1-based), without the final newline.
    pub fn lines(&self, first: u32, last: u32) -> std::ops::Range<usize> {
        let start = self.offset(Pos {
            line: first,
            col: 0,
        });
        let end = self
            .line_starts
            .get(last.max(first) as usize)
            .map_or(self.text.len(), |next| next.saturating_sub(1));
        start..end.max(start)
    }
}

pub use crate::diagnostic::MAX_SHOWN;

/// The diagnostics a report shows, and how many it leaves out.
pub fn shown(diagnostics: &[Diagnostic]) -> (&[Diagnostic], usize) {
    let shown = diagnostics.len().min(MAX_SHOWN);
    (&diagnostics[..shown], diagnostics.len() - shown)
}

/// Counts by severity, for summaries and exit codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    /// Diagnostics counted but not listed (past [`MAX_SHOWN`]); absent when none are.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(diagnostics: &[Diagnostic]) -> Summary {
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        Summary {
            errors,
            warnings: diagnostics.len() - errors,
            omitted: diagnostics.len().saturating_sub(MAX_SHOWN),
        }
    }
}

/// 1-based line and column of a position, as every output format reports them.
fn line_col(pos: Pos) -> (u32, u32) {
    (pos.line.max(1), pos.col + 1)
}
