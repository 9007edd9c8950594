"""docs/notebooks/quickstart.ipynb runs top to bottom against a real ``raysvc up`` (the client tests' one),
every cell without error, and draws its plots."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "quickstart.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert NOTEBOOK.stat().st_size < 20_000


def test_the_quickstart_runs_and_plots(live, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = live.client_env
    for key in ("RAYSVC_HOST", "RAYSVC_DATA_DIR", *(k for k in env if k.endswith("_PORT"))):
        monkeypatch.setenv(key, env[key])  # the kernel finds the services through the settings
    for key in ("RAYSVC_SENTIMENT_URL", "RAYSVC_GARCH_URL", "MPLBACKEND"):
        monkeypatch.delenv(key, raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    t0 = time.monotonic()
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    seconds = time.monotonic() - t0
    nbformat.write(nb, tmp_path / "quickstart.executed.ipynb")  # to look at when something fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    plotting = [c for c in code if ".plot(" in c.source]
    assert len(plotting) == 8
    for cell in plotting:
        pngs = [
            o for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})
        ]
        assert len(pngs) == 1, f"no figure from:\n{cell.source}\n{cell.outputs}"
    print(f"quickstart notebook: {seconds:.1f} s")
