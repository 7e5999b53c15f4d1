#!/usr/bin/env bash
# Load-balanced serving benchmark: the example worker (examples/lb_worker.rs, served by
# flash-runtime) against a minimal hand-written axum server (examples/minimal_axum.rs) answering
# the same routes, measured in the same run.
#
# - throughput and p99: wrk, 64 keep-alive connections, 1 wrk thread; the server is pinned to
#   core 0 and wrk to core 1 (taskset); GET /ping and POST /add {"a":1,"b":2}; the two servers
#   alternate for ROUNDS rounds and each figure is the median of its rounds;
# - start time: process spawn to the first 200 on /ping, STARTS runs each, median and p90;
# - idle memory: VmRSS after start and a few requests, once idle.
#
# Needs wrk (apt-get install -y wrk), taskset and python3. Usage: runtime/bench/lb.sh
# Environment: DURATION (default 10s), ROUNDS (default 3), STARTS (default 100),
# FLASH_WORKER_THREADS (passed to the worker; default: the runtime's own default).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
STARTS=${STARTS:-100}
PORT=${BENCH_PORT:-18190}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p flash-runtime --example lb_worker --example minimal_axum
BIN=target/release/examples
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true' EXIT

cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"a":1,"b":2}'
wrk.headers["Content-Type"] = "application/json"
LUA

wait_ready() {
    for _ in $(seq 1 500); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ping" 2>/dev/null || true)" = 200 ]; then
            return 0
        fi
        sleep 0.01
    done
    echo "server on $PORT never became ready" >&2
    exit 1
}

start_server() { # name
    case $1 in
        worker) taskset -c 0 env PORT=$PORT FLASH_HOST=127.0.0.1 "$BIN/lb_worker" >/dev/null 2>&1 & ;;
        axum) taskset -c 0 env PORT=$PORT "$BIN/minimal_axum" >/dev/null 2>&1 & ;;
    esac
    SERVER=$!
    wait_ready
}

stop_server() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER/stat"; }

# wrk's output → "req_per_s p99_ms server_cpu_us_per_request". The CPU cost per request is the
# figure least disturbed by other load on the machine; req/s and p99 are what the targets name.
run_wrk() { # path [lua]
    local args=(-t1 -c64 -d"$DURATION" --latency)
    [ $# -gt 1 ] && args+=(-s "$2")
    local t0 t1
    t0=$(cpu_ticks)
    taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$PORT$1" >"$WORK/wrk.out"
    t1=$(cpu_ticks)
    awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
        /requests in/ { n = $1 }
        /Requests\/sec:/ { rps = $2 }
        /^ +99%/ {
            v = $2; unit = v; gsub(/[0-9.]/, "", unit); sub(/[a-z]+$/, "", v)
            if (unit == "us") v = v / 1000; else if (unit == "s") v = v * 1000
            p99 = v
        }
        END { printf "%s %.3f %.2f\n", rps, p99, ticks / hz * 1e6 / n }' "$WORK/wrk.out"
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
    for server in axum worker; do
        start_server "$server"
        # Warm up connections and caches before measuring.
        taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$PORT/ping" >/dev/null
        RESULTS[$server,ping,$round]=$(run_wrk /ping)
        RESULTS[$server,post,$round]=$(run_wrk /add "$WORK/post.lua")
        stop_server
        echo "round $round $server: ping ${RESULTS[$server,ping,$round]}  post ${RESULTS[$server,post,$round]}" >&2
    done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo
echo "load average before the run: $LOAD"
echo
echo "| route | server | req/s | p99 (ms) | server CPU per request (µs) |"
echo "|---|---|---:|---:|---:|"
for route in ping post; do
    for server in axum worker; do
        rps=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$server,$route,$r]}" | cut -d' ' -f1; done | median)
        p99=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$server,$route,$r]}" | cut -d' ' -f2; done | median)
        cpu=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$server,$route,$r]}" | cut -d' ' -f3; done | median)
        eval "${server}_${route}_rps=$rps; ${server}_${route}_p99=$p99; ${server}_${route}_cpu=$cpu"
        echo "| $route | $server | $rps | $p99 | $cpu |"
    done
done
echo
for route in ping post; do
    eval "awk -v wr=\$worker_${route}_rps -v ar=\$axum_${route}_rps -v wp=\$worker_${route}_p99 -v ap=\$axum_${route}_p99 \
        -v wc=\$worker_${route}_cpu -v ac=\$axum_${route}_cpu \
        'BEGIN { printf \"$route: req/s ratio %.3f (target >= 0.90), p99 ratio %.3f (target <= 1.30), CPU per request ratio %.3f\n\", wr / ar, wp / ap, wc / ac }'"
done

# Start to first 200 and idle memory, measured by a small Python driver (its own start-up is
# outside the timed span: the clock starts right before the spawn).
python3 - "$BIN" "$PORT" "$STARTS" <<'PY'
import os, socket, statistics, subprocess, sys, time

bin_dir, port, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def status(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).split(b" ")[1]
    except OSError:
        return None

def start(name):
    env = dict(os.environ, PORT=str(port), FLASH_HOST="127.0.0.1")
    t0 = time.perf_counter()
    p = subprocess.Popen([f"{bin_dir}/{name}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while status(port) != b"200":
        if time.perf_counter() - t0 > 5:
            raise SystemExit(f"{name} not ready in 5 s")
        time.sleep(0.0002)
    return p, (time.perf_counter() - t0) * 1000

for name in ("minimal_axum", "lb_worker"):
    times = []
    for _ in range(runs):
        p, ms = start(name)
        times.append(ms)
        p.kill(); p.wait()
    times.sort()
    p90 = times[int(len(times) * 0.9) - 1]
    p, _ = start(name)
    for _ in range(20):
        status(port)
    time.sleep(1)
    with open(f"/proc/{p.pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
    p.kill(); p.wait()
    print(f"{name}: start to first 200 median {statistics.median(times):.2f} ms, p90 {p90:.2f} ms, "
          f"max {times[-1]:.2f} ms over {runs} runs; idle RSS {rss / 1024:.1f} MB")
PY
