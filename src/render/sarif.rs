use serde_json::{json, Value};

use super::{line_col, SourceFile};
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Span;
use crate::rules;

/// SARIF 2.1.0, for code-scanning dashboards.
pub fn sarif(source: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    let region = |span: Span| {
        let (line, col) = line_col(span.start);
        let (end_line, end_col) = line_col(span.end);
        json!({"startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col})
    };
    let location = |span: Span| json!({"physicalLocation": {"artifactLocation": {"uri": source.name}, "region": region(span)}});
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let rules: Vec<Value> = rules::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.name},
                "fullDescription": {"text": r.documentation()},
                "defaultConfiguration": {"level": level(r.severity)},
            })
        })
        .collect();
    let (listed, omitted) = super::shown(diagnostics);
    let results: Vec<Value> = listed
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let related: Vec<Value> = d
                .related
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut l = match &r.file {
                        Some(f) => json!({"physicalLocation": {
                            "artifactLocation": {"uri": f.path},
                            "region": {"startLine": f.line, "startColumn": f.col + 1, "endLine": f.end_line, "endColumn": f.end_col + 1},
                        }}),
                        None => location(r.span),
                    };
                    l["id"] = json!(i);
                    l["message"] = json!({"text": r.message});
                    l
                })
                .collect();
            json!({
                "ruleId": d.code,
                "ruleIndex": rules::ALL.iter().position(|r| r.code == d.code),
                "level": level(d.severity),
                "message": {"text": text},
                "locations": [location(d.span)],
                "relatedLocations": related,
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "flashc",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut log = log;
    if omitted > 0 {
        log["runs"][0]["properties"] = json!({"omittedResults": omitted});
    }
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
