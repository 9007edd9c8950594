"""``raysvc up`` (a Ray head plus the four services, each in its own process, as a user runs it) on free
ports, once for the client's tests and the notebook: the client talks to it over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services import SERVICES
from tests.utils.cluster import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Up:
    urls: dict[str, str]
    env: dict[str, str]
    """Environment for a process that should find these services through the settings (the notebook's)."""
    state: Path

    def tail(self, n: int = 3000) -> str:
        logs = sorted((self.state / "logs").glob("*.log")) if (self.state / "logs").exists() else []
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-n:]}" for p in logs)


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Up]:
    ports = {n: free_port() for n in SERVICES}
    state = tmp_path_factory.mktemp("up")
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
        "--ready-timeout=240",
        *[f"--{n}-port={p}" for n, p in ports.items()],
    ]
    env = dict(os.environ, RAYSVC_DATA_DIR=str(data_dir))
    log = open(state / "up.log", "wb")
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    up = Up(
        urls=urls,
        env={
            **env,
            "RAYSVC_HOST": "127.0.0.1",
            **{f"RAYSVC_{n.upper()}_PORT": str(p) for n, p in ports.items()},
        },
        state=state,
    )
    try:
        deadline = time.monotonic() + 300
        pending = set(SERVICES)
        while pending and time.monotonic() < deadline and proc.poll() is None:
            for n in sorted(pending):
                try:
                    if httpx.get(f"{urls[n]}/readyz", timeout=2).status_code == 200:
                        pending.discard(n)
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        if pending:
            pytest.fail(f"not ready: {sorted(pending)} (up exited: {proc.poll()})\n{up.tail()}")
        yield up
    finally:
        stop_process(proc, grace_s=90)
        log.close()


@pytest.fixture(scope="package")
def live_urls(live: Up) -> dict[str, str]:
    """Service name → base URL."""
    return live.urls
