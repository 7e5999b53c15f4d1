//! Every rule that offers a fix in its help (the cases of `tests/ui.rs`'s
//! `helps_lead_to_a_correct_file`): a quick fix exists and applying it checks clean.

use super::*;

const QUEUE: &str =
    "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n";
const BALANCED: &str =
    "version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    routes:\n      \"GET /x\": a::b\n";

fn q(extra: &str) -> String {
    format!("{QUEUE}{extra}")
}
fn b(extra: &str) -> String {
    format!("{BALANCED}{extra}")
}

/// (file, code, codes left after the fix).
fn cases() -> Vec<(String, &'static str, &'static [&'static str])> {
    vec![
        ("version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    routes:\n      \"GET /x\": a::b\n".into(), "FL0203", &[]),
        ("version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    handler: a::b\n".into(), "FL0203", &[]),
        (q("    dependencies: [torch]\n"), "FL0101", &[]),
        (q("    execution_timeout_ms: 60000\n"), "FL0101", &[]),
        (q("    execution_timeout_ms: 1500\n"), "FL0101", &[]),
        (q("    workers: (1, 3)\n"), "FL0102", &[]),
        (q("    workers: 1-3\n"), "FL0102", &[]),
        (q("    gpu: GpuGroup.ADA_24\n"), "FL0103", &[]),
        (q("    gpu: GpuType.NVIDIA_L4\n"), "FL0103", &[]),
        (q("    cpu: CpuInstanceType.CPU3C_1_2\n"), "FL0103", &[]),
        (q("    datacenters: [DataCenter.EU_RO_1]\n"), "FL0103", &[]),
        (BALANCED.replacen("load_balanced", "LB", 1), "FL0103", &[]),
        (QUEUE.replacen("queue", "QB", 1), "FL0103", &[]),
        (QUEUE.replacen("version: 1", "version: \"1\"", 1), "FL0102", &[]),
        (q("    idle_timeout: 2h\n"), "FL0104", &[]),
        (q("    idle_timeout: 5 minutes\n"), "FL0403", &[]),
        (q("    min_cuda_version: 12.10\n"), "FL0005", &["FL0103"]),
        (q("    worker: 3\n"), "FL0101", &[]),
        (q("    env:\n      model-id: bert\n"), "FL0502", &[]),
        (q("    env:\n      HF_TOKEN: hf_abc\n"), "FL0503", &[]),
        (q("    flashboot: yes\n"), "FL0102", &[]),
        (q("    gpu_count: \"2\"\n"), "FL0102", &[]),
        (b("    scaler: {type: QUEUE_DELAY, value: 4}\n"), "FL0402", &[]),
        (QUEUE.replacen("name: demo", "name: My App", 1), "FL0601", &[]),
        (QUEUE.replacen("  api:", "  Api_1:", 1), "FL0201", &[]),
        (b("      \"GET /ping\": a::c\n"), "FL0207", &[]),
        (b("      \"get /y\": a::c\n"), "FL0205", &[]),
        (b("      \"GET /users/{id\": a::c\n"), "FL0206", &[]),
        (b("      \"GET /y\": a-b\n"), "FL0204", &[]),
        (q("    workers: [3, 1]\n"), "FL0401", &[]),
        (q("    workers: {min: 0, max: 0}\n"), "FL0401", &[]),
        (q("    cpu: cpu3c-1-2\n    container_disk: 50\n"), "FL0306", &[]),
        (q("    gpu: BLACKWELL_96\n    min_cuda_version: \"12.4\"\n"), "FL0303", &[]),
        (q("    volume: {size: 100}\n"), "FL0501", &[]),
        (q("    cpu: cpu5c-2-4\n    datacenters: [US-KS-2]\n"), "FL0305", &[]),
        (q("    image: {base: \"Debian Bookworm\"}\n"), "FL0505", &[]),
        (q("    gpu: ADA_24\n    cpu: cpu3c-1-2\n"), "FL0301", &[]),
        (q("    cpu: cpu3c-1-2\n    gpu_count: 2\n"), "FL0302", &[]),
        (b("    max_concurrency: 4\n"), "FL0203", &[]),
    ]
}

fn check(text: &str) -> Vec<Diagnostic> {
    crate::check(text.as_bytes(), None).unwrap_or_default()
}

#[test]
fn every_help_with_a_replacement_is_a_fix_that_checks_clean() {
    let mut failures = Vec::new();
    for (before, code, then) in cases() {
        let doc = Document::new(before.clone());
        let all = check(&before);
        let Some(d) = all.iter().find(|d| d.code == code) else {
            failures.push(format!("{before:?}: no {code} in {all:#?}"));
            continue;
        };
        let found = fixes(&doc, d, &all, &check);
        let results: Vec<(String, Vec<&str>)> = found
            .iter()
            .map(|f| {
                let after = apply(&before, &f.edit);
                let codes = check(&after).iter().map(|d| d.code).collect();
                (after, codes)
            })
            .collect();
        if !results.iter().any(|(_, codes)| codes == then) {
            failures.push(format!(
                "{before:?} {code} (help {:?}): fixes {found:?} give {results:?}",
                d.help
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_help_without_a_replacement_offers_nothing() {
    let text = q("    gpu: ADA_24\n");
    let doc = Document::new(text.clone());
    let all = check(&text);
    for d in &all {
        for f in fixes(&doc, d, &all, &check) {
            assert!(check(&apply(&text, &f.edit)).len() < all.len(), "{f:?}");
        }
    }
}
