"""Faults under `raysvc up`, as a user meets them: a service killed while a job runs comes back and the job
finishes; nothing listens beyond loopback; SIGTERM with a request in flight answers it and stops every
process within 10 s. One `raysvc up` (garch only) serves the module; the last test stops it."""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from tests.utils.cluster import free_port, stop_process, wait_ready

pytestmark = pytest.mark.slow

MODEL = {"vol": "garch", "dist": "t"}
LONG_JOB = {
    "symbol": "SIM",
    "model": MODEL,
    "window": 250,
    "start": "2018-01-01",
    "mode": "job",
}  # ~2,000 refits


@dataclass
class Platform:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def family(self) -> list[psutil.Process]:
        return [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]


def _wait_ready(platform: Platform, timeout_s: float = 240) -> None:
    wait_ready(platform.url, platform.proc, platform.tail, timeout_s)


def _wait_job(url: str, until: set[str], timeout_s: float = 400) -> dict:
    deadline = time.monotonic() + timeout_s
    info: dict = {}
    while time.monotonic() < deadline:
        try:
            info = httpx.get(url, timeout=10).json()
            if info["status"] in until:
                return info
        except (httpx.HTTPError, ValueError):
            pass  # the service is down or restarting
        time.sleep(1)
    raise AssertionError(f"job not {until} in {timeout_s}s: {info}")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Platform:
    tmp = tmp_path_factory.mktemp("up")
    garch = free_port()
    args = [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--only=garch",
        f"--garch-port={garch}",
        f"--dashboard-port={free_port()}",
        f"--gcs-port={free_port()}",
        f"--client-port={free_port()}",
        f"--state-dir={tmp / 'state'}",
        "--num-cpus=2",
    ]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir), RAYSVC_RESULTS_DIR=str(tmp / "results"))
    env.pop("RAY_AUTH_MODE", None)
    with open(tmp / "up.log", "wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    p = Platform(proc, f"http://127.0.0.1:{garch}", tmp / "up.log")
    try:
        _wait_ready(p)
        yield p
    finally:
        stop_process(proc)


def _garch_service(platform: Platform) -> psutil.Process:
    return next(p for p in platform.family() if "serve" in p.cmdline() and "garch" in p.cmdline())


def test_killed_service_is_restarted_and_its_running_job_succeeds(platform: Platform) -> None:
    r = httpx.post(f"{platform.url}/v1/volatility/rolling", json=LONG_JOB, timeout=60)
    assert r.status_code == 202, r.text
    job_url = platform.url + r.headers["location"]
    running = _wait_job(job_url, {"RUNNING", "SUCCEEDED", "FAILED"})
    assert running["status"] == "RUNNING", running
    old = _garch_service(platform)
    old.kill()
    killed_at = time.monotonic()
    old.wait(5)
    _wait_ready(platform, timeout_s=120)
    print(f"garch back after {time.monotonic() - killed_at:.1f}s")
    new = _garch_service(platform)
    assert new.pid != old.pid
    assert new.environ().get("RAYSVC_RESTARTS") == "1"
    assert httpx.get(f"{platform.url}/status", timeout=10).json()["restarts"] == 1
    assert httpx.get(job_url, timeout=10).json()["status"] in ("RUNNING", "SUCCEEDED")  # not lost
    info = _wait_job(job_url, {"SUCCEEDED", "FAILED", "STOPPED"})
    assert info["status"] == "SUCCEEDED", info
    assert info["result"]["forecasts"] and info["result"]["n_refits"] > 1500
    assert "garch exited" in platform.tail() and "garch restarted (restart 1)" in platform.tail()


def _drivers(job_id: str) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if any(job_id in a for a in p.info["cmdline"] or [])
        and "services.garch.job" in " ".join(p.info["cmdline"] or [])
    ]


def _wait_for(found: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not found():
        assert time.monotonic() < deadline, f"no {what} after {timeout_s}s"
        time.sleep(0.5)


def _listening(proc: psutil.Process) -> list[tuple[str, int, str]]:
    try:
        return [
            (c.laddr.ip, c.laddr.port, proc.name())
            for c in proc.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
    except psutil.NoSuchProcess:
        return []


def _is_loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    mapped = getattr(addr, "ipv4_mapped", None)
    return addr.is_loopback or (mapped is not None and mapped.is_loopback)


def test_nothing_listens_beyond_loopback(platform: Platform) -> None:
    """GCS, raylet, object manager, workers, agents, Ray Client, dashboard and the service: all on loopback,
    checked while a job runs (so a driver and workers exist)."""
    r = httpx.post(
        f"{platform.url}/v1/volatility/rolling", json=LONG_JOB | {"start": "2022-06-01"}, timeout=60
    )
    assert r.status_code == 202, r.text
    job_id, job_url = r.json()["job_id"], platform.url + r.headers["location"]
    assert _wait_job(job_url, {"RUNNING", "SUCCEEDED", "FAILED"})["status"] == "RUNNING"
    _wait_for(lambda: _drivers(job_id), timeout_s=60, what="the job's driver process")
    sockets = [s for p in platform.family() for s in _listening(p)]
    print(f"{len(sockets)} listening sockets in {len(platform.family())} processes")
    assert len(sockets) >= 8, sockets  # GCS, raylet, client server, dashboard, agents, the service, …
    exposed = [s for s in sockets if not _is_loopback(s[0])]
    assert not exposed, exposed
    assert _wait_job(job_url, {"SUCCEEDED", "FAILED", "STOPPED"})["status"] == "SUCCEEDED"


def test_a_long_url_is_a_414_problem_through_the_real_server(platform: Platform) -> None:
    """60 kB of query: past the services' 8 KiB limit, within what uvicorn's parser (httptools) reads."""
    host, port = platform.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/v1/jobs?x=" + "a" * 60_000)
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 414 and r.getheader("content-type") == "application/problem+json", body
    assert "60,0" in json.loads(body)["detail"]


INLINE = {
    "symbol": "SIM",
    "model": MODEL,
    "window": 250,
    "start": "2019-12-01",
    "mode": "inline",
}  # ~1,400 refits


@dataclass
class InFlight:
    """An inline rolling request sent from a thread, in flight once started (its answer: a response or an error)."""

    url: str
    timeout_s: float
    answer: list[httpx.Response | str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._send)

    def _send(self) -> None:
        try:
            self.answer.append(
                httpx.post(f"{self.url}/v1/volatility/rolling", json=INLINE, timeout=self.timeout_s)
            )
        except httpx.HTTPError as exc:
            self.answer.append(repr(exc))

    def start(self) -> InFlight:
        self.thread.start()
        time.sleep(2.0)
        assert not self.answer, self.answer  # still in flight
        return self

    def response(self) -> httpx.Response:
        self.thread.join(self.timeout_s)
        assert self.answer and isinstance(self.answer[0], httpx.Response), self.answer
        return self.answer[0]


def test_head_killed_with_a_request_and_a_job_in_flight(platform: Platform) -> None:
    """The Ray head's GCS is SIGKILLed while a job runs and a request computes on Ray: the request gets a 503
    with Retry-After, not a 500; the job reads FAILED with the cause and its driver is gone (no orphan);
    `raysvc up` starts a new head and the service, still the same process, serves again."""
    r = httpx.post(f"{platform.url}/v1/volatility/rolling", json=LONG_JOB, timeout=60)
    assert r.status_code == 202, r.text
    job_id, job_url = r.json()["job_id"], platform.url + r.headers["location"]
    assert _wait_job(job_url, {"RUNNING", "SUCCEEDED", "FAILED"})["status"] == "RUNNING"
    _wait_for(
        lambda: _drivers(job_id), timeout_s=60, what="the job's driver process"
    )  # Ray says RUNNING before it spawns
    service = _garch_service(platform)
    request = InFlight(platform.url, timeout_s=120).start()
    gcs = [p for p in platform.family() if p.name() == "gcs_server"]
    assert len(gcs) == 1, [p.name() for p in platform.family()]
    killed_at = time.monotonic()
    gcs[0].kill()
    response = request.response()
    print(f"request in flight: {response} after {time.monotonic() - killed_at:.1f}s")
    assert response.status_code == 503 and response.headers["retry-after"], response.text
    assert (
        response.headers["content-type"] == "application/problem+json"
        and response.json()["dependency"] == "Ray"
    )

    info = _wait_job(job_url, {"FAILED", "SUCCEEDED", "STOPPED"}, timeout_s=180)
    assert info["status"] == "FAILED" and "the local Ray head exited" in info["problem"]["detail"], info
    assert not _drivers(job_id)
    _wait_ready(platform, timeout_s=240)
    print(f"garch ready again {time.monotonic() - killed_at:.1f}s after the GCS was killed")
    assert _garch_service(platform).pid == service.pid  # reconnected, not restarted
    forecast = httpx.post(
        f"{platform.url}/v1/volatility/forecast", json={"symbols": ["SIM"], "model": MODEL}, timeout=60
    )
    assert forecast.status_code == 200, forecast.text
    assert (
        "(restart 1); the services reconnect" in platform.tail()
        and "stopped the driver(s) of 1 job(s)" in platform.tail()
    )


def test_sigterm_answers_the_request_in_flight_and_stops_everything_within_10s(platform: Platform) -> None:
    """The request in flight needs longer than the services' drain (~1,400 refits): it is answered 503 with
    Retry-After (uvicorn alone would cancel it with a 500)."""
    family = platform.family()[1:]  # `raysvc up` itself is waited for below
    request = InFlight(platform.url, timeout_s=30).start()
    start = time.monotonic()
    platform.proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=15)
    took = time.monotonic() - start
    response = request.response()
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    print(f"SIGTERM → {len(family)} processes gone in {took:.1f}s; the request in flight got {response}")
    assert response.status_code == 503 and response.headers["retry-after"], response.text
    assert (
        response.headers["content-type"] == "application/problem+json"
        and "shutting down" in response.json()["detail"]
    )
    assert not alive, [p.cmdline()[:3] for p in alive]
    assert platform.proc.wait(10) == 0
    took = max(took, time.monotonic() - start)
    assert took < 10.0, platform.tail()
