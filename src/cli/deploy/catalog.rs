//! `flashc catalog refresh`: reads Runpod's `/v2/catalog/datacenters`, `/gpus` and `/cpus`
//! (through `RUNPOD_API_BASE_URL` and `RUNPOD_API_KEY`, as deploy does), checks each answer
//! against the vendored OpenAPI document, and writes the snapshot check reads
//! (`catalog/runpod-catalog.json` in flashc's repository; rebuild flashc to use it).

use std::path::PathBuf;
use std::process::ExitCode;

use flashc::model::catalog;

#[derive(clap::Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    command: CatalogCommand,
}

#[derive(clap::Subcommand)]
enum CatalogCommand {
    /// Fetch `/v2/catalog/*` and write the dated snapshot.
    Refresh {
        /// Where to write it.
        #[arg(long, default_value = "catalog/runpod-catalog.json")]
        out: PathBuf,
    },
}

pub fn catalog(args: &CatalogArgs) -> ExitCode {
    let CatalogCommand::Refresh { out } = &args.command;
    let client = match super::client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut answers = Vec::new();
    for (path, schema) in [
        ("/v2/catalog/datacenters", "/v2/catalog/datacenters"),
        ("/v2/catalog/gpus", "/v2/catalog/gpus"),
        ("/v2/catalog/cpus", "/v2/catalog/cpus"),
    ] {
        let value = match client.get(path) {
            Ok(v) => v,
            Err(e) => return super::fail(format!("GET {path}: {e}")),
        };
        if let Some(schema) = flashc::deploy::openapi::operation_schema("get", schema, Some(200)) {
            if let Err(errors) = flashc::deploy::openapi::validate_ref(&schema, &value) {
                return super::fail(format!(
                    "GET {path}: the answer does not match the OpenAPI document:\n  {}",
                    errors.join("\n  ")
                ));
            }
        }
        answers.push(value);
    }
    let today = super::super::emulate::control::now_rfc3339();
    let source = format!(
        "{}/v2/catalog/{{datacenters,gpus,cpus}}, fetched by flashc catalog refresh; CUDA versions kept from the previous snapshot (the catalogue lists none)",
        client.base()
    );
    let fresh = match catalog::from_api(
        &answers[0],
        &answers[1],
        &answers[2],
        &today[..10],
        &source,
        catalog::snapshot(),
    ) {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    if let Err(e) = std::fs::write(out, catalog::to_text(&fresh)) {
        return super::fail(format!("cannot write {}: {e}", out.display()));
    }
    println!(
        "wrote {}: {} data centers, {} GPU types, {} CPU flavors (taken {})",
        out.display(),
        fresh.data_centers.len(),
        fresh.gpu_types.len(),
        fresh.cpu_flavors.len(),
        fresh.taken_at
    );
    ExitCode::SUCCESS
}
