use crate::diagnostic::Diagnostic;
use crate::facts::{CrateFound, CrateSite};
declare_rule! {
    /// ## What it does
    /// Checks that the handler crate exists where `crate:` says (default `.`, the directory of
    /// flash.yaml): a directory inside the project with a `Cargo.toml` whose package has a
    /// library target that `cargo metadata` can read.
    ///
    /// ## Why
    /// Handlers are functions of that library; the generated workers depend on it, and the
    /// Docker build copies it, so it must be inside the directory of flash.yaml. To check
    /// flash.yaml alone, without the crate, run `flashc check --no-crate`.
    ///
    /// ## Example
    /// ```yaml
    /// crate: ../shared/handlers    # outside the build context: move it under this directory
    /// ```
    pub static CRATE_NOT_FOUND = ("FL0701", "crate-not-found", Error);
}

/// Reports a handler crate that is not where `crate:` says, or cannot be read (on `crate:`, or
/// on the first handler when `crate:` is not written).
pub fn check(site: &CrateSite, out: &mut Vec<Diagnostic>) {
    let dir = &site.dir;
    let shown = if site.written {
        format!("crate directory `{dir}`")
    } else {
        "the directory of flash.yaml (`crate:` is not set)".to_string()
    };
    let diagnostic = |message: String, label: &str, help: String| {
        let d = Diagnostic::new(&CRATE_NOT_FOUND, site.span, message)
            .label(label)
            .help(help);
        if site.written {
            d
        } else {
            d.label(format!(
                "{label} (no `crate:` in flash.yaml, so `.` is used)"
            ))
        }
    };
    let no_crate = "or run `flashc check --no-crate` to check flash.yaml alone";
    let d = match &site.found {
        CrateFound::NotPlain | CrateFound::Located(_) => return,
        CrateFound::Outside => diagnostic(
            format!("crate directory `{dir}` is outside the directory of flash.yaml"),
            "outside the build context",
            "the handler crate must be inside the Docker build context: move it under the directory of flash.yaml and set `crate:` to its relative path, such as `handlers`".into(),
        ),
        CrateFound::NoDirectory => diagnostic(
            format!("{shown} does not exist"),
            "no such directory",
            format!("create the crate with `cargo new --lib {dir}`, or set `crate:` to the directory that holds your handler crate's Cargo.toml"),
        ),
        CrateFound::NoManifest => {
            let create = if dir == "." {
                "run `cargo init --lib` next to flash.yaml".to_string()
            } else {
                format!("run `cargo init --lib {dir}`")
            };
            diagnostic(
                format!("{shown} has no Cargo.toml: the handlers' crate is not there"),
                "no Cargo.toml",
                format!("{create}, or set `crate:` to the directory that holds your handler crate's Cargo.toml; {no_crate}"),
            )
        }
        CrateFound::NoLib { package } => diagnostic(
            format!("package `{package}` has no library target: handlers must be in a library"),
            "no [lib] target",
            "add `src/lib.rs` (or a `[lib]` section in Cargo.toml) and define the handlers there; a binary's functions cannot be called by the generated worker".into(),
        ),
        CrateFound::Metadata(message) => {
            let first = message
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            diagnostic(
                format!("cannot read the handler crate's Cargo.toml: {first}"),
                "cargo metadata failed",
                format!("run `cargo metadata --no-deps` in `{dir}` to see the whole error and fix Cargo.toml"),
            )
        }
    };
    out.push(d);
}
