"""``live_stack``: ``raysvc up`` as a user runs it (a Ray head plus the four services), on free ports, for the
fuzzing gate; stopped with SIGTERM at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.cluster import start_raysvc_up

READY_TIMEOUT_S = 300  # a cold start on a busy 2-CPU machine takes up to ~2 minutes


# module scope: torn down before the next test file. A `ray start` cluster left running beside the session's
# embedded Ray would take the Jobs' drivers of later tests (they find a cluster by address "auto").
@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[dict[str, str]]:
    """Service name → base URL of a running ``raysvc up``."""
    state = tmp_path_factory.mktemp("fuzz-up")
    # `raysvc up`'s local default: no API keys
    env = {"RAYSVC_RESULTS_DIR": str(state / "results"), "RAYSVC_API_KEYS_FILE": None}
    up = start_raysvc_up(state, data_dir, env=env, ready_timeout_s=READY_TIMEOUT_S)
    try:
        _warm_garch_signal(up.urls["intraday"])
        yield up.urls
    finally:
        up.stop()


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
