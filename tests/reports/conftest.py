"""Fixtures of the report tests: ``services`` (one service app at a time, see :class:`cases.Services`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reports.cases import Services


@pytest.fixture(scope="module")
def services(ray_local, data_dir) -> Iterator[Services]:
    s = Services()
    yield s
    s.close()
