"""What bench.py and queue_bench.py measure alike: a server process's cold start and peak RSS,
and a closed-loop load of keep-alive clients with its rate and latency percentiles."""

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password?",
    "Stock markets fell sharply on Monday after the announcement.",
    "A kitten naps on the couch in the afternoon sun.",
    "Serverless workers scale to zero when there is no traffic.",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A server started from `argv` and `env` (`{port}` in either replaced by a free port), timed
    from its start until `answers(conn)` first returns true: its cold start to a first answer."""

    def __init__(self, name, argv, env, answers):
        self.name, self.port = name, free_port()
        env = dict(os.environ, **env)
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        env = {k: v.replace("{port}", str(self.port)) for k, v in env.items()}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, env=env, cwd=HERE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"{name} exited with {self.proc.returncode} before answering")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                ok = answers(conn)
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


def load(port, concurrency, seconds, call):
    """`concurrency` clients, each a keep-alive connection calling `call(conn, text)` (true when
    answered right) with one of SENTENCES after another until `seconds` are up. Returns the
    rate, p50 and p99 in ms, the number of calls and how many were not answered right."""
    latencies, errors = [], []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        own, failed, n = [], 0, i
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            ok = call(conn, SENTENCES[n % len(SENTENCES)])
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
            "calls": len(latencies), "errors": sum(errors)}


def alternate(servers, concurrencies, rounds, measure):
    """`rounds` rounds of `measure(server, concurrency)` at each concurrency, the servers taking
    turns so that all see the same machine; the best round (by rate) of each, by name."""
    results = {s.name: {} for s in servers}
    for c in concurrencies:
        runs = {s.name: [] for s in servers}
        for _ in range(rounds):
            for s in servers:
                runs[s.name].append(measure(s, c))
        for name, rs in runs.items():
            results[name][c] = max(rs, key=lambda r: r["per_s"])
    return results
