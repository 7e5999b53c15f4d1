//! The pipeline driver: one flash.yaml analysed once, for every command that reads it.
//!
//! `flashc check`, `generate`, `dev` and the editor all go through [`Analysis`]: the file is
//! loaded once; `defaults` and each overlay are merged once per environment
//! ([`validate::prepare`]); each environment's [`Project`] (its routes parsed once) is read by
//! the rules, by resolution and, for the environment being generated, by lowering; and the
//! handler crate is indexed once (or handed in by the editor, which keeps it between checks).
//! It does no I/O: the crate is read through the caller's [`Workspace`].

use std::cell::{OnceCell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use crate::diagnostic::{self, Diagnostic, Severity};
use crate::emit;
use crate::load::{self, Node};
use crate::lower::{self, Plan};
use crate::project::Project;
use crate::resolve::{self, CrateIndex, Resolved, Workspace};
use crate::rules;
use crate::suggest;
use crate::validate::{self, EnvironmentMarker, Environments};

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
    /// The environment's merged tree the plan was lowered from: every value with the span
    /// where it was written (deploy shows an API's complaint at that line).
    pub merged: Node,
}

/// One flash.yaml, loaded, with what is needed to check and plan it.
pub struct Analysis<'w> {
    root: Option<Node>,
    load_diagnostics: Vec<Diagnostic>,
    crate_source: CrateSource<'w>,
    /// The crate index and what locating the crate reported, built at most once.
    index: OnceCell<(Option<Rc<CrateIndex>>, Vec<Diagnostic>)>,
}

enum CrateSource<'w> {
    /// `--no-crate`: flash.yaml alone.
    None,
    /// Located and indexed through the workspace, on first use.
    Workspace(&'w dyn Workspace),
    /// Indexed by the caller (the editor, from its cache), on first use.
    Indexer(RefCell<&'w mut Indexer<'w>>),
}

/// Gives the crate index for a loaded file and its first handler string, where a crate that
/// cannot be located is reported (`None` when it cannot be), and what locating it reported.
pub type Indexer<'w> =
    dyn FnMut(&Node, Option<&Node>) -> (Option<Rc<CrateIndex>>, Vec<Diagnostic>) + 'w;

/// What one pass over the selected environments found.
struct Pass {
    diagnostics: Vec<Diagnostic>,
    /// The selected environment's plan, when one environment was selected and asked for.
    plan: Option<Result<Plan, lower::Unlowerable>>,
    /// The merged tree the plan was lowered from.
    tree: Option<Node>,
}

impl<'w> Analysis<'w> {
    /// flash.yaml alone: handlers are not looked up.
    pub fn new(bytes: &[u8]) -> Analysis<'static> {
        Analysis::load(bytes, CrateSource::None)
    }

    /// flash.yaml and its handler crate, read through `workspace`.
    pub fn with_crate(bytes: &[u8], workspace: &'w dyn Workspace) -> Analysis<'w> {
        Analysis::load(bytes, CrateSource::Workspace(workspace))
    }

    /// flash.yaml and a crate index the caller provides (the editor keeps one between checks),
    /// asked for at most once.
    pub fn with_indexer(bytes: &[u8], indexer: &'w mut Indexer<'w>) -> Analysis<'w> {
        Analysis::load(bytes, CrateSource::Indexer(RefCell::new(indexer)))
    }

    fn load(bytes: &[u8], crate_source: CrateSource<'w>) -> Self {
        let (root, load_diagnostics) = load::load(bytes, load::Limits::default());
        Analysis {
            root,
            load_diagnostics,
            crate_source,
            index: OnceCell::new(),
        }
    }

    /// The file as loaded (`None` when nothing could be read).
    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// Every problem of the file (and of its handlers, with a crate), for all environments or
    /// the one named: what `flashc check` prints.
    pub fn diagnostics(
        &self,
        environment: Option<&str>,
    ) -> Result<Vec<Diagnostic>, UnknownEnvironment> {
        let Some(root) = &self.root else {
            return Ok(self.load_diagnostics.clone());
        };
        let selection = select(root, environment)?;
        Ok(self.pass(root, selection, false).diagnostics)
    }

    /// The plan of one environment (the base file when `None`), and the warnings met. An error
    /// stops it: in that environment, or, for the base file, in any environment (as `flashc
    /// check` without `--env` would report it).
    pub fn plan(
        &self,
        environment: Option<&str>,
    ) -> Result<(Plan, Vec<Diagnostic>), GenerateError> {
        self.planned(environment)
            .map(|(plan, warnings, _)| (plan, warnings))
    }

    /// [`Analysis::plan`], with the merged tree it was lowered from.
    fn planned(
        &self,
        environment: Option<&str>,
    ) -> Result<(Plan, Vec<Diagnostic>, Node), GenerateError> {
        let Some(root) = &self.root else {
            return Err(GenerateError::Problems(self.load_diagnostics.clone()));
        };
        let selection = select(root, environment).map_err(GenerateError::UnknownEnvironment)?;
        let pass = self.pass(root, selection, true);
        if has_errors(&pass.diagnostics) {
            return Err(GenerateError::Problems(pass.diagnostics));
        }
        match pass.plan {
            Some(Ok(plan)) => Ok((plan, pass.diagnostics, pass.tree.unwrap_or_default())),
            Some(Err(e)) => Err(GenerateError::Internal(e.to_string())),
            // No crate could be indexed, and the reason was reported as an error.
            None => Err(GenerateError::Problems(pass.diagnostics)),
        }
    }

    /// What `flashc generate` writes for one environment: [`Analysis::plan`], emitted.
    pub fn generate(
        &self,
        environment: Option<&str>,
        options: &emit::Options,
    ) -> Result<Generated, GenerateError> {
        let (plan, warnings, merged) = self.planned(environment)?;
        let files =
            emit::emit(&plan, options).map_err(|e| GenerateError::Internal(e.to_string()))?;
        Ok(Generated {
            files,
            warnings,
            plan,
            merged,
        })
    }

    fn pass(&self, root: &Node, selection: Environments, want_plan: bool) -> Pass {
        let mut diagnostics = self.load_diagnostics.clone();
        // Handlers are resolved only in a file that read well enough, and whose `crate:` is a
        // string (another type is the schema's to report: nothing can be located).
        let resolving = !matches!(self.crate_source, CrateSource::None)
            && !unreadable(&diagnostics)
            && root.get("crate").is_none_or(|n| n.as_str().is_some());
        let prepared = validate::prepare(root.clone(), selection);
        let invalid: HashSet<&str> = prepared.invalid.iter().map(String::as_str).collect();
        let mut validation = prepared.diagnostics;
        let mut resolution = Vec::new();
        // Built (or asked for) at the first tree, whose first handler is where a crate that
        // cannot be located is reported.
        let mut index: Option<Option<Rc<CrateIndex>>> = None;
        let mut rules_marker = EnvironmentMarker::default();
        let mut resolve_marker = EnvironmentMarker::default();
        let mut plan = None;
        // Which tree the plan was lowered from: moved out after the loop, not copied.
        let mut planned_tree = None;
        for (i, merged) in prepared.trees.iter().enumerate() {
            let environment = merged.environment.as_deref();
            let project = Project::with_invalid(&merged.tree, environment, &invalid);
            let mut found = validate::rules(&project);
            rules_marker.mark(environment, &mut found);
            validation.append(&mut found);
            if !resolving {
                continue;
            }
            let index = index.get_or_insert_with(|| {
                let (index, located) = self.index(root, project.handler_nodes().next());
                resolution.extend(located.iter().cloned());
                index.clone()
            });
            let Some(index) = index else { continue };
            let mut found = Vec::new();
            let resolved = resolve::resolve_project(&project, index);
            rules::check_handlers(&resolved.uses, &mut found);
            rules::check_endpoint_calls(&project, &resolved.endpoint_calls, &mut found);
            resolve_marker.mark(environment, &mut found);
            resolution.append(&mut found);
            if want_plan && merged.complete {
                plan = Some(self.lower(&project, &resolved));
                planned_tree = Some(i);
            }
        }
        validate::finish(&mut validation);
        diagnostics.append(&mut validation);
        diagnostics.append(&mut resolution);
        diagnostic::normalize(&mut diagnostics);
        // Lowering reads a file that checks: a plan of one with errors is dropped.
        if has_errors(&diagnostics) {
            plan = None;
        }
        let mut trees = prepared.trees;
        let tree = planned_tree.map(|i| trees.swap_remove(i).tree);
        Pass {
            diagnostics,
            plan,
            tree,
        }
    }

    fn lower(&self, project: &Project, resolved: &Resolved) -> Result<Plan, lower::Unlowerable> {
        let crate_dir = project
            .root
            .get("crate")
            .and_then(Node::as_str)
            .unwrap_or(crate::model::defaults::CRATE_DIR);
        lower::lower(project, resolved, crate_dir)
    }

    /// The crate index, built once; what locating the crate reported beside it.
    fn index(
        &self,
        root: &Node,
        first_handler: Option<&Node>,
    ) -> &(Option<Rc<CrateIndex>>, Vec<Diagnostic>) {
        self.index.get_or_init(|| match &self.crate_source {
            CrateSource::None => (None, Vec::new()),
            CrateSource::Indexer(indexer) => (indexer.borrow_mut())(root, first_handler),
            CrateSource::Workspace(ws) => {
                let mut located = Vec::new();
                let Some((site, index)) = resolve::index_crate(root, first_handler, *ws) else {
                    return (None, located);
                };
                rules::check_crate(&site, &mut located);
                (index.map(Rc::new), located)
            }
        })
    }
}

fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

/// The environments to check: all, or the one named (which must be declared).
fn select<'a>(
    root: &Node,
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

/// Whether loading failed so badly (YAML syntax, not UTF-8, past the limits) that the tree
/// is no basis for resolving handlers: validation still runs on what was read, resolution not.
pub(crate) fn unreadable(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| {
        d.severity == Severity::Error
            && [
                rules::YAML_SYNTAX.code,
                rules::NOT_UTF8.code,
                rules::YAML_LIMITS.code,
            ]
            .contains(&d.code)
    })
}
