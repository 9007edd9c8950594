"""``live_stack``: ``raysvc up`` as a user runs it (a Ray head plus the four services), on free ports, for the
fuzzing gate; stopped with SIGTERM at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services import SERVICES
from tests.utils.cluster import free_port

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 300  # a cold start on a busy 2-CPU machine takes up to ~2 minutes


def _log_tails(logs: Path, names: set[str]) -> str:
    return "\n".join(
        f"--- {n}\n{(logs / f'{n}.log').read_text(errors='replace')[-2000:]}"
        for n in sorted(names)
        if (logs / f"{n}.log").exists()
    )


# module scope: torn down before the next test file. A `ray start` cluster left running beside the session's
# embedded Ray would take the Jobs' drivers of later tests (they find a cluster by address "auto").
@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[dict[str, str]]:
    """Service name → base URL of a running ``raysvc up``."""
    state = tmp_path_factory.mktemp("fuzz-up")
    ports = {name: free_port() for name in SERVICES}
    cmd = [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--num-cpus=2",
        f"--state-dir={state}",
        f"--dashboard-port={free_port()}",
        f"--gcs-port={free_port()}",
        f"--client-port={free_port()}",
        f"--ready-timeout={READY_TIMEOUT_S}",
    ]
    cmd += [f"--{name}-port={port}" for name, port in ports.items()]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir), RAYSVC_RESULTS_DIR=str(state / "results"))
    env.pop("RAYSVC_API_KEYS_FILE", None)  # `raysvc up`'s local default: no API keys
    log = open(state / "up.log", "wb")  # closed at teardown
    up = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        pending = set(SERVICES)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while pending and up.poll() is None and time.monotonic() < deadline:
            for name in sorted(pending):
                try:
                    if httpx.get(f"{urls[name]}/readyz", timeout=2).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(1)
        if pending:
            up_log = (state / "up.log").read_text(errors="replace")[-2000:]
            pytest.fail(
                f"raysvc up: not ready {sorted(pending)} (exit {up.poll()})\n{up_log}\n"
                f"{_log_tails(state / 'logs', pending)}"
            )
        _warm_garch_signal(urls["intraday"])
        yield urls
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        log.close()


def _warm_garch_signal(intraday: str, timeout_s: float = 600) -> None:
    """A ``garch_rsi_bb`` request on the whole of SIM makes the garch service fit its daily signal over every
    day of the bars (cached after): on a loaded 2-CPU machine longer than the 30 s intraday gives its call to
    garch, so the first such request is a 503 naming garch. Warm that cache as a deployment's first user
    would: the gate then times the API, not this one cold computation (a known cost, see docs/intraday.md)."""
    body = {"symbol": "SIM", "strategy": {"name": "garch_rsi_bb"}}
    deadline = time.monotonic() + timeout_s
    while True:
        r = httpx.post(f"{intraday}/v1/intraday/backtest", json=body, timeout=timeout_s)
        if r.status_code == 200:
            return
        # garch goes on computing after intraday's call to it timed out: ask again until it is cached
        if r.status_code != 503 or time.monotonic() > deadline:
            pytest.fail(f"warming the GARCH signal: {r.status_code} {r.text[:500]}")
        time.sleep(5)
