"""Fixtures for the offline chart checks: the chart rendered through the Helm SDK, the KubeRay CRD schemas.

No cluster and no helm binary: ``helm_python`` (the Helm v4 SDK) lints and renders, ``kubernetes_validate``
checks core kinds, and the RayCluster is checked against KubeRay v1.7.0's CRD from the shared folder's ``k8s``
(:mod:`tests.utils.shared`; those checks skip without it: the real CRD cannot be generated). The monitoring
objects (PodMonitor, ServiceMonitor, PrometheusRule) are checked against the prometheus-operator's CRDs, which
:func:`prometheus_operator_crds` fetches through the Go module proxy once and caches outside the repository.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.utils.shared import require_shared

from .chartlib import CHART, KUBE_VERSION, NAMESPACE, RELEASE, Objects, close_schema

helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk (the dev extra) renders the chart")


@pytest.fixture(scope="session")
def chart() -> Any:
    """The chart, loaded once."""
    return helm_python.Chart.load(str(CHART))


@pytest.fixture(scope="session")
def defaults(chart: Any) -> dict[str, Any]:
    """The chart's values.yaml."""
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="session")
def render(chart: Any) -> Callable[..., Objects]:
    """``render(values, release=..., namespace=...)`` → the rendered objects (NOTES.txt left out)."""

    def _render(
        values: dict[str, Any] | None = None, *, release: str = RELEASE, namespace: str = NAMESPACE
    ) -> Objects:
        files = chart.render(values or {}, name=release, namespace=namespace)
        objects: Objects = []
        for path, text in sorted(files.items()):
            if path.endswith("NOTES.txt"):
                continue
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return objects

    return _render


@pytest.fixture(scope="session")
def crd_validator() -> Callable[[dict[str, Any]], list[str]]:
    """``validate(obj)`` → errors of a ray.io/v1 object against KubeRay's CRD, unknown fields rejected."""
    import jsonschema

    crds = require_shared("k8s", "crds", why="validates against KubeRay v1.7.0's own CRDs")
    # Only the RayCluster CRD is needed (the chart makes no RayJob or RayService); libyaml parses it in
    # half a second where the pure-Python loader takes ten.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load((crds / "ray.io_rayclusters.yaml").read_text(), Loader=loader)
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    validators = {"RayCluster": jsonschema.Draft7Validator(close_schema(v1["schema"]["openAPIV3Schema"]))}

    def _validate(obj: dict[str, Any]) -> list[str]:
        assert obj["apiVersion"] == "ray.io/v1", obj["apiVersion"]
        errors = validators[obj["kind"]].iter_errors(obj)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]

    return _validate


#: The prometheus-operator release whose CRDs (``monitoring.coreos.com/v1``) the monitoring objects are checked
#: against; the newest the Go module proxy serves here (tagged 2026-02-06).
PROMETHEUS_OPERATOR = "v0.89.0"
PROMETHEUS_OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
#: The kinds the chart renders, by CRD file (``example/prometheus-operator-crd/monitoring.coreos.com_<plural>.yaml``).
MONITORING_CRDS = {
    "PodMonitor": "podmonitors",
    "ServiceMonitor": "servicemonitors",
    "PrometheusRule": "prometheusrules",
}


def prometheus_operator_crds(version: str = PROMETHEUS_OPERATOR) -> Path:
    """The folder with the prometheus-operator CRDs of ``version``: ``~/.cache/raysvc/prometheus-operator-<version>``
    (``$XDG_CACHE_HOME`` honoured), filled on first use from the module's zip (``go mod download``). Skips the
    calling test, naming the command and its error, when ``go`` is missing or the download fails."""
    __tracebackhide__ = True
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raysvc"
    folder = cache / f"prometheus-operator-{version}"
    files = [f"monitoring.coreos.com_{plural}.yaml" for plural in MONITORING_CRDS.values()]
    if all((folder / f).is_file() for f in files):
        return folder
    command = ["go", "mod", "download", "-json", f"{PROMETHEUS_OPERATOR_MODULE}@{version}"]
    if shutil.which("go") is None:
        pytest.skip(f"needs the prometheus-operator CRDs: `go` not found to run `{' '.join(command)}`")
    # Outside any module (a temporary folder), so the command only fills Go's module cache.
    with tempfile.TemporaryDirectory() as scratch:
        try:
            done = subprocess.run(
                command, cwd=scratch, capture_output=True, text=True, timeout=300, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"needs the prometheus-operator CRDs: `{' '.join(command)}` took over 300 s")
    try:
        info = json.loads(done.stdout)
    except json.JSONDecodeError:
        info = {}
    source = Path(info.get("Dir", "")) / "example" / "prometheus-operator-crd"
    if done.returncode != 0 or not all((source / f).is_file() for f in files):
        error = info.get("Error") or done.stderr.strip() or f"no {files} under {source}"
        pytest.skip(f"needs the prometheus-operator CRDs: `{' '.join(command)}` failed: {error}")
    # Copied into a temporary folder renamed into place, so a concurrent or interrupted run never leaves a
    # half-filled cache (Go's module cache is read-only, hence copyfile without the mode).
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache))
    for f in files:
        shutil.copyfile(source / f, staging / f)
    try:
        staging.rename(folder)
    except OSError:  # another run filled it first
        shutil.rmtree(staging)
    return folder


@functools.cache
def _monitoring_validators(version: str) -> dict[str, Any]:
    import jsonschema

    folder = prometheus_operator_crds(version)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    validators = {}
    for kind, plural in MONITORING_CRDS.items():
        crd = yaml.load((folder / f"monitoring.coreos.com_{plural}.yaml").read_text(), Loader=loader)
        assert crd["spec"]["names"]["kind"] == kind, crd["spec"]["names"]
        (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
        validators[kind] = jsonschema.Draft7Validator(close_schema(v1["schema"]["openAPIV3Schema"]))
    return validators


def validate_monitoring(obj: dict[str, Any]) -> list[str]:
    """Errors of a ``monitoring.coreos.com/v1`` object against the prometheus-operator CRD of its kind (closed:
    unknown fields rejected, like KubeRay's); skips the calling test when the CRDs cannot be had."""
    __tracebackhide__ = True
    assert obj["apiVersion"] == "monitoring.coreos.com/v1", obj["apiVersion"]
    errors = _monitoring_validators(PROMETHEUS_OPERATOR)[obj["kind"]].iter_errors(obj)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


@pytest.fixture(scope="session")
def monitoring_crd_validator() -> Callable[[dict[str, Any]], list[str]]:
    """``validate(obj)`` → errors of a PodMonitor, ServiceMonitor or PrometheusRule against the prometheus-operator
    CRDs (``PROMETHEUS_OPERATOR``), unknown fields rejected; skips when the CRDs cannot be fetched."""
    prometheus_operator_crds()
    return validate_monitoring


@pytest.fixture(scope="session")
def k8s_validate() -> Callable[[dict[str, Any]], list[str]]:
    """``validate(obj)`` → error messages of a core object against Kubernetes' schemas in strict mode; the
    prometheus-operator's kinds (which Kubernetes has no schema for) against their CRDs."""
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (the dev extra)"
    )

    def _validate(obj: dict[str, Any]) -> list[str]:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            return validate_monitoring(obj)
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            return [f"{'/'.join(map(str, e.path))}: {e.message}"]
        return []

    return _validate
