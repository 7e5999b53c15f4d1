use super::{line_col, SourceFile};
use crate::diagnostic::{Diagnostic, Severity};

/// GitHub Actions workflow commands: annotations on the pull request diff.
pub fn github(source: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    let (listed, omitted) = super::shown(diagnostics);
    for d in listed {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let (line, col) = line_col(d.span.start);
        let (end_line, end_col) = line_col(d.span.end);
        let mut message = d.message.clone();
        for related in &d.related {
            if let Some(file) = &related.file {
                message.push_str(&format!(
                    "\nnote: {}:{}:{}: {}",
                    file.path,
                    file.line,
                    file.col + 1,
                    related.message
                ));
            }
        }
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{command} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}\n",
            escape_property(source.name),
            escape_property(d.code),
            escape_data(&message)
        ));
    }
    if omitted > 0 {
        out.push_str(&format!(
            "::notice file={}::{omitted} more problems not annotated; run `flashc check` locally to see them\n",
            escape_property(source.name)
        ));
    }
    out
}

/// Escaping as the runner's command parser expects (actions/toolkit `escapeData`).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
