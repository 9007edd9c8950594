"""`raysvc up --monitor`'s Prometheus configuration (promtool accepts it) and its clear errors when
Prometheus or the rules file is missing, before anything is started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services import SERVICES, monitor
from tests.monitoring.promql import RULES, run_promtool
from tests.utils.cluster import free_port


def test_config_scrapes_the_services_and_ray_and_loads_the_rules(tmp_path: Path) -> None:
    targets = tmp_path / "prometheus-targets.json"
    monitor.write_targets(targets, {})
    path = monitor.write_config(tmp_path / "prometheus.yml", targets, "/tmp/raysvc-x", monitor.rules_file())
    r = run_promtool("check", "config", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    config = json.loads(path.read_text())
    assert config["rule_files"] == [str(RULES)]
    services, ray = config["scrape_configs"]
    assert services["job_name"] == "raysvc" and services["honor_labels"] is True
    assert services["file_sd_configs"][0]["files"] == [str(targets)]
    assert ray["job_name"] == "ray"
    assert ray["file_sd_configs"][0]["files"] == ["/tmp/raysvc-x/prom_metrics_service_discovery.json"]


def test_targets_list_the_services_by_name(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    path = tmp_path / "targets.json"
    monitor.write_targets(path, ports)
    assert json.loads(path.read_text()) == [
        {"targets": [f"127.0.0.1:{p}"], "labels": {"service": n}} for n, p in ports.items()
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["targets.json"]


def test_prometheus_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(monitor.MonitorError, match="apt-get install prometheus"):
        monitor.prometheus_binary()


def test_rules_missing_says_why(tmp_path: Path) -> None:
    with pytest.raises(monitor.MonitorError, match=r"pip install -e \."):
        monitor.rules_file(tmp_path / "raysvc-rules.yaml")


def test_up_monitor_without_prometheus_exits_before_starting_anything(tmp_path: Path) -> None:
    ports = [f"--{n}-port={free_port()}" for n in SERVICES]
    ports += [f"--{o}-port={free_port()}" for o in ("dashboard", "gcs", "client", "prometheus")]
    r = subprocess.run(
        [sys.executable, "-m", "services.cli", "up", "--monitor", f"--state-dir={tmp_path}", *ports],
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "apt-get install prometheus" in r.stderr
    assert not (tmp_path / "logs").exists()  # nothing was started
