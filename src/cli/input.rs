//! Reading flash.yaml: where it is, and its bytes, bounded.

use std::path::PathBuf;

/// flash.yaml's bytes (standard input for `-`), or `None` after reporting why they cannot be
/// read. At most one byte past the loader's limit is read: enough for it to report the size,
/// and `/dev/zero` or an endless pipe cannot exhaust memory.
pub fn read_input(path: &std::path::Path, stdin: bool) -> Option<Vec<u8>> {
    let limit = flashc::load::Limits::default().max_bytes as u64 + 1;
    let read = if stdin {
        read_bounded(std::io::stdin(), limit)
    } else {
        std::fs::File::open(path).and_then(|file| read_bounded(file, limit))
    };
    match read {
        Ok(bytes) => Some(bytes),
        Err(err) => {
            let report = miette::miette!(
                help = "pass the path of a flash.yaml (examples/hello/flash.yaml is one)",
                "cannot read {}: {err}",
                path.display()
            );
            eprintln!("{report:?}");
            None
        }
    }
}

pub fn read_bounded(reader: impl std::io::Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut reader.take(limit), &mut bytes)?;
    Ok(bytes)
}

/// The flash.yaml a command reads: a directory means its `flash.yaml`; the default name, when
/// absent here, is looked for in the parent directories, as cargo finds Cargo.toml.
pub fn locate(file: &std::path::Path) -> PathBuf {
    if file.is_dir() {
        return file.join("flash.yaml");
    }
    if file == std::path::Path::new("flash.yaml") && !file.exists() {
        if let Ok(cwd) = std::env::current_dir() {
            if let Some(found) = cwd
                .ancestors()
                .map(|dir| dir.join("flash.yaml"))
                .find(|candidate| candidate.is_file())
            {
                return found;
            }
        }
    }
    file.to_path_buf()
}

// Checking allocates many small nodes; mimalloc makes that markedly cheaper than glibc's
// malloc (measured in benches/check.rs, which uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A POSIX shell word for `text`: bare when it is plainly safe, else single-quoted.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
