# Shared by the runtime's benchmark scripts, sourced from the repository root after their
# settings: a work directory removed on exit with every server in PID killed, readiness polling,
# and one wrk run summarized with the server's own CPU time. Needs wrk, taskset and curl.
# shellcheck shell=bash

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
declare -A PID=()
WORK=$(mktemp -d)
cleanup() {
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Returns once GET /ping on the port answers 200; fails the script after 5 s.
wait_ready() { # port
    for _ in $(seq 1 500); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/ping" 2>/dev/null || true)" = 200 ]; then
            return 0
        fi
        sleep 0.01
    done
    echo "server on $1 never became ready" >&2
    exit 1
}

# Starts server NAME (a key of PORT) pinned to core 0 with PORT set; its pid goes in PID[NAME].
# Scripts start their servers afresh every round: a server's speed varies from one start to the
# next by several percent (memory layout, which connections land together), and servers started
# once per run froze one draw of that into every round (two runs of the same binaries read 0.90
# and 0.99).
start_server() { # name command [args...]
    local name=$1
    shift
    taskset -c 0 env PORT="${PORT[$name]}" "$@" >/dev/null 2>&1 &
    PID[$name]=$!
}

# Stops every server in PID and waits for them.
stop_servers() {
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PID[@]}"; do wait "$p" 2>/dev/null || true; done
    PID=()
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One wrk run (1 thread, on core 1) against the server with this pid → "req_per_s p99_ms
# server_cpu_us_per_request". A run with non-2xx answers fails the script: it measured errors.
wrk_summary() { # pid wrk-arguments...
    local pid=$1 t0 t1
    shift
    t0=$(cpu_ticks "$pid")
    taskset -c 1 wrk -t1 --latency "$@" >"$WORK/wrk.out"
    t1=$(cpu_ticks "$pid")
    if grep -q "Non-2xx" "$WORK/wrk.out"; then
        echo "non-2xx answers:" >&2
        cat "$WORK/wrk.out" >&2
        exit 1
    fi
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
