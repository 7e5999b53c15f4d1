//! `flashc init`'s new project, rendered from the templates in `templates/init/` (embedded).
//! Pure, as `emit` is: [`project`] returns paths and contents; the CLI checks the disk and
//! writes them.
//!
//! The project is checked before it is returned: its flash.yaml goes through [`crate::check`]
//! (so the project name is judged by the same rule, FL0601, that `flashc check` applies,
//! with the same suggestion), and then through [`crate::generate`] with the rendered crate held
//! in memory, so a template that stopped matching its handlers is an internal error, never a
//! broken project on disk. Generating also gives the `.dockerignore` (exactly the one `flashc
//! generate` writes and keeps up to date) and the image names the next steps print.
//!
//! Only names the rule accepts reach a template; values are still written through escaping
//! filters: `yaml_str` (a plain scalar when that reads back as the same string, else a
//! double-quoted one) and `toml_str`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{context, Environment};

use crate::diagnostic::{Diagnostic, Severity};
use crate::resolve::{CrateError, CrateInfo, Workspace};

/// The templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "flash.yaml.j2",
        include_str!("../templates/init/flash.yaml.j2"),
    ),
    (
        "Cargo.toml.j2",
        include_str!("../templates/init/Cargo.toml.j2"),
    ),
    ("lib.rs.j2", include_str!("../templates/init/lib.rs.j2")),
    (
        "gitignore.j2",
        include_str!("../templates/init/gitignore.j2"),
    ),
    (
        "README.md.j2",
        include_str!("../templates/init/README.md.j2"),
    ),
];

/// Where flash.yaml's first line points editors: the schema, written into the project so it
/// resolves with no network (and kept by `.gitignore`, so it does on a fresh clone too).
pub const SCHEMA_FILE: &str = ".flash/flash.schema.json";

/// One file of the new project; `path` is relative to the project directory, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: &'static str,
    pub contents: String,
}

/// A command to run next, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub command: String,
    pub comment: Option<&'static str>,
}

/// A new project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project name (`name:` in flash.yaml).
    pub name: String,
    /// The handler crate's package name: the project name, unless that cannot name a Rust
    /// library (a keyword, `std`, a dependency), then `<name>-handlers`.
    pub package: String,
    /// In the order they are listed to the user.
    pub files: Vec<File>,
    /// The commands to run next, from the project directory.
    pub next_steps: Vec<Step>,
}

/// Why no project was rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The name is not a valid project name: FL0601's message, and the nearest valid name.
    Name {
        message: String,
        suggestion: Option<String>,
    },
    /// A template does not render, or the project it renders does not check: a bug in flashc.
    Internal(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Name { message, .. } | Error::Internal(message) => f.write_str(message),
        }
    }
}

/// Renders the project named `name` (not yet validated: an invalid name is [`Error::Name`]).
pub fn project(name: &str, flashc_version: &str) -> Result<Project, Error> {
    let env = environment()?;
    let flash_yaml = render(&env, "flash.yaml.j2", context! { project => name })?;
    let diagnostics = crate::check(flash_yaml.as_bytes(), None).map_err(|e| internal(&e))?;
    if let Some(d) = diagnostics
        .iter()
        .find(|d| d.code == crate::rules::PROJECT_NAME.code)
    {
        return Err(Error::Name {
            message: d.message.clone(),
            suggestion: nearest_name(name),
        });
    }
    refuse_problems(&diagnostics, "flash.yaml")?;

    let package = package_name(name);
    let ctx = context! { project => name, package => &package };
    let cargo_toml = render(&env, "Cargo.toml.j2", ctx.clone())?;
    let lib_rs = render(&env, "lib.rs.j2", ctx.clone())?;
    let gitignore = render(&env, "gitignore.j2", ctx.clone())?;

    // Generate from the rendered crate, in memory: proof the project checks and generates, the
    // `.dockerignore` generate owns, and the images to build.
    let crate_files = [("Cargo.toml", &cargo_toml), ("src/lib.rs", &lib_rs)];
    let workspace = Memory {
        package: &package,
        files: crate_files
            .iter()
            .map(|(path, text)| (Memory::root().join(path), text.as_str()))
            .collect(),
    };
    let overrides = BTreeMap::new();
    let options = crate::emit::Options {
        out_dir: ".flash",
        flashc_version,
        overrides: &overrides,
    };
    let generated = match crate::generate(flash_yaml.as_bytes(), None, &workspace, &options) {
        Ok(generated) => generated,
        Err(crate::GenerateError::Problems(diagnostics)) => {
            refuse_problems(&diagnostics, "the new project")?;
            return Err(Error::Internal("the new project does not generate".into()));
        }
        Err(crate::GenerateError::UnknownEnvironment(e)) => return Err(internal(&e)),
        Err(crate::GenerateError::Internal(message)) => return Err(Error::Internal(message)),
    };
    refuse_problems(&generated.warnings, "the new project")?;
    let dockerignore = generated
        .files
        .iter()
        .find(|f| f.path == ".dockerignore")
        .map(|f| f.contents.clone())
        .ok_or_else(|| Error::Internal("`flashc generate` wrote no .dockerignore".into()))?;

    let next_steps = next_steps(&generated.plan);
    let readme = render(
        &env,
        "README.md.j2",
        context! { next_steps => format_steps(&next_steps), ..ctx },
    )?;
    let files = vec![
        File {
            path: "flash.yaml",
            contents: flash_yaml,
        },
        File {
            path: "Cargo.toml",
            contents: cargo_toml,
        },
        File {
            path: "src/lib.rs",
            contents: lib_rs,
        },
        File {
            path: "README.md",
            contents: readme,
        },
        File {
            path: ".gitignore",
            contents: gitignore,
        },
        File {
            path: ".dockerignore",
            contents: dockerignore,
        },
        File {
            path: SCHEMA_FILE,
            contents: crate::schema::generate_text(),
        },
    ];
    Ok(Project {
        name: name.to_string(),
        package,
        files,
        next_steps,
    })
}

/// The nearest project name to `text` (a directory's name, or an invalid `--name`): lowercase
/// ASCII letters and digits, every other run of characters one `-`, starting with a letter, at
/// most 63 characters (`My_Project 2` → `my-project-2`). `None` when nothing is left (`123`).
pub fn nearest_name(text: &str) -> Option<String> {
    let mut name = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
    let name: String = name.chars().take(63).collect();
    let name = name.trim_end_matches('-');
    (!name.is_empty()).then(|| name.to_string())
}

/// The steps as shell lines, comments aligned: what the CLI prints and the README shows.
pub fn format_steps(steps: &[Step]) -> String {
    let width = steps
        .iter()
        .filter(|s| s.comment.is_some())
        .map(|s| s.command.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for step in steps {
        match step.comment {
            Some(comment) => out.push_str(&format!(
                "{:width$}  # {comment}\n",
                step.command,
                width = width
            )),
            None => out.push_str(&format!("{}\n", step.command)),
        }
    }
    out
}

/// The commands to run next; the docker lines as `flashc generate` prints them.
fn next_steps(plan: &crate::lower::Plan) -> Vec<Step> {
    let step = |command: &str, comment| Step {
        command: command.to_string(),
        comment: Some(comment),
    };
    let mut steps = vec![
        step("flashc check", "flash.yaml and its handlers"),
        step(
            "cargo test",
            "the handlers' unit tests (a crate using flash-runtime: after a first `flashc generate`)",
        ),
        step(
            "flashc dev",
            "every endpoint on http://127.0.0.1:8888, rebuilt on each change",
        ),
        step(
            "flashc generate",
            "a worker crate and a Dockerfile per endpoint, into .flash/",
        ),
    ];
    for (i, endpoint) in plan.endpoints.iter().enumerate() {
        steps.push(Step {
            command: format!(
                "docker build -f .flash/workers/{}/Dockerfile -t {} .",
                endpoint.name, endpoint.image
            ),
            comment: None,
        });
        steps.push(Step {
            command: format!(
                "docker run --rm --network host -e PORT={} {}",
                crate::lower::local_port(endpoint.port, i),
                endpoint.image
            ),
            comment: None,
        });
    }
    steps
}

/// Package names that cannot name the handler library: Rust keywords (the library's name is
/// written in generated code), the standard library's crates, and the crates the handler
/// crate or its generated workers depend on by name.
const RESERVED_PACKAGES: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "flash-runtime",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc-macro",
    "pub",
    "ref",
    "return",
    "self",
    "serde",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// The handler crate's package name for a (valid) project name.
pub fn package_name(project: &str) -> String {
    if RESERVED_PACKAGES.contains(&project) {
        format!("{project}-handlers")
    } else {
        project.to_string()
    }
}

/// Any error (or warning: a new project has none) among `diagnostics` is flashc's bug.
fn refuse_problems(diagnostics: &[Diagnostic], what: &str) -> Result<(), Error> {
    match diagnostics.first() {
        None => Ok(()),
        Some(d) => Err(Error::Internal(format!(
            "{what} as `flashc init` renders it has a problem ({} {}: {}); this is a bug in flashc",
            match d.severity {
                Severity::Error => "error",
                _ => "warning",
            },
            d.code,
            d.message
        ))),
    }
}

fn internal(error: &dyn std::fmt::Display) -> Error {
    Error::Internal(error.to_string())
}

/// The rendered crate, for the resolver.
struct Memory<'a> {
    package: &'a str,
    files: BTreeMap<PathBuf, &'a str>,
}

impl Memory<'_> {
    fn root() -> PathBuf {
        PathBuf::from("/project")
    }
}

impl Workspace for Memory<'_> {
    fn locate_crate(&self, dir: &Path) -> Result<CrateInfo, CrateError> {
        if dir != Path::new(".") {
            return Err(CrateError::NoDirectory(dir.to_path_buf()));
        }
        Ok(CrateInfo {
            package: self.package.to_string(),
            lib_name: self.package.replace('-', "_"),
            manifest_dir: Self::root(),
            lib_path: Self::root().join("src/lib.rs"),
            build_script: None,
            edition: "2021".into(),
            features: Vec::new(),
        })
    }

    fn read(&self, path: &Path) -> Option<String> {
        self.files.get(path).map(|text| text.to_string())
    }
}

fn environment() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| internal(&e))?;
    env.set_syntax(syntax);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // minijinja would escape `*.yaml.j2` output as JSON; the filters below escape instead.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("yaml_str", |s: String| yaml_str(&s));
    // TOML basic strings accept JSON's escapes.
    env.add_filter("toml_str", |s: String| {
        serde_json::to_string(&s).unwrap_or_default()
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|e| Error::Internal(format!("template `init/{name}`: {e}")))?;
    }
    Ok(env)
}

fn render(env: &Environment, name: &str, ctx: minijinja::Value) -> Result<String, Error> {
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| Error::Internal(format!("template `init/{name}`: {e:#}")))
}

/// A YAML scalar that reads back as the string `text`: plain when it is a name that YAML 1.2's
/// core schema keeps a string (`my-app`, but not `null` or `true`), else double-quoted (JSON's
/// string escapes are YAML's).
fn yaml_str(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !["null", "true", "false"].contains(&text);
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_project_checks_and_generates_without_a_warning() {
        for name in ["demo", "my-app-2", "null", "true", "std", "flash-runtime"] {
            let project = project(name, "0.0.0").unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(project.name, name);
            let flash_yaml = &project.files[0].contents;
            assert!(flash_yaml
                .starts_with("# yaml-language-server: $schema=.flash/flash.schema.json\n"));
            let root = crate::load::load(flash_yaml.as_bytes(), Default::default())
                .0
                .unwrap();
            assert_eq!(
                root.get("name").and_then(crate::load::Node::as_str),
                Some(name)
            );
        }
    }

    #[test]
    fn names_are_judged_by_the_project_name_rule() {
        let Err(Error::Name {
            message,
            suggestion,
        }) = project("My App", "0.0.0")
        else {
            panic!("`My App` is not a project name");
        };
        assert!(message.contains("My App"), "{message}");
        assert_eq!(suggestion.as_deref(), Some("my-app"));
        for bad in ["", "1st", "a--b", "x\ny: 1", "\"", "a-", &"a".repeat(64)] {
            assert!(
                matches!(project(bad, "0.0.0"), Err(Error::Name { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keywords_and_dependencies_get_a_package_name_of_their_own() {
        assert_eq!(package_name("demo"), "demo");
        assert_eq!(package_name("fn"), "fn-handlers");
        assert_eq!(package_name("serde"), "serde-handlers");
        assert_eq!(package_name("flash-runtime"), "flash-runtime-handlers");
        let project = project("true", "0.0.0").unwrap();
        assert!(project.files[0].contents.contains("\nname: \"true\"\n"));
        assert!(project.files[1]
            .contents
            .contains("name = \"true-handlers\"\n"));
    }

    #[test]
    fn directory_names_become_project_names() {
        for (dir, name) in [
            ("demo", Some("demo")),
            ("My_Project 2", Some("my-project-2")),
            ("2024-report", Some("report")),
            ("--x--y--", Some("x-y")),
            ("café", Some("caf")),
            ("123", None),
            ("..", None),
            ("", None),
        ] {
            assert_eq!(nearest_name(dir).as_deref(), name, "{dir:?}");
        }
        let long = nearest_name(&format!("{}-b", "a".repeat(62))).unwrap();
        assert_eq!(long, "a".repeat(62));
        for dir in ["Hello World", "x_y", &"b".repeat(100)] {
            let name = nearest_name(dir).unwrap();
            assert!(project(&name, "0.0.0").is_ok(), "{dir} → {name}");
        }
    }

    #[test]
    fn steps_align_their_comments() {
        let steps = [
            Step {
                command: "a".into(),
                comment: Some("one"),
            },
            Step {
                command: "abc".into(),
                comment: Some("two"),
            },
            Step {
                command: "a much longer line".into(),
                comment: None,
            },
        ];
        assert_eq!(
            format_steps(&steps),
            "a    # one\nabc  # two\na much longer line\n"
        );
    }
}
