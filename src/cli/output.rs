//! Putting generated files on disk so that no run, however it ends, leaves a file half written,
//! unformatted or written somewhere else:
//!
//! - every file is written to a fresh sibling and renamed over its place: an interrupted run
//!   leaves the old file or the new one, and a symbolic link at the place is replaced, never
//!   followed; directories on the way are created without following links either;
//! - rendered Rust is formatted (rustfmt, all files in one batch) before it is renamed into
//!   place, and its first line then records a hash of the formatted text below it, so a file is
//!   known current by its whole contents without formatting again (see [`is_current`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use flashc::emit::{fingerprint, OutputFile};

/// A failure that stops generation (exit code 3).
pub struct WriteError(pub String);

fn io_error(path: &Path, err: std::io::Error) -> WriteError {
    WriteError(format!("cannot write {}: {err}", path.display()))
}

/// The bytes of the regular file at `path`; `None` when there is none (a symbolic link is
/// not a file flashc reads as its own output).
pub fn read_regular(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    std::fs::read(path).ok()
}

pub fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink())
}

pub(crate) fn first_line(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == b'\n').next().unwrap_or(bytes)
}

/// What a rendered Rust file's first line becomes once `body` (everything after it, formatted)
/// is known: its fingerprint line with the hash of the body added.
fn stamped_line(rendered_line: &[u8], body: &[u8]) -> Vec<u8> {
    let formatted = format!("formatted {:016x}", fingerprint(body));
    let mut line = rendered_line.to_vec();
    if line.last() == Some(&b')') {
        line.pop();
        line.extend_from_slice(format!(", {formatted})").as_bytes());
    } else {
        line.extend_from_slice(format!(" ({formatted})").as_bytes());
    }
    line
}

/// Whether `disk` is what writing `file` produces. Rust is compared by its first line, which
/// holds the fingerprint of the rendering and the hash of the formatted text below it: an edit
/// anywhere in the file shows.
pub fn is_current(file: &OutputFile, disk: &[u8]) -> bool {
    if !file.rust {
        return disk == file.contents.as_bytes();
    }
    let line = first_line(disk);
    let body = disk.get(line.len() + 1..).unwrap_or_default();
    line == stamped_line(first_line(file.contents.as_bytes()), body)
}

/// Creates `dir` and its missing parents. Below `owned` (the output directory, all flashc's) a
/// symbolic link on the way is removed and a directory made in its place; between `project` and
/// `owned` (inclusive), and anywhere outside `owned`, a link is refused.
pub fn create_dirs(project: &Path, owned: &Path, dir: &Path) -> Result<(), WriteError> {
    let Ok(below) = dir.strip_prefix(project) else {
        return Err(WriteError(format!(
            "{} is outside the project",
            dir.display()
        )));
    };
    let mut path = project.to_path_buf();
    for component in below.components() {
        path.push(component);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_symlink() => {
                if path.starts_with(owned) && path != owned {
                    std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
                    std::fs::create_dir(&path).map_err(|e| io_error(&path, e))?;
                } else {
                    return Err(link_refused(&path));
                }
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(WriteError(format!(
                    "cannot write into {}: it is a file, not a directory",
                    path.display()
                )))
            }
            Err(_) => std::fs::create_dir(&path).map_err(|e| io_error(&path, e))?,
        }
    }
    Ok(())
}

pub fn link_refused(path: &Path) -> WriteError {
    WriteError(format!(
        "{} is a symbolic link: flashc never writes through one; replace it with a directory or file of its own",
        path.display()
    ))
}

/// The sibling a file is written to before it is renamed into place.
fn staging_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.flashc-tmp"))
}

/// Removes what an interrupted write may have left beside `target`.
pub fn remove_staging(target: &Path) {
    let _ = std::fs::remove_file(staging_path(target));
}

fn stage(target: &Path, bytes: &[u8]) -> Result<PathBuf, WriteError> {
    use std::io::Write;
    let staging = staging_path(target);
    match std::fs::remove_file(&staging) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&staging, e)),
    }
    // `create_new`: a link planted at the staging name is not followed either.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&staging)
        .map_err(|e| io_error(&staging, e))?;
    file.write_all(bytes).map_err(|e| io_error(&staging, e))?;
    Ok(staging)
}

fn place(staging: &Path, target: &Path) -> Result<(), WriteError> {
    std::fs::rename(staging, target).map_err(|e| io_error(target, e))
}

/// Writes `bytes` at `target` by renaming a fresh file over it (a link there is replaced).
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let staging = stage(target, bytes)?;
    place(&staging, target)
}

/// One file to write: what was rendered and where it goes.
pub struct Pending<'a> {
    pub file: &'a OutputFile,
    pub target: PathBuf,
    /// The template it was rendered from, named when the rendered Rust does not parse.
    pub template: Option<String>,
}

/// Writes `pending` (directories exist). Rust files are staged, formatted together, given their
/// stamped first line and only then renamed into place. Returns a warning when rustfmt could
/// not run (the Rust is then written as rendered).
pub fn write_all(pending: &[Pending]) -> Result<Option<String>, WriteError> {
    // Rust first: a rendering that does not parse stops the run before anything is written.
    let mut rust = Vec::new();
    for p in pending.iter().filter(|p| p.file.rust) {
        rust.push((p, stage(&p.target, p.file.contents.as_bytes())?));
    }
    let staged: Vec<PathBuf> = rust.iter().map(|(_, s)| s.clone()).collect();
    let warning = match rustfmt(&staged) {
        Ok(()) => None,
        Err(Rustfmt::Unavailable(warning)) => Some(warning),
        Err(Rustfmt::Invalid(stderr)) => {
            for (_, s) in &rust {
                let _ = std::fs::remove_file(s);
            }
            let culprit = rust
                .iter()
                .find(|(_, s)| stderr.contains(&*s.to_string_lossy()))
                .map(|(p, _)| *p);
            // rustfmt names the staged files: name their places instead.
            let mut stderr = stderr;
            for (p, s) in &rust {
                stderr = stderr.replace(&*s.to_string_lossy(), &p.file.path);
            }
            return Err(WriteError(match culprit {
                Some(p) => format!(
                    "the Rust rendered into {}{} does not parse, so nothing of it is written (fix the template):\n{}",
                    p.file.path,
                    p.template
                        .as_deref()
                        .map(|t| format!(" from {t}"))
                        .unwrap_or_default(),
                    stderr.trim_end()
                ),
                None => format!(
                    "rustfmt failed on the generated Rust:\n{}",
                    stderr.trim_end()
                ),
            }));
        }
    };
    for p in pending.iter().filter(|p| !p.file.rust) {
        write_file(&p.target, p.file.contents.as_bytes())?;
    }
    for (p, staging) in &rust {
        let formatted = std::fs::read(staging).map_err(|e| io_error(staging, e))?;
        let line = first_line(&formatted);
        let body = formatted.get(line.len() + 1..).unwrap_or_default();
        let mut stamped = stamped_line(first_line(p.file.contents.as_bytes()), body);
        stamped.push(b'\n');
        stamped.extend_from_slice(body);
        std::fs::write(staging, &stamped).map_err(|e| io_error(staging, e))?;
        place(staging, &p.target)?;
    }
    Ok(warning)
}

enum Rustfmt {
    /// rustfmt is missing or did not run: the Rust stays as rendered.
    Unavailable(String),
    /// rustfmt reported an error in one of the files (its stderr).
    Invalid(String),
}

/// Formats `paths` in place: one rustfmt process per core, each given a share of the files
/// (rustfmt itself formats one file at a time).
fn rustfmt(paths: &[PathBuf]) -> Result<(), Rustfmt> {
    if paths.is_empty() {
        return Ok(());
    }
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let share = paths.len().div_ceil(cores.min(paths.len()));
    let children: Vec<_> = paths
        .chunks(share)
        .map(|chunk| {
            Command::new(&rustfmt)
                .args(["--edition", "2021"])
                .args(chunk)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .collect();
    let mut result = Ok(());
    for child in children {
        let outcome = child.and_then(std::process::Child::wait_with_output);
        match outcome {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                let named = paths.iter().any(|p| stderr.contains(&*p.to_string_lossy()));
                if result.is_ok() || named {
                    result = Err(if named {
                        Rustfmt::Invalid(stderr)
                    } else {
                        Rustfmt::Unavailable(format!(
                            "rustfmt exited with {}: {}; the generated Rust is written unformatted",
                            out.status,
                            stderr.trim()
                        ))
                    });
                }
            }
            Err(err) => {
                if result.is_ok() {
                    result = Err(Rustfmt::Unavailable(format!(
                        "rustfmt could not run ({err}); the generated Rust is written unformatted (`rustup component add rustfmt`)"
                    )));
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rust(contents: &str) -> OutputFile {
        OutputFile {
            path: "x.rs".into(),
            contents: contents.into(),
            owner: flashc::emit::Owner::Generated,
            rust: true,
        }
    }

    #[test]
    fn a_rust_file_is_current_by_its_whole_contents() {
        let file = rust("// generated by flashc (fingerprint 01)\nfn  main(){}\n");
        let body = b"fn main() {}\n";
        let mut disk = stamped_line(b"// generated by flashc (fingerprint 01)", body);
        assert!(disk.starts_with(b"// generated by flashc (fingerprint 01, formatted "));
        disk.push(b'\n');
        disk.extend_from_slice(body);
        assert!(is_current(&file, &disk));
        let mut edited = disk.clone();
        edited.extend_from_slice(b"fn more() {}\n");
        assert!(!is_current(&file, &edited));
        let other = rust("// generated by flashc (fingerprint 02)\nfn  main(){}\n");
        assert!(!is_current(&other, &disk));
    }
}
