"""The Grafana dashboards, offline: valid JSON models on a `${datasource}` variable, every query parses
(promtool reads them as recording rules), names only metrics the platform and Ray 2.60 export, and each
service's dashboard reads that service's series only. `test_live.py` evaluates them on real data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from services import SERVICES
from tests.monitoring.promql import (
    RULES,
    dashboards,
    label_values,
    panels,
    run_promtool,
    substitute,
    targets,
    variables,
)

DASHBOARDS = dashboards()
ALL_SERVICES = "(" + "|".join(SERVICES) + ")"  # what Grafana sends for "All" of a multi-value variable
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: The services' metrics (services/core/metrics.py) and the Ray 2.60 metrics the dashboards and rules read
#: (seen on a running `raysvc up` head).
KNOWN_METRICS = {
    "raysvc_http_requests_total",
    "raysvc_http_request_duration_seconds_bucket",
    "raysvc_http_requests_in_flight",
    "raysvc_ray_connected",
    "raysvc_ray_connects_total",
    "raysvc_ray_cluster_cpus",
    "raysvc_jobs_submitted_total",
    "raysvc_jobs_finished_total",
    "raysvc_job_duration_seconds_bucket",
    "raysvc_computations_total",
    "raysvc_dataset_load_seconds",
    "raysvc_dataset_rows",
    "raysvc_texts_scored_total",
    "raysvc_build_info",
    "raysvc_model_info",
    "ray_resources",
    "ray_node_cpu_utilization",
    "ray_node_mem_used",
    "ray_node_mem_total",
    "ray_object_store_used_memory",
    "ray_object_store_available_memory",
    "ray_tasks",
    "ray_cluster_active_nodes",
}
METRIC = re.compile(r"\b(raysvc_\w+|ray_[a-z]\w*)\b")


def test_the_dashboards() -> None:
    assert set(DASHBOARDS) == {"platform-overview", *SERVICES}
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids), uids


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_model(name: str) -> None:
    d = DASHBOARDS[name]
    assert d["title"].startswith("Ray Services / ") and 36 <= d["schemaVersion"] <= 41
    ds = d["templating"]["list"][0]
    assert (ds["name"], ds["type"], ds["query"]) == ("datasource", "datasource", "prometheus")
    ids = [p["id"] for p in d["panels"]]
    assert len(set(ids)) == len(ids), f"duplicate panel ids: {ids}"
    for p in panels(d):
        assert p["datasource"] == DATASOURCE and p["targets"], p["title"]
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs), p["title"]
        assert all(t["datasource"] == DATASOURCE and t["expr"].strip() for t in p["targets"]), p["title"]
    for v in variables(d):
        assert v["datasource"] == DATASOURCE
        label_values(v["definition"])


def _queries() -> list[tuple[str, str]]:
    return [
        (f"{name}: {where}", substitute(expr, {"service": ALL_SERVICES}))
        for name, d in DASHBOARDS.items()
        for where, expr in targets(d)
    ]


def test_every_query_parses(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule's expression (its errors name the rule)."""
    queries = _queries()
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [{"record": f"dashboard_query_{i}", "expr": e} for i, (_, e) in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    r = run_promtool("check", "rules", str(path))
    index = "\n".join(f"dashboard_query_{i}: {w}" for i, (w, _) in enumerate(queries))
    assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{index}"
    assert f"SUCCESS: {len(queries)} rules found" in r.stdout


def test_only_known_metric_names() -> None:
    used = {m for _, e in _queries() for m in METRIC.findall(e)}
    used |= set(METRIC.findall(RULES.read_text()))
    assert used <= KNOWN_METRICS, used - KNOWN_METRICS


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_service_dashboard_reads_its_own_service(name: str) -> None:
    for where, expr in targets(DASHBOARDS[name]):
        selectors = re.findall(r"raysvc_\w+\{([^}]*)\}", expr)
        assert selectors and len(selectors) == len(re.findall(r"raysvc_\w+", expr)), f"{where}: {expr}"
        assert all(f'service="{name}"' in s for s in selectors), f"{where}: {expr}"
