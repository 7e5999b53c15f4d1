use crate::diagnostic::Diagnostic;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks path parameters: `{name}` fills a whole segment, its name is an identifier
    /// (letters, digits, `_`), and no name repeats within a path. Express-style `:id` gets
    /// the `{id}` spelling as a fix.
    ///
    /// ## Why
    /// Each parameter becomes an argument of the handler, bound by name; a parameter that is
    /// not a whole segment or not an identifier cannot be bound.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /users/:id": users::get        # write {id}
    ///   "GET /files/file-{n}": files::get   # a parameter is a whole segment
    /// ```
    pub static PATH_PARAMETER = ("FL0206", "path-parameter", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for route in project.routes() {
        for problem in &route.path_problems {
            out.push(
                Diagnostic::new(
                    &PATH_PARAMETER,
                    route.entry.key_span,
                    problem.message.clone(),
                )
                .label("invalid path parameter")
                .help_opt(problem.help.clone()),
            );
        }
    }
}
