//! Copies of example projects outside this repository, for tests that change files or
//! generate into them: each copy is a crate of its own, as a user's is, rather than a stray
//! member of flashc's workspace.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// A fresh copy of `project` (a directory such as `examples/hello`) in the temporary
/// directory, named after `suite` and `name` (and this process, so parallel runs do not meet).
pub fn scratch_copy(project: &str, suite: &str, name: &str) -> PathBuf {
    let dest = std::env::temp_dir().join(format!("flashc-{suite}-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dest);
    copy_dir(Path::new(project), &dest);
    dest
}

/// Copies a project's sources: everything but what `flashc generate` and cargo write there
/// (`.flash`, `.dockerignore`, `target`), which other tests may have left in the examples.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == ".flash" || name == "target" || name == ".dockerignore" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}
