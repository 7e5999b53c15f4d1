#!/usr/bin/env bash
# `flashc dev` benchmark, on a copy of tests/dev/fixture (issue #9's three figures):
#
# - start: `flashc dev` spawned → first 200 on GET /api/version, warm target dir (the build is
#   up to date, so this is check + generate + cargo's no-op + the host's start). STARTS runs.
# - edit: the handler's version string changed on disk → GET /api/version answers the new one
#   (check, generate, a debug rebuild of the handler crate and the host, the swap). EDITS runs.
# - overhead: the dev host (debug, as flashc dev builds it) against the generated worker of the
#   same endpoint built the same way, GET /version on both: wrk, 1 thread, 64 connections,
#   servers pinned to core 0 and wrk to core 1, ROUNDS paired rounds, medians and the median of
#   the per-pair ratios (as runtime/bench/lb.sh does).
#
# Needs wrk, taskset, curl. Usage: benches/dev.sh   Environment: STARTS (5), EDITS (5),
# ROUNDS (6), DURATION (5s).
set -euo pipefail
cd "$(dirname "$0")/.."
STARTS=${STARTS:-5}
EDITS=${EDITS:-5}
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-5s}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -q --bin flashc
FLASHC="${CARGO_TARGET_DIR:-$PWD/target}/release/flashc"
# The dev host and the worker build where the tests build generated crates.
export CARGO_TARGET_DIR="$PWD/target/generated"
PROJECT="$PWD/target/dev-bench/devloop"
rm -rf "$PROJECT" && mkdir -p "$PROJECT"
cp -r tests/dev/fixture/. "$PROJECT"
LOG=$(mktemp)
DEV_PID=""
WORKER_PID=""
cleanup() {
    [ -n "$DEV_PID" ] && kill -INT "$DEV_PID" 2>/dev/null && wait "$DEV_PID" 2>/dev/null || true
    [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null || true
    rm -f "$LOG"
}
trap cleanup EXIT

now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Polls GET $1 until its body is $2 (for at most $4 seconds, default 120); prints the seconds
# since $3.
until_body() { # url body since [limit]
    local deadline
    deadline=$(echo "$(now) + ${4:-120}" | bc)
    while [ "$(echo "$(now) < $deadline" | bc)" = 1 ]; do
        if [ -n "$DEV_PID" ] && ! kill -0 "$DEV_PID" 2>/dev/null; then
            break
        fi
        if [ "$(curl -s "$1" 2>/dev/null || true)" = "$2" ]; then
            echo "$(now) - $3" | bc
            return 0
        fi
        sleep 0.005
    done
    echo "no $2 from $1; flashc dev said:" >&2
    tail -20 "$LOG" >&2
    exit 1
}
start_dev() { # port → sets DEV_PID
    taskset -c 0 "$FLASHC" dev --port "$1" "$PROJECT" >/dev/null 2>"$LOG" &
    DEV_PID=$!
}
stop_dev() {
    kill -INT "$DEV_PID"
    wait "$DEV_PID" || true
    DEV_PID=""
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== warming the target dir (first build)"
PORT=$(free_port)
start_dev "$PORT"
until_body "http://127.0.0.1:$PORT/api/version" '"v1"' "$(now)" 1800 >/dev/null
stop_dev

echo "== start → first 200 ($STARTS runs)"
STARTS_S=()
for _ in $(seq 1 "$STARTS"); do
    PORT=$(free_port)
    t0=$(now)
    start_dev "$PORT"
    STARTS_S+=("$(until_body "http://127.0.0.1:$PORT/api/version" '"v1"' "$t0")")
    stop_dev
done
printf '%s\n' "${STARTS_S[@]}"

echo "== edit → new behaviour ($EDITS runs)"
PORT=$(free_port)
start_dev "$PORT"
until_body "http://127.0.0.1:$PORT/api/version" '"v1"' "$(now)" >/dev/null
EDITS_S=()
previous=v1
for i in $(seq 2 $((EDITS + 1))); do
    sed -i "s/\"$previous\"/\"v$i\"/" "$PROJECT/src/lib.rs"
    t0=$(now)
    EDITS_S+=("$(until_body "http://127.0.0.1:$PORT/api/version" "\"v$i\"" "$t0")")
    previous=v$i
done
printf '%s\n' "${EDITS_S[@]}"

echo "== dev host vs the generated worker, GET /version ($ROUNDS rounds of $DURATION)"
cargo build -q --manifest-path "$PROJECT/.flash/Cargo.toml" -p devloop-api
WPORT=$(free_port)
taskset -c 0 env PORT="$WPORT" FLASH_HOST=127.0.0.1 "$CARGO_TARGET_DIR/debug/devloop-api" >/dev/null 2>&1 &
WORKER_PID=$!
until_body "http://127.0.0.1:$WPORT/version" "\"$previous\"" "$(now)" >/dev/null
rps() { taskset -c 1 wrk -t1 -c64 -d"$DURATION" "$1" | awk '/Requests\/sec/ { print $2 }'; }
DEV_RPS=()
WORKER_RPS=()
RATIOS=()
for _ in $(seq 1 "$ROUNDS"); do
    d=$(rps "http://127.0.0.1:$PORT/api/version")
    w=$(rps "http://127.0.0.1:$WPORT/version")
    DEV_RPS+=("$d")
    WORKER_RPS+=("$w")
    RATIOS+=("$(echo "$d / $w" | bc -l)")
    echo "round: dev $d req/s, worker $w req/s"
done

echo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "start → first 200:   median $(printf '%s\n' "${STARTS_S[@]}" | median) s (target < 5 s)"
echo "edit → new answer:   median $(printf '%s\n' "${EDITS_S[@]}" | median) s (target < 10 s)"
echo "dev host:            median $(printf '%s\n' "${DEV_RPS[@]}" | median) req/s"
echo "generated worker:    median $(printf '%s\n' "${WORKER_RPS[@]}" | median) req/s"
echo "dev/worker ratio:    median $(printf '%s\n' "${RATIOS[@]}" | median) (target ≥ 0.90)"
