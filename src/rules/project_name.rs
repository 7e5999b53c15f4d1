use super::endpoint_name::{name_problem, slug};
use crate::diagnostic::Diagnostic;
use crate::load::Value;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks the project `name` with the same alphabet as endpoint names: lowercase
    /// letters, digits and `-`, starting with a letter, at most 63 characters.
    ///
    /// ## Why
    /// The project name prefixes every image name and the generated workspace's crates.
    ///
    /// ## Example
    /// ```yaml
    /// name: My App     # write `my-app`
    /// ```
    pub static PROJECT_NAME = ("FL0601", "project-name", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    let Some(node) = project.root.get("name") else {
        return;
    };
    let Value::Str(name) = &node.value else {
        return;
    };
    if let Some(problem) = name_problem(name) {
        out.push(
            Diagnostic::new(
                &PROJECT_NAME,
                node.span,
                format!("project name `{name}` {problem}"),
            )
            .label("invalid project name")
            .help_opt(slug(name).map(|s| format!("write `{s}`"))),
        );
    }
}
