"""Runpod's official Python client (`runpod` from PyPI) against the local queue API.

Starts the example queue worker (`runtime/examples/queue_worker.rs`) on free ports with an API key,
a separate health port and a custom health path, then drives it with `runpod.Endpoint` and
`runpod.AsyncioEndpoint` exactly as a user would drive the real platform: run, run_sync, status,
output, stream, cancel, health, purge_queue, under `RUNPOD_ENDPOINT_BASE_URL=http://host:port/v2`
and `http://host:port`, with any endpoint id.

    python runtime/tests/python/runpod_client.py target/debug/examples/queue_worker

Exits non-zero on the first failed check. `.ci/run` runs it in a venv with `runpod` installed.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

KEY = "flash-test-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, headers=None, body=None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def start_worker(binary):
    port, health_port = free_port(), free_port()
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("RUNPOD_WEBHOOK_"):
            del env[k]
    env.update(
        PORT=str(port),
        PORT_HEALTH=str(health_port),
        HEALTH_CHECK_PATH="/healthz",
        FLASH_HOST="127.0.0.1",
        RUNPOD_API_KEY=KEY,
        FLASH_LOG_LEVEL="warn",
    )
    proc = subprocess.Popen([binary], env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            status, _ = http("GET", f"http://127.0.0.1:{health_port}/healthz")
            if status == 200:
                return proc, port, health_port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the worker never became healthy on PORT_HEALTH")


def raw_checks(port, health_port):
    base = f"http://127.0.0.1:{port}"
    status, body = http("GET", f"{base}/healthz")
    check(status == 200 and json.loads(body) == {"status": "healthy"},
          "HEALTH_CHECK_PATH is served on PORT without a key")
    status, _ = http("GET", f"http://127.0.0.1:{health_port}/healthz")
    check(status == 200, "HEALTH_CHECK_PATH is served on PORT_HEALTH")
    for path in ("/health", "/v2/abc/health", "/abc/health"):
        status, body = http("GET", base + path)
        check(status == 401 and "error" in json.loads(body), f"{path} without a key is 401 JSON")
        status, body = http("GET", base + path, {"Authorization": "Bearer wrong"})
        check(status == 401, f"{path} with a wrong key is 401")
        status, body = http("GET", base + path, {"Authorization": f"Bearer {KEY}"})
        check(status == 200 and "jobs" in json.loads(body), f"{path} with the key is 200")


def sync_checks(runpod, base, endpoint_id):
    runpod.endpoint_url_base = base
    ep = runpod.Endpoint(endpoint_id)
    where = f"{base}/{endpoint_id}"

    out = ep.run_sync({"name": "Ada", "count": 2}, timeout=30)
    check(out == {"greeting": "hello Ada", "count": 2}, f"run_sync under {where}: {out}")

    # The client wraps an input without an "input" key itself; an explicit one passes as is.
    out = ep.run_sync({"input": {"name": "Eve"}}, timeout=30)
    check(out == {"greeting": "hello Eve", "count": 1}, f"run_sync with an explicit input: {out}")

    job = ep.run({"name": "Bob", "sleep_ms": 300})
    first = job.status()
    check(first in ("IN_QUEUE", "IN_PROGRESS"), f"run → status {first}")
    out = job.output(timeout=30)
    check(out == {"greeting": "hello Bob", "count": 1}, f"output(timeout) waits: {out}")
    check(job.status() == "COMPLETED", "status after output is COMPLETED")

    job = ep.run({"name": "Sam", "mode": "stream", "count": 3, "sleep_ms": 200})
    chunks = list(job.stream())
    check([c["index"] for c in chunks] == [0, 1, 2] and chunks[0]["token"] == "hello Sam",
          f"stream yields every chunk: {chunks}")

    job = ep.run({"name": "Fay", "mode": "fail"})
    deadline = time.time() + 30
    while job.status() not in ("COMPLETED", "FAILED") and time.time() < deadline:
        time.sleep(0.2)
    check(job.status() == "FAILED", "a failing job ends FAILED")

    slow = ep.run({"name": "Cal", "sleep_ms": 10000})
    cancelled = slow.cancel()
    check(cancelled.get("status") == "CANCELLED" and cancelled.get("id") == slow.job_id,
          f"cancel: {cancelled}")

    health = ep.health()
    check(set(health) >= {"jobs", "workers"} and health["jobs"]["completed"] >= 3,
          f"health: {health}")

    # The worker runs 4 jobs at once: 8 slow jobs leave at least 4 in the queue to purge.
    jobs = [ep.run({"name": f"P{i}", "sleep_ms": 2000}) for i in range(8)]
    purged = ep.purge_queue()
    check(purged.get("status") == "completed" and purged.get("removed", 0) >= 4,
          f"purge_queue: {purged}")
    for j in jobs:
        j.cancel()

    bad = runpod.Endpoint(endpoint_id, api_key="wrong-key")
    try:
        bad.health()
        check(False, "a wrong key is refused")
    except RuntimeError as e:
        check("401" in str(e), "a wrong key is refused with 401")


async def async_checks(runpod, base, endpoint_id):
    import aiohttp

    runpod.endpoint_url_base = base
    async with aiohttp.ClientSession() as session:
        ep = runpod.AsyncioEndpoint(endpoint_id, session)
        job = await ep.run({"name": "Ann", "sleep_ms": 200})
        status = await job.status()
        check(status in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED"), f"async run → {status}")
        out = await job.output(timeout=30)
        check(out == {"greeting": "hello Ann", "count": 1}, f"async output: {out}")

        job = await ep.run({"name": "Zed", "mode": "stream", "count": 2})
        chunks = [c async for c in job.stream()]
        check([c["index"] for c in chunks] == [0, 1], f"async stream: {chunks}")

        job = await ep.run({"name": "Kim", "sleep_ms": 10000})
        cancelled = await job.cancel()
        check(cancelled.get("status") == "CANCELLED", f"async cancel: {cancelled}")

        health = await ep.health()
        check("jobs" in health and "workers" in health, f"async health: {health}")
        purged = await ep.purge_queue()
        check(purged.get("status") == "completed", f"async purge_queue: {purged}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    proc, port, health_port = start_worker(sys.argv[1])
    try:
        # RUNPOD_ENDPOINT_BASE_URL is read when `runpod` is imported, as users set it.
        os.environ["RUNPOD_ENDPOINT_BASE_URL"] = f"http://127.0.0.1:{port}/v2"
        import runpod

        check(runpod.endpoint_url_base == f"http://127.0.0.1:{port}/v2",
              "RUNPOD_ENDPOINT_BASE_URL is honoured by the client")
        runpod.api_key = KEY
        raw_checks(port, health_port)
        sync_checks(runpod, f"http://127.0.0.1:{port}/v2", "my-endpoint-1a2b")
        sync_checks(runpod, f"http://127.0.0.1:{port}", "other-endpoint")
        asyncio.run(async_checks(runpod, f"http://127.0.0.1:{port}/v2", "my-endpoint-1a2b"))
        asyncio.run(async_checks(runpod, f"http://127.0.0.1:{port}", "x"))
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    check(code == 0, f"the worker exits 0 on SIGTERM (got {code})")
    print(f"runpod {runpod.__version__}: every check passed")


if __name__ == "__main__":
    main()
