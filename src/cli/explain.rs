//! `flashc explain` and `flashc schema`: documentation printed to stdout.

use std::process::ExitCode;

use super::{emit, EXIT_USAGE};

pub fn explain(code: Option<&str>, all: bool) -> ExitCode {
    if all {
        return emit(&flashc::rules_markdown());
    }
    let Some(code) = code else {
        eprintln!("error: name a code, such as `flashc explain FL0101`, or pass --all");
        return ExitCode::from(EXIT_USAGE);
    };
    match flashc::rules::find(code) {
        Some(rule) => emit(&format!(
            "{} ({}, {})\n\n{}\n\nSource: {}\n",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            rule.documentation().trim_end(),
            rule.source
        )),
        None => {
            let codes = flashc::rules::ALL.iter().map(|r| r.code);
            let hint = flashc::suggest::did_you_mean(code, codes)
                .unwrap_or_else(|| "codes run from FL0001 to FL0710; see docs/rules.md".into());
            eprintln!("error: no diagnostic code `{code}`; {hint}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
