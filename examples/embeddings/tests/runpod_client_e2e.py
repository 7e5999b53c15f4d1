"""The generated `encode` (queue) worker of examples/embeddings through Runpod's own Python client.

    runpod_client_e2e.py QUEUE_WORKER MODEL_DIR

QUEUE_WORKER is the built binary of `.flash/workers/encode` (flashc generate, then cargo build).
It runs on 127.0.0.1 with an API key, and `runpod` (from PyPI; `.ci/run` installs it in a venv)
drives its local queue API as a user drives the platform, under
`RUNPOD_ENDPOINT_BASE_URL=http://127.0.0.1:PORT/v2`:
- `run_sync` answers the embeddings of the reference sentences, to 1e-4 of the vectors computed
  with sentence-transformers (tests/reference), L2-normalised;
- `run` + `status` + `output`: a job queued and waited for; eight jobs at once all answer (the
  batcher shares forward passes between them) and each gets its own texts' embeddings;
- the embeddings mean what they should: a paraphrase scores above an unrelated sentence;
- a job with no texts ends FAILED with the handler's reason; `health` counts the jobs;
- a wrong key is refused.
The worker is stopped before the script ends. Exits non-zero on the first failed check.
"""

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

KEY = "flash-embeddings-key"
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def max_diff(a, b):
    assert len(a) == len(b), (len(a), len(b))
    return max(abs(x - y) for x, y in zip(a, b))


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def start_worker(binary, model_dir, log):
    port = free_port()
    env = dict(os.environ, PORT=str(port), FLASH_HOST="127.0.0.1", RUNPOD_API_KEY=KEY,
               MODEL_DIR=model_dir, FLASH_LOG_LEVEL="warn")
    proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as r:
                if r.status == 200:  # 204 while `init` loads the model
                    return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the worker never became healthy (model not loaded?)")


def checks(runpod, port):
    ref = json.load(open(os.path.join(HERE, "reference", "reference.json")))
    runpod.api_key = KEY
    runpod.endpoint_url_base = f"http://127.0.0.1:{port}/v2"
    ep = runpod.Endpoint("embeddings-encode")

    out = ep.run_sync({"texts": ref["sentences"]}, timeout=60)
    rows = out["embeddings"]
    check(len(rows) == len(ref["sentences"]) and all(len(r) == 384 for r in rows),
          f"run_sync: {len(rows)} embeddings of 384 floats")
    worst = max(max_diff(got, want) for got, want in zip(rows, ref["embeddings"]))
    check(worst < 1e-4, f"run_sync matches sentence-transformers' vectors (max |diff| {worst:.2e})")
    check(all(abs(math.sqrt(dot(r, r)) - 1) < 1e-4 for r in rows), "every embedding is L2-normalised")

    # Eight jobs at once: the worker runs up to max_concurrency (8) handlers, whose texts the
    # batcher shares forward passes between; each job still gets its own texts' rows.
    jobs = [(i, ep.run({"texts": [ref["sentences"][i % len(ref["sentences"])]]})) for i in range(8)]
    first = jobs[0][1].status()
    check(first in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED"), f"run → status {first}")
    for i, job in jobs:
        got = job.output(timeout=60)["embeddings"]
        want = ref["embeddings"][i % len(ref["sentences"])]
        check(len(got) == 1 and max_diff(got[0], want) < 1e-4, f"job {i} of 8 at once: its own text's embedding")
    check(jobs[0][1].status() == "COMPLETED", "status after output is COMPLETED")

    out = ep.run_sync({"texts": ["How do I reset my password?",
                                 "I forgot my password and need to change it.",
                                 "The recipe needs two cups of flour."]}, timeout=60)
    q, para, other = out["embeddings"]
    close, far = dot(q, para), dot(q, other)
    check(close > far + 0.3, f"paraphrase {close:.3f} > unrelated {far:.3f}")

    job = ep.run({"texts": []})
    deadline = time.time() + 30
    while job.status() not in ("COMPLETED", "FAILED") and time.time() < deadline:
        time.sleep(0.1)
    check(job.status() == "FAILED", "a job with no texts ends FAILED")

    health = ep.health()
    check(health["jobs"]["completed"] >= 10 and health["jobs"]["failed"] >= 1, f"health: {health['jobs']}")

    bad = runpod.Endpoint("embeddings-encode", api_key="wrong-key")
    try:
        bad.run_sync({"texts": ["hello"]}, timeout=10)
        refused = False
    except Exception as e:  # the client raises on the 401
        refused = "401" in str(e) or "nauthorized" in str(e)
    check(refused, "a wrong key is refused (401)")


def main():
    binary, model_dir = sys.argv[1], sys.argv[2]
    import runpod  # from the venv .ci/run makes; not a dependency of the repository

    with tempfile.TemporaryFile() as log:
        proc, port = start_worker(binary, model_dir, log)
        try:
            checks(runpod, port)
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"runpod {runpod.__version__} client vs the encode worker: all checks passed")


if __name__ == "__main__":
    main()
