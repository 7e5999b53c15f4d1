use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{SourceFile, Summary};
use crate::diagnostic::{Diagnostic, Severity};

/// rustc-style text: `error[FL0101]: message`, `--> file:line:col`, the snippet with carets
/// and labels, related places, and `help:`.
pub fn human(source: &SourceFile, diagnostics: &[Diagnostic], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    let (listed, omitted) = super::shown(diagnostics);
    for diagnostic in listed {
        let level = match diagnostic.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        // Only the lines the diagnostic touches: handing the whole file to the renderer for
        // each diagnostic made output quadratic in the file's size.
        let spans = std::iter::once(diagnostic.span).chain(
            diagnostic
                .related
                .iter()
                .filter(|r| r.file.is_none())
                .map(|r| r.span),
        );
        let first = spans
            .clone()
            .map(|s| s.start.line)
            .min()
            .unwrap_or(1)
            .max(1);
        let last = spans.map(|s| s.end.line).max().unwrap_or(first).max(first);
        let mut lines = source.lines(first, last);
        // A very long line (a megabyte value) is shown as a window around the primary span:
        // otherwise every diagnostic on it would print, and scan, the whole line.
        let windowed = lines.len() > LONG_SNIPPET;
        if windowed {
            let line = source.line_text(diagnostic.span.start.line);
            let line_start = source.offset(crate::load::Pos {
                line: diagnostic.span.start.line,
                col: 0,
            });
            let at = source.offset(diagnostic.span.start) - line_start;
            let from = floor_char(line, at.saturating_sub(WINDOW));
            let to = floor_char(line, (at + WINDOW).min(line.len()));
            lines = line_start + from..line_start + to;
        }
        let first = if windowed {
            diagnostic.span.start.line.max(1)
        } else {
            first
        };
        let range = |span: crate::load::Span| {
            let start = source.offset(span.start).clamp(lines.start, lines.end) - lines.start;
            let end = source.offset(span.end).clamp(lines.start, lines.end) - lines.start;
            start..end.max(start)
        };
        let mut snippet = Snippet::source(&source.text[lines.clone()])
            .line_start(first as usize)
            .path(source.name)
            .fold(true)
            .annotation(
                AnnotationKind::Primary
                    .span(range(diagnostic.span))
                    .label((!diagnostic.label.is_empty()).then_some(diagnostic.label.as_str())),
            );
        for related in diagnostic
            .related
            .iter()
            .filter(|r| r.file.is_none() && !windowed)
        {
            snippet = snippet.annotation(
                AnnotationKind::Context
                    .span(range(related.span))
                    .label(related.message.as_str()),
            );
        }
        let mut group = level
            .primary_title(diagnostic.message.as_str())
            .id(diagnostic.code)
            .element(snippet);
        // Places in other files (a handler's definition): a `:::` snippet of their line.
        for (related, file) in diagnostic
            .related
            .iter()
            .filter_map(|r| r.file.as_ref().map(|f| (r, f)))
        {
            let text = file.line_text.as_str();
            let byte = |col: u32| {
                text.char_indices()
                    .nth(col as usize)
                    .map_or(text.len(), |(i, _)| i)
            };
            let start = byte(file.col);
            let end = if file.end_line == file.line {
                byte(file.end_col)
            } else {
                text.len()
            };
            group = group.element(
                Snippet::source(text)
                    .line_start(file.line as usize)
                    .path(file.path.as_str())
                    .annotation(
                        AnnotationKind::Context
                            .span(start..end.max(start))
                            .label(related.message.as_str()),
                    ),
            );
        }
        if let Some(help) = &diagnostic.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        let report: Vec<Group> = vec![group];
        out.push_str(&renderer.render(&report));
        out.push_str("\n\n");
    }
    if omitted > 0 {
        out.push_str(&format!(
            "… and {omitted} more problems not shown (the first {} are above); fix these and run again\n\n",
            super::MAX_SHOWN
        ));
    }
    let summary = Summary::of(diagnostics);
    out.push_str(&match (summary.errors, summary.warnings) {
        (0, 0) => format!("{}: no problems found\n", source.name),
        (e, w) => format!(
            "{}: {} and {}\n",
            source.name,
            plural(e, "error"),
            plural(w, "warning")
        ),
    });
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Lines longer than this (in bytes) are shown as a window around the primary span.
const LONG_SNIPPET: usize = 2000;
/// Bytes shown on each side of the primary span's start in a window.
const WINDOW: usize = 100;

/// The largest char boundary of `text` at or below `at`.
fn floor_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
