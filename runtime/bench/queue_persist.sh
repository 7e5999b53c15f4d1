#!/usr/bin/env bash
# The persisted local queue's cost (feature `persist`, FLASH_QUEUE_DIR): POST /runsync with a
# trivial handler, 64 connections, against the same binary without FLASH_QUEUE_DIR, in the same
# run. Both workers are pinned to core 0, wrk to core 1, one worker loaded at a time, ROUNDS
# rounds alternating which goes first; medians and the median of per-round ratios. Server CPU
# per job comes from /proc. Every /runsync job is written to the store (write-behind, one
# transaction per ≤ 100 ms) and kept there for its retention (1 min).
#
# Needs wrk, taskset, curl and python3. Environment: DURATION (default 5s), ROUNDS (default 6),
# LOCAL_CONCURRENCY (default 8).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-6}
LOCAL_CONCURRENCY=${LOCAL_CONCURRENCY:-8}
BASE_PORT=${BENCH_PORT:-18390}
declare -A PORT=([memory]=$BASE_PORT [persist]=$((BASE_PORT + 1)))
source runtime/bench/common.sh

cargo build --release -q -p flash-runtime --features persist --example bench_worker
BIN=${CARGO_TARGET_DIR:-target}/release/examples
start() { # mode
    local mode=$1 extra=()
    [ "$mode" = persist ] && extra=(FLASH_QUEUE_DIR="$WORK/store")
    taskset -c 0 env PORT="${PORT[$mode]}" FLASH_HOST=127.0.0.1 FLASH_LOG_LEVEL=warn \
        BENCH_CONCURRENCY="$LOCAL_CONCURRENCY" "${extra[@]}" "$BIN/bench_worker" >/dev/null 2>&1 &
    PID[$mode]=$!
    wait_ready "${PORT[$mode]}"
}
start memory
start persist

run_wrk() { # mode → "req_per_s p99_ms server_cpu_us_per_request"
    wrk_summary "${PID[$1]}" -c64 -d"$DURATION" -s runtime/bench/runsync.lua \
        "http://127.0.0.1:${PORT[$1]}/runsync"
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    order="memory persist"
    [ $((round % 2)) -eq 0 ] && order="persist memory"
    for mode in $order; do
        r=$(run_wrk "$mode")
        echo "$round $mode $r" >>"$WORK/results"
        echo "round $round $mode: $r" >&2
    done
done
echo "load average before the run: $LOAD; after: $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of $DURATION per mode"
echo "store file after the run: $(du -h "$WORK/store/queue.redb" | cut -f1)"

# The jobs are really there: a restarted persisted worker still answers the last one's status.
id=$(curl -s -X POST -H 'content-type: application/json' -d '{"input":{"name":"kept"}}' \
    "http://127.0.0.1:${PORT[persist]}/runsync" | sed -E 's/.*"id":"([^"]+)".*/\1/')
kill -TERM "${PID[persist]}"; wait "${PID[persist]}" || true
start persist
echo "after a restart: $(curl -s "http://127.0.0.1:${PORT[persist]}/status/$id")"

python3 - "$WORK/results" <<'PY'
import statistics, sys
data = {}
for rnd, mode, rps, p99, cpu in (l.split() for l in open(sys.argv[1])):
    data.setdefault(mode, {})[int(rnd)] = (float(rps), float(p99), float(cpu))
print()
print("| POST /runsync, trivial handler | req/s (median) | p99 ms (median) | CPU µs/job (median) |")
print("|---|---:|---:|---:|")
for mode in ("memory", "persist"):
    d = data[mode].values()
    print(f"| {mode} | {statistics.median(x[0] for x in d):,.0f} | "
          f"{statistics.median(x[1] for x in d):.2f} | {statistics.median(x[2] for x in d):.1f} |")
m, p = data["memory"], data["persist"]
ratio = lambda i: statistics.median(p[r][i] / m[r][i] for r in m)
print()
print(f"persist ÷ memory (median of per-round ratios): req/s {ratio(0):.3f}, CPU/job {ratio(2):.3f}, p99 {ratio(1):.3f}")
PY
