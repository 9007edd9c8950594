"""The dashboards' queries and the alert rules as the tests read them, and the Prometheus tools they use."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "helm/ray-services/files/dashboards"
RULES = ROOT / "helm/ray-services/files/alerts/raysvc-rules.yaml"
RULES_TESTS = RULES.with_name("raysvc-rules.test.yaml")
#: What Grafana puts in place of its built-in variables (a 5 m rate window covers the tests' short load).
GRAFANA_VARS = {"__rate_interval": "5m", "__interval": "15s", "__range": "1h"}
_VAR = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def tool(name: str) -> str:
    """``promtool`` or ``prometheus``; the test is skipped where it is not installed (.ci/run installs it)."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return found


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too; rows themselves are not panels here."""
    for p in dashboard["panels"]:
        if p["type"] == "row":
            yield from p.get("panels", [])
        else:
            yield p


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(panel title/refId, expr)`` of every query of the dashboard."""
    for p in panels(dashboard):
        for t in p.get("targets", []):
            yield f"{p['title']}/{t['refId']}", t["expr"]


def substitute(expr: str, values: dict[str, str]) -> str:
    """``expr`` with Grafana's variables (``$x``, ``${x}``, ``${x:fmt}``) replaced: ``values`` first, then
    Grafana's built-ins; an unknown variable is an error."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in values:
            return values[name]
        if name in GRAFANA_VARS:
            return GRAFANA_VARS[name]
        raise AssertionError(f"unknown Grafana variable ${name} in {expr!r}")

    return _VAR.sub(one, expr)


def label_values(definition: str) -> tuple[str, str]:
    """``label_values(metric, label)`` (a Grafana query variable) → ``(metric, label)``."""
    m = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)", definition.strip())
    assert m, f"not a label_values(metric, label) query: {definition!r}"
    return m.group(1), m.group(2)


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in dashboard["templating"]["list"] if v["type"] == "query"]
