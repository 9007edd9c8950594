"""One `raysvc up --monitor` for the live tests of a module (it takes about a minute to be ready on 2 CPUs),
on free ports, with a short load over every service that the dashboards show."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from services import SERVICES
from tests.monitoring.promql import tool
from tests.utils.cluster import free_port, stop_process, wait_ready


@dataclass
class Monitored:
    proc: subprocess.Popen[bytes]
    log: Path
    state_dir: Path
    ports: dict[str, int]  # the services', "dashboard" and "prometheus"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result; a query Prometheus rejects fails the test with its error."""
        r = httpx.get(f"{self.url('prometheus')}/api/v1/query", params={"query": expr}, timeout=30)
        assert r.status_code == 200, f"{expr}: {r.text}"
        return r.json()["data"]["result"]

    def api(self, path: str) -> Any:
        r = httpx.get(f"{self.url('prometheus')}/api/v1/{path}", timeout=30)
        r.raise_for_status()
        return r.json()["data"]

    def process(self, *words: str) -> psutil.Process:
        """The platform's process with each of ``words`` in an argument of its command line."""
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if all(any(w in a for a in p.cmdline()) for w in words):
                    return p
            except psutil.NoSuchProcess:
                pass  # a short-lived Ray worker
        raise AssertionError(f"no process with {words}")

    def wait_targets_up(self, timeout_s: float = 60) -> None:
        """Until Prometheus scrapes the four services (listed from their readiness on) successfully."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            active = self.api("targets")["activeTargets"]
            up = {
                t["labels"]["service"]
                for t in active
                if t["labels"]["job"] == "raysvc" and t["health"] == "up"
            }
            if up == set(SERVICES):
                return
            time.sleep(1)
        raise AssertionError(f"services' targets not up in {timeout_s:.0f} s: {self.api('targets')}")

    def wait_scrapes(self, n: int = 2) -> None:
        """Until every target has been scraped ``n`` times from now."""
        t0 = time.time()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            scraped = [t["lastScrape"] for t in self.api("targets")["activeTargets"]]
            if scraped and all(_epoch(s) > t0 + 5 * (n - 1) for s in scraped):
                return
            time.sleep(1)
        raise AssertionError(f"targets not scraped {n} times in 60 s: {self.api('targets')}")


def _epoch(rfc3339: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Monitored]:
    tool("prometheus")
    tmp = tmp_path_factory.mktemp("monitored")
    ports = {n: free_port() for n in [*SERVICES, "dashboard", "gcs", "client", "prometheus"]}
    args = [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--monitor",
        "--num-cpus=2",
        f"--state-dir={tmp / 'state'}",
    ]
    args += [f"--{n}-port={p}" for n, p in ports.items()]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir), RAYSVC_RESULTS_DIR=str(tmp / "results"))
    env.pop("RAY_AUTH_MODE", None)  # raysvc up's own: token authentication, as in `make run`
    with open(tmp / "up.log", "wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    m = Monitored(proc, tmp / "up.log", tmp / "state", ports)
    prometheus: list[psutil.Process] = []
    tsdb = ""
    try:
        for name in SERVICES:
            wait_ready(m.url(name), proc, m.tail)
        m.wait_targets_up()
        prometheus = [p for p in psutil.Process(proc.pid).children() if p.name() == "prometheus"]
        assert len(prometheus) == 1, m.tail()
        tsdb = next(
            a.split("=", 1)[1] for a in prometheus[0].cmdline() if a.startswith("--storage.tsdb.path=")
        )
        yield m
    finally:
        stop_process(proc)
    # Prometheus stops with the platform, its data directory gone
    assert proc.returncode == 0, m.tail()
    assert prometheus and not prometheus[0].is_running() and tsdb and not Path(tsdb).exists()


MODEL = {"vol": "garch", "p": 1, "q": 1, "dist": "t"}
#: A few requests per route the dashboards show: each service's computations (one garch forecast runs on
#: Ray), sentiment's models and texts, 4xx answers, and one short batch job each of garch and intraday.
LOAD: list[tuple[str, str, str, dict[str, Any] | None, int]] = [
    ("sentiment", "GET", "/v1/sentiment/models", None, 200),
    (
        "sentiment",
        "POST",
        "/v1/sentiment/score",
        {"texts": ["Apple beats earnings", "Oil slips"], "model": "ml:fast"},
        200,
    ),
    ("sentiment", "POST", "/v1/sentiment/score", {"texts": ["Fed holds rates"], "model": "lexicon"}, 200),
    ("sentiment", "GET", "/v1/sentiment/rankings", None, 200),
    ("sentiment", "GET", "/v1/sentiment/symbols/NOPE", None, 404),
    ("garch", "GET", "/v1/volatility/symbols", None, 200),
    (
        "garch",
        "POST",
        "/v1/volatility/forecast",
        {"symbols": ["SIM"], "model": MODEL, "horizon": 5, "start": "2022-09-18"},
        200,
    ),
    ("garch", "POST", "/v1/volatility/forecast", {"symbols": []}, 422),
    (
        "portfolio",
        "POST",
        "/v1/portfolio/metrics",
        {
            "weights": {"AAPL": 0.5, "MSFT": 0.5},
            "dataset": "sp500",
            "start": "2021-01-01",
            "end": "2022-12-28",
        },
        200,
    ),
    (
        "portfolio",
        "POST",
        "/v1/portfolio/optimize",
        {
            "dataset": "sp500",
            "symbols": ["AAPL", "MSFT", "JNJ", "XOM"],
            "start": "2020-01-01",
            "end": "2022-12-28",
        },
        200,
    ),
    ("portfolio", "POST", "/v1/portfolio/metrics", {"weights": {}}, 422),
    (
        "intraday",
        "POST",
        "/v1/intraday/signals",
        {
            "symbol": "SIM",
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
            "start": "2023-09-11",
            "end": "2023-09-12",
        },
        200,
    ),
    (
        "intraday",
        "POST",
        "/v1/intraday/backtest",
        {
            "symbol": "SIM",
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
            "start": "2023-09-11",
            "end": "2023-09-18",
            "include": ["equity"],
            "equity_points": 50,
        },
        200,
    ),
]
JOBS = [
    (
        "garch",
        "/v1/volatility/rolling",
        {
            "symbol": "SIM",
            "model": {"vol": "garch", "dist": "normal"},
            "window": 250,
            "start": "2023-09-01",
            "mode": "job",
        },
    ),
    (
        "intraday",
        "/v1/intraday/sweep",
        {
            "symbol": "SIM",
            "strategy": "sma_cross",
            "grid": {"fast": [5, 10], "slow": [20, 40]},
            "start": "2023-09-01",
            "end": "2023-09-18",
            "mode": "job",
        },
    ),
]


@pytest.fixture(scope="module")
def loaded(monitored: Monitored) -> Monitored:
    """``monitored`` after the load (twice, a scrape apart), its jobs finished, and two scrapes since."""
    with httpx.Client(timeout=120) as client:
        jobs = []
        for service, path, body in JOBS:
            r = client.post(monitored.url(service) + path, json=body)
            assert r.status_code == 202, r.text
            jobs.append(monitored.url(service) + r.headers["location"])
        for i in range(2):  # a scrape between: a counter's first value alone gives rate() nothing
            if i:
                monitored.wait_scrapes(1)
            for service, method, path, body, status in LOAD:
                r = client.request(method, monitored.url(service) + path, json=body)
                assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
        deadline = time.monotonic() + 300
        for job in jobs:
            while (info := client.get(job).json())["status"] not in {"SUCCEEDED", "FAILED", "STOPPED"}:
                assert time.monotonic() < deadline, info
                time.sleep(1)
            assert info["status"] == "SUCCEEDED", info
    monitored.wait_scrapes(2)
    return monitored
