"""Helpers of the offline chart checks: paths, scenarios, and small functions over rendered objects."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "ray-services"
#: A current Kubernetes release (kind v0.30's default node) for lint and strict validation.
KUBE_VERSION = "1.34.0"
RELEASE = "ray-services"
NAMESPACE = "ray-services"

#: Scenario values files, each rendered and validated in full: the chart's ci/ folder and the kind values.
SCENARIOS: dict[str, Path] = {
    p.name.removesuffix("-values.yaml"): p for p in sorted((CHART / "ci").glob("*-values.yaml"))
}
SCENARIOS["kind"] = REPO / "k8s" / "values-kind.yaml"

Objects = list[dict[str, Any]]


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``768Mi``, ``2Gi``) as a number of cores or bytes."""
    text = str(value)
    for suffix, factor in (("m", 1e-3), ("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def load_values(scenario: str) -> dict[str, Any]:
    """The values of a scenario file (``{}`` for the defaults)."""
    return yaml.safe_load(SCENARIOS[scenario].read_text()) or {}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (maps merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def of_kind(objects: Objects, kind: str) -> Objects:
    """The objects of one kind."""
    return [o for o in objects if o["kind"] == kind]


def one(objects: Objects, kind: str, name: str | None = None) -> dict[str, Any]:
    """The single object of ``kind`` (and ``name``)."""
    found = [o for o in of_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, (
        f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    )
    return found[0]


def loader_jobs(objects: Objects) -> list[dict[str, Any]]:
    """The Jobs the chart installs (the data loader), not its uninstall hook."""
    return [j for j in of_kind(objects, "Job") if "helm.sh/hook" not in j["metadata"].get("annotations", {})]


def pod_specs(objects: Objects) -> dict[str, dict[str, Any]]:
    """Every pod spec the chart renders, keyed ``<Kind>/<name>[/<group>]``."""
    specs: dict[str, dict[str, Any]] = {}
    for o in objects:
        name = f"{o['kind']}/{o['metadata']['name']}"
        if o["kind"] in ("Deployment", "Job"):
            specs[name] = o["spec"]["template"]["spec"]
        elif o["kind"] == "RayCluster":
            specs[f"{name}/head"] = o["spec"]["headGroupSpec"]["template"]["spec"]
            for g in o["spec"].get("workerGroupSpecs", []):
                specs[f"{name}/{g['groupName']}"] = g["template"]["spec"]
    return specs


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's env as ``{name: value or valueFrom}``."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def close_schema(node: Any) -> Any:
    """Close every object schema that lists ``properties`` (and does not preserve unknown fields) with
    ``additionalProperties: false``, so a misspelled field fails the way a strict API server rejects it."""
    if isinstance(node, dict):
        node = {k: close_schema(v) for k, v in node.items()}
        if (
            "properties" in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
            and "additionalProperties" not in node
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [close_schema(v) for v in node]
    return node


def kuberay_head_service_name(cluster_name: str) -> str:
    """The head Service name KubeRay derives from a RayCluster name.

    Mirrors ``GenerateHeadServiceName`` / ``CheckName`` of kuberay ray-operator/controllers/ray/utils:
    ``<name>-head-svc``, keeping its last 50 characters, a leading digit or punctuation replaced by ``r``.
    """
    name = f"{cluster_name}-head-svc"
    if len(name) > 50:
        name = name[len(name) - 50 :]
    if name[0].isdigit() or not name[0].isalnum():
        name = "r" + name[1:]
    return name
