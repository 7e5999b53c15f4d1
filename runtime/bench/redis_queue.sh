#!/usr/bin/env bash
# The queue on Redis, end to end: jobs/s with a no-op handler at 1, 2 and 4 replicas of the bench
# worker sharing one redis-server, against the limit redis-benchmark measures on the same machine
# (its ops/s ÷ the round trips a job costs). Release build; everything on 127.0.0.1.
#
# Each round: FLUSHALL, start R replicas (BENCH_CONCURRENCY jobs at once each), then one wrk per
# replica POSTs /run for DURATION seconds (fire and forget), and the round ends when the queue is
# empty; jobs/s = jobs completed ÷ (first submission → queue drained).
# Needs redis-server, redis-benchmark (apt-get install -y redis-server) and wrk (apt-get install -y
# wrk). Environment: DURATION (s, default 10), REPLICAS (default "1 2 4"), BENCH_CONCURRENCY
# (default 8), CONNECTIONS (wrk connections per replica, default 16).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
REPLICAS=${REPLICAS:-"1 2 4"}
CONNECTIONS=${CONNECTIONS:-16}
export BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-8}
BIN=${CARGO_TARGET_DIR:-target}/release/examples
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y redis-server wrk" >&2; exit 2; }
done
cargo build --release -q -p flash-runtime --features redis --example bench_worker

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
# No persistence: the figure is the queue's, not the disk's.
redis-server --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

echo "== redis-benchmark (50 clients, no pipelining): the server's own rate"
redis-benchmark -p "$RPORT" -n 200000 -c 50 -t set,get,incr --csv | tee "$WORK/rb.csv"
rb_get=$(awk -F'"' '$2 == "GET" {print $4}' "$WORK/rb.csv")
# A job costs 4 round trips (SUBMIT, XREADGROUP, TAKE, FINISH: see runtime/README.md); three of
# them are scripts that run several commands each, so this limit is an upper bound.
echo "limit: $rb_get ops/s ÷ 4 round trips = $(awk -v r="$rb_get" 'BEGIN {printf "%.0f", r / 4}') jobs/s"

cat > "$WORK/run.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"input":{"name":"bench"}}'
wrk.headers["Content-Type"] = "application/json"
LUA

health() { curl -sf "http://127.0.0.1:$1/health"; }
field() { sed -E "s/.*\"$1\":([0-9]+).*/\1/"; }

for r in $REPLICAS; do
  redis-cli -p "$RPORT" flushall >/dev/null
  ports=()
  round=()
  for i in $(seq 1 "$r"); do
    p=$(free_port)
    PORT=$p FLASH_HOST=127.0.0.1 FLASH_LOG_LEVEL=warn FLASH_QUEUE_URL="redis://127.0.0.1:$RPORT" \
      FLASH_QUEUE_NAME=bench "$BIN/bench_worker" &
    pids+=($!)
    round+=($!)
    ports+=("$p")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$p/ping" >/dev/null && break; sleep 0.05; done
  done
  start=$(date +%s.%N)
  loads=()
  for p in "${ports[@]}"; do
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/run.lua" "http://127.0.0.1:$p/run" \
      > "$WORK/wrk-$r-$p.txt" &
    loads+=($!)
  done
  for l in "${loads[@]}"; do wait "$l"; done
  # Drained: nothing queued or running.
  while true; do
    h=$(health "${ports[0]}")
    q=$(echo "$h" | field inQueue); ip=$(echo "$h" | field inProgress)
    [ "$q" = 0 ] && [ "$ip" = 0 ] && break
    sleep 0.05
  done
  end=$(date +%s.%N)
  h=$(health "${ports[0]}")
  done_jobs=$(echo "$h" | field completed)
  submitted=$(cat "$WORK"/wrk-"$r"-*.txt | awk '/requests in/ {s += $1} END {print s}')
  # wrk counts the answers it read before its time was up; a few submissions answered after that
  # still run, so `completed` may exceed `submitted` by a handful.
  awk -v n="$done_jobs" -v s="$submitted" -v a="$start" -v b="$end" -v r="$r" -v lim="$rb_get" 'BEGIN {
    t = b - a; printf "replicas %d: %d jobs submitted, %d completed in %.2f s: %.0f jobs/s (%.0f%% of the redis-benchmark limit)\n",
      r, s, n, t, n / t, 100 * (n / t) / (lim / 4) }'
  for p in "${round[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${round[@]}"; do wait "$p" 2>/dev/null || true; done
done
