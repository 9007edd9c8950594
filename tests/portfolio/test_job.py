"""The batch job: the same bodies as the HTTP API, without the interactive limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.core.jobrun import JobContext
from services.portfolio.engine import BacktestSpec, OptimizationSpec, efficient_frontier, walk_forward
from services.portfolio.job import run_backtest, run_frontier

REPO = Path(__file__).resolve().parents[2]
FOUR = ["AAPL", "JNJ", "KO", "XOM"]


def test_frontier_beyond_the_interactive_limit(ray_local, data_dir, sp500_returns):
    params = {"symbols": ",".join(FOUR), "n_points": 1200, "start": "2020-01-01", "end": "2022-12-28"}
    out = run_frontier(params, JobContext(None, show_bar=False))
    assert out["count"] == 1200 and out["computed_on"] == "ray"
    local = efficient_frontier(sp500_returns.loc["2020-01-01":"2022-12-28", FOUR], OptimizationSpec(), 1200)
    assert_allclose([p["volatility"] for p in out["data"]], [p.volatility for p in local.points], rtol=1e-9)


def test_backtest_request_body_equals_engine(ray_local, data_dir, sp500_returns):
    request = {
        "strategy": "optimized",
        "symbols": FOUR,
        "objective": "min_variance",
        "rebalance": "Q",
        "start": "2016-01-01",
        "end": "2022-12-28",
        "costs_bps": 5,
        "benchmark": None,
    }
    out = run_backtest({"request": request}, JobContext(None, show_bar=False))
    spec = BacktestSpec(
        strategy="optimized",
        rebalance="Q",
        costs_bps=5,
        start=pd.Timestamp("2016-01-01"),
        end=pd.Timestamp("2022-12-28"),
    )
    local = walk_forward(sp500_returns[FOUR], spec)
    assert out["dataset"] == "sp500" and len(out["rebalances"]) == len(local.rebalances) == 27
    assert_allclose(out["equity"]["values"], local.equity.to_numpy(), rtol=1e-6)


@pytest.mark.slow
def test_command_line_entrypoint(tmp_path, data_dir):
    """``python -m services.portfolio.job backtest`` in its own process (its own embedded Ray)."""
    result = tmp_path / "bt.json"
    env = {**os.environ, "RAYSVC_LOG_JSON": "false"}
    env.pop("RAY_ADDRESS", None)
    argv = [
        sys.executable,
        "-m",
        "services.portfolio.job",
        "backtest",
        "--strategy",
        "equal_weight",
        "--symbols",
        ",".join(FOUR),
        "--start",
        "2021-01-01",
        "--end",
        "2022-12-28",
        "--result-json",
        str(result),
    ]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(result.read_text())
    assert out["strategy"] == "equal_weight" and len(out["rebalances"]) == 23
    assert all(np.isclose(sum(r["weights"].values()), 1.0) for r in out["rebalances"])
    bad = subprocess.run(
        [*argv[:4], "--symbols", "AAPL,NOPE"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2 and "NOPE" in bad.stderr
