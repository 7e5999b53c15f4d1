//! flashc: compiles a declarative `flash.yaml` into Runpod serverless workers.
//!
//! The pipeline reads as stages, each a module with one job (see ARCHITECTURE.md):
//! [`load`] (YAML with spans) → [`validate`] (schema, then rules) → lower → emit.
//! The library does no I/O beyond what its caller hands it; only the CLI touches files.

#[macro_use]
pub mod rules;

pub mod diagnostic;
pub mod load;
pub mod model;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod suggest;
pub mod validate;

use diagnostic::Diagnostic;
use validate::Environments;

/// An environment named on the command line that the file does not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnvironment {
    pub name: String,
    pub known: Vec<String>,
}

impl std::fmt::Display for UnknownEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment `{}` is not declared in `environments:`",
            self.name
        )?;
        match suggest::did_you_mean(&self.name, self.known.iter().map(String::as_str)) {
            Some(hint) => write!(f, "; {hint}"),
            None if self.known.is_empty() => write!(f, "; the file declares none"),
            None => write!(f, "; declared: {}", self.known.join(", ")),
        }
    }
}

/// `flashc check` as a function: loads `bytes` and validates them. Pure: no I/O.
pub fn check(
    bytes: &[u8],
    environment: Option<&str>,
) -> Result<Vec<Diagnostic>, UnknownEnvironment> {
    let (root, mut diagnostics) = load::load(bytes, load::Limits::default());
    let Some(root) = root else {
        return Ok(diagnostics);
    };
    let selection = match environment {
        None => Environments::All,
        Some(name) => {
            let known = validate::environment_names(&root);
            if !known.contains(&name) {
                return Err(UnknownEnvironment {
                    name: name.to_string(),
                    known: known.into_iter().map(str::to_string).collect(),
                });
            }
            Environments::Only(name)
        }
    };
    diagnostics.extend(validate::check(root, selection));
    diagnostic::normalize(&mut diagnostics);
    Ok(diagnostics)
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
            "\n## {}\n\n`{}` · default severity: {}\n\n",
            rule.code,
            rule.name,
            rule.severity.as_str()
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
