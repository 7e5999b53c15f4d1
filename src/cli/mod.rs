//! Every command of the command line (`src/main.rs` only parses arguments and dispatches here),
//! and what touches the machine: reading flash.yaml ([`input`]), the file-system [`workspace`]
//! the resolver reads through, [`generate`]'s writing of the output (and [`kubernetes`]'s, for
//! `--target kubernetes`), and the commands that run things: [`init`], [`dev`], [`lsp`],
//! [`deploy`] and [`emulate`]. Nothing here uses the binary's root: tests/layers.rs holds it.
//!
//! | exit code | meaning |
//! |---|---|
//! | 0 | no problems (warnings allowed unless `--deny warnings`); generated; output up to date; `init` created the project; `dev` stopped after Ctrl+C |
//! | 1 | problems found (generate writes nothing); `generate --check`: the output is stale; `init`: files in the way (nothing written) |
//! | 2 | usage error (bad arguments, unknown environment or code, `--out` outside the project, `dev`'s port busy) |
//! | 3 | I/O or internal failure; `--out` is a directory flashc did not write |
//! | 4 | `deploy --plan`: changes are pending; `status`: the live endpoints drifted from the record |

pub mod check;
pub mod deploy;
pub mod dev;
pub mod emulate;
pub mod explain;
pub mod generate;
pub mod init;
pub mod input;
pub mod kubernetes;
pub mod lsp;
mod lsp_transport;
pub mod output;
pub mod templates;
pub mod workspace;

use std::io::Write as _;
use std::process::ExitCode;

pub(crate) const EXIT_PROBLEMS: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
pub(crate) const EXIT_FAILURE: u8 = 3;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour output for `stream` (a terminal, and `NO_COLOR` unset, for `auto`).
    pub fn enabled(self, stream: &impl std::io::IsTerminal) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => stream.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

/// Writes to stdout; a closed pipe (`flashc schema | head`) is not a failure worth a panic.
pub(crate) fn emit(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| std::io::Write::flush(&mut stdout))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_FAILURE),
    }
}
