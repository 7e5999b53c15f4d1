use crate::diagnostic::Diagnostic;
use crate::facts::{CrateFilePlace, CrateFound, CrateSite};
use crate::load::Value;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks that `crate:` (the handler crate's directory) is written with ASCII letters,
    /// digits, `.`, `_`, `-` and `/` only, with no part starting with `-`; likewise the crate's
    /// library root and build script as its Cargo.toml names them, which must also be inside
    /// the crate's directory (reported on `crate:` when the crate is read). `flashc generate
    /// --out` follows the same policy.
    ///
    /// ## Why
    /// The path goes into every generated Dockerfile, in `COPY` lines and shell commands. A
    /// space would split it in two, and `$`, quotes or `;` would be read by Docker or the
    /// shell instead of naming a directory; a leading `-` turns it into options of `touch` or
    /// `cp`; a library root outside the crate's directory is not copied into the image. flashc
    /// refuses such a path rather than write a Dockerfile that builds something else than the
    /// user meant.
    ///
    /// ## Example
    /// ```yaml
    /// crate: my handlers    # rename the directory: `my-handlers`
    /// ```
    pub static CRATE_PATH = ("FL0603", "crate-path", Error);
}

/// Whether `c` may appear in a path written into Dockerfiles and shell commands as it is.
pub fn is_plain_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

/// Why a path cannot be written into Dockerfiles, `.dockerignore` and shell lines as it is.
/// The one policy for every such path: `crate:`, the crate's library root and build script
/// (as the Dockerfile names them), and `generate --out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    Empty,
    /// A character outside ASCII letters, digits, `.`, `_`, `-` and `/`.
    Char(char),
    /// A component starting with `-`: `touch` and `cp` would read it as an option.
    Dash,
    /// Absolute, or climbing above its start with `..`: outside the build context.
    Outside,
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathProblem::Empty => f.write_str("is empty"),
            PathProblem::Char(c) => write!(
                f,
                "contains {}, which Dockerfiles and shell commands cannot carry as is",
                describe_char(*c)
            ),
            PathProblem::Dash => f.write_str(
                "has a component starting with `-`, which commands such as `touch` and `cp` in the Dockerfile would read as an option",
            ),
            PathProblem::Outside => {
                f.write_str("is outside the project directory, the images' Docker build context")
            }
        }
    }
}

/// The first problem of `path` (`/`-separated, relative to the project), if any.
pub fn path_problem(path: &str) -> Option<PathProblem> {
    if path.is_empty() {
        return Some(PathProblem::Empty);
    }
    if let Some(bad) = path.chars().find(|c| !is_plain_path_char(*c)) {
        return Some(PathProblem::Char(bad));
    }
    if path.split('/').any(|c| c.starts_with('-')) {
        return Some(PathProblem::Dash);
    }
    if leaves_project(path) {
        return Some(PathProblem::Outside);
    }
    None
}

/// An absolute path, or one whose `..` climbs above its start.
pub fn leaves_project(dir: &str) -> bool {
    if dir.starts_with('/') || dir.starts_with('\\') || dir.get(1..2) == Some(":") {
        return true;
    }
    let mut depth = 0i32;
    for component in dir.split(['/', '\\']) {
        match component {
            ".." => depth -= 1,
            "" | "." => {}
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// A character as a message names it: "a space", "`$`".
pub fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    let Some(node) = project.root.get("crate") else {
        return;
    };
    let Value::Str(path) = &node.value else {
        return;
    };
    // Outside the project is FL0701's (the crate is looked for there first).
    let bad = match path_problem(path) {
        Some(PathProblem::Char(bad)) => bad,
        Some(PathProblem::Dash) => {
            out.push(
                Diagnostic::new(
                    &CRATE_PATH,
                    node.span,
                    format!("crate path `{path}` {}", PathProblem::Dash),
                )
                .label("starts like an option")
                .help(format!(
                    "rename the directory so that no part of its path starts with `-`, e.g. `{}`",
                    path.split('/')
                        .map(|c| c.trim_start_matches('-'))
                        .collect::<Vec<_>>()
                        .join("/")
                )),
            );
            return;
        }
        _ => return,
    };
    let shown = describe_char(bad);
    let suggestion: String = path
        .trim()
        .chars()
        .map(|c| if is_plain_path_char(c) { c } else { '-' })
        .collect();
    out.push(
        Diagnostic::new(
            &CRATE_PATH,
            node.span,
            format!("crate path `{path}` contains {shown}, which Dockerfiles and shell commands cannot carry as is"),
        )
        .label("not a plain path")
        .help(format!(
            "rename the directory with ASCII letters, digits, `.`, `_`, `-` and `/` only, e.g. `{suggestion}`"
        )),
    );
}

/// FL0603 for the located crate's library root and build script (reported on `crate:`, or on
/// the first handler without it): each must be inside the crate's directory, on a plain path.
pub fn check_files(site: &CrateSite, out: &mut Vec<Diagnostic>) {
    let CrateFound::Located(located) = &site.found else {
        return;
    };
    let dir = &site.dir;
    for file in &located.files {
        let what = file.what;
        let (rel, written) = match &file.place {
            CrateFilePlace::Outside { shown } => {
                out.push(
                    Diagnostic::new(
                        &CRATE_PATH,
                        site.span,
                        format!(
                            "the handler crate's {what} `{shown}` is outside the crate's directory `{dir}`, which is all the image's build copies"
                        ),
                    )
                    .label(format!("its {what} is outside the crate"))
                    .help(format!("move the file into `{dir}` and set its path in Cargo.toml relative to it")),
                );
                continue;
            }
            CrateFilePlace::Inside { rel, written } => (rel, written),
        };
        let problem = match path_problem(written) {
            Some(problem @ (PathProblem::Char(_) | PathProblem::Dash)) => problem,
            _ => continue,
        };
        out.push(
            Diagnostic::new(
                &CRATE_PATH,
                site.span,
                format!("the handler crate's {what} `{rel}` {problem}"),
            )
            .label(format!("its {what} is not a plain path"))
            .help(match problem {
                PathProblem::Dash => "rename the file (and its path in Cargo.toml) so that no part of its path starts with `-`",
                _ => "rename the file (and its path in Cargo.toml) with ASCII letters, digits, `.`, `_`, `-` and `/` only",
            }),
        );
    }
}
