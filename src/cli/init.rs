//! `flashc init` (in progress).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> ExitCode {
    eprintln!("error: `flashc init` is not built yet");
    ExitCode::from(3)
}
