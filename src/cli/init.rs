//! `flashc init`: writes a new project (rendered by [`flashc::scaffold`]) into a directory.
//!
//! Exit codes, as the table in main.rs: 0 created; 1 files are in the way (each listed,
//! nothing written); 2 usage error (an invalid `--name`, or a directory name no project name
//! can be made from); 3 I/O failure, or a bug (the rendered project does not check).

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use flashc::scaffold;

use crate::cli::{EXIT_FAILURE, EXIT_PROBLEMS, EXIT_USAGE};

#[derive(clap::Args)]
pub struct Args {
    /// The directory of the new project; created if missing.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The project's name (`name:` in flash.yaml): lowercase letters, digits and `-`. Default:
    /// the directory's name, made into one (`My_App` → `my-app`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Overwrite files that exist (without it, init writes nothing when any of its files exists).
    #[arg(long)]
    force: bool,
}

pub fn run(args: &Args) -> ExitCode {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => match default_name(&args.dir) {
            Ok(name) => name,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    if args.dir.exists() && !args.dir.is_dir() {
        eprintln!("error: {} is not a directory", args.dir.display());
        return ExitCode::from(EXIT_USAGE);
    }
    let project = match scaffold::project(&name, env!("CARGO_PKG_VERSION")) {
        Ok(project) => project,
        Err(scaffold::Error::Name {
            message,
            suggestion,
        }) => {
            eprintln!("error: --name: {message}");
            match suggestion {
                Some(name) => eprintln!("help: pass `--name {name}`"),
                None => eprintln!(
                    "help: a project name is lowercase letters, digits and `-`, starting with a letter"
                ),
            }
            return ExitCode::from(EXIT_USAGE);
        }
        Err(scaffold::Error::Internal(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    // Everything in the way is found before anything is written.
    let mut existing = Vec::new();
    let mut blocked = Vec::new();
    for file in &project.files {
        match obstacle(&args.dir, file.path) {
            Obstacle::None => {}
            Obstacle::File => existing.push(file.path),
            Obstacle::Blocked(why) => blocked.push(format!("{}: {why}", file.path)),
        }
    }
    if !blocked.is_empty() || (!existing.is_empty() && !args.force) {
        let shown = show_dir(&args.dir);
        if !existing.is_empty() && !args.force {
            eprintln!(
                "error: {} already exist{} in {shown}; nothing was written:",
                plural(existing.len(), "file"),
                if existing.len() == 1 { "s" } else { "" },
            );
            for path in &existing {
                eprintln!("  {path}");
            }
        }
        if !blocked.is_empty() {
            eprintln!("error: in {shown}, these files cannot be written; nothing was written:");
            for line in &blocked {
                eprintln!("  {line}");
            }
        }
        if blocked.is_empty() {
            eprintln!(
                "help: `flashc init --force` overwrites them, or choose another directory: `flashc init DIR`"
            );
        }
        return ExitCode::from(EXIT_PROBLEMS);
    }

    for file in &project.files {
        let target = args.dir.join(file.path);
        // A file in the way (only with --force) is replaced, a link too: never written through.
        let replace = if existing.contains(&file.path) {
            std::fs::remove_file(&target)
        } else {
            Ok(())
        };
        let written = replace
            .and_then(|()| target.parent().map_or(Ok(()), std::fs::create_dir_all))
            .and_then(|()| std::fs::write(&target, &file.contents));
        if let Err(err) = written {
            eprintln!("error: cannot write {}: {err}", target.display());
            return ExitCode::from(EXIT_FAILURE);
        }
    }

    let mut out = format!(
        "created project `{}` in {}:\n",
        project.name,
        show_dir(&args.dir)
    );
    for file in &project.files {
        let overwritten = if existing.contains(&file.path) {
            "  (overwritten)"
        } else {
            ""
        };
        out.push_str(&format!("  {}{overwritten}\n", file.path));
    }
    out.push_str("\nnext:\n");
    let mut steps = project.next_steps.clone();
    if !is_here(&args.dir) {
        steps.insert(
            0,
            scaffold::Step {
                command: format!("cd {}", shell_path(&args.dir.to_string_lossy())),
                comment: None,
            },
        );
    }
    for line in scaffold::format_steps(&steps).lines() {
        out.push_str(&format!("  {line}\n"));
    }
    crate::cli::emit(&out)
}

enum Obstacle {
    None,
    /// A file (or a link) is at the path: overwritten with `--force`.
    File,
    /// Something no `--force` should remove: a directory where the file goes, or a file where
    /// one of its directories goes.
    Blocked(&'static str),
}

fn obstacle(dir: &Path, path: &str) -> Obstacle {
    let target = dir.join(path);
    // Parents inside the project (`src`, `.flash`) must be directories or absent.
    let mut parent = dir.to_path_buf();
    let components: Vec<_> = Path::new(path).components().collect();
    for component in &components[..components.len().saturating_sub(1)] {
        parent.push(component);
        match std::fs::metadata(&parent) {
            Ok(meta) if !meta.is_dir() => return Obstacle::Blocked("a parent is not a directory"),
            Ok(_) => {}
            Err(_) => return Obstacle::None,
        }
    }
    match std::fs::symlink_metadata(&target) {
        Err(_) => Obstacle::None,
        Ok(meta) if meta.is_dir() => Obstacle::Blocked("a directory is in its place"),
        Ok(_) => Obstacle::File,
    }
}

/// The directory's name, made into a project name.
fn default_name(dir: &Path) -> Result<String, String> {
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?
            .join(dir)
    };
    // `.` and `..` are resolved by name, so a directory that does not exist yet works too.
    let mut clean = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let dir_name = clean
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    scaffold::nearest_name(&dir_name).ok_or_else(|| {
        format!(
            "no project name can be made from the directory name `{dir_name}`; pass one with `--name` (lowercase letters, digits and `-`, starting with a letter)"
        )
    })
}

fn is_here(dir: &Path) -> bool {
    dir.components().all(|c| matches!(c, Component::CurDir))
}

/// A path as one shell word that no command reads as an option: a relative path starting
/// with `-` (`flashc init -- -rf`) gets `./` in front, then the word is quoted as needed.
fn shell_path(path: &str) -> String {
    if path.starts_with('-') {
        crate::cli::input::shell_quote(&format!("./{path}"))
    } else {
        crate::cli::input::shell_quote(path)
    }
}

fn show_dir(dir: &Path) -> String {
    if is_here(dir) {
        "the current directory".to_string()
    } else {
        dir.display().to_string()
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
