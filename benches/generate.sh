#!/usr/bin/env bash
# Times the whole `flashc generate` command on a 1,000-endpoint project with a matching crate
# (benches/make_project.py): the first run (writes everything, formats, writes Cargo.lock), a
# second run (must write nothing), and `--check`. Baseline in the same run: `flashc check` of
# the same file. Pinned to one core; paired rounds (check and generate alternate).
#   benches/generate.sh [N]      (needs hyperfine: apt-get install hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
cargo build --release -q
bin="$PWD/target/release/flashc"
dir="$(mktemp -d)/bench-$n"
python3 benches/make_project.py "$n" "$dir"
pin="taskset -c 1"

echo "== first run (empty output directory)"
/usr/bin/time -f "first run: %e s wall, %M KB max RSS" $pin "$bin" generate "$dir/flash.yaml" >/dev/null
echo "== second run writes nothing"
out="$($pin "$bin" generate "$dir/flash.yaml" | head -1)"
echo "$out"
case "$out" in *": 0 files written, 0 removed") ;; *) echo "second run wrote files" >&2; exit 1;; esac
echo "== paired timings"
hyperfine --warmup 2 --runs 10 --style basic \
  -n "check (baseline)" "$pin $bin check --no-crate $dir/flash.yaml" \
  -n "check with handlers" "$pin $bin check $dir/flash.yaml" \
  -n "generate (nothing to write)" "$pin $bin generate $dir/flash.yaml" \
  -n "generate --check" "$pin $bin generate --check $dir/flash.yaml"
# (--prepare applies to every command of a hyperfine run: this one gets a run of its own.)
hyperfine --warmup 1 --runs 5 --style basic \
  --prepare "rm -rf $dir/.flash/workers $dir/.flash/skeleton $dir/.flash/flash_manifest.json" \
  -n "generate (every endpoint rewritten, lockfile kept)" "$pin $bin generate $dir/flash.yaml"
