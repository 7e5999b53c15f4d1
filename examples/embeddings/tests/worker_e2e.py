"""The generated `api` worker of examples/embeddings, end to end over HTTP (run by .ci/run).

    worker_e2e.py API_WORKER MODEL_DIR [QUEUE_WORKER]

API_WORKER is the built binary of `.flash/workers/api` (flashc generate, then cargo build);
QUEUE_WORKER, that of `.flash/workers/encode`, is driven through its local queue API (`/runsync`,
the protocol Runpod's client speaks): a job's output is `/embed`'s answer, no texts fail the job.
Checks of the api worker:
- with no model at MODEL_DIR, `init` fails: /ping answers 503, a route answers 503, the log names
  the directory and fetch-model.sh, and the process keeps serving (no panic);
- with the model, /ping answers 200, POST /embed answers 384 L2-normalised floats a text,
  POST /similarity ranks a paraphrase above an unrelated sentence, and bad input is a 400/422.
Servers listen on 127.0.0.1 and are stopped before the script ends.
"""

import http.client
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = None if body is None else json.dumps(body)
    conn.request(method, path, data, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    out = resp.read()
    conn.close()
    return resp.status, out


class Worker:
    def __init__(self, binary, model_dir):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ, PORT=str(self.port), FLASH_HOST="127.0.0.1", MODEL_DIR=model_dir)
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def ping_until(self, wanted, seconds=120):
        deadline = time.time() + seconds
        status = None
        while time.time() < deadline:
            assert self.proc.poll() is None, f"worker exited: {self.output()}"
            try:
                status, _ = call(self.port, "GET", "/ping")
                if status == wanted:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit(f"/ping never answered {wanted} (last {status}): {self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main():
    binary, model_dir = sys.argv[1], sys.argv[2]

    missing = os.path.join(tempfile.mkdtemp(), "no-model")
    w = Worker(binary, missing)
    try:
        w.ping_until(503)
        status, _ = call(w.port, "POST", "/embed", {"texts": ["hello"]})
        assert status == 503, status
        time.sleep(0.2)
        w.ping_until(503)  # still serving, still unhealthy
        log = w.output()
        assert "init failed" in log and missing in log and "fetch-model.sh" in log, log
        assert "panicked" not in log, log
    finally:
        w.stop()
    print("missing model: /ping 503, init error logged:", [l for l in log.splitlines() if "init failed" in l][0])

    w = Worker(binary, model_dir)
    try:
        w.ping_until(200)
        status, body = call(w.port, "POST", "/embed", {"texts": ["A man is playing a guitar.", "hello"]})
        assert status == 200, (status, body)
        rows = json.loads(body)["embeddings"]
        assert [len(r) for r in rows] == [384, 384], [len(r) for r in rows]
        for row in rows:
            assert abs(math.sqrt(sum(x * x for x in row)) - 1) < 1e-4
        ref = json.load(open(os.path.join(os.path.dirname(__file__), "reference", "reference.json")))
        assert ref["sentences"][0] == "A man is playing a guitar."
        diff = max(abs(a - b) for a, b in zip(rows[0], ref["embeddings"][0]))
        assert diff < 1e-4, diff

        def score(a, b):
            status, body = call(w.port, "POST", "/similarity", {"a": a, "b": b})
            assert status == 200, (status, body)
            return json.loads(body)["score"]

        close = score("How do I reset my password?", "I forgot my password and need to change it.")
        far = score("How do I reset my password?", "The recipe needs two cups of flour.")
        assert close > far + 0.3, (close, far)

        assert call(w.port, "POST", "/embed", {"texts": []})[0] == 400
        assert call(w.port, "POST", "/embed", {"text": "not texts"})[0] == 422
        assert call(w.port, "POST", "/similarity", {"a": "only a"})[0] == 422
    finally:
        w.stop()
    print(f"with the model: /embed matches the reference (max |diff| {diff:.2e}), "
          f"/similarity {close:.3f} (paraphrase) > {far:.3f} (unrelated), bad input 400/422")

    if len(sys.argv) > 3:
        q = Worker(sys.argv[3], model_dir)
        try:
            q.ping_until(200)
            status, body = call(q.port, "POST", "/runsync", {"input": {"texts": ref["sentences"][:2]}})
            job = json.loads(body)
            assert status == 200 and job["status"] == "COMPLETED", (status, body)
            rows = job["output"]["embeddings"]
            for got, want in zip(rows, ref["embeddings"][:2]):
                assert max(abs(a - b) for a, b in zip(got, want)) < 1e-4
            status, body = call(q.port, "POST", "/runsync", {"input": {"texts": []}})
            job = json.loads(body)
            assert job["status"] == "FAILED" and "at least one text" in job["error"], body
        finally:
            q.stop()
        print("queue worker: /runsync output matches the reference; no texts → FAILED with the reason")


if __name__ == "__main__":
    main()
