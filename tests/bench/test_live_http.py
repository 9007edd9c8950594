"""``raysvc bench http`` against a live ``raysvc up`` (free ports, the services that exist), a few seconds
of load, then SIGTERM; nothing the run started may be left running."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from services import SERVICES
from tests.utils.cluster import REPO, start_raysvc_up

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


@pytest.fixture(scope="module")
def live(tmp_path_factory, data_dir):
    names = _services_with_apps()
    if not names:
        pytest.skip("no service has an app yet")
    up = start_raysvc_up(tmp_path_factory.mktemp("up"), data_dir, only=names)
    try:
        yield up
    finally:
        up.stop()  # nothing to do when the test stopped it


def test_load_then_sigterm_leaves_nothing_running(live, tmp_path):
    up, urls = live.proc, live.urls
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
    assert up.wait(timeout=90) == 0, live.tail(["ray-head"])
    deadline = time.monotonic() + 30
    alive = [pid for pid in tree if _running(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in alive if _running(pid)]
    assert alive == [], [_cmd(p) for p in alive]
    for url in urls.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/healthz", timeout=2)
