"""Fixtures for the offline chart checks: the chart rendered through the Helm SDK, the KubeRay CRD schemas.

No cluster and no helm binary: ``helm_python`` (the Helm v4 SDK) lints and renders, ``kubernetes_validate``
checks core kinds, and the RayCluster is checked against KubeRay v1.7.0's CRD from the shared folder's ``k8s``
(:mod:`tests.utils.shared`; those checks skip without it: the real CRD cannot be generated).
"""

from __future__ import annotations

from collections.abc import Callable
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


@pytest.fixture(scope="session")
def k8s_validate() -> Callable[[dict[str, Any]], list[str]]:
    """``validate(obj)`` → error messages of a core object against Kubernetes' schemas in strict mode."""
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (the dev extra)"
    )

    def _validate(obj: dict[str, Any]) -> list[str]:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            return [f"{'/'.join(map(str, e.path))}: {e.message}"]
        return []

    return _validate
