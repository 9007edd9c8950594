"""Shared fixtures. Environment is fixed here, before any settings are read:

* an isolated embedded Ray (``RAY_ADDRESS`` unset, private ``RAY_TMPDIR``, token auth off);
* the project's generated datasets in a session temp dir (``RAYSVC_DATA_DIR``), results likewise.

Fixtures: ``shared_dir`` / ``seed_dir`` (the read-only ``../shared`` data; tests skip when absent),
``data_dir`` (generated datasets), ``ray_local`` (one embedded Ray for the whole session, the same one the
apps under test connect to).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RAYSVC_SHARED_DIR", REPO.parent / "shared")).resolve()

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
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED} (set RAYSVC_SHARED_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def seed_dir(shared_dir: Path) -> Path:
    seed = shared_dir / "data" / "seed"
    if not seed.is_dir():
        pytest.skip(f"seed data not found at {seed}")
    return seed


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
