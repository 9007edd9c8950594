#!/usr/bin/env bash
# A plain Prometheus in the local cluster (`make k8s-up`) that scrapes the release's four services and its
# Ray pods, with the chart's alert rules loaded. The end-to-end test uses it; so can a `skaffold dev` user:
#
#   source .raysvc/k8s.env
#   bash k8s/monitoring/prometheus.sh up     # build + push the image (once), apply prometheus.yaml, wait
#   kubectl -n raysvc-monitoring port-forward svc/prometheus 9090:9090   # http://127.0.0.1:9090
#   bash k8s/monitoring/prometheus.sh down   # delete all of it (the Role in the release namespace too)
#
# The image is Debian's prometheus package as installed on this machine (/usr/bin/prometheus, libc only)
# and pod_sd.py (pod discovery: Debian's build has no kubernetes_sd_configs) on the project's local base,
# pushed to the cluster's registry (127.0.0.1:5000) unless already there; it is built in a scratch
# directory, nothing is cached in the repository. Environment (all as
# k8s.env sets them): KUBECONFIG and kubectl on PATH, DOCKER_HOST of the private engine; RELEASE_NS (the
# release namespace, default ray-services) and PROM_NS (default raysvc-monitoring).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REGISTRY=${REGISTRY:-127.0.0.1:5000}
RELEASE_NS=${RELEASE_NS:-ray-services}
PROM_NS=${PROM_NS:-raysvc-monitoring}
RULES=$ROOT/helm/ray-services/files/alerts/raysvc-rules.yaml
DOCKER=${DOCKER_BIN:-/usr/bin/docker}
log() { printf '[prometheus] %s\n' "$*" >&2; }

image() {
  [[ -x /usr/bin/prometheus ]] || {
    log "installing Debian's prometheus package"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  }
  local version tag ref ctx
  version=$(/usr/bin/prometheus --version 2>&1 | awk 'NR==1{print $3}')  # e.g. 2.42.0+ds
  # the tag follows what goes into the image: the binary, its web files, pod_sd.py and the Dockerfile
  tag=${version%%+*}-$(cat /usr/bin/prometheus "$HERE/Dockerfile" "$HERE/pod_sd.py" \
    <(tar -C /usr/share/prometheus -c web) | sha256sum | cut -c1-12)
  ref=$REGISTRY/raysvc-prometheus:$tag
  if curl -fs -o /dev/null -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/raysvc-prometheus/manifests/$tag"; then
    echo "$ref"; return 0
  fi
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  cp "$HERE/Dockerfile" "$HERE/pod_sd.py" /usr/bin/prometheus "$ctx/"
  cp -r /usr/share/prometheus/web "$ctx/web"
  "$DOCKER" build -q --network none -t "$ref" "$ctx" >/dev/null
  "$DOCKER" push -q "$ref" >/dev/null
  "$DOCKER" rmi "$ref" >/dev/null 2>&1 || true  # the registry has it; the engine keeps only the base
  log "image $ref built and pushed"
  echo "$ref"
}

# prometheus.yaml with its placeholders filled in: IMAGE CONFIG_HASH
render() {
  sed -e "s|\${IMAGE}|$1|g" -e "s|\${CONFIG_HASH}|$2|g" -e "s|\${RELEASE_NS}|$RELEASE_NS|g" \
    -e "s|\${PROM_NS}|$PROM_NS|g" "$HERE/prometheus.yaml"
}

up() {
  local ref hash
  ref=$(image)
  [[ -f $RULES ]] || { log "no rule file at $RULES"; return 1; }
  kubectl create namespace "$PROM_NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  # the chart's rule file, unchanged, as Prometheus' rule file
  kubectl -n "$PROM_NS" create configmap prometheus-rules --from-file=raysvc-rules.yaml="$RULES" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  # a changed config or rule file rolls the pod: their hash is an annotation of the pod template
  hash=$(cat "$HERE/prometheus.yaml" "$RULES" <(echo "$RELEASE_NS") | sha256sum | cut -c1-16)
  render "$ref" "$hash" | kubectl apply -f - >/dev/null
  kubectl -n "$PROM_NS" rollout status deployment/prometheus --timeout=180s >&2
  log "Prometheus up: kubectl -n $PROM_NS port-forward svc/prometheus 9090:9090"
}

down() {
  render unused unused | kubectl delete --ignore-not-found --wait=true -f - >/dev/null
  kubectl delete namespace "$PROM_NS" --ignore-not-found --wait=true >/dev/null
  log "Prometheus removed"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  image) image ;;
  *) echo "usage: prometheus.sh up|down|image" >&2; exit 2 ;;
esac
