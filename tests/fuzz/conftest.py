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
    return "\n".join(f"--- {n}\n{(logs / f'{n}.log').read_text(errors='replace')[-2000:]}"
                     for n in sorted(names) if (logs / f"{n}.log").exists())


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[dict[str, str]]:
    """Service name → base URL of a running ``raysvc up``."""
    state = tmp_path_factory.mktemp("fuzz-up")
    ports = {name: free_port() for name in SERVICES}
    cmd = [sys.executable, "-m", "services.cli", "up", "--num-cpus=2", f"--state-dir={state}",
           f"--dashboard-port={free_port()}", f"--gcs-port={free_port()}", f"--client-port={free_port()}",
           f"--ready-timeout={READY_TIMEOUT_S}"]
    cmd += [f"--{name}-port={port}" for name, port in ports.items()]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir), RAYSVC_RESULTS_DIR=str(state / "results"))
    env.pop("RAYSVC_API_KEYS_FILE", None)  # `raysvc up`'s local default: no API keys
    log = open(state / "up.log", "wb")  # noqa: SIM115 - closed at teardown
    up = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
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
            pytest.fail(f"raysvc up: not ready {sorted(pending)} (exit {up.poll()})\n{up_log}\n"
                        f"{_log_tails(state / 'logs', pending)}")
        yield urls
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        log.close()
