"""Shared fixtures. Environment is fixed here, before any settings are read:

* an isolated embedded Ray (``RAY_ADDRESS`` unset, private ``RAY_TMPDIR``, token auth off);
* the project's generated datasets in a session temp dir (``RAYSVC_DATA_DIR``), results likewise.

Fixtures: ``seed_dir`` (the seed's ``sentiment_data.csv`` and ``simulated_daily_data.csv``: the read-only
shared folder's, see :mod:`tests.utils.shared`, or generated copies in the same formats when it is absent),
``data_dir`` (generated datasets), ``ray_local`` (one embedded Ray for the whole session, the same one the
apps under test connect to).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.utils.shared import SEED_FILES, has_shared, shared_path, write_seed_files

_session_tmp = Path(tempfile.mkdtemp(prefix="raysvc-test-"))
os.environ.pop("RAY_ADDRESS", None)
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ.setdefault("RAY_TMPDIR", tempfile.mkdtemp(prefix="rt", dir="/tmp"))
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAYSVC_DATA_DIR"] = str(_session_tmp / "data")
os.environ["RAYSVC_RESULTS_DIR"] = str(_session_tmp / "results")
os.environ.setdefault("RAYSVC_RAY_NUM_CPUS", "2")
os.environ["RAYSVC_LOG_JSON"] = "false"


@pytest.fixture(scope="session")
def seed_dir(request: pytest.FixtureRequest) -> Path:
    """The shared seed folder, or (when it is absent) the project's generated files in the seed's formats."""
    if has_shared("data", "seed", files=SEED_FILES):
        return shared_path("data", "seed")
    return write_seed_files(_session_tmp / "seed", request.getfixturevalue("data_dir"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The project's generated datasets (written once per session)."""
    from services.core import datagen

    path = Path(os.environ["RAYSVC_DATA_DIR"])
    datagen.generate(path)
    return path


@pytest.fixture(scope="session")
def ray_local():
    """One embedded Ray for the session (2 CPUs); apps under test reuse it."""
    import ray

    from services.core.ray_conn import RayConnection
    from services.core.settings import get_settings

    conn = RayConnection(get_settings(), dashboard=True)
    assert conn.connect_with_retry(120), conn.state.error
    yield ray
    conn.close()
