"""Runpod's official Python client (`runpod` from PyPI) against three replicas sharing a queue on Redis.

Starts a redis-server (free loopback port, its own directory, append-only file on) and three
processes of the example queue worker (`runtime/examples/queue_worker.rs`, built with the `redis`
feature) with `FLASH_QUEUE_URL`. Submits 1,000 jobs with `runpod.Endpoint.run` spread over the
replicas, SIGKILLs one replica while it runs jobs, then reads every job's output with
`runpod`'s `Job` through a replica that did not take it: every job COMPLETED once with its own
output, none lost, the dead replica's attempts retried.

    python runtime/tests/python/runpod_redis.py target/debug/examples/queue_worker

Exits non-zero on the first failed check; without redis-server on PATH it says so and exits 0.
`.ci/run` runs it in the venv of runpod_client.py.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

KEY = "flash-test-key"
JOBS = 1000
ENDPOINT = "shared-queue"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def wait_for(pred, what, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out: {what}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    server = shutil.which("redis-server")
    if server is None:
        print("SKIPPED: redis-server is not installed; the Redis queue was NOT tested", flush=True)
        return
    work = tempfile.mkdtemp(prefix="flash-runpod-redis-")
    rport = free_port()
    procs = []
    redis = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(rport), "--dir", work, "--save", "",
         "--appendonly", "yes", "--logfile", os.path.join(work, "redis.log")])
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", rport), timeout=1), "redis-server")
        ports = []
        for n in range(3):
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_WEBHOOK_")}
            env.update(PORT=str(port), FLASH_HOST="127.0.0.1", RUNPOD_API_KEY=KEY,
                       FLASH_QUEUE_URL=f"redis://127.0.0.1:{rport}/0", FLASH_QUEUE_NAME="py",
                       FLASH_QUEUE_LEASE_MS="1000", FLASH_LOG_LEVEL="warn")
            procs.append(subprocess.Popen([sys.argv[1]], env=env))
            ports.append(port)
        for port in ports:
            wait_for(lambda: get(f"http://127.0.0.1:{port}/ping")[0] == 200, f"replica {port} ready")

        import runpod
        from runpod.endpoint.runner import Job

        runpod.api_key = KEY
        endpoints = []
        for port in ports:
            # RunPodClient reads runpod.endpoint_url_base when it is made: one per replica.
            runpod.endpoint_url_base = f"http://127.0.0.1:{port}/v2"
            endpoints.append(runpod.Endpoint(ENDPOINT))

        alive = [0, 1, 2]
        ids = []
        for i in range(JOBS):
            ep = endpoints[alive[i % len(alive)]]
            ids.append(ep.run({"name": f"j{i}", "sleep_ms": 20}).job_id)
            if i == JOBS // 3:
                # Once replica 0 runs jobs: kill it without a word.
                wait_for(lambda: get(f"http://127.0.0.1:{ports[0]}/health")[1]["workers"]["running"] > 0,
                         "replica 0 runs jobs", limit=10)
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
                alive = [1, 2]
        check(len(set(ids)) == JOBS, f"{JOBS} jobs accepted through runpod.Endpoint.run over 3 replicas")

        def drained():
            _, h = get(f"http://127.0.0.1:{ports[1]}/health")
            return h["jobs"]["inQueue"] == 0 and h["jobs"]["inProgress"] == 0
        wait_for(drained, "the queue drains", limit=90)
        _, health = get(f"http://127.0.0.1:{ports[2]}/health")
        check(health["jobs"]["completed"] == JOBS and health["jobs"]["failed"] == 0,
              f"every job completed, none failed: {health}")
        check(health["jobs"]["retried"] >= 1, f"the killed replica's attempts were retried: {health}")

        # Every output read with runpod's Job through a surviving replica, alternating.
        for i, job_id in enumerate(ids):
            client = endpoints[1 + i % 2].rp_client
            job = Job(ENDPOINT, job_id, client)
            out = job.output(timeout=30)
            if out != {"greeting": f"hello j{i}", "count": 1} or job.status() != "COMPLETED":
                raise AssertionError(f"job {i} ({job_id}): {job.status()} {out}")
        check(True, f"all {JOBS} outputs read through the replicas alive, each its own")

        for p in procs[1:]:
            p.terminate()
        for p in procs[1:]:
            check(p.wait(timeout=40) == 0, "a replica exits 0 on SIGTERM")
        print(f"runpod {runpod.__version__}: every check passed")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        redis.kill()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
