"""Against a real `raysvc up --monitor` after a short load: Prometheus scrapes the four services and every
Ray node, Ray's dashboard uses that Prometheus, every dashboard query returns data, the alert rules are
loaded, and a service that stops answering raises RaysvcServiceDown (the last test: it stops one)."""

from __future__ import annotations

import math
import os
import signal
import time

import httpx
import pytest
import yaml

from services import SERVICES
from tests.monitoring.conftest import Monitored
from tests.monitoring.promql import RULES, dashboards, label_values, substitute, targets, variables

pytestmark = pytest.mark.slow
DASHBOARDS = dashboards()


def test_prometheus_scrapes_the_services_and_every_ray_node(loaded: Monitored) -> None:
    active = loaded.api("targets")["activeTargets"]
    services = {t["labels"]["service"]: t for t in active if t["labels"]["job"] == "raysvc"}
    assert set(services) == set(SERVICES)
    for name, t in services.items():
        assert t["health"] == "up" and t["scrapeUrl"] == f"{loaded.url(name)}/metrics", t
    ray = [t for t in active if t["labels"]["job"] == "ray"]
    assert ray and all(t["health"] == "up" for t in ray), ray
    # every node that reports node metrics is an up target, and Ray counts that many nodes
    nodes = {r["metric"]["instance"] for r in loaded.query("ray_node_cpu_count")}
    up = {r["metric"]["instance"] for r in loaded.query('up{job="ray"} == 1')}
    assert nodes and nodes <= up, (nodes, up)
    assert [float(r["value"][1]) for r in loaded.query("ray_cluster_active_nodes")] == [len(nodes)]


def test_ray_dashboard_uses_this_prometheus(loaded: Monitored) -> None:
    token = (loaded.state_dir / "auth_token").read_text().strip()
    r = httpx.get(
        f"{loaded.url('dashboard')}/api/prometheus_health",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["result"] is True, r.text
    dashboard = loaded.process("dashboard/dashboard.py")
    assert dashboard.environ()["RAY_PROMETHEUS_HOST"] == loaded.url("prometheus")


def test_the_service_variable_lists_the_services(loaded: Monitored) -> None:
    for d in DASHBOARDS.values():
        for v in variables(d):
            metric, label = label_values(v["definition"])
            found = {r["metric"][label] for r in loaded.query(f"group by ({label}) ({metric})")}
            assert found == set(SERVICES), (v["name"], found)


def _finite(result: list[dict]) -> bool:
    return any(math.isfinite(float(r["value"][1])) for r in result)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_dashboard_query_returns_data(loaded: Monitored, name: str) -> None:
    """Each query with Grafana's variables in place ($service: all services, as "All" sends them) returns at
    least one finite sample. Ray reports its task metrics with a delay, hence a little patience."""
    everyone = "(" + "|".join(SERVICES) + ")"
    queries = {where: substitute(expr, {"service": everyone}) for where, expr in targets(DASHBOARDS[name])}
    missing = dict(queries)
    deadline = time.monotonic() + 90
    while missing and time.monotonic() < deadline:
        missing = {w: e for w, e in missing.items() if not _finite(loaded.query(e))}
        if missing:
            time.sleep(5)
    assert not missing, "queries without data:\n" + "\n".join(f"{w}: {e}" for w, e in missing.items())


def test_the_alert_rules_are_loaded_and_evaluate(loaded: Monitored) -> None:
    expected = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    rules = [r for g in loaded.api("rules")["groups"] for r in g["rules"]]
    assert {r["name"] for r in rules} == expected
    assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]
    alerts = loaded.api("alerts")["alerts"]
    assert not [a for a in alerts if a["state"] == "firing"], alerts  # a healthy platform, a light load


def _service_down(m: Monitored, service: str) -> list[dict]:
    return [
        a
        for a in m.api("alerts")["alerts"]
        if a["labels"]["alertname"] == "RaysvcServiceDown" and a["labels"].get("service") == service
    ]


def test_a_stopped_service_raises_service_down(loaded: Monitored) -> None:
    """garch stopped (SIGSTOP: it no longer answers, and the supervisor, which restarts a service that exits
    within seconds, leaves it be): RaysvcServiceDown for garch is pending within two scrapes and rule
    evaluations; it clears once garch answers again."""
    garch = loaded.process("services.cli", "serve", "garch")
    os.kill(garch.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        alerts: list[dict] = []
        while not alerts and time.monotonic() - stopped < 60:
            time.sleep(1)
            alerts = _service_down(loaded, "garch")
        print(
            f"RaysvcServiceDown {alerts[0]['state'] if alerts else 'absent'} after {time.monotonic() - stopped:.1f}s"
        )
        assert alerts and alerts[0]["state"] in {"pending", "firing"}, loaded.api("targets")
        assert alerts[0]["annotations"]["summary"] == f"garch is down (127.0.0.1:{loaded.ports['garch']})"
    finally:
        os.kill(garch.pid, signal.SIGCONT)
    deadline = time.monotonic() + 60
    while _service_down(loaded, "garch"):
        assert time.monotonic() < deadline, "RaysvcServiceDown did not clear after garch answered again"
        time.sleep(1)
