#!/usr/bin/env bash
# Create the kind cluster for the skaffold dev loop, install the KubeRay operator with Helm, wait for it.
#
#   scripts/kind_up.sh            # then: skaffold dev (the kind profile activates on kind-* contexts)
#   scripts/kind_up.sh --delete   # remove the cluster
#
# Needs docker (or podman via KIND_EXPERIMENTAL_PROVIDER), kind, kubectl and helm on PATH; downloads the
# kind node image and the KubeRay chart and operator image, so it runs on a laptop with internet access,
# not in CI.
set -euo pipefail

CLUSTER=${CLUSTER:-ray-services}
KUBERAY_VERSION=${KUBERAY_VERSION:-1.7.0}
OPERATOR_NAMESPACE=${OPERATOR_NAMESPACE:-kuberay-system}
# Directory on the node behind the chart's hostPath volumes (k8s/values-kind.yaml: storage.hostPath.root).
HOSTPATH_ROOT=${HOSTPATH_ROOT:-/var/local/ray-services}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONTEXT="kind-${CLUSTER}"

for tool in kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind_up: $tool not found on PATH" >&2; exit 1; }
done

if [[ "${1:-}" == "--delete" ]]; then
  kind delete cluster --name "$CLUSTER"
  exit 0
fi

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "kind_up: cluster $CLUSTER exists, reusing it"
else
  kind create cluster --name "$CLUSTER" --config "$ROOT/k8s/kind-config.yaml" --wait 120s
fi
kubectl config use-context "$CONTEXT" >/dev/null

# The claims bind to hostPath PersistentVolumes; hostPath ignores fsGroup, so make the directories
# writable for the image's non-root user (uid 1000) on every node.
provider=${KIND_EXPERIMENTAL_PROVIDER:-docker}
for node in $(kind get nodes --name "$CLUSTER"); do
  "$provider" exec "$node" sh -c "mkdir -p ${HOSTPATH_ROOT}/data ${HOSTPATH_ROOT}/results ${HOSTPATH_ROOT}/models \
    && chown -R 1000:1000 ${HOSTPATH_ROOT} && chmod 0775 ${HOSTPATH_ROOT}/*"
done

# The KubeRay operator from its Helm chart (>= 1.6.0: the chart uses spec.authOptions.secretName and
# spec.upgradeStrategy). Helm installs a chart's CRDs once and never upgrades them, so apply the CRDs of
# this operator version first, server-side (they are too large for a client-side apply).
kubectl --context "$CONTEXT" apply --server-side --force-conflicts \
  -k "github.com/ray-project/kuberay/ray-operator/config/crd?ref=v${KUBERAY_VERSION}"
helm repo add kuberay https://ray-project.github.io/kuberay-helm/ --force-update >/dev/null
helm repo update kuberay >/dev/null
helm upgrade --install kuberay-operator kuberay/kuberay-operator \
  --kube-context "$CONTEXT" --namespace "$OPERATOR_NAMESPACE" --create-namespace \
  --version "$KUBERAY_VERSION" --skip-crds --wait --timeout 5m
kubectl --context "$CONTEXT" -n "$OPERATOR_NAMESPACE" rollout status deployment/kuberay-operator --timeout=300s
kubectl --context "$CONTEXT" wait --for=condition=Established crd/rayclusters.ray.io --timeout=60s

cat <<MSG
kind_up: cluster $CLUSTER is ready with the KubeRay operator $KUBERAY_VERSION (context $CONTEXT).
Next: skaffold dev              (the kind profile activates on any kind-* context: builds the image,
                                 loads it into kind, deploys helm/ray-services, forwards 8005-8008 and
                                 the Ray dashboard 8265 to 127.0.0.1)
MSG
