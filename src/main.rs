//! The flashc command line: its arguments (clap) and the dispatch to `cli/`, where every
//! command lives (exit codes: `cli/mod.rs`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

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
    Check(cli::check::Args),
    /// Generate the worker crates, Dockerfiles and route manifest (into `.flash/`).
    Generate(cli::generate::Args),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => cli::check::run(&args),
        Command::Generate(args) => cli::generate::command(&args),
        Command::Schema { manifest: false } => cli::emit(&flashc::schema::generate_text()),
        Command::Schema { manifest: true } => cli::emit(&flashc::emit::manifest_schema_text()),
        Command::Explain { code, all } => cli::explain::explain(code.as_deref(), all),
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
