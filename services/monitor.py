"""Prometheus beside ``raysvc up --monitor``: its configuration, the alert rules and its command line.

Prometheus scrapes the services' ``GET /metrics`` (job ``raysvc``, target label ``service``) and every Ray node
through the service-discovery file Ray's dashboard keeps current (job ``ray``), and evaluates the chart's alert
rules (``helm/ray-services/files/alerts/raysvc-rules.yaml``, the same groups as its PrometheusRule).
See docs/observability.md.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

SERVICES_JOB = "raysvc"  # the alert rules select the services' targets by this job name
RAY_JOB = "ray"
#: Written by Ray's dashboard into the session dir and linked from the head's --temp-dir (Ray 2.60); it lists
#: every live node's metrics export port and the head's autoscaler and dashboard metrics ports.
RAY_SD_FILE = "prom_metrics_service_discovery.json"
SCRAPE_INTERVAL = "5s"
RULES_FILE = Path(__file__).resolve().parent.parent / "helm/ray-services/files/alerts/raysvc-rules.yaml"


class MonitorError(RuntimeError):
    """Why Prometheus cannot run beside the platform (one line for the user)."""


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise MonitorError(
            "--monitor needs Prometheus, and `prometheus` is not on PATH: `apt-get install prometheus` "
            "(Debian/Ubuntu), or a release from https://prometheus.io/download/ on PATH"
        )
    return found


def rules_file(path: Path = RULES_FILE) -> Path:
    if not path.is_file():
        raise MonitorError(
            f"--monitor needs the alert rules {path}, which come with the source tree only (the package "
            "seems installed without it): run from a checkout, installed with `pip install -e .`"
        )
    return path


def write_config(path: Path, targets_file: Path, ray_temp_dir: str, rules: Path) -> Path:
    """``prometheus.yml`` at ``path``: the services listed in ``targets_file`` (:func:`write_targets`), Ray's
    nodes through the discovery file under ``ray_temp_dir``, and ``rules``. Written as JSON, which is YAML too."""
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": SERVICES_JOB,
                "honor_labels": True,  # the series' own `service` label, the same name as the target's
                "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": SCRAPE_INTERVAL}],
            },
            {
                "job_name": RAY_JOB,
                # a symlink into the current session: re-read on a timer (a file watch misses its target)
                "file_sd_configs": [
                    {"files": [str(Path(ray_temp_dir) / RAY_SD_FILE)], "refresh_interval": SCRAPE_INTERVAL}
                ],
            },
        ],
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def write_targets(path: Path, services: dict[str, int]) -> None:
    """The services Prometheus scrapes (name → loopback port), in the file_sd format, replaced atomically.

    ``raysvc up`` lists a service from its first readiness on, as Kubernetes lists a ready pod's endpoint: a
    service still starting is not "down", one that stops answering later is."""
    groups = [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"service": name}} for name, port in services.items()
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups, indent=2) + "\n")
    os.replace(tmp, path)


def command(binary: str, config: Path, storage: str, host: str, port: int) -> list[str]:
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={storage}",
        "--storage.tsdb.retention.time=1d",
        f"--web.listen-address={host}:{port}",
    ]
