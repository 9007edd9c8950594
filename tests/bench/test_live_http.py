"""``raysvc bench http`` against a live ``raysvc up`` (free ports, the services that exist), a few seconds
of load, then SIGTERM; nothing the run started may be left running."""

from __future__ import annotations

import importlib.util
import json
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

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _services_with_apps() -> list[str]:
    return [n for n in SERVICES if importlib.util.find_spec(f"services.{n}.app") is not None]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmd(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()[:4]
    except psutil.Error:
        return []


def _tail(path: Path, n: int = 2000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else f"({path} missing)"


@pytest.fixture(scope="module")
def live(tmp_path_factory, data_dir):
    names = _services_with_apps()
    if not names:
        pytest.skip("no service has an app yet")
    ports = {n: free_port() for n in names}
    state = tmp_path_factory.mktemp("up")
    cmd = [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--only",
        ",".join(names),
        "--num-cpus",
        "2",
        "--state-dir",
        str(state),
        "--dashboard-port",
        str(free_port()),
        "--gcs-port",
        str(free_port()),
        "--client-port",
        str(free_port()),
        "--ready-timeout",
        "240",
    ]
    cmd += [x for n in names for x in (f"--{n}-port", str(ports[n]))]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir))
    up = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    try:
        deadline = time.monotonic() + 300
        pending = set(names)
        while pending and time.monotonic() < deadline and up.poll() is None:
            for n in sorted(pending):
                try:
                    if httpx.get(f"{urls[n]}/readyz", timeout=2).status_code == 200:
                        pending.discard(n)
                except httpx.HTTPError:
                    pass
            time.sleep(1)
        if pending:
            logs = "\n".join(f"--- {n}\n{_tail(state / 'logs' / f'{n}.log')}" for n in sorted(pending))
            pytest.fail(f"not ready: {sorted(pending)} (up exited: {up.poll()})\n{logs}")
        yield up, urls, state
    finally:
        if up.poll() is None:  # the test failed before stopping it: stop it the same way
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()


def test_load_then_sigterm_leaves_nothing_running(live, tmp_path):
    up, urls, state = live
    out = tmp_path / "http"
    argv = [
        sys.executable,
        "-m",
        "services.cli",
        "bench",
        "http",
        "--concurrency",
        "1,8",
        "--duration",
        "2",
        "--requests",
        "400",
        "--warmup",
        "2",
        "--timeout",
        "20",
        "--out",
        str(out),
        "--quiet",
        "--service",
        ",".join(urls),
    ]
    argv += [x for n, u in urls.items() for x in (f"--url-{n}", u)]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    http = json.loads((out / "results.json").read_text())["http"]
    assert http["skipped_services"] == {}
    by_service = {}
    for t in http["targets"]:
        by_service.setdefault(t["service"], []).append(t)
    for name in urls:
        for t in by_service[name]:
            assert not t.get("skipped"), (t["name"], t.get("skipped"))
            assert [lv["concurrency"] for lv in t["levels"]] == [1, 8]
            for lv in t["levels"]:
                assert lv["ok"] > 0 and lv["ok"] + lv["errors"] == lv["requests"] <= 400
                assert lv["p50_s"] <= lv["p95_s"] <= lv["p99_s"]
    health = next(t for t in http["targets"] if t["name"].startswith("health"))
    assert all(lv["errors"] == 0 for lv in health["levels"])
    for name in ("report.md", "http_latency.png", "http_throughput.png"):
        assert (out / name).stat().st_size > 0

    # stop it the documented way and check every process it started is gone
    tree = [up.pid] + [p.pid for p in psutil.Process(up.pid).children(recursive=True)]
    assert len(tree) > 1 + len(urls)  # the Ray head and the services really were running
    up.send_signal(signal.SIGTERM)
    assert up.wait(timeout=90) == 0, _tail(state / "logs" / "ray-head.log")
    deadline = time.monotonic() + 30
    alive = [pid for pid in tree if _running(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in alive if _running(pid)]
    assert alive == [], [_cmd(p) for p in alive]
    for url in urls.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/healthz", timeout=2)
