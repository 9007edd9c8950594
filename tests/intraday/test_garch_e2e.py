"""The course strategy end to end with the GARCH service running (a uvicorn subprocess on the session's
Ray); and a 503 naming the GARCH service when it is down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import pandas as pd
import pytest

from services.intraday import engine as E
from tests.utils.apps import app_client
from tests.utils.cluster import wait_ready

RANGE = {"symbol": "SIM", "start": "2023-08-01", "end": "2023-08-15"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


client = app_client("services.intraday.app")


@pytest.fixture
def garch_url(client):
    """Point the intraday service at ``url`` for one test."""
    from services.core.app import get_platform
    from services.core.settings import get_settings

    settings = get_settings()
    old = settings.garch_url

    def use(url: str) -> None:
        object.__setattr__(settings, "garch_url", url)
        object.__setattr__(get_platform().settings, "garch_url", url)

    yield use
    use(old)


@pytest.fixture(scope="module")
def garch_service(ray_local, data_dir):
    pytest.importorskip("services.garch.app", reason="the GARCH service is not in this tree")
    port = free_port()
    env = {**os.environ, "RAY_ADDRESS": ray_local.get_runtime_context().gcs_address}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.garch.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(
            url,
            proc,
            lambda: "the GARCH service did not become ready (its output is not kept)",
            timeout_s=120,
        )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_course_strategy_with_garch_service(client, garch_service, garch_url):
    from services.core.app import get_platform
    from services.intraday.service import parse_garch_signal

    garch_url(garch_service)
    r = client.post(
        "/v1/intraday/backtest", json={**RANGE, "strategy": {"name": "garch_rsi_bb"}, "include": ["trades"]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    # the same signal fetched directly, applied by the engine
    sig = httpx.get(
        f"{garch_service}/v1/volatility/signal",
        params={"symbol": "SIM", "dataset": "daily", "date": "2023-08-14", "history": 23},
        timeout=300,
    ).json()
    daily = parse_garch_signal(sig)
    frame = get_platform().catalog.frame("intraday")
    bars = E.prepare_bars(frame[(frame.index >= "2023-08-01") & (frame.index < "2023-08-15")])
    direct = E.backtest(bars, E.GarchRsiBb(daily_signal=daily), E.Costs(1, 1))
    assert body["metrics"]["n_trades"] == direct.metrics["n_trades"]
    assert body["metrics"]["total_return"] == pytest.approx(
        direct.metrics["total_return"], rel=1e-12, abs=1e-15
    )
    assert all(t["exit_reason"] == "session_end" or t["exit_reason"] == "signal" for t in body["trades"])
    assert set(daily.reindex(pd.date_range("2023-08-01", "2023-08-14")).dropna().unique()) <= {-1.0, 0.0, 1.0}


def test_garch_down_is_503_naming_it(client, garch_url):
    garch_url(f"http://127.0.0.1:{free_port()}")
    r = client.post("/v1/intraday/backtest", json={**RANGE, "strategy": {"name": "garch_rsi_bb"}})
    assert r.status_code == 503 and "garch" in r.json()["detail"]
