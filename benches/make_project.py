#!/usr/bin/env python3
"""Writes a flashc project with N endpoints and a matching handler crate, for benchmarks.

Half the endpoints are load-balanced with five routes each (path, query and body parameters, a
state from `init`, a sync handler, a WebSocket stream); half are queue endpoints. Usage:
    benches/make_project.py N DIR
"""
import os
import sys

n, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(os.path.join(out, "src"), exist_ok=True)

yaml = ["version: 1", "name: bench", "defaults:", "  workers: [0, 3]", "endpoints:"]
rust = [
    "//! Handlers of the generated benchmark project.",
    "use futures_util::Stream;",
    "use serde::{Deserialize, Serialize};",
    "",
    "#[derive(Serialize, Deserialize)]",
    "pub struct Item { pub id: u64, pub name: String }",
    "pub struct Model { pub scale: f64 }",
    "",
]
for i in range(n):
    m = f"m{i}"
    if i % 2 == 0:
        yaml += [
            f"  api-{i}:",
            "    type: load_balanced",
            "    cpu: cpu3c-2-4",
            f"    init: {m}::load",
            "    routes:",
            f'      "GET /items/{{id}}": {m}::get',
            f'      "GET /items": {m}::list',
            f'      "POST /items": {m}::create',
            f'      "DELETE /items/{{id}}": {m}::delete',
            f'      "WS /stream": {m}::stream',
        ]
        rust += [
            f"pub mod {m} {{",
            "    use super::*;",
            "    pub async fn load() -> Result<Model, String> { Ok(Model { scale: 2.0 }) }",
            "    pub async fn get(id: u64, verbose: Option<bool>) -> Item { Item { id, name: format!(\"{verbose:?}\") } }",
            "    pub async fn list(limit: Option<u32>) -> Vec<u32> { (0..limit.unwrap_or(3)).collect() }",
            "    pub fn create(model: &Model, name: String, price: f64) -> Result<Item, String> {",
            "        if price < 0.0 { return Err(\"negative price\".into()); }",
            "        Ok(Item { id: (price * model.scale) as u64, name })",
            "    }",
            "    pub async fn delete(id: u64) -> bool { id > 0 }",
            "    pub fn stream(n: u32) -> impl Stream<Item = u32> { futures_util::stream::iter(0..n) }",
            "}",
        ]
    else:
        yaml += [
            f"  job-{i}:",
            "    type: queue",
            "    gpu: ADA_24",
            f"    handler: {m}::run",
            "    max_concurrency: 2",
        ]
        rust += [
            f"pub mod {m} {{",
            "    pub fn run(text: String, times: Option<u32>) -> String { text.repeat(times.unwrap_or(1) as usize) }",
            "}",
        ]

with open(os.path.join(out, "flash.yaml"), "w") as f:
    f.write("\n".join(yaml) + "\n")
with open(os.path.join(out, "src", "lib.rs"), "w") as f:
    f.write("\n".join(rust) + "\n")
with open(os.path.join(out, "Cargo.toml"), "w") as f:
    f.write(
        '[package]\nname = "bench"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\npath = "src/lib.rs"\n\n'
        '[dependencies]\nserde = { version = "1", features = ["derive"] }\nfutures-util = "0.3"\n\n[workspace]\n'
    )
