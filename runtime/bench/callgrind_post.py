"""User-space instructions per request (callgrind) of built load-balanced workers, for comparing
revisions of the runtime: each binary (runtime/examples/lb_worker.rs or minimal_axum.rs, release)
is started pinned to core 0 under callgrind, sent 3,000 and then 1,000 requests on one
keep-alive connection, and the difference of the two totals is divided by 2,000, so start-up
and shutdown cancel out.

    PATHS=/add,/ping python3 runtime/bench/callgrind_post.py BINARY...

Run several rounds, alternating binaries, and compare medians: a binary's count moves by about
1% from run to run (hash seeds, addresses). runtime/bench/lb.sh prints the same figure for the
current tree against minimal axum.
"""
import http.client, os, subprocess, sys, tempfile, time
port = 18999
PATHS = os.environ.get("PATHS", "/add").split(",")
def requests(path, n):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(n):
        if path == "/add":
            c.request("POST", path, body='{"a":1,"b":2}', headers={"Content-Type": "application/json"})
        else:
            c.request("GET", path)
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
def total(binary, path, n):
    out = tempfile.mktemp()
    env = dict(os.environ, PORT=str(port), FLASH_HOST="127.0.0.1")
    p = subprocess.Popen(["taskset", "-c", "0", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            requests("/ping", 1); break
        except (OSError, AssertionError, http.client.HTTPException):
            time.sleep(0.05)
    requests(path, n)
    p.terminate(); p.wait()
    with open(out) as f:
        ir = next(int(l.split()[1]) for l in f if l.startswith(("summary:", "totals:")))
    os.unlink(out)
    return ir
for b in sys.argv[1:]:
    for path in PATHS:
        per = (total(b, path, 3000) - total(b, path, 1000)) / 2000
        print(f"{os.path.basename(b)} {path} {per:,.0f}", flush=True)
