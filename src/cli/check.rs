//! `flashc check`: one run of the driver over flash.yaml (and the crate), printed in the format
//! asked for; the exit code says whether there were problems.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use flashc::diagnostic::Severity;
use flashc::render::{self, SourceFile};

use super::emit;
use super::input::{locate, read_input};
use super::{Color, EXIT_FAILURE, EXIT_PROBLEMS, EXIT_USAGE};

#[derive(clap::Args)]
pub struct Args {
    /// The file to check, or a directory holding flash.yaml; `-` reads standard input (for
    /// editors). Without one, flash.yaml is looked for here and in the parent directories.
    #[arg(default_value = "flash.yaml")]
    pub file: PathBuf,
    /// Check the base file with this environment overlay applied (default: the base file and every overlay).
    #[arg(long = "env", value_name = "NAME")]
    environment: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors for the exit code (`--deny warnings`).
    #[arg(long, value_enum, value_name = "LEVEL")]
    deny: Option<Deny>,
    /// Colour for human output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Check flash.yaml alone: do not locate the handler crate or look handlers up.
    #[arg(long)]
    no_crate: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Github,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Deny {
    Warnings,
}

pub fn run(args: &Args) -> ExitCode {
    let stdin = args.file.as_os_str() == "-";
    let file = if stdin {
        args.file.clone()
    } else {
        locate(&args.file)
    };
    let args = &Args {
        file,
        environment: args.environment.clone(),
        ..*args
    };
    let Some(bytes) = read_input(&args.file, stdin) else {
        return ExitCode::from(EXIT_FAILURE);
    };
    // The crate is found relative to flash.yaml's directory (standard input: the current one).
    let project_dir = if stdin {
        PathBuf::from(".")
    } else {
        args.file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
    };
    let checked = if args.no_crate {
        flashc::check(&bytes, args.environment.as_deref())
    } else {
        let workspace = super::workspace::FsWorkspace::new(&project_dir);
        flashc::check_with_crate(&bytes, args.environment.as_deref(), &workspace).map(
            |mut diagnostics| {
                // Rust files are shown relative to flash.yaml; make them relative to here.
                flashc::diagnostic::prefix_related_files(
                    &mut diagnostics,
                    &project_dir.to_string_lossy(),
                );
                diagnostics
            },
        )
    };
    let diagnostics = match checked {
        Ok(diagnostics) => diagnostics,
        Err(unknown) => {
            eprintln!("error: {unknown}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        args.file.display().to_string()
    };
    // Snippets need text; a non-UTF-8 file has a located diagnostic and no snippet to show.
    let text = String::from_utf8_lossy(&bytes);
    let source = SourceFile::new(&name, &text);
    let output = match args.format {
        Format::Human => {
            let color = args.color.enabled(&std::io::stdout());
            render::human(&source, &diagnostics, color)
        }
        Format::Json => render::json(&source, &diagnostics),
        Format::Github => render::github(&source, &diagnostics),
        Format::Sarif => render::sarif(&source, &diagnostics),
    };
    if emit(&output) != ExitCode::SUCCESS {
        return ExitCode::from(EXIT_FAILURE);
    }
    let failing = diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error || args.deny.is_some());
    if failing {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    }
}
