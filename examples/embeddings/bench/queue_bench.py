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
import json
import os

from measure import Process, alternate, load

KEY = "flash-embeddings-bench-key"


def runsync(conn, headers, text):
    """One text as a job to `POST /runsync`: COMPLETED with its 384 floats."""
    body = json.dumps({"input": {"texts": [text]}})
    conn.request("POST", "/runsync", body, headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        return False
    out = json.loads(data)
    return out.get("status") == "COMPLETED" and len(out["output"]["embeddings"][0]) == 384


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rust", required=True, help="the built encode (queue) worker")
    ap.add_argument("--python-venv", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    json_headers = {"Content-Type": "application/json"}
    headers = {
        "python": json_headers,
        "rust": dict(json_headers, Authorization=f"Bearer {KEY}"),
    }

    def answers(name):
        return lambda conn: runsync(conn, headers[name], "hello")

    python = Process(
        "python",
        [os.path.join(args.python_venv, "bin", "python"), "python_queue_handler.py", "--rp_serve_api",
         "--rp_api_host", "127.0.0.1", "--rp_api_port", "{port}", "--rp_log_level", "ERROR"],
        {"MODEL_DIR": args.model_dir},
        answers("python"),
    )
    rust = Process(
        "rust",
        [args.rust],
        {"MODEL_DIR": args.model_dir, "PORT": "{port}", "FLASH_HOST": "127.0.0.1", "RUNPOD_API_KEY": KEY,
         "FLASH_LOG_LEVEL": "warn"},
        answers("rust"),
    )
    workers = [python, rust]
    results = alternate(
        workers, (1, 8), args.rounds,
        lambda w, c: load(w.port, c, args.seconds, lambda conn, text: runsync(conn, headers[w.name], text)),
    )

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
