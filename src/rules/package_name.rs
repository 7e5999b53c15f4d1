use crate::diagnostic::Diagnostic;
use crate::facts::{CrateFound, CrateSite};
use crate::load::Value;
use crate::project::Project;

/// The runtime's package, a member of every generated workspace.
pub const RUNTIME_PACKAGE: &str = "flash-runtime";

declare_rule! {
    /// ## What it does
    /// Checks that the packages of the generated workspaces have distinct names: each
    /// endpoint's worker crate (`<project>-<endpoint>`), the runtime (`flash-runtime`), the
    /// dev host (`<project>-dev`) and the handler crate (as its Cargo.toml names it, checked
    /// when the crate is read).
    ///
    /// ## Why
    /// Two packages of one name make a workspace cargo refuses: project `flash` with endpoint
    /// `runtime` has a worker crate named `flash-runtime`, the runtime's name; a handler crate
    /// named `shop-api` is also endpoint `api`'s worker crate in project `shop`.
    ///
    /// ## Example
    /// ```yaml
    /// name: flash
    /// endpoints:
    ///   runtime:    # worker crate `flash-runtime`: rename the endpoint or the project
    ///     type: queue
    /// ```
    pub static PACKAGE_NAME = ("FL0604", "package-name", Error);
}

/// The package of endpoint `endpoint`'s worker crate.
pub fn worker_package(project: &str, endpoint: &str) -> String {
    format!("{project}-{endpoint}")
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    let Some(Value::Str(name)) = project.root.get("name").map(|n| &n.value) else {
        return;
    };
    for endpoint in &project.endpoints {
        let package = worker_package(name, endpoint.name);
        if package == RUNTIME_PACKAGE {
            out.push(
                Diagnostic::new(
                    &PACKAGE_NAME,
                    endpoint.name_span,
                    format!("endpoint `{}` of project `{name}` would be built as a package named `{package}`, which is the runtime's name", endpoint.name),
                )
                .label("its worker crate collides with flash-runtime")
                .help("rename the endpoint (or the project): two packages of one name cannot share the generated workspace"),
            );
        }
    }
}

/// FL0604 for the located handler crate: its package name must be none of the generated
/// workspace's other packages' (reported on `crate:`, or on the first handler without it).
pub fn check_crate(site: &CrateSite, out: &mut Vec<Diagnostic>) {
    let CrateFound::Located(located) = &site.found else {
        return;
    };
    let Some(taken_by) = &located.package_taken_by else {
        return;
    };
    let package = &located.info.package;
    let project = &located.project;
    out.push(
        Diagnostic::new(
            &PACKAGE_NAME,
            site.span,
            format!("the handler crate's package is named `{package}`, which is also {taken_by}"),
        )
        .label("its package name is taken in the generated workspace")
        .help(format!(
            "rename the handler crate's package in its Cargo.toml (`[package] name`), such as `{project}-handlers`"
        )),
    );
}
