"""The queue shape: the generated `encode` worker vs the Runpod SDK's `runpod.serverless` handler
(python_queue_handler.py, served by the SDK's local test API, `--rp_serve_api`), same machine,
same run.

    queue_bench.py --rust BINARY --python-venv VENV --model-dir DIR [--seconds 8] [--rounds 2]

BINARY is the built `encode` worker (`cargo build --release --manifest-path
examples/embeddings/.flash/Cargo.toml -p embeddings-encode`); it serves its local queue API on
127.0.0.1 with an API key, as tests/runpod_client_e2e.py starts it. VENV holds runpod and
sentence-transformers. Measures, per worker: cold start (process start to the first `/runsync`
answered COMPLETED), jobs/s and p50/p99 latency of `POST /runsync` at concurrency 1 and 8 (one
text a job; the rounds of the two workers alternate so both see the same machine), and peak RSS
(VmHWM). Prints a Markdown table.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from bench import HERE, SENTENCES, free_port

KEY = "flash-embeddings-bench-key"


def runsync(conn, headers, text):
    body = json.dumps({"input": {"texts": [text]}})
    conn.request("POST", "/runsync", body, headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        return False
    out = json.loads(data)
    return out.get("status") == "COMPLETED" and len(out["output"]["embeddings"][0]) == 384


class Worker:
    def __init__(self, name, argv, env, headers):
        self.name, self.port, self.headers = name, free_port(), headers
        env = dict(os.environ, **env)
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        env = {k: v.replace("{port}", str(self.port)) for k, v in env.items()}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, env=env, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"{name} exited with {self.proc.returncode} before answering")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                ok = runsync(conn, self.headers, "hello")
                conn.close()
                if ok:
                    break
            except OSError:
                pass
            time.sleep(0.01)
        self.cold_start = time.perf_counter() - t0

    def peak_rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def load(worker, concurrency, seconds):
    """`concurrency` clients, each a keep-alive connection sending one-text jobs to /runsync."""
    latencies, errors = [], []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=120)
        own, failed, n = [], 0, i
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            ok = runsync(conn, worker.headers, SENTENCES[n % len(SENTENCES)])
            own.append(time.perf_counter() - t)
            failed += not ok
            n += 1
        conn.close()
        with lock:
            latencies.extend(own)
            errors.append(failed)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"per_s": len(latencies) / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "jobs": len(latencies), "errors": sum(errors)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rust", required=True, help="the built encode (queue) worker")
    ap.add_argument("--python-venv", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    json_headers = {"Content-Type": "application/json"}
    python = Worker(
        "python",
        [os.path.join(args.python_venv, "bin", "python"), "python_queue_handler.py", "--rp_serve_api",
         "--rp_api_host", "127.0.0.1", "--rp_api_port", "{port}", "--rp_log_level", "ERROR"],
        {"MODEL_DIR": args.model_dir},
        json_headers,
    )
    rust = Worker(
        "rust",
        [args.rust],
        {"MODEL_DIR": args.model_dir, "PORT": "{port}", "FLASH_HOST": "127.0.0.1", "RUNPOD_API_KEY": KEY,
         "FLASH_LOG_LEVEL": "warn"},
        dict(json_headers, Authorization=f"Bearer {KEY}"),
    )
    workers = [python, rust]
    results = {w.name: {} for w in workers}
    for c in (1, 8):
        rounds = {w.name: [] for w in workers}
        for _ in range(args.rounds):
            for w in workers:  # alternate: both see the same machine
                rounds[w.name].append(load(w, c, args.seconds))
        for name, rs in rounds.items():
            results[name][c] = max(rs, key=lambda r: r["per_s"])

    print("| queue (`/runsync`) | runpod SDK handler | rust encode worker | rust/python |")
    print("|---|---|---|---|")
    print(f"| cold start to first answer (s) | {python.cold_start:.2f} | {rust.cold_start:.2f} | {rust.cold_start / python.cold_start:.3f} |")
    for c in (1, 8):
        p, r = results["python"][c], results["rust"][c]
        print(f"| jobs/s, concurrency {c} | {p['per_s']:.1f} | {r['per_s']:.1f} | {r['per_s'] / p['per_s']:.2f} |")
        print(f"| p50 / p99 ms, concurrency {c} | {p['p50_ms']:.1f} / {p['p99_ms']:.1f} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} | {r['p99_ms'] / p['p99_ms']:.2f} (p99) |")
        if p["errors"] or r["errors"]:
            print(f"| failed jobs, concurrency {c} | {p['errors']} | {r['errors']} | |")
    print(f"| peak RSS (MB) | {python.peak_rss_mb():.0f} | {rust.peak_rss_mb():.0f} | {rust.peak_rss_mb() / python.peak_rss_mb():.2f} |")
    for w in workers:
        w.stop()


if __name__ == "__main__":
    main()
