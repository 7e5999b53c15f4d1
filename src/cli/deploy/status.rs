//! `flashc status`: the last recorded deployment against the live endpoints: drift (any field
//! changed outside flashc, a missing endpoint), each endpoint's version and rollout, and its
//! workers with the GPU type each landed on.

use std::process::ExitCode;

use flashc::deploy;
use flashc::deploy::body::EndpointBody;

use super::{apply, fail, record, Format, StatusArgs, EXIT_PENDING};

pub fn status(args: &StatusArgs) -> ExitCode {
    let (project, client) = match args.target.project_and_client() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let record = match record::read(&project.dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let Some(last) = record
        .environments
        .get(&project.owner)
        .and_then(|h| h.last())
    else {
        return fail(format!(
            "{} records no deployment of this environment",
            record::FILE
        ));
    };
    let live = match apply::list(&client) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut drift = false;
    let mut report = Vec::new();
    for (name, applied) in &last.endpoints {
        let recorded: EndpointBody =
            serde_json::from_value(applied.request.clone()).unwrap_or_default();
        let entry = match live.iter().find(|l| l.id == applied.id) {
            None => {
                drift = true;
                serde_json::json!({"endpoint": name, "id": applied.id, "state": "missing"})
            }
            Some(l) => {
                let fields: Vec<String> = deploy::plan::diff(&recorded, &l.body)
                    .into_iter()
                    .map(|f| f.field)
                    .collect();
                drift |= !fields.is_empty();
                let releases = client
                    .get(&format!("/v2/serverless/{}/releases", applied.id))
                    .unwrap_or_default();
                let workers = client
                    .get(&format!("/v2/serverless/{}/workers", applied.id))
                    .unwrap_or_default();
                serde_json::json!({
                    "endpoint": name,
                    "id": applied.id,
                    "state": if fields.is_empty() { "as recorded" } else { "drifted" },
                    "drift": fields,
                    "endpointVersion": releases["endpointVersion"],
                    "recordedVersion": applied.endpoint_version,
                    "rollout": releases["rollout"],
                    "workers": workers["workers"],
                })
            }
        };
        report.push(entry);
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "deployment": last.number,
                "endpoints": report,
                "drift": drift,
            }))
            .unwrap_or_default()
        ),
        Format::Human => {
            println!(
                "deployment {} ({}, {}):",
                last.number, last.source, last.applied_at
            );
            if report.is_empty() {
                println!("  no endpoints recorded live (`flashc deploy` creates them)");
            }
            for e in &report {
                let drifted = e["drift"]
                    .as_array()
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        format!(
                            ": {}",
                            d.iter()
                                .filter_map(|f| f.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "  {} {} {}{drifted}; version {}, rollout {}% on latest",
                    e["endpoint"].as_str().unwrap_or(""),
                    e["id"].as_str().unwrap_or(""),
                    e["state"].as_str().unwrap_or(""),
                    e["endpointVersion"],
                    e["rollout"]["percentOnLatest"]
                );
                for w in e["workers"].as_array().into_iter().flatten() {
                    println!(
                        "    worker {} {} on {}",
                        w["id"].as_str().unwrap_or(""),
                        w["status"].as_str().unwrap_or(""),
                        w["gpuTypeId"].as_str().unwrap_or("(not placed)")
                    );
                }
            }
        }
    }
    if drift {
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    }
}
