#!/usr/bin/env bash
# A handler returning a ~100 KB JSON body (bench/big_payload.rs: 800 records, a struct serialized
# on every request): the runtime (bench/big_worker.rs, `Reply::json`) against a minimal axum
# server (bench/big_axum.rs, `axum::Json` of the same struct), measured in the same run, the way
# lb.sh measures: both servers pinned to core 0, wrk (1 thread, 64 connections) on core 1 loading
# one server at a time, ROUNDS rounds (each starting both servers afresh) alternating which
# server goes first; medians, and the median of per-round ratios (the figure that resists other
# load on a shared machine best).
# Server CPU time per request comes from /proc.
#
# Needs wrk, taskset, curl and python3. Environment: DURATION (default 5s), ROUNDS (default 6).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-6}
BASE_PORT=${BENCH_PORT:-18290}
declare -A PORT=([axum]=$BASE_PORT [worker]=$((BASE_PORT + 1)))
source runtime/bench/common.sh

cargo build --release -q -p flash-runtime --example big_worker --example big_axum
BIN=${CARGO_TARGET_DIR:-target}/release/examples
# Fresh processes every round (see start_server in common.sh).
start_servers() {
    start_server axum "$BIN/big_axum"
    start_server worker env FLASH_HOST=127.0.0.1 FLASH_LOG_LEVEL=warn "$BIN/big_worker"
    wait_ready "${PORT[axum]}"
    wait_ready "${PORT[worker]}"
    for server in axum worker; do
        taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:${PORT[$server]}/big" >/dev/null
    done
}
start_servers

# Same bytes from both (the worker keeps the struct's field order).
a=$(curl -s "http://127.0.0.1:${PORT[axum]}/big" | md5sum)
w=$(curl -s "http://127.0.0.1:${PORT[worker]}/big" | md5sum)
size=$(curl -s "http://127.0.0.1:${PORT[worker]}/big" | wc -c)
echo "body: $size bytes; identical bodies: $([ "$a" = "$w" ] && echo yes || echo NO)"

run_wrk() { # server → "req_per_s p99_ms server_cpu_us_per_request"
    wrk_summary "${PID[$1]}" -c64 -d"$DURATION" "http://127.0.0.1:${PORT[$1]}/big"
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    [ "$round" -gt 1 ] && start_servers
    order="axum worker"
    [ $((round % 2)) -eq 0 ] && order="worker axum"
    for server in $order; do
        r=$(run_wrk "$server")
        echo "$round $server $r" >>"$WORK/results"
        echo "round $round $server: $r" >&2
    done
    stop_servers
done

echo
echo "load average before the run: $LOAD; after: $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of $DURATION per server"
python3 - "$WORK/results" <<'PY'
import statistics, sys
data = {}
for rnd, server, rps, p99, cpu in (l.split() for l in open(sys.argv[1])):
    data.setdefault(server, {})[int(rnd)] = (float(rps), float(p99), float(cpu))
print()
print("| GET /big (~100 KB JSON) | req/s (median) | p99 ms (median) | CPU µs/request (median) |")
print("|---|---:|---:|---:|")
for server in ("axum", "worker"):
    d = data[server].values()
    print(f"| {server} | {statistics.median(x[0] for x in d):,.0f} | "
          f"{statistics.median(x[1] for x in d):.2f} | {statistics.median(x[2] for x in d):.1f} |")
a, w = data["axum"], data["worker"]
ratio = lambda i: statistics.median(w[r][i] / a[r][i] for r in a)
print()
print(f"worker ÷ axum (median of per-round ratios): req/s {ratio(0):.3f} (target ≥ 0.90), "
      f"CPU/request {ratio(2):.3f} (target ≤ 1.15), p99 {ratio(1):.3f}")
PY
