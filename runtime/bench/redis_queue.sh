#!/usr/bin/env bash
# The queue on Redis, end to end: jobs/s with a no-op handler at 1, 2 and 4 replicas of the bench
# worker sharing one redis-server, against the limit redis-benchmark measures on the same machine
# in the same run, and the CPU time Redis and the replicas spend per job. Release build; everything
# on 127.0.0.1. Two limits, two definitions: redis-benchmark's ops/s ÷ the round trips a job costs
# (commands clients send), and ÷ the Redis commands a job costs as Redis counts them (INFO
# commandstats `calls`: the EVALSHA calls themselves plus every command their Lua scripts run).
#
# First, per worker binary, a calibration round counts the commands each job sends to Redis: the
# round runs under `redis-cli MONITOR`, and every command a client sent (not those its Lua scripts
# ran) is counted by name, ÷ the jobs completed. Its throughput is not reported (MONITOR slows
# Redis down).
#
# Then ROUNDS rounds; each measures redis-benchmark (GET and SET, 50 clients, no pipelining), then
# for each replica count and each worker binary (BASE_BIN, when given, alternating with the one
# built here, so the two are paired): FLUSHALL, start R replicas (BENCH_CONCURRENCY jobs at once
# each), one wrk per replica POSTs /run for DURATION seconds (fire and forget), and the round ends
# when the queue is empty; jobs/s = jobs completed ÷ (first submission → queue drained). Every
# round starts with CONFIG RESETSTAT and ends reading INFO commandstats: the calls of every command
# (the bench's own FLUSHALL, CONFIG and INFO left out) ÷ jobs = Redis commands per job. Printed per
# round: jobs/s ÷ (GET or SET rate ÷ the binary's round trips per job), and jobs/s ÷ (GET rate ÷
# that round's commands per job).
#
# Needs redis-server, redis-benchmark (apt-get install -y redis-server) and wrk (apt-get install -y
# wrk). Environment: DURATION (s, default 10), REPLICAS (default "1 2 4"), ROUNDS (default 3),
# BENCH_CONCURRENCY (default 8), CONNECTIONS (wrk connections per replica, default 16), BASE_BIN (a
# bench_worker binary of another revision to pair with; e.g. built from `git archive <rev>`).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}
REPLICAS=${REPLICAS:-"1 2 4"}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
export BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-8}
BIN=${CARGO_TARGET_DIR:-target}/release/examples/bench_worker
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
# A copy, so a later build does not change the binary under a run.
cp "$BIN" "$WORK/new"
BINS=(new)
if [ -n "${BASE_BIN:-}" ]; then
  cp "$BASE_BIN" "$WORK/base"
  BINS=(base new)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
# No persistence: the figure is the queue's, not the disk's.
redis-server --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

cat > "$WORK/run.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"input":{"name":"bench"}}'
wrk.headers["Content-Type"] = "application/json"
LUA

health() { curl -sf "http://127.0.0.1:$1/health"; }
field() { sed -E "s/.*\"$1\":([0-9]+).*/\1/"; }

# CPU seconds (user + system) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
redis_cpu() { redis-cli -p "$RPORT" info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { print s }'; }

# round BIN R SECONDS: R replicas of BIN under load for SECONDS; prints "jobs seconds
# redis-cpu-seconds replicas-cpu-seconds".
round() {
  local bin=$1 r=$2 secs=$3 ports=() mine=() loads=() p start end h q ip rcpu wcpu
  redis-cli -p "$RPORT" flushall >/dev/null
  redis-cli -p "$RPORT" config resetstat >/dev/null
  for _ in $(seq 1 "$r"); do
    p=$(free_port)
    PORT=$p FLASH_HOST=127.0.0.1 FLASH_LOG_LEVEL=warn FLASH_QUEUE_URL="redis://127.0.0.1:$RPORT" \
      FLASH_QUEUE_NAME=bench "$WORK/$bin" >>"$WORK/workers.log" 2>&1 &
    pids+=($!)
    mine+=($!)
    ports+=("$p")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$p/ping" >/dev/null && break; sleep 0.05; done
  done
  rcpu=$(redis_cpu)
  start=$(date +%s.%N)
  for p in "${ports[@]}"; do
    wrk -t1 -c"$CONNECTIONS" -d"${secs}s" -s "$WORK/run.lua" "http://127.0.0.1:$p/run" >/dev/null &
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
  rcpu=$(awk -v a="$rcpu" -v b="$(redis_cpu)" 'BEGIN { print b - a }')
  wcpu=0
  for p in "${mine[@]}"; do wcpu=$(awk -v a="$wcpu" -v b="$(cpu_of "$p")" 'BEGIN { print a + b }'); done
  h=$(health "${ports[0]}")
  # Every command Redis ran for the round (`cmdstat_<name>:calls=N,...`; Lua scripts' own commands
  # included), but the bench's own.
  redis-cli -p "$RPORT" info commandstats | tr -d '\r' >"$WORK/cmdstats"
  cmds=$(awk -F'[:=,]' '/^cmdstat_/ { c = substr($1, 9); if (c !~ /^(info|config|flushall)/) s += $3 } END { print s + 0 }' "$WORK/cmdstats")
  for p in "${mine[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${mine[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "$(echo "$h" | field completed) $(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }') $rcpu $wcpu $cmds"
}

echo "== round trips per job (calibration under MONITOR: commands clients sent, by name, per job)"
declare -A RT
for bin in "${BINS[@]}"; do
  redis-cli -p "$RPORT" monitor > "$WORK/monitor-$bin.txt" &
  mon=$!
  read -r jobs _ < <(round "$bin" 1 3)
  sleep 0.5
  kill "$mon" 2>/dev/null || true
  wait "$mon" 2>/dev/null || true
  # `<time> [<db> <client>] "<command>" ...`: a script's own commands show `[<db> lua]`.
  RT[$bin]=$(awk -v jobs="$jobs" -v bin="$bin" '
    $2 ~ /^\[/ && $3 != "lua]" { c = tolower($4); gsub(/"/, "", c); n[c]++; total++ }
    END {
      printf "%s: %d jobs;", bin, jobs > "/dev/stderr"
      for (k in n) if (n[k] / jobs >= 0.01) printf " %s %.2f", k, n[k] / jobs > "/dev/stderr"
      printf "; total %.2f per job\n", total / jobs > "/dev/stderr"
      printf "%.2f", total / jobs
    }' "$WORK/monitor-$bin.txt")
done

# Redis and worker CPU per job: CPU time (user + system) ÷ jobs, less sensitive to other load
# on the machine than the rates.
# vs GET, vs SET: jobs/s ÷ (rate ÷ round trips per job); cmds/job: Redis commands per job (INFO
# commandstats); limit: GET/s ÷ cmds/job; vs cmds: jobs/s ÷ that limit.
printf '%-5s %-4s %-8s %8s %8s %8s %9s %9s %9s %9s %8s %8s %8s\n' round bin replicas "GET/s" "SET/s" "jobs/s" \
  "vs GET" "vs SET" "redis µs" "workr µs" "cmds/job" "limit" "vs cmds"
for k in $(seq 1 "$ROUNDS"); do
  redis-cli -p "$RPORT" flushall >/dev/null
  c0=$(redis_cpu)
  redis-benchmark -p "$RPORT" -n 200000 -c 50 -t set,get --csv > "$WORK/rb.csv"
  rb_get=$(awk -F'"' '$2 == "GET" {print $4}' "$WORK/rb.csv")
  rb_set=$(awk -F'"' '$2 == "SET" {print $4}' "$WORK/rb.csv")
  # Redis's own CPU per benchmark command: what one round trip costs it, whatever the load.
  awk -v a="$c0" -v b="$(redis_cpu)" 'BEGIN { printf "round trip cost (redis-benchmark, Redis CPU per command): %.1f µs\n", 1e6 * (b - a) / 400000 }' >&2
  for r in $REPLICAS; do
    # Alternate which binary goes first.
    order=("${BINS[@]}")
    if [ $(((k + r) % 2)) = 1 ] && [ ${#BINS[@]} = 2 ]; then order=("${BINS[1]}" "${BINS[0]}"); fi
    for bin in "${order[@]}"; do
      read -r jobs secs rcpu wcpu cmds < <(round "$bin" "$r" "$DURATION")
      if [ "$k" = 1 ]; then
        awk -F'[:=,]' -v jobs="$jobs" -v bin="$bin" -v r="$r" '/^cmdstat_/ && $3 / jobs >= 0.01 {
          printf " %s %.2f", substr($1, 9), $3 / jobs } BEGIN { printf "commands per job (%s, %d replicas):", bin, r }
          END { print "" }' "$WORK/cmdstats" >&2
      fi
      awk -v k="$k" -v bin="$bin" -v r="$r" -v g="$rb_get" -v s="$rb_set" -v n="$jobs" -v t="$secs" \
        -v rt="${RT[$bin]}" -v rc="$rcpu" -v wc="$wcpu" -v cm="$cmds" 'BEGIN {
        cj = cm / n
        printf "%-5d %-4s %-8d %8.0f %8.0f %8.0f %8.0f%% %8.0f%% %9.1f %9.1f %8.2f %8.0f %7.0f%%\n", k, bin, r, g, s, n / t,
          100 * (n / t) / (g / rt), 100 * (n / t) / (s / rt), 1e6 * rc / n, 1e6 * wc / n, cj, g / cj, 100 * (n / t) / (g / cj) }'
    done
  done
done
