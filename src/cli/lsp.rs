//! `flashc lsp` (in progress).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> ExitCode {
    eprintln!("error: `flashc lsp` is not built yet");
    ExitCode::from(3)
}
