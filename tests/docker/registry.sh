#!/usr/bin/env bash
# End to end: `flashc build --push` to a real registry on loopback (Debian's `docker-registry`, the
# distribution registry), then `flashc deploy` against `flashc emulate` deploys each endpoint by
# the digest the push recorded; then a handler edit goes live in one `flashc deploy --push`
# (built, pushed, deployed by its new digest). On examples/mixed-api (a scratch copy; the example is never written).
#
#   sudo tests/docker/registry.sh        # root: it runs a private dockerd (docker-env.sh)
#
# Environment: FLASH_DOCKER_WORK (default /tmp/flash-docker: the warm image cache),
# FLASH_DOCKER_SCRIPTS (default ../shared/docker beside the checkout), FLASH_REGISTRY_PORT
# (default 5055), FLASHC (a flashc binary to use instead of building one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKER_SCRIPTS=${FLASH_DOCKER_SCRIPTS:-$(cd "$ROOT/.." && pwd)/shared/docker}
export FLASH_DOCKER_WORK=${FLASH_DOCKER_WORK:-/tmp/flash-docker}
PORT=${FLASH_REGISTRY_PORT:-5055}
REGISTRY=127.0.0.1:$PORT
SCRATCH=$FLASH_DOCKER_WORK/registry-e2e
export DOCKER_BUILDKIT=0

fail() { echo "registry e2e: FAIL: $*" >&2; exit 1; }
step() { echo "== registry e2e: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root: the tests start a private dockerd"
[ -f "$DOCKER_SCRIPTS/docker-env.sh" ] || fail "no $DOCKER_SCRIPTS/docker-env.sh (set FLASH_DOCKER_SCRIPTS)"
command -v docker-registry >/dev/null || fail "no docker-registry (apt-get install docker-registry)"
if [ -z "${FLASHC:-}" ]; then
  (cd "$ROOT" && cargo build --locked --quiet --bin flashc) || fail "cargo build --bin flashc failed"
  FLASHC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/flashc
fi

step "docker engine"
# shellcheck source=/dev/null
source "$DOCKER_SCRIPTS/docker-env.sh" || fail "docker-env.sh failed"
set -euo pipefail
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  flash_docker_stop
}
trap cleanup EXIT

step "registry on $REGISTRY"
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH/registry"
cat >"$SCRATCH/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $SCRATCH/registry
http:
  addr: $REGISTRY
YAML
docker-registry serve "$SCRATCH/registry.yml" >"$SCRATCH/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  curl -sf "http://$REGISTRY/v2/" >/dev/null && break
  sleep 0.1
done
curl -sf "http://$REGISTRY/v2/" >/dev/null || fail "the registry did not start (log: $SCRATCH/registry.log)"

step "flashc build --push $REGISTRY (examples/mixed-api)"
cp -r "$ROOT/examples/mixed-api" "$SCRATCH/project"
rm -rf "$SCRATCH/project/.flash" "$SCRATCH/project/target"
# The GPU endpoint's base image: the local CUDA stand-in (see docker-env.sh's notes).
(cd "$SCRATCH/project" && "$FLASHC" generate >/dev/null)
cuda_tags=$(grep -ho '^FROM nvidia/cuda:[0-9.]*-runtime-ubuntu22.04' "$SCRATCH"/project/.flash/workers/*/Dockerfile \
  | sed 's/.*nvidia\/cuda:\([0-9.]*\)-.*/\1/' | sort -u | tr '\n' ' ')
# shellcheck disable=SC2086
[ -z "$cuda_tags" ] || bash "$DOCKER_SCRIPTS/make-cuda-standins.sh" $cuda_tags || fail "make-cuda-standins.sh failed"
(cd "$SCRATCH/project" && "$FLASHC" build --push "$REGISTRY") || fail "flashc build --push failed"
images=$SCRATCH/project/flash-images.json
[ -f "$images" ] || fail "no flash-images.json"
for ep in api gpu-backend; do
  digest=$(python3 -c "import json,sys; print(json.load(open('$images'))['environments']['mixed-api']['$ep']['digest'])")
  case "$digest" in "$REGISTRY/mixed-api-$ep@sha256:"*) ;; *) fail "$ep: not a digest reference: $digest" ;; esac
  # The registry has that manifest.
  code=$(curl -s -o /dev/null -w '%{http_code}' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/mixed-api-$ep/manifests/${digest#*@}")
  [ "$code" = 200 ] || fail "$ep: the registry answers $code for ${digest#*@}"
  echo "   $ep: $digest"
done

step "flashc deploy by digest (against flashc emulate)"
"$FLASHC" emulate --port 0 --no-workers >"$SCRATCH/emulate.out" 2>"$SCRATCH/emulate.err" &
PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$SCRATCH/emulate.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$SCRATCH/emulate.out")
[ -n "$base" ] || fail "flashc emulate did not start"
(cd "$SCRATCH/project" && RUNPOD_API_BASE_URL=$base RUNPOD_API_KEY=e2e "$FLASHC" deploy --yes --no-build) \
  || fail "flashc deploy failed"
live=$(curl -sf -H 'Authorization: Bearer e2e' "$base/v2/serverless")
python3 - "$images" <<PY || fail "the live endpoints do not run the pushed digests"
import json, sys
pushed = json.load(open(sys.argv[1]))["environments"]["mixed-api"]
live = {e["name"]: e["image"] for e in json.loads('''$live''')["endpoints"]}
for ep, image in pushed.items():
    assert live["mixed-api." + ep] == image["digest"], (ep, live, image)
    print("   mixed-api.%s runs %s" % (ep, live["mixed-api." + ep]))
PY

step "flashc deploy --push: a handler edit built, pushed and deployed by digest in one command"
before=$(python3 -c "import json; print(json.load(open('$images'))['environments']['mixed-api']['api']['digest'])")
sed -i 's|^use serde::Serialize;$|use serde::Serialize;\n// edited by registry.sh|' "$SCRATCH/project/src/api.rs"
(cd "$SCRATCH/project" && RUNPOD_API_BASE_URL=$base RUNPOD_API_KEY=e2e "$FLASHC" deploy --yes --push "$REGISTRY") \
  || fail "flashc deploy --push failed"
after=$(python3 -c "import json; print(json.load(open('$images'))['environments']['mixed-api']['api']['digest'])")
[ "$after" != "$before" ] || fail "the edit was not pushed as a new digest"
code=$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$REGISTRY/v2/mixed-api-api/manifests/${after#*@}")
[ "$code" = 200 ] || fail "api: the registry answers $code for ${after#*@}"
curl -sf -H 'Authorization: Bearer e2e' "$base/v2/serverless" | grep -q "\"$after\"" \
  || fail "the api endpoint does not run $after"
echo "   api: $before -> $after"
echo "== registry e2e: OK"
