//! `flashc check` speed against its baselines, measured in the same run:
//! - `parse_dom`: saphyr loading the file into its spanned DOM (`MarkedYaml`), what "parsing
//!   the file with the YAML parser" means to a user of the parser;
//! - `parse_events`: saphyr-parser's bare event stream, building nothing (a stricter floor);
//! - `check`: the whole check (load, schema, overlays, rules) as a library call;
//! - `process_small`: a whole `flashc check` process on a 5-endpoint file.
//!
//! Targets (issue 2): check ≤ 2× parsing alone and < 60 ms on the 1,000-endpoint × 5-route
//! file; process_small < 10 ms. Figures go in docs/benchmarks.md.

use std::hint::black_box;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};

// The same allocator as the flashc binary, for the baseline and the check alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A valid flash.yaml with `endpoints` load-balanced endpoints of five routes each.
fn generated(endpoints: usize) -> String {
    let mut out = String::from(
        "version: 1\nname: bench\ndefaults:\n  workers: [0, 3]\n  idle_timeout: 120\nendpoints:\n",
    );
    for i in 0..endpoints {
        out.push_str(&format!(
            "  api-{i}:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    datacenters: [EU-RO-1]\n    workers: [0, 4]\n    \
             env:\n      MODEL: model-{i}\n    routes:\n      \"GET /users/{{id}}\": users::get_{i}\n      \
             \"POST /users\": {{ handler: users::create_{i}, timeout: 30s }}\n      \"PUT /users/{{id}}\": users::update\n      \
             \"DELETE /users/{{id}}\": users::delete\n      \"WS /stream/{{room}}\": chat::stream\n"
        ));
    }
    out
}

fn parse_events(text: &str) -> usize {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut events = 0;
    while let Some(Ok(_)) = parser.next_event() {
        events += 1;
    }
    events
}

fn bench(c: &mut Criterion) {
    let large = generated(1000);
    assert!(flashc::check(large.as_bytes(), None)
        .expect("no env")
        .is_empty());
    let mut group = c.benchmark_group("1000x5");
    group.sample_size(30);
    group.bench_function("parse_dom", |b| {
        b.iter(|| {
            use saphyr::LoadableYamlNode;
            saphyr::MarkedYaml::load_from_str(black_box(&large)).map(|docs| docs.len())
        })
    });
    group.bench_function("parse_events", |b| {
        b.iter(|| parse_events(black_box(&large)))
    });
    group.bench_function("check", |b| {
        b.iter(|| flashc::check(black_box(large.as_bytes()), None))
    });
    group.finish();

    let small = std::env::temp_dir().join("flashc-bench-small.yaml");
    std::fs::write(&small, generated(5)).expect("write small file");
    let binary = env!("CARGO_BIN_EXE_flashc");
    let mut group = c.benchmark_group("process");
    group.sample_size(50);
    group.bench_function("process_small", |b| {
        b.iter(|| {
            let status = Command::new(binary)
                .arg("check")
                .arg(&small)
                .output()
                .expect("run flashc")
                .status;
            assert!(status.success());
        })
    });
    group.finish();
}

/// The worst of issue 8's hostile inputs after the fixes: an 8 MiB flow list of invalid GPU
/// ids (the node limit stops it; every format must render in bounded time), and 100,000
/// duplicate `system_dependencies` entries (was quadratic: over 120 s).
fn hostile(c: &mut Criterion) {
    let head = "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n";
    let list = format!(
        "{head}    gpu: [{}]\n",
        vec!["X"; (8 << 20) / 2 - 100].join(",")
    );
    let deps = format!(
        "{head}    system_dependencies:\n{}",
        (0..100_000)
            .map(|i| format!("      - pkg{}\n", i % 50_000))
            .collect::<String>()
    );
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for (name, input) in [("8mib_list", &list), ("100k_duplicate_deps", &deps)] {
        group.bench_function(format!("{name}_check_human"), |b| {
            b.iter(|| {
                let diagnostics = flashc::check(black_box(input.as_bytes()), None).expect("no env");
                let source = flashc::render::SourceFile::new("flash.yaml", input);
                flashc::render::human(&source, &diagnostics, false).len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, hostile);
criterion_main!(benches);
