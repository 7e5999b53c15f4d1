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
    for diagnostic in diagnostics {
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
        let lines = source.lines(first, last);
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
        for related in diagnostic.related.iter().filter(|r| r.file.is_none()) {
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
