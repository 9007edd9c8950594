"""The batch entrypoint in a subprocess (its own embedded Ray), exactly as `ray job submit` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def run_job(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    # a private, short temp dir (Ray's socket paths must stay under 108 bytes)
    env = {**os.environ, "RAYSVC_RAY_NUM_CPUS": "2", "RAY_TMPDIR": tempfile.mkdtemp(prefix="rtj", dir="/tmp")}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "services.intraday.job", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_http_spec_job_returns_the_api_body(data_dir, tmp_path):
    from services.core.catalog import Catalog
    from services.core.settings import get_settings
    from services.intraday import schemas as S
    from services.intraday import service as svc
    from services.intraday.engine import sweep

    params = {
        "symbol": "SIM",
        "start": "2023-08-01",
        "end": "2023-08-08",
        "strategy": "sma_cross",
        "grid": {"fast": [5, 10, 30], "slow": [20, 40]},
        "top": 5,
    }
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"service": "intraday", "command": "sweep", "params": params}))
    out = run_job(["sweep", "--params-file", str(spec), "--job-dir", str(tmp_path / "job")], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    body = json.loads((tmp_path / "job" / "result.json").read_text())
    # the same rows the engine gives in this process
    req = S.SweepRequest.model_validate(params)
    bars, source = svc.bars_for(req, Catalog(get_settings()))
    grid = svc.grid_of(req, None)
    local = svc.sweep_response(req, sweep(bars, grid, svc.costs_of(req.costs)), bars, source, 0.0)
    assert body["n_evaluated"] == 5 and body["n_skipped"] == 1
    assert [r["params"] for r in body["results"]] == [r.params for r in local.results]
    assert [r["metrics"] for r in body["results"]] == [r.metrics.model_dump() for r in local.results]
    assert json.loads((tmp_path / "job" / "progress.json").read_text())["progress"] == 1.0


def test_cli_symbols_times_grid_to_csv(data_dir, tmp_path):
    output = tmp_path / "rows.csv"
    out = run_job(
        [
            "sweep",
            "--symbols",
            "AAPL,MSFT",
            "--dataset",
            "prices",
            "--grid",
            '{"fast": [5, 10], "slow": [20, 50]}',
            "--start",
            "2020-01-01",
            "--output",
            str(output),
            "--result-json",
            str(tmp_path / "r.json"),
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = pd.read_csv(output)
    assert len(rows) == 8 and set(rows["symbol"]) == {"AAPL", "MSFT"}
    assert {"fast", "slow", "sharpe", "n_trades"} <= set(rows.columns)
    result = json.loads((tmp_path / "r.json").read_text())
    assert set(result["symbols"]) == {"AAPL", "MSFT"}
