//! flashc: compiles a declarative `flash.yaml` into Runpod serverless workers.
//!
//! The pipeline reads as stages, each a module with one job (see ARCHITECTURE.md):
//! [`load`] (YAML with spans) → [`validate`] (schema, then rules) → lower → emit.
//! The library does no I/O beyond what its caller hands it; only the CLI touches files.

#[macro_use]
pub mod rules;

pub mod diagnostic;
pub mod emit;
pub mod load;
pub mod lower;
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

/// Why `flashc generate` produced nothing.
#[derive(Debug)]
pub enum GenerateError {
    UnknownEnvironment(UnknownEnvironment),
    /// The file or its handlers have errors (warnings are returned with the output instead).
    Problems(Vec<Diagnostic>),
    /// A template failed to render, or lowering met what `check` should have refused.
    Internal(String),
}

/// What `flashc generate` writes, and the warnings met on the way.
pub struct Generated {
    pub files: Vec<emit::OutputFile>,
    pub warnings: Vec<Diagnostic>,
    pub plan: lower::Plan,
}

/// `flashc generate` as a function: check (handlers included), lower, emit. It reads only
/// through `workspace`; the caller writes the files.
pub fn generate(
    bytes: &[u8],
    environment: Option<&str>,
    workspace: &dyn resolve::Workspace,
    options: &emit::Options,
) -> Result<Generated, GenerateError> {
    let mut diagnostics = check(bytes, environment).map_err(GenerateError::UnknownEnvironment)?;
    let stop = |d: &[Diagnostic]| d.iter().any(|d| d.severity == diagnostic::Severity::Error);
    if stop(&diagnostics) {
        return Err(GenerateError::Problems(diagnostics));
    }
    let (Some(root), _) = load::load(bytes, load::Limits::default()) else {
        return Err(GenerateError::Problems(diagnostics));
    };
    let (merged, _) = validate::resolve(root, environment);
    let project = validate::Project::new(&merged, environment, &[]);
    let resolved = resolve::resolve(&project, workspace, &mut diagnostics);
    diagnostic::normalize(&mut diagnostics);
    let Some(resolved) = resolved.filter(|_| !stop(&diagnostics)) else {
        return Err(GenerateError::Problems(diagnostics));
    };
    let crate_dir = merged.get("crate").and_then(load::Node::as_str).unwrap_or(".");
    let plan = lower::lower(&merged, environment, &resolved, crate_dir)
        .map_err(|e| GenerateError::Internal(e.to_string()))?;
    let files = emit::emit(&plan, options).map_err(|e| GenerateError::Internal(e.to_string()))?;
    Ok(Generated {
        files,
        warnings: diagnostics,
        plan,
    })
}
