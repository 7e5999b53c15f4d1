"""Runpod's official Python client (`runpod` from PyPI) against `flashc dev`.

Copies tests/dev/fixture, starts `flashc dev --port 0` on it, and drives its queue endpoint `jobs`
with `runpod.Endpoint("jobs")` and `runpod.AsyncioEndpoint` exactly as a user would with
`RUNPOD_ENDPOINT_BASE_URL=http://127.0.0.1:PORT`, unchanged: run_sync, run, status, output,
cancel, health, purge_queue. Then a load-balanced route calls the queue endpoint, and Ctrl+C
stops everything.

    python tests/python/runpod_dev.py target/debug/flashc

Exits non-zero on the first failed check. `.ci/run` runs it in the venv that has `runpod`.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def echo(stream):
    for line in stream:
        print(f"[flashc dev] {line}", end="", flush=True)


def start_dev(flashc, project):
    env = dict(os.environ)
    # The target dir tests/dev.rs builds the same host in: warm by the time this runs in CI.
    env["CARGO_TARGET_DIR"] = os.path.join(REPO, "target", "generated")
    proc = subprocess.Popen(
        [flashc, "dev", "--port", "0", project],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 900
    for line in proc.stderr:
        print(f"[flashc dev] {line}", end="", flush=True)
        if "flashc dev: ready" in line:
            url = line.split("http://")[1].split()[0]
            # Keep reading, so flashc never blocks on a full pipe.
            threading.Thread(target=echo, args=(proc.stderr,), daemon=True).start()
            return proc, int(url.rsplit(":", 1)[1])
        if time.time() > deadline:
            break
    proc.kill()
    raise AssertionError("flashc dev never became ready")


def sync_checks(runpod, port):
    ep = runpod.Endpoint("jobs")
    out = ep.run_sync({"n": 21}, timeout=30)
    check(out == 42, f"run_sync on /jobs: {out}")

    job = ep.run({"n": 4, "sleep_ms": 300})
    check(job.status() in ("IN_QUEUE", "IN_PROGRESS"), "run → queued")
    check(job.output(timeout=30) == 8, "output(timeout) waits for the job")
    check(job.status() == "COMPLETED", "status after output is COMPLETED")

    slow = ep.run({"n": 1, "sleep_ms": 10000})
    cancelled = slow.cancel()
    check(cancelled.get("status") == "CANCELLED", f"cancel: {cancelled}")

    health = ep.health()
    check(set(health) >= {"jobs", "workers"}, f"health: {health}")

    # Two run at once (max_concurrency: 2): of six slow jobs, at least three wait to be purged.
    jobs = [ep.run({"n": i, "sleep_ms": 2000}) for i in range(6)]
    purged = ep.purge_queue()
    check(purged.get("removed", 0) >= 3, f"purge_queue: {purged}")
    for j in jobs:
        j.cancel()

    # A load-balanced route that calls the queue endpoint (Endpoint::named("jobs")).
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/work",
        data=json.dumps({"n": 5}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        check(json.loads(r.read()) == 10, "POST /api/work ran a job on /jobs")


async def async_checks(runpod):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        ep = runpod.AsyncioEndpoint("jobs", session)
        job = await ep.run({"n": 7, "sleep_ms": 200})
        out = await job.output(timeout=30)
        check(out == 14, f"async output: {out}")
        health = await ep.health()
        check("jobs" in health, f"async health: {health}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    flashc = os.path.abspath(sys.argv[1])
    project = os.path.join(REPO, "target", "dev-tests", "runpod-client")
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(os.path.join(REPO, "tests", "dev", "fixture"), project)
    proc, port = start_dev(flashc, project)
    try:
        # RUNPOD_ENDPOINT_BASE_URL is read when `runpod` is imported, as users set it.
        os.environ["RUNPOD_ENDPOINT_BASE_URL"] = f"http://127.0.0.1:{port}"
        import runpod

        runpod.api_key = "unused-locally"
        sync_checks(runpod, port)
        asyncio.run(async_checks(runpod))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    check(code == 0, f"flashc dev exits 0 on Ctrl+C (got {code})")
    print(f"runpod {runpod.__version__}: every check against flashc dev passed")


if __name__ == "__main__":
    main()
