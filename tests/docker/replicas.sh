#!/usr/bin/env bash
# Three containers of a generated queue worker's image share one Redis (issue 17):
#
#   sudo tests/docker/replicas.sh       # root: it runs a private dockerd (or reuses a running one)
#
# Generates an example in e2e.sh's scratch copy ($FLASH_DOCKER_WORK/e2e/<example>: the same
# project, lockfile and Dockerfile as tests/docker/e2e.sh, so after it every layer is cached), builds
# its queue endpoint's image, starts a redis-server on the host loopback (append-only file on), and
# runs runtime/tests/python/runpod_redis.py --docker: three containers (`--network host`, each its
# own PORT, FLASH_QUEUE_URL to that Redis), 1,000 jobs through Runpod's Python client spread over
# them with a webhook each, one container killed with `docker kill -s KILL` while it runs jobs
# (paused first, and killed only once Redis shows it holding attempts; its attempts are retried);
# every job COMPLETED once, none lost, every output read through a survivor, every webhook arrived
# (each job's deliveries with one Idempotency-Key), the survivors exit 0 on `docker stop`.
#
# Environment: FLASH_DOCKER_WORK (default /tmp/flash-docker, as e2e.sh), FLASH_DOCKER_SCRIPTS,
# FLASHC (a flashc binary), FLASH_RUNPOD_VENV (a venv with `runpod`; made under FLASH_DOCKER_WORK
# otherwise), FLASH_REPLICAS_EXAMPLE (default hello:embed), FLASH_REPLICAS_INPUT (its job input,
# JSON, `{i}` the job's number; default {"text": "job {i}"}) and FLASH_REPLICAS_SLOW_INPUT (the
# input of the 12 jobs submitted just before the kill; `{pad}` is 8 MB of words).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKER_SCRIPTS=${FLASH_DOCKER_SCRIPTS:-$(cd "$ROOT/.." && pwd)/shared/docker}
export FLASH_DOCKER_WORK=${FLASH_DOCKER_WORK:-/tmp/flash-docker}
EXAMPLE=${FLASH_REPLICAS_EXAMPLE:-hello:embed}
INPUT=${FLASH_REPLICAS_INPUT:-'{"text": "job {i}"}'}
# The jobs submitted just before the kill: long enough (8 MB of words to embed) that the killed
# container is likely to be running some when it is paused (if not, it goes on and is paused again).
SLOW_INPUT=${FLASH_REPLICAS_SLOW_INPUT:-'{"text": "job {i} {pad}"}'}
PROJECT=${EXAMPLE%%:*}
EP=${EXAMPLE#*:}
SCRATCH=$FLASH_DOCKER_WORK/e2e
export DOCKER_BUILDKIT=0

fail() { echo "replicas: FAIL: $*" >&2; exit 1; }
step() { echo "== replicas: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root: the test starts a private dockerd"
[ -f "$DOCKER_SCRIPTS/docker-env.sh" ] || fail "no $DOCKER_SCRIPTS/docker-env.sh (set FLASH_DOCKER_SCRIPTS)"
for tool in cargo python3 redis-server; do
  command -v "$tool" >/dev/null || fail "$tool is required (redis-server: apt-get install redis-server)"
done

step "docker engine (FLASH_DOCKER_WORK=$FLASH_DOCKER_WORK)"
# shellcheck source=/dev/null
source "$DOCKER_SCRIPTS/docker-env.sh" || fail "docker-env.sh failed (see $FLASH_DOCKER_WORK/*.log)"
set -euo pipefail # docker-env.sh turns these off when it is done

if [ -z "${FLASHC:-}" ]; then
  step "building flashc"
  (cd "$ROOT" && cargo build --locked --quiet --bin flashc) || fail "cargo build --bin flashc failed"
  FLASHC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/flashc
fi
VENV=${FLASH_RUNPOD_VENV:-$FLASH_DOCKER_WORK/runpod-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import runpod' 2>/dev/null; then
  step "installing runpod (PyPI) into $VENV"
  python3 -m venv "$VENV" || fail "python3 -m venv failed (install python3-venv)"
  "$VENV/bin/pip" install --quiet "runpod==${FLASH_RUNPOD_VERSION:-1.12.0}" || fail "pip install runpod failed"
fi

# A fresh copy of the example; the previous run's .flash/ stays (its Cargo.lock keeps the cached
# dependency layer valid from run to run).
dst=$SCRATCH/$PROJECT
mkdir -p "$dst"
find "$dst" -mindepth 1 -maxdepth 1 ! -name .flash -exec rm -rf {} +
(cd "$ROOT/examples/$PROJECT" && tar --exclude=./.flash --exclude=./target -cf - .) | tar -xf - -C "$dst"
step "generate $PROJECT"
"$FLASHC" generate "$dst/flash.yaml" >"$dst.generate.log" 2>&1 || { cat "$dst.generate.log"; fail "flashc generate failed"; }
df=$dst/.flash/workers/$EP/Dockerfile
[ -f "$df" ] || fail "no $df"
grep -q 'io.flash.kind="queue"' "$df" || fail "$PROJECT/$EP is not a queue endpoint"
cuda=$(sed -n 's/^FROM nvidia\/cuda:\([0-9.]*\)-runtime-ubuntu22.04.*/\1/p' "$df" | head -1)
if [ -n "$cuda" ]; then
  step "CUDA stand-in $cuda (no driver: the worker starts and answers; no kernel runs)"
  bash "$DOCKER_SCRIPTS/make-cuda-standins.sh" "$cuda" >/dev/null || fail "make-cuda-standins.sh failed"
fi

tag=flash-e2e-$PROJECT-$EP
step "docker build $tag"
t=$(date +%s)
log=$SCRATCH/build-replicas-$PROJECT-$EP.log
docker build --network host -f "$df" -t "$tag" "$dst" >"$log" 2>&1 \
  || { tail -n 60 "$log" >&2; fail "docker build failed (log: $log)"; }
echo "   built in $(($(date +%s) - t)) s"

step "three containers of $tag on one Redis, one killed mid-run (runpod_redis.py --docker)"
t=$(date +%s)
"$VENV/bin/python" "$ROOT/runtime/tests/python/runpod_redis.py" --docker "$tag" --input "$INPUT" \
  --slow-input "$SLOW_INPUT" \
  || fail "runpod_redis.py --docker $tag failed"
echo "   replicas test: $(($(date +%s) - t)) s"
