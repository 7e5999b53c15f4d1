//! flashc: compiles a declarative `flash.yaml` into Runpod serverless workers.
//!
//! The pipeline reads as stages, each a module with one job (see ARCHITECTURE.md):
//! [`load`] (YAML with spans) → [`validate`] (schema, then rules) → [`resolve`] (the
//! handler crate) → lower → emit.
//! The library does no I/O beyond what its caller hands it; only the CLI touches files.

// Declared first: `declare_rule!` is defined there, and a `macro_rules!` macro is visible to
// the modules declared after it.
#[macro_use]
pub mod diagnostic;

pub mod deploy;
pub mod emit;
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

/// `flashc check` as a function: loads `bytes` and validates them. Pure: no I/O. Handlers are
/// not looked up (see [`check_with_crate`]).
pub fn check(
    bytes: &[u8],
    environment: Option<&str>,
) -> Result<Vec<Diagnostic>, UnknownEnvironment> {
    let (root, mut diagnostics) = load::load(bytes, load::Limits::default());
    let Some(root) = root else {
        return Ok(diagnostics);
    };
    let selection = select(&root, environment)?;
    diagnostics.extend(validate::check(root, selection));
    diagnostic::normalize(&mut diagnostics);
    Ok(diagnostics)
}

/// Everything [`check`] does, then stage 3: the handler crate is located and parsed once
/// through `ws`, and every handler and init of the base file and of each selected environment
/// is looked up and its signature checked (codes FL07xx). Resolution is skipped when the YAML
/// itself does not read; endpoints whose shape the schema rejected are skipped.
pub fn check_with_crate(
    bytes: &[u8],
    environment: Option<&str>,
    ws: &dyn resolve::Workspace,
) -> Result<Vec<Diagnostic>, UnknownEnvironment> {
    let (root, mut diagnostics) = load::load(bytes, load::Limits::default());
    let Some(root) = root else {
        return Ok(diagnostics);
    };
    let selection = select(&root, environment)?;
    let kept = (!unreadable(&diagnostics)).then(|| root.clone());
    diagnostics.extend(validate::check(root, selection));
    if let Some(root) = kept {
        diagnostics.extend(resolve_all(&root, selection, ws));
    }
    diagnostic::normalize(&mut diagnostics);
    Ok(diagnostics)
}

/// Whether loading failed so badly (YAML syntax, not UTF-8, past the limits) that the tree
/// is no basis for resolving handlers: validation still runs on what was read, resolution not.
pub(crate) fn unreadable(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| {
        d.severity == diagnostic::Severity::Error
            && [
                rules::YAML_SYNTAX.code,
                rules::NOT_UTF8.code,
                rules::YAML_LIMITS.code,
            ]
            .contains(&d.code)
    })
}

/// Resolution for the base file and each selected overlay, the crate parsed once. A problem
/// only an overlay causes names the overlay, as validation's do.
fn resolve_all(
    root: &load::Node,
    selection: Environments,
    ws: &dyn resolve::Workspace,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // A `crate:` of the wrong type is the schema's to report; nothing can be located.
    if root.get("crate").is_some_and(|n| n.as_str().is_none()) {
        return out;
    }
    let Some(index) = resolve::index_crate(root, ws, &mut out) else {
        return out;
    };
    out.extend(resolve_environments(root, selection, &index));
    out
}

/// Handler resolution against an indexed crate for the base file and each selected overlay. A
/// problem only an overlay causes names the overlay, as validation's do. (`ide` calls this with
/// an index it keeps between checks.)
pub fn resolve_environments(
    root: &load::Node,
    selection: Environments,
    index: &resolve::CrateIndex,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let selected: Vec<Option<&str>> = match selection {
        Environments::Only(name) => vec![Some(name)],
        Environments::All => std::iter::once(None)
            .chain(validate::environment_names(root).into_iter().map(Some))
            .collect(),
    };
    let mut base: Option<Vec<Diagnostic>> = None;
    for environment in selected {
        let (merged, _) = validate::resolve(root.clone(), environment);
        let project = project::Project::new(&merged, environment, &[]);
        let mut found = Vec::new();
        resolve::resolve_project(&project, index, &mut found);
        match (environment, &base) {
            (None, _) => base = Some(found.clone()),
            (Some(name), Some(base)) => {
                for d in &mut found {
                    if !base
                        .iter()
                        .any(|b| b.span == d.span && b.code == d.code && b.message == d.message)
                    {
                        d.message.push_str(&format!(" (in environment `{name}`)"));
                    }
                }
            }
            (Some(_), None) => {}
        }
        out.append(&mut found);
    }
    out
}

/// The environments to check: all, or the one named (which must be declared).
fn select<'a>(
    root: &load::Node,
    environment: Option<&'a str>,
) -> Result<Environments<'a>, UnknownEnvironment> {
    match environment {
        None => Ok(Environments::All),
        Some(name) => {
            let known = validate::environment_names(root);
            if !known.contains(&name) {
                return Err(UnknownEnvironment {
                    name: name.to_string(),
                    known: known.into_iter().map(str::to_string).collect(),
                });
            }
            Ok(Environments::Only(name))
        }
    }
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
    let project = project::Project::new(&merged, environment, &[]);
    let resolved = resolve::resolve(&project, workspace, &mut diagnostics);
    diagnostic::normalize(&mut diagnostics);
    let Some(resolved) = resolved.filter(|_| !stop(&diagnostics)) else {
        return Err(GenerateError::Problems(diagnostics));
    };
    let crate_dir = merged
        .get("crate")
        .and_then(load::Node::as_str)
        .unwrap_or(".");
    let plan = lower::lower(&merged, environment, &resolved, crate_dir)
        .map_err(|e| GenerateError::Internal(e.to_string()))?;
    let files = emit::emit(&plan, options).map_err(|e| GenerateError::Internal(e.to_string()))?;
    Ok(Generated {
        files,
        warnings: diagnostics,
        plan,
    })
}
