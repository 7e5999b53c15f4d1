//! flashc: compiles a declarative `flash.yaml` into Runpod serverless workers.
//!
//! The pipeline reads as stages, each a module with one job (see ARCHITECTURE.md):
//! [`load`] (YAML with spans) → [`validate`] (schema, then rules) → [`resolve`] (the
//! handler crate) → lower → emit, driven by [`Analysis`]: one file loaded once, each
//! environment merged once, read by every stage.
//! The library does no I/O beyond what its caller hands it; only the CLI touches files.

// Declared first: `declare_rule!` is defined there, and a `macro_rules!` macro is visible to
// the modules declared after it.
#[macro_use]
pub mod diagnostic;

pub mod analysis;
pub mod deploy;

pub mod emit;
pub mod facts;
pub mod ide;
pub mod load;
pub mod lower;
pub mod model;
pub mod project;
pub mod render;
pub mod resolve;
pub mod rules;
pub mod scaffold;
pub mod schema;
pub mod stats;
pub mod suggest;
pub mod validate;

use diagnostic::Diagnostic;

pub use analysis::{Analysis, GenerateError, Generated, UnknownEnvironment};

/// `flashc check --no-crate` as a function: loads `bytes` and validates them. Pure: no I/O.
/// Handlers are not looked up (see [`check_with_crate`]).
pub fn check(
    bytes: &[u8],
    environment: Option<&str>,
) -> Result<Vec<Diagnostic>, UnknownEnvironment> {
    Analysis::new(bytes).diagnostics(environment)
}

/// `flashc check`: everything [`check`] does, then stage 3: the handler crate is located and
/// parsed once through `ws`, and every handler and init of the base file and of each selected
/// environment is looked up and its signature checked (codes FL07xx). Resolution is skipped
/// when the YAML itself does not read; endpoints whose shape the schema rejected are skipped.
pub fn check_with_crate(
    bytes: &[u8],
    environment: Option<&str>,
    ws: &dyn resolve::Workspace,
) -> Result<Vec<Diagnostic>, UnknownEnvironment> {
    Analysis::with_crate(bytes, ws).diagnostics(environment)
}

/// `flashc generate` as a function: check (handlers included), lower, emit. It reads only
/// through `workspace`; the caller writes the files.
pub fn generate(
    bytes: &[u8],
    environment: Option<&str>,
    workspace: &dyn resolve::Workspace,
    options: &emit::Options,
) -> Result<Generated, GenerateError> {
    Analysis::with_crate(bytes, workspace).generate(environment, options)
}

/// docs/rules.md, generated from the rules' documentation.
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# flashc rules\n\n<!-- Generated from src/rules/*.rs by `flashc explain --all`; do not edit. -->\n\n\
         Every diagnostic flashc emits has a stable code. `flashc explain CODE` prints the same text.\n\n\
         | code | name | severity |\n|---|---|---|\n",
    );
    for rule in rules::ALL {
        out.push_str(&format!(
            "| [{code}](#{anchor}) | {name} | {sev} |\n",
            code = rule.code,
            anchor = rule.code.to_lowercase(),
            name = rule.name,
            sev = rule.severity.as_str()
        ));
    }
    for rule in rules::ALL {
        out.push_str(&format!(
            "\n## {}\n\n`{}` · default severity: {} · source: [`{src}`]({src})\n\n",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            src = rule.source
        ));
        out.push_str(
            rule.documentation()
                .replace("\n## ", "\n### ")
                .trim_start_matches("## ")
                .trim_end(),
        );
        out.push('\n');
    }
    out
}
