# A private Docker engine and the project image's offline build inputs, for the local Kubernetes
# (scripts/k8s_local.py calls `bash scripts/engine.sh <command> ...`; bash scripts may source it).
#
#   engine_start DIR          a dockerd with its socket, data and exec roots under DIR, leaving the host's
#                             firewall and routes alone (no iptables, no default bridge); sets DOCKERD_PID
#   engine_stop DIR           stops it by PID, then anything still running from DIR
#   engine_python_base DIR    the local Debian base (debootstrap, cached as DIR/bookworm-rootfs.tar) and
#                             python:3.11-slim on it, unless the engine has them
#   engine_wheelhouse DIR PY  every dependency of pyproject.toml, at its requirements.lock version, as
#                             wheels in DIR/wheelhouse (keyed by both files)
#   engine_prune              what image builds leave behind (see below)
#
# Environment: DOCKER_BIN is the engine's own client (/usr/bin/docker); DOCKER_HOST is set by engine_start.
# Needs root: apt-get (docker.io, debootstrap) and dockerd.

ENGINE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
elog() { printf '[engine] %s\n' "$*" >&2; }

engine_install() {
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    elog "installing docker.io and debootstrap"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
  fi
  # The engine's own client: a newer client first on PATH may want buildx for builds.
  DOCKER_BIN=/usr/bin/docker
  [[ -x "$DOCKER_BIN" ]] || DOCKER_BIN=$(command -v docker)
  export DOCKER_BIN DOCKER_BUILDKIT=0
}

engine_start() {
  local d=$1
  engine_install
  mkdir -p "$d"
  export DOCKER_HOST="unix://$d/docker.sock"
  if [[ -f $d/dockerd.pid ]] && kill -0 "$(cat "$d/dockerd.pid")" 2>/dev/null && "$DOCKER_BIN" info >/dev/null 2>&1; then
    DOCKERD_PID=$(cat "$d/dockerd.pid"); return 0
  fi
  elog "starting a private Docker engine in $d"
  # Containers inherit the engine's open-files limit: allow KubeRay's `ulimit -n 65536`, as nodes do.
  ulimit -Hn 65536 2>/dev/null && ulimit -Sn 65536 2>/dev/null || true
  setsid dockerd -H "$DOCKER_HOST" --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
    --iptables=false --ip-forward=false --ip-masq=false --bridge=none >"$d/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do "$DOCKER_BIN" info >/dev/null 2>&1 && return 0; sleep 0.5; done
  tail -20 "$d/dockerd.log" >&2
  return 1
}

engine_stop() {
  local d=$1 pid
  pid=$(cat "$d/dockerd.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # the engine's own containerd and any shim left behind run from this engine's directories
  for pid in $(pgrep -f -- "$d/" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  grep -qs " $d/" /proc/mounts && grep " $d/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
  return 0
}

engine_mirror() {
  local mirror
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n "$mirror" ]] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${mirror:-http://deb.debian.org/debian}"
}

engine_python_base() {
  local cache=$1 tmp mirror
  mirror=$(engine_mirror)
  if ! "$DOCKER_BIN" image inspect local/debian:bookworm >/dev/null 2>&1; then
    if [[ ! -s "$cache/bookworm-rootfs.tar" ]]; then
      tmp=$(mktemp -d)
      elog "debootstrap bookworm from $mirror"
      debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 \
        || { tail -20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; return 1; }
      tar --numeric-owner -C "$tmp/rootfs" -cf "$cache/bookworm-rootfs.tar" .
      rm -rf "$tmp"
    fi
    "$DOCKER_BIN" import "$cache/bookworm-rootfs.tar" local/debian:bookworm >/dev/null
  fi
  if ! "$DOCKER_BIN" image inspect python:3.11-slim >/dev/null 2>&1; then
    elog "building the local python:3.11-slim (Debian's python3.11 on the debootstrap base)"
    tmp=$(mktemp -d)
    cat >"$tmp/Dockerfile" <<DOCKERFILE
FROM local/debian:bookworm
RUN echo "deb $mirror bookworm main" > /etc/apt/sources.list \\
 && apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip wget ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 /usr/local/bin/pip \\
 && rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED
DOCKERFILE
    "$DOCKER_BIN" build -q --network host -t python:3.11-slim "$tmp" >/dev/null
    rm -rf "$tmp"
  fi
}

engine_wheelhouse() {
  local cache=$1 py=$2 stamp
  stamp=$(cat "$ENGINE_ROOT/pyproject.toml" "$ENGINE_ROOT/requirements.lock" | sha256sum | cut -c1-16)
  if [[ ! -f "$cache/wheelhouse/.stamp-$stamp" ]]; then
    elog "downloading the wheelhouse"
    rm -rf "$cache/wheelhouse" && mkdir -p "$cache/wheelhouse"
    "$py" -m pip download -q -d "$cache/wheelhouse" -c "$ENGINE_ROOT/requirements.lock" \
      "$ENGINE_ROOT" "setuptools>=68" wheel >"$cache/pip.log" 2>&1 \
      || { tail -20 "$cache/pip.log" >&2; return 1; }
    rm -f "$cache/wheelhouse"/ray_services-*  # the project itself is built from source in the image
    touch "$cache/wheelhouse/.stamp-$stamp"
  fi
}

# Each project image build left ~4 GB in the engine (the context and build stages' images, the stopped
# containers of the RUN steps, the image itself): 46 GB after a day's runs on a 2-CPU machine with 250 GB of
# disk. Kept: the newest two project images, and the newest image of each labelled stage, whose parent chain
# holds the dependency stage (the next build's cache: without it, ~5 min to reinstall the wheels).
engine_prune() {
  local stage
  "$DOCKER_BIN" container prune -f >/dev/null
  "$DOCKER_BIN" images --format '{{.CreatedAt}}\t{{.Repository}}:{{.Tag}}' '*/ray-services' | sort -r \
    | tail -n +3 | cut -f2 | xargs -r "$DOCKER_BIN" rmi >/dev/null || true
  for stage in context build; do  # `docker images` lists the newest first
    "$DOCKER_BIN" images -q --filter dangling=true --filter "label=raysvc.stage=$stage" | tail -n +2 \
      | xargs -r "$DOCKER_BIN" rmi >/dev/null 2>&1 || true
  done
}

# `bash scripts/engine.sh start DIR` etc. for callers that are not bash (DOCKER_HOST is printed by start).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  cmd=$1; shift
  case $cmd in
    start) engine_start "$1"; echo "$DOCKER_HOST" ;;
    stop) engine_install; engine_stop "$1" ;;
    base) engine_install; export DOCKER_HOST="unix://$1/docker.sock"; engine_python_base "$2" ;;
    wheelhouse) engine_wheelhouse "$1" "$2" ;;
    prune) engine_install; export DOCKER_HOST="unix://$1/docker.sock"; engine_prune ;;
    *) echo "usage: engine.sh start|stop|base|wheelhouse|prune ..." >&2; exit 2 ;;
  esac
fi
