#!/usr/bin/env bash
# Load-balanced serving benchmark: the example worker (examples/lb_worker.rs, served by
# flash-runtime) against a minimal hand-written axum server (examples/minimal_axum.rs) answering
# the same routes, measured in the same run.
#
# - throughput and p99: wrk, 64 keep-alive connections, 1 wrk thread, release builds. Both
#   servers run at once, pinned to core 0; wrk is pinned to core 1 and loads one server at a
#   time (an idle server costs nothing). Each round starts both servers afresh and measures
#   GET /ping and POST /add {"a":1,"b":2} (and the POST again with 1,000 connections) on both
#   back to back, so the two figures of a pair see the same background load; the report gives
#   medians over ROUNDS rounds and the median of the per-pair ratios (the figure that resists
#   other load on a shared machine best).
# - server CPU time per request (from /proc): the least noise-sensitive cost figure.
# - start time: process spawn to the first 200 on /ping, STARTS runs each, median and p90;
# - idle memory: VmRSS after start and a few requests, once idle.
#
# Needs wrk (apt-get install -y wrk), taskset, curl and python3. Usage: runtime/bench/lb.sh
# Environment: DURATION per measurement (default 5s), ROUNDS (default 8), STARTS (default 100),
# FLASH_WORKER_THREADS (passed to the worker; unset: the runtime's default).
set -euo pipefail
cd "$(dirname "$0")/../.."
# 1,000 connections need as many descriptors in wrk and in each server.
ulimit -n 4096 2>/dev/null || true

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-8}
STARTS=${STARTS:-100}
BASE_PORT=${BENCH_PORT:-18190}
declare -A PORT=([axum]=$BASE_PORT [worker]=$((BASE_PORT + 1)))
source runtime/bench/common.sh

cargo build --release -q -p flash-runtime --example lb_worker --example minimal_axum
BIN=target/release/examples
# LB_WORKER: measure another worker binary in the example's place (a generated worker, see
# benches/generated_lb.sh); it must answer GET /ping and POST /add like the example.
if [ -n "${LB_WORKER:-}" ]; then
    BIN=$(mktemp -d)
    ln -s "$PWD/target/release/examples/minimal_axum" "$BIN/minimal_axum"
    ln -s "$LB_WORKER" "$BIN/lb_worker"
fi
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"a":1,"b":2}'
wrk.headers["Content-Type"] = "application/json"
LUA

# Fresh processes every round (see start_server in common.sh).
start_servers() {
    start_server axum "$BIN/minimal_axum"
    start_server worker env FLASH_HOST=127.0.0.1 "$BIN/lb_worker"
    wait_ready "${PORT[axum]}"
    wait_ready "${PORT[worker]}"
    # Warm-up: connections, allocator, caches.
    for server in axum worker; do
        taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:${PORT[$server]}/ping" >/dev/null
    done
}

# One wrk run → "req_per_s p99_ms server_cpu_us_per_request".
run_wrk() { # server conns path [lua]
    local server=$1 args=(-c"$2" -d"$DURATION")
    [ $# -gt 3 ] && args+=(-s "$4")
    wrk_summary "${PID[$server]}" "${args[@]}" "http://127.0.0.1:${PORT[$server]}$3"
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    start_servers
    for route in ping post post_c1000; do
        # Alternate which server goes first, so neither always gets the quieter slot.
        order="axum worker"
        [ $((round % 2)) -eq 0 ] && order="worker axum"
        for server in $order; do
            case "$route" in
                ping) r=$(run_wrk "$server" 64 /ping) ;;
                post) r=$(run_wrk "$server" 64 /add "$WORK/post.lua") ;;
                post_c1000) r=$(run_wrk "$server" 1000 /add "$WORK/post.lua") ;;
            esac
            echo "$round $route $server $r" >>"$WORK/results"
            echo "round $round $route $server: $r" >&2
        done
    done
    stop_servers
done

echo
echo "load average before the run: $LOAD; $ROUNDS rounds of $DURATION per server and route"
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
data = {}
for rnd, route, server, rps, p99, cpu in rows:
    data.setdefault((route, server), {})[int(rnd)] = (float(rps), float(p99), float(cpu))
print()
print("| route | server | req/s (median) | p99 ms (median) | CPU µs/request (median) |")
print("|---|---|---:|---:|---:|")
for route in ("ping", "post", "post_c1000"):
    for server in ("axum", "worker"):
        d = data[(route, server)].values()
        print(f"| {route} | {server} | {statistics.median(x[0] for x in d):,.0f} | "
              f"{statistics.median(x[1] for x in d):.2f} | {statistics.median(x[2] for x in d):.2f} |")
print()
print("| route | req/s ratio | p99 ratio | CPU/request ratio | (worker ÷ axum: median of per-round ratios) |")
print("|---|---:|---:|---:|---|")
for route in ("ping", "post", "post_c1000"):
    a, w = data[(route, "axum")], data[(route, "worker")]
    ratio = lambda i: statistics.median(w[r][i] / a[r][i] for r in a)
    # Issue 6 asked ≥ 0.90 of axum's req/s; issue 7 asks ≥ 0.95 for the bound POST.
    target = 0.90 if route == "ping" else 0.95
    print(f"| {route} | {ratio(0):.3f} (target ≥ {target:.2f}) | {ratio(1):.3f} (target ≤ 1.30) | {ratio(2):.3f} | |")
PY

# Start to first 200 and idle memory, measured by a small Python driver (its own start-up is
# outside the timed span: the clock starts right before the spawn).
python3 - "$BIN" "$BASE_PORT" "$STARTS" <<'PY'
import os, socket, statistics, subprocess, sys, time

bin_dir, port, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def status(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).split(b" ")[1]
    except (OSError, IndexError):
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

print()
for name in ("minimal_axum", "lb_worker"):
    times = []
    for _ in range(runs):
        p, ms = start(name)
        times.append(ms)
        p.kill(); p.wait()
    times.sort()
    p90 = times[max(0, int(len(times) * 0.9) - 1)]
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

# Instructions per request in user space, counted by callgrind: deterministic, so it is the
# figure to compare when the machine is shared (wall-clock figures above move with other load).
# Kernel time (the same syscalls for both servers) is not counted. Skipped without valgrind.
if command -v valgrind >/dev/null && [ "${INSTRUCTIONS:-1}" = 1 ]; then
    echo
    echo "| route | server | user-space instructions per request (callgrind) |"
    echo "|---|---|---:|"
    python3 - "$BIN" "$BASE_PORT" <<'PY'
import http.client, os, subprocess, sys, tempfile, time

bin_dir, port = sys.argv[1], int(sys.argv[2])

def requests(path, n):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(n):
        if path == "/add":
            c.request("POST", path, body='{"a":1,"b":2}', headers={"Content-Type": "application/json"})
        else:
            c.request("GET", path)
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status

def total(name, path, n):
    out = tempfile.mktemp()
    env = dict(os.environ, PORT=str(port), FLASH_HOST="127.0.0.1")
    # Pinned to one core like the servers above (the worker then runs single-threaded).
    p = subprocess.Popen(["taskset", "-c", "0", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"{bin_dir}/{name}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            requests("/ping", 1)
            break
        except (OSError, AssertionError, http.client.HTTPException):
            time.sleep(0.05)
    requests(path, n)
    p.terminate(); p.wait()
    with open(out) as f:
        ir = next(int(l.split()[1]) for l in f if l.startswith(("summary:", "totals:")))
    os.unlink(out)
    return ir

for path, route in (("/ping", "ping"), ("/add", "post")):
    for name, label in (("minimal_axum", "axum"), ("lb_worker", "worker")):
        per = (total(name, path, 3000) - total(name, path, 1000)) / 2000
        print(f"| {route} | {label} | {per:,.0f} |")
PY
fi
