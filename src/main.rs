//! The flashc command line. The only place that reads files, writes output and decides
//! exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | no problems (warnings allowed unless `--deny warnings`) |
//! | 1 | problems found |
//! | 2 | usage error (bad arguments, unknown environment or code) |
//! | 3 | I/O or internal failure |

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use flashc::diagnostic::Severity;
use flashc::render::{self, SourceFile};

const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_FAILURE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "flashc",
    version,
    about = "Compile flash.yaml into Runpod serverless workers written in Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate flash.yaml: schema, then semantic rules; every problem with its location.
    Check(CheckArgs),
    /// Print the JSON Schema of flash.yaml.
    Schema,
    /// Print the documentation of a diagnostic code (`flashc explain FL0101`).
    Explain {
        /// A code such as FL0101, or a rule name such as `unknown-key`.
        code: Option<String>,
        /// Print every rule's documentation as markdown (docs/rules.md).
        #[arg(long, conflicts_with = "code")]
        all: bool,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The file to check; `-` reads standard input (for editors).
    #[arg(default_value = "flash.yaml")]
    file: PathBuf,
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Github,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum Deny {
    Warnings,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Schema => emit(&flashc::schema::generate_text()),
        Command::Explain { code, all } => explain(code.as_deref(), all),
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let stdin = args.file.as_os_str() == "-";
    // Read at most one byte past the limit: enough for the loader to report the size, and
    // `/dev/zero` or an endless pipe cannot exhaust memory.
    let limit = flashc::load::Limits::default().max_bytes as u64 + 1;
    let read = if stdin {
        read_bounded(std::io::stdin(), limit)
    } else {
        std::fs::File::open(&args.file).and_then(|file| read_bounded(file, limit))
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(err) => {
            let report = miette::miette!(
                help = "pass the path of a flash.yaml (examples/hello/flash.yaml is one)",
                "cannot read {}: {err}",
                args.file.display()
            );
            eprintln!("{report:?}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let diagnostics = match flashc::check(&bytes, args.environment.as_deref()) {
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
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
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

fn read_bounded(reader: impl std::io::Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut reader.take(limit), &mut bytes)?;
    Ok(bytes)
}

fn explain(code: Option<&str>, all: bool) -> ExitCode {
    if all {
        return emit(&flashc::rules_markdown());
    }
    let Some(code) = code else {
        eprintln!("error: name a code, such as `flashc explain FL0101`, or pass --all");
        return ExitCode::from(EXIT_USAGE);
    };
    match flashc::rules::find(code) {
        Some(rule) => emit(&format!(
            "{} ({}, {})\n\n{}\n",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            rule.documentation().trim_end()
        )),
        None => {
            let codes = flashc::rules::ALL.iter().map(|r| r.code);
            let hint = flashc::suggest::did_you_mean(code, codes)
                .unwrap_or_else(|| "codes run from FL0001 to FL0602; see docs/rules.md".into());
            eprintln!("error: no diagnostic code `{code}`; {hint}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Writes to stdout; a closed pipe (`flashc schema | head`) is not a failure worth a panic.
fn emit(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_FAILURE),
    }
}

// Checking allocates many small nodes; mimalloc makes that markedly cheaper than glibc's
// malloc (measured in benches/check.rs, which uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
