"""Runpod's official Python client (`runpod` from PyPI) against three replicas sharing a queue on Redis.

Starts a redis-server (free loopback port, its own directory, append-only file on) and three
replicas of a queue worker with `FLASH_QUEUE_URL`: processes of the example queue worker
(`runtime/examples/queue_worker.rs`, built with the `redis` feature), or containers of a
generated queue worker's image (`--docker IMAGE`, on the host network: tests/docker/replicas.sh).
Submits 1,000 jobs with `runpod.Endpoint.run` spread over the replicas, each with a webhook to a
receiver here, kills one replica (SIGKILL; `docker kill -s KILL`) while it runs jobs (frozen first
with SIGSTOP or `docker pause`, and killed only once Redis shows its consumer holding attempts,
so the kill always cuts some: a fast job can end between a look and a kill), then reads
every job's output with `runpod`'s `Job` through a replica that did not take it: every job
COMPLETED once with its own output, none lost, the dead replica's attempts retried; every job's
webhook arrived, each delivery of one job with the same body and the same `Idempotency-Key`
(a second delivery only where the killed replica was cut between sending it and recording it).

    python runtime/tests/python/runpod_redis.py target/debug/examples/queue_worker
    python runtime/tests/python/runpod_redis.py --docker IMAGE --input '{"text": "job {i}"}'

`--input` is the job input as JSON, `{i}` in its strings replaced by the job's number (default:
the example worker's `{"name": "j{i}", "sleep_ms": 20}`, whose output is checked exactly; for
another worker the output must be present). Exits non-zero on the first failed check; without
redis-server on PATH it says so and exits 0. `.ci/run` runs it in the venv of runpod_client.py.
"""

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

KEY = "flash-test-key"
JOBS = 1000
ENDPOINT = "shared-queue"
# The queue's name in Redis (FLASH_QUEUE_NAME); its keys are runtime/src/route_contract.rs's.
QUEUE = "py"


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


class Replicas:
    """Three replicas: processes of a binary, or containers of an image (host network)."""

    def __init__(self, binary, image):
        self.binary, self.image = binary, image
        self.procs, self.names = [], []

    def start(self, n, env):
        if self.image is None:
            full = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_WEBHOOK_")}
            full.update(env)
            self.procs.append(subprocess.Popen([self.binary], env=full))
            return
        name = f"flash-replica-{os.getpid()}-{n}"
        args = ["docker", "run", "-d", "--name", name, "--network", "host"]
        if n == 0:
            # A tenth of a core for the replica to be killed: a generated worker's jobs are too
            # fast to be caught running, unless the machine they run on is slow.
            args += ["--cpus", "0.1"]
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        subprocess.run(args + [self.image], check=True, stdout=subprocess.DEVNULL)
        self.names.append(name)

    def freeze(self, n):
        """Stops the replica where it stands (SIGSTOP; `docker pause`): nothing it runs moves on.
        False when it could not be frozen: the cgroup freezer of a nested Docker engine fails
        now and then ("unable to freeze"); the caller looks again at its next job."""
        if self.image is None:
            self.procs[n].send_signal(signal.SIGSTOP)
            return True
        paused = subprocess.run(["docker", "pause", self.names[n]], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if paused.returncode != 0:
            print(f"note: docker pause failed, looking again: {paused.stderr.strip()}", flush=True)
        return paused.returncode == 0

    def thaw(self, n):
        if self.image is None:
            self.procs[n].send_signal(signal.SIGCONT)
        else:
            subprocess.run(["docker", "unpause", self.names[n]], check=True,
                           stdout=subprocess.DEVNULL)

    def kill(self, n):
        if self.image is None:
            self.procs[n].send_signal(signal.SIGKILL)
            self.procs[n].wait()
        else:
            subprocess.run(["docker", "kill", "-s", "KILL", self.names[n]], check=True,
                           stdout=subprocess.DEVNULL)

    def terminate(self, n):
        """SIGTERM; the exit code."""
        if self.image is None:
            self.procs[n].terminate()
            return self.procs[n].wait(timeout=40)
        subprocess.run(["docker", "stop", "-t", "40", self.names[n]], check=True,
                       stdout=subprocess.DEVNULL)
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.ExitCode}}", self.names[n]],
                             check=True, capture_output=True, text=True).stdout
        return int(out.strip())

    def logs(self, n):
        if self.image is None:
            return ""
        r = subprocess.run(["docker", "logs", "--tail", "40", self.names[n]], capture_output=True,
                           text=True)
        return r.stdout + r.stderr

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for name in self.names:
            subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


class Webhooks(http.server.ThreadingHTTPServer):
    """Receives webhooks on loopback: job id -> [(Idempotency-Key, body)] per delivery."""

    def __init__(self):
        self.got, self.lock = {}, threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.got.setdefault(body.get("id"), []).append(
                        (self.headers.get("Idempotency-Key"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def snapshot(self):
        with self.lock:
            return {k: list(v) for k, v in self.got.items()}


PAD = "w " * 4_000_000


def held(rport, replica):
    """How many stream entries (attempts) the replica's consumer holds, from XPENDING's summary:
    total, first id, last id, then one (consumer, count) pair per consumer."""
    out = subprocess.run(
        [shutil.which("redis-cli"), "-p", str(rport), "XPENDING", f"flash:{{{QUEUE}}}:stream",
         "workers"], check=True, capture_output=True, text=True).stdout.split()
    pairs = out[3:]
    return sum(int(pairs[k + 1]) for k in range(0, len(pairs), 2)
               if pairs[k].startswith(f"{replica}-"))


def job_input(template, i):
    def fill(v):
        if isinstance(v, str):
            return v.replace("{i}", str(i)).replace("{pad}", PAD)
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v
    return fill(template)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", nargs="?", help="the queue worker binary (processes)")
    parser.add_argument("--docker", metavar="IMAGE", help="a queue worker image (containers)")
    parser.add_argument("--input", help="the job input, JSON; {i} is the job's number")
    parser.add_argument("--slow-input", help="the input of the jobs submitted from a third of the "
                        "way until the kill, which must run long enough for the kill to land "
                        "mid-job; {pad} is "
                        "8 MB of words (default: the example worker's sleep_ms 1000)")
    parser.add_argument("--jobs", type=int, default=JOBS)
    opts = parser.parse_args()
    if (opts.binary is None) == (opts.docker is None):
        parser.error("give a worker binary or --docker IMAGE")
    default_input = opts.input is None
    template = json.loads(opts.input) if opts.input else {"name": "j{i}", "sleep_ms": 20}
    slow = json.loads(opts.slow_input) if opts.slow_input else {"name": "j{i}", "sleep_ms": 1000}
    burst = range(opts.jobs // 3, opts.jobs // 3 + 12)
    jobs = opts.jobs
    server = shutil.which("redis-server")
    if server is None or shutil.which("redis-cli") is None:
        print("SKIPPED: redis-server is not installed; the Redis queue was NOT tested", flush=True)
        return
    work = tempfile.mkdtemp(prefix="flash-runpod-redis-")
    rport = free_port()
    replicas = Replicas(opts.binary, opts.docker)
    hooks = Webhooks()
    redis = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(rport), "--dir", work, "--save", "",
         "--appendonly", "yes", "--logfile", os.path.join(work, "redis.log")])
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", rport), timeout=1), "redis-server")
        ports = []
        for n in range(3):
            port = free_port()
            # HOSTNAME starts the replica's consumer name in the group, so that the entries it
            # holds can be counted (`held`).
            replicas.start(n, dict(PORT=str(port), FLASH_HOST="127.0.0.1", RUNPOD_API_KEY=KEY,
                                   HOSTNAME=f"replica{n}",
                                   FLASH_QUEUE_URL=f"redis://127.0.0.1:{rport}/0",
                                   FLASH_QUEUE_NAME=QUEUE, FLASH_QUEUE_LEASE_MS="1000",
                                   FLASH_LOG_LEVEL="warn"))
            ports.append(port)
        for n, port in enumerate(ports):
            try:
                wait_for(lambda: get(f"http://127.0.0.1:{port}/ping")[0] == 200,
                         f"replica {port} ready", limit=60)
            except AssertionError:
                print(replicas.logs(n), file=sys.stderr)
                raise

        import runpod
        from runpod.endpoint.runner import Job

        runpod.api_key = KEY
        endpoints = []
        for port in ports:
            # RunPodClient reads runpod.endpoint_url_base when it is made: one per replica.
            runpod.endpoint_url_base = f"http://127.0.0.1:{port}/v2"
            endpoints.append(runpod.Endpoint(ENDPOINT))

        alive = [0, 1, 2]
        killed_at, cut, looks = None, 0, 0
        ids = []
        started = time.time()
        for i in range(jobs):
            ep = endpoints[alive[i % len(alive)]]
            # From a third of the way, slow jobs (at least 12, so that every replica is running
            # some) until replica 0 is killed, at most 100.
            slow_phase = 0 in alive and burst.start <= i < burst.start + 100
            shape = slow if slow_phase else template
            ids.append(ep.run({"input": job_input(shape, i), "webhook": hooks.url()}).job_id)
            # Then, whenever replica 0 runs jobs: freeze it, and if Redis shows it holding
            # attempts (a job can end between a look at /health and the freeze), kill it without a
            # word; otherwise let it go on and look again. (Submissions go on meanwhile.)
            if slow_phase and i >= burst[-1] and \
                    get(f"http://127.0.0.1:{ports[0]}/health")[1]["workers"]["running"] > 0:
                if not replicas.freeze(0):
                    continue
                cut = held(rport, "replica0")
                looks += 1
                if cut == 0:
                    replicas.thaw(0)
                    continue
                replicas.kill(0)
                killed_at = i
                alive = [1, 2]
        check(0 not in alive, f"replica 0 killed holding {cut} attempt(s) in Redis, after job "
              f"{killed_at} (frozen {looks} time(s) while /health said it ran jobs)")
        check(len(set(ids)) == jobs, f"{jobs} jobs accepted through runpod.Endpoint.run over 3 replicas")

        def drained():
            _, h = get(f"http://127.0.0.1:{ports[1]}/health")
            return h["jobs"]["inQueue"] == 0 and h["jobs"]["inProgress"] == 0
        wait_for(drained, "the queue drains", limit=90)
        print(f"{jobs} jobs submitted and drained in {time.time() - started:.1f} s", flush=True)
        _, health = get(f"http://127.0.0.1:{ports[2]}/health")
        check(health["jobs"]["completed"] == jobs and health["jobs"]["failed"] == 0,
              f"every job completed, none failed: {health}")
        check(health["jobs"]["retried"] >= cut,
              f"the killed replica's {cut} attempt(s) were retried: {health}")

        # Every output read with runpod's Job through a surviving replica, alternating.
        for i, job_id in enumerate(ids):
            client = endpoints[1 + i % 2].rp_client
            job = Job(ENDPOINT, job_id, client)
            out = job.output(timeout=30)
            own = out == {"greeting": f"hello j{i}", "count": 1} if default_input else out is not None
            if not own or job.status() != "COMPLETED":
                raise AssertionError(f"job {i} ({job_id}): {job.status()} {out}")
        check(True, f"all {jobs} outputs read through the replicas alive, each its own")

        # Webhooks: each job's arrived; a job's deliveries carry one body and one key. A second
        # delivery is allowed only where the killed replica was cut between sending a webhook and
        # recording that it was answered (at most what it had in flight when it died).
        wait_for(lambda: len(hooks.snapshot()) >= jobs, "every webhook arrives", limit=60)
        time.sleep(1.5)  # the lease after which a dead replica's claimed webhooks are taken over
        got = hooks.snapshot()
        check(set(got) == set(ids), f"a webhook for each of the {jobs} jobs, none for another")
        twice = 0
        for job_id, deliveries in got.items():
            keys = {k for k, _ in deliveries}
            bodies = [b for _, b in deliveries]
            if len(keys) != 1 or None in keys or any(b != bodies[0] for b in bodies):
                raise AssertionError(f"job {job_id}: deliveries differ: {deliveries}")
            if bodies[0]["status"] != "COMPLETED":
                raise AssertionError(f"job {job_id}: webhook {bodies[0]}")
            twice += len(deliveries) > 1
        check(twice <= 20, f"webhooks: {jobs} jobs, {twice} delivered twice (same Idempotency-Key)")

        for n in (1, 2):
            check(replicas.terminate(n) == 0, "a replica exits 0 on SIGTERM")
        print(f"runpod {runpod.__version__}: every check passed")
    finally:
        replicas.cleanup()
        hooks.shutdown()
        redis.kill()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
