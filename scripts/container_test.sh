#!/usr/bin/env bash
# Container topology test: the project image run as the Helm chart wires the pods, without Kubernetes.
#
#   scripts/container_test.sh            # needs root (apt, dockerd) and the project venv (.venv)
#
# 1. installs docker.io and debootstrap if missing and starts a private Docker engine (no iptables, no
#    default bridge, its own socket and directories), stopped by PID at the end;
# 2. builds a local Debian base with debootstrap, a Python 3.11 base tagged python:3.11-slim on it, and the
#    project image from the unchanged Dockerfile, offline (`--network none`) from a wheelhouse;
# 3. scripts/container_topology.py renders the chart and starts the data loader, a Ray head, a Ray worker
#    and the four services on a private Docker network with the commands, environment, ports, volumes and
#    security settings of the rendered objects, then checks readiness, one real request per service
#    running on the cluster, and a `ray job submit` of a batch entrypoint through the head's Jobs API;
# 4. removes every container, network and volume it made and stops the engine.
#
# Environment: CT_CACHE (default /tmp/raysvc-ct-cache) keeps the engine's images, the base rootfs and the
# wheelhouse between runs; CT_KEEP_CACHE=0 deletes it at the end. CT_TIMEOUT (s, default 1500) bounds the
# whole run. CT_SERVICES=garch,intraday runs a subset of the services (while developing). Published ports bind 127.0.0.1 only; nothing else leaves the private network.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CT_CACHE:-/tmp/raysvc-ct-cache}
KEEP_CACHE=${CT_KEEP_CACHE:-1}
TIMEOUT=${CT_TIMEOUT:-1500}
PY=${PYTHON:-$ROOT/.venv/bin/python}
IMAGE=ray-services:container-test
BASE_TAG=python:3.11-slim
RUN_ID=raysvc-ct-$$
WORK=$(mktemp -d "/tmp/${RUN_ID}.XXXX")
D=$CACHE/engine
DOCKERD_PID=""
T0=$(date +%s)

log() { printf '[container_test %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

[[ $(id -u) -eq 0 ]] || { echo "container_test: needs root (apt-get, dockerd)" >&2; exit 2; }
[[ -x "$PY" ]] || { echo "container_test: no Python at $PY (set PYTHON or create .venv)" >&2; exit 2; }

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -n 9 || { echo "container_test: another run holds $CACHE/lock" >&2; exit 2; }

stop_engine() {
  [[ -n "$DOCKERD_PID" ]] || return 0
  if kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
  fi
  # the engine's own containerd and any shim left behind run from this engine's directories
  for pid in $(pgrep -f -- "$D/" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  DOCKERD_PID=""
}

cleanup() {
  local rc=$?
  set +e
  if [[ -n "$DOCKERD_PID" ]] && [[ -S "$D/docker.sock" ]]; then
    "$PY" "$ROOT/scripts/container_topology.py" teardown --run-id "$RUN_ID" >/dev/null 2>&1
  fi
  stop_engine
  grep -qs " $D/" /proc/mounts && grep " $D/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
  rm -rf "$WORK"
  [[ "$KEEP_CACHE" == 1 ]] || rm -rf "$CACHE"
  log "done (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. engine ---------------------------------------------------------------------------------------------
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  log "installing docker.io and debootstrap"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi
# The engine's own client (/usr/bin/docker): a newer client first on PATH may want buildx for builds.
DOCKER_BIN=/usr/bin/docker
[[ -x "$DOCKER_BIN" ]] || DOCKER_BIN=$(command -v docker)
export DOCKER_BIN DOCKER_HOST="unix://$D/docker.sock" DOCKER_BUILDKIT=0
mkdir -p "$D"
log "starting a private Docker engine in $D"
# Containers inherit the engine's open-files limit: allow KubeRay's `ulimit -n 65536`, as Kubernetes nodes do.
ulimit -Hn 65536 2>/dev/null && ulimit -Sn 65536 2>/dev/null || true
dockerd -H "unix://$D/docker.sock" --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
  --iptables=false --ip-forward=false --ip-masq=false --bridge=none >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 60); do "$DOCKER_BIN" info >/dev/null 2>&1 && break; sleep 0.5; done
"$DOCKER_BIN" info >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log" >&2; exit 1; }

# --- 2. images ---------------------------------------------------------------------------------------------
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[[ -n "$mirror" ]] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
if ! "$DOCKER_BIN" image inspect local/debian:bookworm >/dev/null 2>&1; then
  if [[ ! -s "$CACHE/bookworm-rootfs.tar" ]]; then
    log "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
    tar --numeric-owner -C "$WORK/rootfs" -cf "$CACHE/bookworm-rootfs.tar" .
    rm -rf "$WORK/rootfs"
  fi
  "$DOCKER_BIN" import "$CACHE/bookworm-rootfs.tar" local/debian:bookworm >/dev/null
fi
if ! "$DOCKER_BIN" image inspect "$BASE_TAG" >/dev/null 2>&1; then
  log "building the local $BASE_TAG (Debian's python3.11 on the debootstrap base)"
  mkdir -p "$WORK/pybase"
  cat >"$WORK/pybase/Dockerfile" <<EOF
FROM local/debian:bookworm
RUN echo "deb $mirror bookworm main" > /etc/apt/sources.list \\
 && apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip wget ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 /usr/local/bin/pip \\
 && rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED
EOF
  "$DOCKER_BIN" build -q --network host -t "$BASE_TAG" "$WORK/pybase" >/dev/null
fi

# The wheelhouse: every dependency of pyproject.toml plus the build backend, for the host's Python 3.11.
stamp=$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
if [[ ! -f "$CACHE/wheelhouse/.stamp-$stamp" ]]; then
  log "downloading the wheelhouse"
  rm -rf "$CACHE/wheelhouse" && mkdir -p "$CACHE/wheelhouse"
  "$PY" -m pip download -q -d "$CACHE/wheelhouse" "$ROOT" "setuptools>=68" wheel >"$WORK/pip.log" 2>&1 \
    || { tail -20 "$WORK/pip.log" >&2; exit 1; }
  rm -f "$CACHE/wheelhouse"/ray_services-*  # the project itself is built from source in the image
  touch "$CACHE/wheelhouse/.stamp-$stamp"
fi

# A build context with the files the .dockerignore lets through and the wheelhouse beside them, so the
# shared working tree never holds a wheelhouse. The Dockerfile is the repository's, unchanged.
log "building $IMAGE offline"
ctx="$WORK/context"
mkdir -p "$ctx"
cp "$ROOT/Dockerfile" "$ROOT/.dockerignore" "$ROOT/pyproject.toml" "$ROOT/README.md" "$ctx/"
tar -C "$ROOT" --exclude=__pycache__ -cf - services | tar -C "$ctx" -xf -
cp -al "$CACHE/wheelhouse" "$ctx/wheelhouse" 2>/dev/null || cp -a "$CACHE/wheelhouse" "$ctx/wheelhouse"
"$DOCKER_BIN" build --network none --build-arg WHEELHOUSE=wheelhouse -t "$IMAGE" "$ctx" >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; exit 1; }
grep -E '^ray [0-9]' "$WORK/build.log" | sed 's/^/  image: /' || true
"$DOCKER_BIN" image prune -f >/dev/null  # the previous build's layers, so the cache does not grow per run
log "image built: $("$DOCKER_BIN" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

# --- 3. topology -------------------------------------------------------------------------------------------
left=$(( TIMEOUT - ($(date +%s) - T0) ))
(( left > 120 )) || { echo "container_test: only ${left}s left of CT_TIMEOUT for the topology" >&2; exit 1; }
timeout --signal=TERM --kill-after=30 "$left" \
  "$PY" "$ROOT/scripts/container_topology.py" run --run-id "$RUN_ID" --image "$IMAGE" --chart "$ROOT/helm/ray-services" \
  ${CT_SERVICES:+--services "$CT_SERVICES"}
