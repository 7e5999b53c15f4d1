#!/usr/bin/env bash
# Fault probe for `flashc generate` (issue 19, "done when"): N runs, each killed at a random
# moment (SIGKILL or SIGINT, alternating), each on a changed flash.yaml so there is always
# something to write. After every kill, `flashc generate --check` must either pass — and then
# cargo must accept the lockfile as it is (`cargo metadata --locked`) and every generated
# main.rs must be formatted — or report the tree stale (exit 1). Then a plain `generate`
# must finish the job, after which `--check` passes.
#   tests/generate_kills.sh [N] [FLASHC]      (default 100 runs, target/debug/flashc)
# tests/generate_safety.rs runs the same probe with 7 fixed moments in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100}"
flashc="${2:-${CARGO_TARGET_DIR:-target}/debug/flashc}"
dir="$(mktemp -d)/kills"
cp -r examples/hello "$dir"
rm -rf "$dir/.flash"
yaml="$dir/flash.yaml"
cp "$yaml" "$dir/flash.yaml.orig"
extra='  api2:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n      "GET /users/{id}": users::get\n'
passed=0 reported=0
for i in $(seq 1 "$n"); do
  if [ $((i % 2)) -eq 0 ]; then
    sed "s|^  api:$|${extra}  api:|" "$dir/flash.yaml.orig" >"$yaml"
    sig=KILL
  else
    cp "$dir/flash.yaml.orig" "$yaml"
    sig=INT
  fi
  "$flashc" generate "$dir" >/dev/null 2>&1 &
  pid=$!
  # A random moment within the first 1.5 s (a run takes about that long here).
  sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
  [ $((RANDOM % 2)) -eq 0 ] && sleep 0.5
  kill -s "$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  set +e
  "$flashc" generate --check "$dir" >/dev/null 2>&1
  code=$?
  set -e
  case "$code" in
    0)
      passed=$((passed + 1))
      if ! cargo metadata --locked --offline --format-version 1 --manifest-path "$dir/.flash/Cargo.toml" >/dev/null 2>&1; then
        echo "run $i: --check passed but cargo refuses the lockfile" >&2
        exit 1
      fi
      for main in "$dir"/.flash/workers/*/src/main.rs; do
        rustfmt --edition 2021 --check "$main" >/dev/null || { echo "run $i: $main is not formatted" >&2; exit 1; }
      done
      ;;
    1) reported=$((reported + 1)) ;;
    *) echo "run $i: --check exited $code" >&2; exit 1 ;;
  esac
  "$flashc" generate "$dir" >/dev/null 2>&1 || { echo "run $i: the rerun failed" >&2; exit 1; }
  "$flashc" generate --check "$dir" >/dev/null 2>&1 || { echo "run $i: --check fails after the rerun" >&2; exit 1; }
done
echo "$n runs killed at random moments: --check passed (tree whole, lockfile accepted, Rust formatted) after $passed, reported the tree stale after $reported; every rerun finished it"
rm -rf "$(dirname "$dir")"
