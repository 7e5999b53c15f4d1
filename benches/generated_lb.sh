#!/usr/bin/env bash
# Serving benchmark of a *generated* load-balanced worker: generates benches/lb_project (POST
# /add bound from JSON, plus the runtime's GET /ping), builds it in release, and runs
# runtime/bench/lb.sh with it in the example worker's place, against the hand-written minimal
# axum server in the same run (pinned cores, paired rounds; see lb.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
target/release/flashc generate benches/lb_project/flash.yaml >/dev/null
CARGO_TARGET_DIR="$PWD/target/generated" cargo build --release -q --locked \
  --manifest-path benches/lb_project/.flash/Cargo.toml -p bench-lb-api
LB_WORKER="$PWD/target/generated/release/bench-lb-api" exec runtime/bench/lb.sh
