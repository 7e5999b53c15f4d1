#!/usr/bin/env bash
# The README's first command from cold: `cargo build --timings` of flashc in the release and the
# dev profile (a newcomer's defaults: nothing set), each into an empty target directory, one after
# the other, with the slowest units of each (issue 19 item 17). The dev build is what
# `cargo run -- …` and `cargo test` share.
#
# Usage: benches/first_build.sh [WORK_DIR] (default: $TMPDIR/flashc-first-build). Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-${TMPDIR:-/tmp}/flashc-first-build}"
for profile in release dev; do
  target="$work/$profile"
  rm -rf "$target"
  flag=$([ "$profile" = release ] && echo --release || true)
  start=$(date +%s)
  # shellcheck disable=SC2086
  CARGO_TARGET_DIR="$target" cargo build $flag --locked --timings >/dev/null 2>&1
  echo "== $profile: $(( $(date +%s) - start )) s wall (load $(cut -d' ' -f1-3 /proc/loadavg))"
  python3 benches/timings_summary.py "$target" 8
done
