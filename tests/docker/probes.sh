#!/usr/bin/env bash
# The Kubernetes export's containers, run under Docker as the manifests say (issue 17):
#
#   sudo tests/docker/probes.sh       # root: it runs a private dockerd (or reuses a running one)
#
# `flashc generate --target kubernetes` for an example whose images tests/docker/e2e.sh builds
# (same tags, same scratch copy $FLASH_DOCKER_WORK/e2e/<project>, so with a warm cache no layer is
# rebuilt); every Deployment of the base is read with PyYAML: its container's env (values, the
# ConfigMap of its envFrom, secretKeyRefs), ports, probes, security context and
# terminationGracePeriodSeconds. Each is run as a container with that env (`--network host`, so
# PORT and PORT_HEALTH are moved to free loopback ports; Secret-backed variables get dummy values,
# except FLASH_QUEUE_URL, which points at a redis-server this script starts on loopback) and the
# pod's security settings (uid 10001, read-only root filesystem with a /tmp tmpfs, no
# capabilities, no privilege escalation). Then each probe's path is called on the port its named
# port resolves to: liveness 200 from the first answer on (during `init` too), readiness 503
# `initializing` until startup succeeds and 200 after, the startup probe 200 within its budget
# (periodSeconds × failureThreshold); the queue worker takes a job through its API on Redis, the
# load-balanced one answers a route under its HTTPRoute's prefix (SCRIPT_NAME); `docker stop -t
# <terminationGracePeriodSeconds>` ends it with exit code 0 well within that grace.
#
# Environment: FLASH_DOCKER_WORK (default /tmp/flash-docker, as e2e.sh), FLASH_DOCKER_SCRIPTS,
# FLASHC (a flashc binary), FLASH_PROBES_EXAMPLE (default hello).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKER_SCRIPTS=${FLASH_DOCKER_SCRIPTS:-$(cd "$ROOT/.." && pwd)/shared/docker}
export FLASH_DOCKER_WORK=${FLASH_DOCKER_WORK:-/tmp/flash-docker}
PROJECT=${FLASH_PROBES_EXAMPLE:-hello}
SCRATCH=$FLASH_DOCKER_WORK/e2e
export DOCKER_BUILDKIT=0

fail() { echo "probes: FAIL: $*" >&2; exit 1; }
step() { echo "== probes: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root: the test starts a private dockerd"
[ -f "$DOCKER_SCRIPTS/docker-env.sh" ] || fail "no $DOCKER_SCRIPTS/docker-env.sh (set FLASH_DOCKER_SCRIPTS)"
for tool in cargo python3 redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || fail "$tool is required (redis-server: apt-get install redis-server)"
done
python3 -c 'import yaml' 2>/dev/null || fail "PyYAML is required (apt-get install python3-yaml)"

step "docker engine (FLASH_DOCKER_WORK=$FLASH_DOCKER_WORK)"
# shellcheck source=/dev/null
source "$DOCKER_SCRIPTS/docker-env.sh" || fail "docker-env.sh failed (see $FLASH_DOCKER_WORK/*.log)"
set -euo pipefail # docker-env.sh turns these off when it is done

WORK=$(mktemp -d)
CONTAINERS=()
REDIS_PID=""
# Replaces docker-env.sh's EXIT trap, so it stops the engine too (as e2e.sh does).
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
  flash_docker_stop
}
trap cleanup EXIT

if [ -z "${FLASHC:-}" ]; then
  step "building flashc"
  (cd "$ROOT" && cargo build --locked --quiet --bin flashc) || fail "cargo build --bin flashc failed"
  FLASHC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/flashc
fi

# e2e.sh's scratch copy (its previous .flash/ stays: its Cargo.lock keeps the cached layers valid).
dst=$SCRATCH/$PROJECT
mkdir -p "$dst"
find "$dst" -mindepth 1 -maxdepth 1 ! -name .flash -exec rm -rf {} +
(cd "$ROOT/examples/$PROJECT" && tar --exclude=./.flash --exclude=./target -cf - .) | tar -xf - -C "$dst"
step "generate $PROJECT (Runpod target, for the images)"
"$FLASHC" generate "$dst/flash.yaml" >"$dst.generate.log" 2>&1 || { cat "$dst.generate.log"; fail "flashc generate failed"; }
# The export goes to a copy of its own: kubernetes files in the build context would change the
# images' source layers.
kdst=$WORK/$PROJECT
mkdir -p "$kdst"
(cd "$ROOT/examples/$PROJECT" && tar --exclude=./.flash --exclude=./target -cf - .) | tar -xf - -C "$kdst"
step "generate $PROJECT --target kubernetes"
"$FLASHC" generate --target kubernetes "$kdst/flash.yaml" >"$WORK/kgenerate.log" 2>&1 \
  || { cat "$WORK/kgenerate.log"; fail "flashc generate --target kubernetes failed"; }
base=$kdst/.flash/kubernetes/base

# Every Deployment of the base as one JSON line: what `docker run` needs, and the probes.
python3 - "$base" >"$WORK/deployments.jsonl" <<'PY' || fail "reading the exported manifests failed"
import glob, json, sys, yaml
objs = [o for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")) for o in yaml.safe_load_all(open(f)) if o]
by = {(o["kind"], o["metadata"]["name"]): o for o in objs if "metadata" in o}
for (kind, name), d in sorted(by.items()):
    if kind != "Deployment":
        continue
    pod = d["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env, secrets = {}, []
    for src in c.get("envFrom", []):
        env.update(by[("ConfigMap", src["configMapRef"]["name"])].get("data", {}))
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            assert "secretKeyRef" in e["valueFrom"], (name, e)
            secrets.append(e["name"])
            env[e["name"]] = None
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert str(ports["http"]) == env["PORT"], (name, "PORT is not the http port")
    assert str(ports["health"]) == env["PORT_HEALTH"], (name, "PORT_HEALTH is not the health port")
    sc, psc = c["securityContext"], pod["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"], name
    assert not sc["allowPrivilegeEscalation"] and psc["runAsNonRoot"], name
    mounts = [m["mountPath"] for m in c.get("volumeMounts", [])
              if any(v["name"] == m["name"] and "emptyDir" in v for v in pod.get("volumes", []))]
    prefix = [m["path"]["value"] for (k, _), o in by.items() if k == "HTTPRoute"
              for r in o["spec"]["rules"] for m in r["matches"]
              if o["metadata"]["name"] == name]
    print(json.dumps({
        "name": name, "image": c["image"], "env": env, "secrets": secrets, "ports": ports,
        "probes": {k: c[k] for k in ("startupProbe", "readinessProbe", "livenessProbe")},
        "grace": pod["terminationGracePeriodSeconds"], "user": f'{psc["runAsUser"]}:{psc["runAsGroup"]}',
        "tmpfs": mounts, "kind": d["metadata"]["labels"]["app.kubernetes.io/component"],
        "prefix": prefix[0] if prefix else None}))
PY
[ -s "$WORK/deployments.jsonl" ] || fail "no Deployment in $base"
# from_dep JSON CODE [ARGS]: run CODE with v = the decoded JSON (sys.argv[3:] = ARGS).
from_dep() { python3 -c 'import json, sys; v = json.loads(sys.argv[1]); exec(sys.argv[2])' "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
code_of() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time "$2" "$1" || true; }
now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

RPORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

while read -r -u 3 dep; do
  name=$(from_dep "$dep" 'print(v["name"])')
  image=$(from_dep "$dep" 'print(v["image"])')
  kind=$(from_dep "$dep" 'print(v["kind"])')
  grace=$(from_dep "$dep" 'print(v["grace"])')
  # The manifest names the image flashc gives an endpoint (`<project>-<endpoint>`): e2e.sh's tag.
  case "$image" in "$PROJECT"-*) ;; *) fail "$name: image '$image' is not $PROJECT-<endpoint>" ;; esac
  ep=${image#"$PROJECT"-}
  tag=flash-e2e-$PROJECT-$ep
  df=$dst/.flash/workers/$ep/Dockerfile
  [ -f "$df" ] || fail "no $df"
  cuda=$(sed -n 's/^FROM nvidia\/cuda:\([0-9.]*\)-runtime-ubuntu22.04.*/\1/p' "$df" | head -1)
  if [ -n "$cuda" ]; then
    bash "$DOCKER_SCRIPTS/make-cuda-standins.sh" "$cuda" >/dev/null || fail "make-cuda-standins.sh failed"
  fi
  step "docker build $tag (e2e.sh's image; cached when e2e.sh ran)"
  t=$(now)
  log=$SCRATCH/build-probes-$PROJECT-$ep.log
  docker build --network host -f "$df" -t "$tag" "$dst" >"$log" 2>&1 \
    || { tail -n 60 "$log" >&2; fail "docker build failed (log: $log)"; }
  echo "   built in $(secs_since "$t") s"

  http=$(free_port); health=$(free_port)
  # `docker run` arguments: the manifest's env with the ports moved, Secret-backed values dummies
  # (the queue's URL: the local redis-server), and the pod's security settings.
  mapfile -d '' args < <(from_dep "$dep" '
import sys
env = dict(v["env"], PORT=sys.argv[3], PORT_HEALTH=sys.argv[4])
for s in v["secrets"]:
    env[s] = sys.argv[5] if s == "FLASH_QUEUE_URL" else "dummy-" + s.lower().replace("_", "-")
a = ["--user", v["user"], "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
for m in v["tmpfs"]:
    a += ["--tmpfs", m]
for k, val in sorted(env.items()):
    a += ["-e", k + "=" + val]
sys.stdout.write("".join(x + "\0" for x in a))' "$http" "$health" "redis://127.0.0.1:$RPORT")
  port_of() { case "$1" in http) echo "$http" ;; health) echo "$health" ;; *) fail "$name: probe port '$1'" ;; esac; }
  probe_url() { # probe_url PROBE: the URL a kubelet would call
    local p path port
    p=$(from_dep "$dep" "g = v['probes']['$1']['httpGet']; print(g['path'], g['port'])")
    read -r path port <<<"$p"
    echo "http://127.0.0.1:$(port_of "$port")$path"
  }
  probe_timeout() { from_dep "$dep" "print(v['probes']['$1']['timeoutSeconds'])"; }
  c=flash-probes-$ep-$$
  CONTAINERS+=("$c")
  step "run $name ($kind) as its Deployment: $tag, PORT $http, PORT_HEALTH $health"
  t=$(now)
  docker run -d --name "$c" --network host "${args[@]}" "$tag" >/dev/null || fail "docker run $tag failed"

  # From the first answer on: liveness 200; readiness 503 `initializing` until it is 200, then
  # 200 for good. Poll as fast as curl goes, to catch init if it takes any time.
  live=$(probe_url livenessProbe); ready=$(probe_url readinessProbe); startup=$(probe_url startupProbe)
  budget=$(from_dep "$dep" "p = v['probes']['startupProbe']; print(p['periodSeconds'] * p['failureThreshold'])")
  rt=$(probe_timeout readinessProbe); lt=$(probe_timeout livenessProbe); st=$(probe_timeout startupProbe)
  seen=""; first=""
  while :; do
    r=$(code_of "$ready" "$rt")
    if [ "$r" != 000 ]; then
      [ -n "$first" ] || first=$(secs_since "$t")
      l=$(code_of "$live" "$lt")
      [ "$l" = 200 ] || fail "$name: liveness $live answered $l while readiness was $r"
      case "$r" in
        503) grep -q '"initializing"' "$WORK/body" || fail "$name: readiness 503 but not initializing: $(cat "$WORK/body")"
          seen="$seen 503" ;;
        200) break ;;
        *) fail "$name: readiness $ready answered $r" ;;
      esac
    fi
    [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || { docker logs "$c" >&2; fail "$name: the container exited"; }
    awk -v e="$(secs_since "$t")" -v b="$budget" 'BEGIN { exit !(e < b) }' \
      || { docker logs "$c" >&2; fail "$name: not ready within the startup budget ($budget s)"; }
  done
  n503=$(wc -w <<<"$seen")
  echo "   first probe answer after $first s; readiness 503 ×$n503 then 200 after $(secs_since "$t") s (startup budget $budget s)"
  s=$(code_of "$startup" "$st")
  [ "$s" = 200 ] || fail "$name: startup probe $startup answered $s after readiness was 200"
  for _ in 1 2 3; do
    r=$(code_of "$ready" "$rt"); l=$(code_of "$live" "$lt")
    [ "$r" = 200 ] && [ "$l" = 200 ] || fail "$name: after start, readiness $r and liveness $l (not 200)"
    sleep 0.2
  done
  echo "   startup $startup 200, readiness $ready 200, liveness $live 200"

  # The work, as the cluster would route it.
  if [ "$kind" = queue ]; then
    qname=$(from_dep "$dep" 'print(v["env"]["FLASH_QUEUE_NAME"])')
    key=dummy-runpod-api-key
    [ "$(code_of "http://127.0.0.1:$http/v2/$qname/health" 5)" = 401 ] || fail "$name: the queue API answers without RUNPOD_API_KEY"
    body=$(curl -sf --max-time 60 -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"input": {"text": "a probe job"}}' "http://127.0.0.1:$http/v2/$qname/runsync") \
      || fail "$name: /v2/$qname/runsync failed"
    grep -q '"status":"COMPLETED"' <<<"$body" || fail "$name: /runsync did not complete: $body"
    keys=$(redis-cli -p "$RPORT" --scan --pattern "flash:{$qname}:*" | wc -l)
    [ "$keys" -gt 0 ] || fail "$name: the job did not go through Redis (no flash:{$qname}:* key)"
    echo "   /v2/$qname/runsync through Redis ($keys keys flash:{$qname}:*): COMPLETED"
  fi
  prefix=$(from_dep "$dep" 'print(v["prefix"] or "")')
  if [ "$kind" = load-balanced ] && [ -n "$prefix" ]; then
    [ "$(from_dep "$dep" 'print(v["env"].get("SCRIPT_NAME", ""))')" = "$prefix" ] || fail "$name: SCRIPT_NAME is not the HTTPRoute's prefix $prefix"
    # A GET route of the Dockerfile's route table, under the prefix, with 1 for each path parameter.
    route=$(docker inspect -f '{{index .Config.Labels "io.flash.routes"}}' "$tag" | python3 -c '
import json, re, sys
print(next(re.sub(r"\{[^}]*\}", "1", r["path"]) for r in json.load(sys.stdin) if r["method"] == "GET"))') \
      || fail "$name: no GET route in $df's io.flash.routes label"
    code=$(code_of "http://127.0.0.1:$http$prefix$route" 10)
    [ "$code" = 200 ] || fail "$name: GET $prefix$route answered $code"
    echo "   GET $prefix$route (under the HTTPRoute's prefix): 200 $(head -c 120 "$WORK/body")"
  fi

  step "docker stop -t $grace $c (terminationGracePeriodSeconds)"
  t=$(now)
  docker stop -t "$grace" "$c" >/dev/null
  elapsed=$(secs_since "$t")
  rc=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  [ "$rc" = 0 ] || { docker logs "$c" >&2; fail "$name: exit code $rc after docker stop, not 0"; }
  # The kubelet first runs the preStop sleep (5 s), then sends SIGTERM; SIGTERM alone must end it
  # well within what is left of the grace.
  awk -v e="$elapsed" -v g="$grace" 'BEGIN { exit !(e < g - 5) }' || fail "$name: docker stop took $elapsed s (grace $grace s)"
  echo "   SIGTERM → exit 0 in $elapsed s (grace $grace s)"
  docker rm "$c" >/dev/null
done 3<"$WORK/deployments.jsonl"
step "ok"
