"""``raysvc up`` (a Ray head plus the four services, each in its own process, as a user runs it) on free
ports, once for the client's tests and the notebook: the client talks to it over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.cluster import RaysvcUp, start_raysvc_up


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[RaysvcUp]:
    up = start_raysvc_up(tmp_path_factory.mktemp("up"), data_dir)
    try:
        yield up
    finally:
        up.stop()


@pytest.fixture(scope="package")
def live_urls(live: RaysvcUp) -> dict[str, str]:
    """Service name → base URL."""
    return live.urls
