use serde::Serialize;

use super::{line_col, SourceFile, Summary};
use crate::diagnostic::Diagnostic;

/// The `--format json` contract (docs/check-output.md): one object with `diagnostics` and
/// `summary`. Lines and columns are 1-based, columns count characters, and `end_*` is the
/// position just past the span.
#[derive(Serialize)]
pub struct Report<'a> {
    pub diagnostics: Vec<JsonDiagnostic<'a>>,
    pub summary: Summary,
}

#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'a str,
    pub severity: &'a str,
    pub message: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub label: &'a str,
    pub help: Option<&'a str>,
    pub related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
pub struct JsonRelated<'a> {
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
    pub message: &'a str,
}

pub fn json(source: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    let (listed, _) = super::shown(diagnostics);
    let report = Report {
        diagnostics: listed
            .iter()
            .map(|d| {
                let (line, column) = line_col(d.span.start);
                let (end_line, end_column) = line_col(d.span.end);
                JsonDiagnostic {
                    code: d.code,
                    severity: d.severity.as_str(),
                    message: &d.message,
                    file: source.name,
                    line,
                    column,
                    end_line,
                    end_column,
                    label: &d.label,
                    help: d.help.as_deref(),
                    related: d
                        .related
                        .iter()
                        .map(|r| match &r.file {
                            Some(file) => JsonRelated {
                                file: &file.path,
                                line: file.line,
                                column: file.col + 1,
                                message: &r.message,
                            },
                            None => {
                                let (line, column) = line_col(r.span.start);
                                JsonRelated {
                                    file: source.name,
                                    line,
                                    column,
                                    message: &r.message,
                                }
                            }
                        })
                        .collect(),
                }
            })
            .collect(),
        summary: Summary::of(diagnostics),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}
