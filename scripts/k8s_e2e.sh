#!/usr/bin/env bash
# The end-to-end test on a real Kubernetes: `make k8s-up`, the tests in tests/k8s_e2e (skaffold build, helm
# install, requests, jobs, faults, skaffold run, helm uninstall), then `make k8s-down`, whatever happened.
#
#   scripts/k8s_e2e.sh        # needs root; K8S_E2E_KEEP=1 leaves the cluster up afterwards
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
cd "$ROOT"
down() { [[ "${K8S_E2E_KEEP:-0}" == 1 ]] || "$PY" scripts/k8s_local.py down; }
trap down EXIT
trap 'exit 143' TERM INT  # a timeout still tears the cluster down
t0=$(date +%s)
"$PY" scripts/k8s_local.py up || exit 1
echo "[k8s_e2e] cluster up in $(( $(date +%s) - t0 ))s"
RAYSVC_K8S_E2E=1 "$PY" -m pytest tests/k8s_e2e -p no:cacheprovider -v -s --timeout 3600 "$@" &
wait $!
rc=$?
echo "[k8s_e2e] done in $(( $(date +%s) - t0 ))s (pytest exit $rc)"
[[ $rc -eq 0 ]] || { "$PY" scripts/k8s_local.py status; tail -n 20 .raysvc/k8s/logs/*.log 2>/dev/null | tail -n 120; }
exit $rc
