//! The flashc command line. The only place that reads files, writes output and decides
//! exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | no problems (warnings allowed unless `--deny warnings`); generated; output up to date; `init` created the project; `dev` stopped after Ctrl+C |
//! | 1 | problems found (generate writes nothing); `generate --check`: the output is stale; `init`: files in the way (nothing written) |
//! | 2 | usage error (bad arguments, unknown environment or code, `--out` outside the project, `dev`'s port busy) |
//! | 3 | I/O or internal failure; `--out` is a directory flashc did not write |

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod cli;
use flashc::diagnostic::Severity;
use flashc::render::{self, SourceFile};

pub(crate) const EXIT_PROBLEMS: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
pub(crate) const EXIT_FAILURE: u8 = 3;

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
    /// Generate the worker crates, Dockerfiles and route manifest (into `.flash/`).
    Generate(GenerateArgs),
    /// Print the JSON Schema of flash.yaml (`--manifest`: of flash_manifest.json).
    Schema {
        /// The schema of the route manifest `flashc generate` writes.
        #[arg(long)]
        manifest: bool,
    },
    /// Start a new project: flash.yaml, a handler crate with tests, ignore files and a README.
    Init(cli::init::Args),
    /// Run every endpoint locally on one port, rebuilding and swapping on every change.
    Dev(cli::dev::Args),
    /// The language server (LSP over stdio): diagnostics, fixes, hover and completion in editors.
    Lsp(cli::lsp::Args),
    /// Plan and apply flash.yaml's endpoints on Runpod (REST v2); `--plan` changes nothing.
    Deploy(cli::deploy::DeployArgs),
    /// The deployed endpoints against the deploy record: drift, rollout, workers.
    Status(cli::deploy::StatusArgs),
    /// Re-apply a recorded deployment (default: the one before the last).
    Rollback(cli::deploy::RollbackArgs),
    /// Scale to zero and delete the endpoints this project owns.
    Destroy(cli::deploy::DestroyArgs),
    /// An offline Runpod REST v2 control plane on 127.0.0.1, for tests and rehearsals.
    Emulate(cli::emulate::Args),
    /// Build every endpoint's image, tagged by content; `--push REGISTRY` pushes it and records
    /// its digest for deploy.
    Build(cli::deploy::BuildArgs),
    /// Runpod's catalogue snapshot (GPU types, CPU flavors, data centers) check reads.
    Catalog(cli::deploy::CatalogArgs),
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
    /// The file to check, or a directory holding flash.yaml; `-` reads standard input (for
    /// editors). Without one, flash.yaml is looked for here and in the parent directories.
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
    /// Check flash.yaml alone: do not locate the handler crate or look handlers up.
    #[arg(long)]
    no_crate: bool,
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// The flash.yaml to generate from, or its directory; the output goes beside it. Without
    /// one, flash.yaml is looked for here and in the parent directories.
    #[arg(default_value = "flash.yaml")]
    file: PathBuf,
    /// Apply this environment overlay.
    #[arg(long = "env", value_name = "NAME")]
    environment: Option<String>,
    /// The output directory, relative to the directory of flash.yaml.
    #[arg(long, value_name = "DIR", default_value = ".flash")]
    out: String,
    /// Write nothing; exit 1 when the output on disk is not what generate would write (for CI).
    #[arg(long)]
    check: bool,
    /// Colour for diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// What to generate: Runpod workers (crates, Dockerfiles, manifest), or Kubernetes
    /// manifests (a kustomize base and an overlay per environment, in `<out>/kubernetes/`).
    #[arg(long, value_enum, default_value_t = cli::generate::Target::Runpod)]
    target: cli::generate::Target,
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
        Command::Generate(args) => generate(&args),
        Command::Schema { manifest: false } => emit(&flashc::schema::generate_text()),
        Command::Schema { manifest: true } => emit(&flashc::emit::manifest_schema_text()),
        Command::Explain { code, all } => explain(code.as_deref(), all),
        Command::Init(args) => cli::init::run(&args),
        Command::Dev(args) => cli::dev::run(&args),
        Command::Lsp(args) => cli::lsp::run(&args),
        Command::Deploy(args) => cli::deploy::deploy(&args),
        Command::Status(args) => cli::deploy::status(&args),
        Command::Rollback(args) => cli::deploy::rollback(&args),
        Command::Destroy(args) => cli::deploy::destroy(&args),
        Command::Emulate(args) => cli::emulate::run(&args),
        Command::Build(args) => cli::deploy::build(&args),
        Command::Catalog(args) => cli::deploy::catalog(&args),
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let stdin = args.file.as_os_str() == "-";
    let file = if stdin {
        args.file.clone()
    } else {
        locate(&args.file)
    };
    let args = &CheckArgs {
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
        let workspace = cli::workspace::FsWorkspace::new(&project_dir);
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

fn generate(args: &GenerateArgs) -> ExitCode {
    let file = locate(&args.file);
    let args = &GenerateArgs {
        file,
        environment: args.environment.clone(),
        out: args.out.clone(),
        ..*args
    };
    let out_dir = match cli::generate::check_out_dir(&args.out) {
        Ok(out) => out,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let project = args
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let round = cli::generate::Round {
        file: &args.file,
        project: &project,
        environment: args.environment.as_deref(),
        out_dir: &out_dir,
        color,
        dry_run: args.check,
    };
    if args.target == cli::generate::Target::Kubernetes {
        return cli::kubernetes::command(&round);
    }
    let (generated, changes) = match cli::generate::run(&round) {
        Ok(produced) => (produced.generated, produced.changes),
        Err(cli::generate::Stopped::Unreadable) => return ExitCode::from(EXIT_FAILURE),
        Err(cli::generate::Stopped::UnknownEnvironment(unknown)) => {
            eprintln!("error: {unknown}");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(cli::generate::Stopped::Problems) => {
            let name = args.file.display();
            eprintln!("error: nothing generated: fix the problems above (`flashc check {name}`)");
            return ExitCode::from(EXIT_PROBLEMS);
        }
        Err(cli::generate::Stopped::Failure(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // Printed through `emit`: a closed pipe (`flashc generate | head -1`) is not a failure.
    let mut out = String::new();
    if args.check {
        if changes.is_empty() {
            out.push_str(&format!("{out_dir} is up to date\n"));
            return emit(&out);
        }
        for path in &changes.written {
            out.push_str(&format!("stale: {path}\n"));
        }
        for path in &changes.removed {
            out.push_str(&format!("stale (would be removed): {path}\n"));
        }
        let _ = emit(&out);
        eprintln!("error: {out_dir} is not what `flashc generate` would write; run it and commit the result");
        return ExitCode::from(EXIT_PROBLEMS);
    }
    let plan = &generated.plan;
    out.push_str(&format!(
        "generated {} endpoint{} of `{}` into {}: {} file{} written, {} removed\n",
        plan.endpoints.len(),
        if plan.endpoints.len() == 1 { "" } else { "s" },
        plan.project,
        project.join(&out_dir).display(),
        changes.written.len(),
        if changes.written.len() == 1 { "" } else { "s" },
        changes.removed.len(),
    ));
    out.push_str(&format!(
        "\nbuild and run an image (from {}):\n",
        project.display()
    ));
    for (i, endpoint) in plan.endpoints.iter().enumerate() {
        // flash.yaml's `env` is set by the platform at deploy, not baked into the image; the
        // local run gets it on the command line (secrets passed through from your shell).
        let env: String = endpoint
            .env
            .iter()
            .map(|(key, value)| match value {
                flashc::lower::EnvPlan::Value { value } => {
                    format!(" -e {key}={}", shell_quote(value))
                }
                flashc::lower::EnvPlan::Secret { .. } => format!(" -e {key}"),
            })
            .collect();
        out.push_str(&format!(
            "  docker build -f {out_dir}/workers/{name}/Dockerfile -t {image} .\n  docker run --rm --network host -e PORT={port}{env} {image}\n",
            name = endpoint.name,
            image = endpoint.image,
            port = flashc::lower::local_port(endpoint.port, i),
        ));
    }
    emit(&out)
}

/// A POSIX shell word for `text`: bare when it is plainly safe, else single-quoted.
fn shell_quote(text: &str) -> String {
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

/// flash.yaml's bytes (standard input for `-`), or `None` after reporting why they cannot be
/// read. At most one byte past the loader's limit is read: enough for it to report the size,
/// and `/dev/zero` or an endless pipe cannot exhaust memory.
fn read_input(path: &std::path::Path, stdin: bool) -> Option<Vec<u8>> {
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
            "{} ({}, {})\n\n{}\n\nSource: {}\n",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            rule.documentation().trim_end(),
            rule.source
        )),
        None => {
            let codes = flashc::rules::ALL.iter().map(|r| r.code);
            let hint = flashc::suggest::did_you_mean(code, codes)
                .unwrap_or_else(|| "codes run from FL0001 to FL0710; see docs/rules.md".into());
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

/// The flash.yaml a command reads: a directory means its `flash.yaml`; the default name, when
/// absent here, is looked for in the parent directories, as cargo finds Cargo.toml.
fn locate(file: &std::path::Path) -> PathBuf {
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
