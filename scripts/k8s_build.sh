#!/usr/bin/env bash
# Build every binary of the local Kubernetes (k8s/local) from its pinned Go modules into a cache outside the
# repository, keyed by the modules' go.mod/go.sum, and print the directory that holds them.
#
#   scripts/k8s_build.sh            # -> ~/.cache/raysvc-k8s/bin-<key>
#
# Kubernetes v1.36 (control plane, kubelet, kube-proxy, kubectl), etcd, containerd 2 with runc and the CNI
# plugins (k8s/local/runtime), CoreDNS, the registry, Helm v4 (k8s/local/go.mod); the KubeRay operator
# (k8s/local/kuberay); skaffold v2 (k8s/local/skaffold); the pause (sandbox) binary from Kubernetes' own
# pause.c. The key covers this script too. A binary already in the cache is not rebuilt, so an interrupted
# build resumes. RAYSVC_K8S_CACHE moves the cache.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/k8s/local
CACHE=${RAYSVC_K8S_CACHE:-$HOME/.cache/raysvc-k8s}
key=$(cd "$SRC" && cat go.mod go.sum {runtime,kuberay,skaffold}/go.{mod,sum} cmd/*/*.go "$ROOT/scripts/k8s_build.sh" \
  | sha256sum | cut -c1-16)
BIN=$CACHE/bin-$key
if [[ -f $BIN/.complete ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$BIN"
exec 9>"$CACHE/build.lock"; flock 9
T0=$(date +%s)
log() { printf '[k8s_build %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }

if ! dpkg -s libseccomp-dev >/dev/null 2>&1; then  # runc's seccomp support is cgo against libseccomp
  log "installing libseccomp-dev"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libseccomp-dev >/dev/null
fi
export GOFLAGS="-mod=mod -trimpath" CGO_ENABLED=0

build() {  # build MODULE_DIR NAME PACKAGE [-X version stamps...] [-- go build flags...]
  local dir=$1 name=$2 pkg=$3 ld="-s -w"; shift 3
  while [[ $# -gt 0 && $1 != -- ]]; do ld+=" -X $1"; shift; done
  [[ ${1:-} == -- ]] && shift
  [[ -x $BIN/$name ]] && return 0
  log "building $name ($pkg)"
  (cd "$dir" && go build -ldflags="$ld" "$@" -o "$BIN/$name.tmp" "$pkg") && mv "$BIN/$name.tmp" "$BIN/$name"
}
modver() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

# The version stamps the projects' own Makefiles set: API servers report it, and Helm and skaffold check it.
kv=$(modver "$SRC" k8s.io/kubernetes) && kmin=${kv#v1.} && kmin=${kmin%%.*}
kstamp=()
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kstamp+=("$p.gitVersion=$kv" "$p.gitMajor=1" "$p.gitMinor=$kmin" "$p.gitTreeState=clean" "$p.buildDate=1970-01-01T00:00:00Z")
done
k8s=k8s.io/kubernetes/cmd
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do build "$SRC" "$c" "$k8s/$c" "${kstamp[@]}"; done
build "$SRC" etcd go.etcd.io/etcd/server/v3
cv=$(modver "$SRC/runtime" github.com/containerd/containerd/v2)
build "$SRC/runtime" containerd github.com/containerd/containerd/v2/cmd/containerd \
  "github.com/containerd/containerd/v2/version.Version=$cv" -- -tags no_btrfs
build "$SRC/runtime" containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
build "$SRC/runtime" ctr github.com/containerd/containerd/v2/cmd/ctr
CGO_ENABLED=1 build "$SRC/runtime" runc github.com/opencontainers/runc \
  "main.version=$(modver "$SRC/runtime" github.com/opencontainers/runc)" -- -tags seccomp
mkdir -p "$BIN/cni"
for p in main/bridge main/loopback ipam/host-local meta/portmap; do
  build "$SRC/runtime" "cni/${p#*/}" "github.com/containernetworking/plugins/plugins/$p"
done
build "$SRC" coredns ./cmd/coredns
build "$SRC" registry ./cmd/registry
build "$SRC" helm helm.sh/helm/v4/cmd/helm "helm.sh/helm/v4/internal/version.version=$(modver "$SRC" helm.sh/helm/v4)"
build "$SRC/kuberay" kuberay-operator github.com/ray-project/kuberay/ray-operator
build "$SRC/skaffold" skaffold github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold \
  "github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$(modver "$SRC/skaffold" github.com/GoogleContainerTools/skaffold/v2)"
if [[ ! -x $BIN/pause ]]; then
  log "building pause"
  kdir=$(cd "$SRC" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  gcc -Os -static -Wall -o "$BIN/pause" "$kdir/build/pause/linux/pause.c"
fi
# The operator's CRD, RBAC and manager manifests travel with the binary that matches them.
if [[ ! -d $BIN/kuberay-config ]]; then
  cp -r "$(cd "$SRC/kuberay" && go list -m -f '{{.Dir}}' github.com/ray-project/kuberay/ray-operator)/config" "$BIN/kuberay-config"
  chmod -R u+w "$BIN/kuberay-config"
fi
touch "$BIN/.complete"
find "$CACHE" -maxdepth 1 -name 'bin-*' ! -path "$BIN" -exec rm -rf {} +  # older versions
log "built in $(( $(date +%s) - T0 ))s: $BIN"
echo "$BIN"
