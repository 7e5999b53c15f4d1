use crate::diagnostic::Diagnostic;
use crate::load::Value;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks that `crate:` (the handler crate's directory) is written with ASCII letters,
    /// digits, `.`, `_`, `-` and `/` only; likewise the crate's library root and build script
    /// as its Cargo.toml names them (reported on `crate:` when the crate is read).
    ///
    /// ## Why
    /// The path goes into every generated Dockerfile, in `COPY` lines and shell commands. A
    /// space would split it in two, and `$`, quotes or `;` would be read by Docker or the
    /// shell instead of naming a directory. flashc refuses such a path rather than write a
    /// Dockerfile that builds something else than the user meant.
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
    let Some(bad) = path.chars().find(|c| !is_plain_path_char(*c)) else {
        return;
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
