#!/usr/bin/env bash
# Times `flashc deploy` against `flashc emulate` on an N-endpoint project (benches/make_project.py:
# half load-balanced, half queue, one handler crate): an apply of N new endpoints, then paired
# rounds of `deploy --plan` of N unchanged endpoints against the baseline `flashc check` of the
# same project (handlers resolved: the same reading of flash.yaml and the crate that deploy does
# before it talks to the API), and an apply of N unchanged endpoints, which must make no write
# call (the emulator counts them: GET /_emulator/stats).
#   benches/deploy.sh [N] [ROUNDS]     FLASHC_BIN=path uses that binary instead of a release build
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100}"
rounds="${2:-10}"
if [ -z "${FLASHC_BIN:-}" ]; then
  cargo build --release -q
  bin="$PWD/target/release/flashc"
else
  bin="$FLASHC_BIN"
fi
work="$(mktemp -d)"
dir="$work/bench-$n"
python3 benches/make_project.py "$n" "$dir" >/dev/null
: >"$work/emulator.out"
"$bin" emulate --port 0 >"$work/emulator.out" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -rf "$work"' EXIT
until grep -q '^listening on ' "$work/emulator.out"; do sleep 0.05; done
base="$(sed -n 's/^listening on //p' "$work/emulator.out")"
export RUNPOD_API_BASE_URL="$base" RUNPOD_API_KEY=bench-key FLASHC_VERIFY_TIMEOUT=5
writes() {
  curl -s "$base/_emulator/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["writes"])'
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "flashc: $bin; $n endpoints; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(now_ms)
"$bin" deploy --yes "$dir/flash.yaml" >/dev/null
t1=$(now_ms)
echo "apply of $n new endpoints: $((t1 - t0)) ms ($(writes) write calls)"

before=$(writes)
t0=$(now_ms)
"$bin" deploy --yes "$dir/flash.yaml" >/dev/null
t1=$(now_ms)
after=$(writes)
echo "apply of $n unchanged endpoints: $((t1 - t0)) ms, $((after - before)) write calls"
if [ "$after" != "$before" ]; then
  echo "an apply of unchanged endpoints made write calls" >&2
  exit 1
fi

: >"$work/check.ms"
: >"$work/plan.ms"
for _ in $(seq "$rounds"); do
  t0=$(now_ms)
  "$bin" check "$dir/flash.yaml" >/dev/null
  t1=$(now_ms)
  echo $((t1 - t0)) >>"$work/check.ms"
  t0=$(now_ms)
  "$bin" deploy --plan "$dir/flash.yaml" >/dev/null
  t1=$(now_ms)
  echo $((t1 - t0)) >>"$work/plan.ms"
done
check=$(median <"$work/check.ms")
plan=$(median <"$work/plan.ms")
echo "median of $rounds paired rounds: flashc check (baseline) $check ms; deploy --plan of $n unchanged $plan ms; ratio $(awk -v p="$plan" -v c="$check" 'BEGIN {printf "%.2f", p / c}')"
