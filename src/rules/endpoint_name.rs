use crate::diagnostic::Diagnostic;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks endpoint names: lowercase letters, digits and `-`, starting with a letter, at
    /// most 63 characters.
    ///
    /// ## Why
    /// An endpoint's name becomes a Rust crate name, a Docker image name and a URL segment;
    /// only this alphabet is safe in all three. (Flash checks nothing, not even emptiness.)
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   Image_Gen:     # write `image-gen`
    ///     type: queue
    /// ```
    pub static ENDPOINT_NAME = ("FL0201", "endpoint-name", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for endpoint in &project.endpoints {
        if let Some(problem) = name_problem(endpoint.name) {
            out.push(
                Diagnostic::new(
                    &ENDPOINT_NAME,
                    endpoint.name_span,
                    format!("endpoint name `{}` {problem}", endpoint.name),
                )
                .label("invalid endpoint name")
                .help_opt(slug(endpoint.name).map(|s| format!("write `{s}`"))),
            );
        }
    }
}

/// What is wrong with a name, if anything (shared with the project name rule).
pub(super) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty: use lowercase letters, digits and `-`")
    } else if name.chars().count() > 63 {
        Some("is longer than 63 characters")
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("must start with a lowercase ASCII letter (a-z)")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Some("may contain only lowercase ASCII letters, digits and `-`")
    } else if name.ends_with('-') || name.contains("--") {
        Some("must not end with `-` or contain `--` (it becomes a DNS label and an image name)")
    } else {
        None
    }
}

/// The nearest valid name, if the input has any letters to make one from.
pub(super) fn slug(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
        .trim_end_matches('-')
        .chars()
        .take(63)
        .collect();
    (!out.is_empty() && out != name).then_some(out)
}
