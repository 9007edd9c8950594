"""`raysvc up` as a user runs it: a Ray head plus the four services on their own ports, all healthy and
ready, the dashboard listening; SIGTERM stops everything and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from services import SERVICES
from tests.utils.cluster import free_port

pytestmark = pytest.mark.slow


def test_up_serves_all_services_and_stops_cleanly(tmp_path: Path, data_dir: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    dashboard, gcs, client = free_port(), free_port(), free_port()
    args = [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        f"--dashboard-port={dashboard}",
        f"--gcs-port={gcs}",
        f"--client-port={client}",
        f"--state-dir={tmp_path / 'state'}",
        "--num-cpus=2",
    ]
    args += [f"--{name}-port={port}" for name, port in ports.items()]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir), RAYSVC_RESULTS_DIR=str(tmp_path / "results"))
    env.pop("RAY_AUTH_MODE", None)  # `up` decides: token auth, as on Kubernetes
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    family: dict[int, psutil.Process] = {}
    try:
        start = time.monotonic()
        pending = set(SERVICES)
        while pending and time.monotonic() - start < 300:
            assert proc.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            for name in sorted(pending):
                try:
                    if httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=2).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(1)
        assert not pending, f"not ready: {pending}\n" + (tmp_path / "up.log").read_text()[-3000:]
        for name, port in ports.items():
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
            assert health == {"status": "ok", "service": name}
            status = httpx.get(f"http://127.0.0.1:{port}/status", timeout=5).json()
            assert (
                status["ray"]["mode"] == "client" and status["ray"]["address"] == f"ray://127.0.0.1:{client}"
            )
            assert status["ray"]["cpus"] == 2.0
        assert httpx.get(f"http://127.0.0.1:{dashboard}/api/version", timeout=5).status_code in (200, 401)
        family = {p.pid: p for p in psutil.Process(proc.pid).children(recursive=True)}
        assert len(family) >= 5  # the head and four services, at least
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, (tmp_path / "up.log").read_text()[-3000:]
    time.sleep(1)
    left = [p for p in family.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, [p.cmdline()[:3] for p in left]
    for port in [*ports.values(), dashboard, gcs, client]:
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)


def test_up_fails_fast_when_a_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "services.cli", "up", f"--garch-port={taken}", f"--state-dir={tmp_path}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 2
    assert f"{taken} (--garch-port)" in r.stderr
