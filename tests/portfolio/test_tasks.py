"""Ray paths give the sequential engine's answers (real local Ray, 2 CPUs)."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest
import ray
from numpy.testing import assert_allclose

from services.portfolio import tasks
from services.portfolio.engine import (
    BacktestSpec,
    OptimizationSpec,
    View,
    backtest_dates,
    efficient_frontier,
    walk_forward,
)


@pytest.fixture(scope="module", autouse=True)
def local_ray(ray_local):
    """The session's embedded Ray (2 CPUs, from tests/conftest.py)."""
    return ray_local


def test_frontier_on_ray_equals_sequential(sp500_returns):
    view = View(start=pd.Timestamp("2018-01-01"), end=pd.Timestamp("2022-12-31"), complete=True)
    spec = OptimizationSpec()
    assert tasks.frontier_on_ray(120, 20)  # 20 assets, ~0.45 ms a point
    on_ray = tasks.frontier(sp500_returns, spec, 120, view=view, ref=ray.put(sp500_returns))
    local = efficient_frontier(view.cut(sp500_returns), spec, 120)
    assert len(on_ray.points) == 120
    got = np.array([list(p.weights.values()) for p in on_ray.points])
    ref = np.array([list(p.weights.values()) for p in local.points])
    assert_allclose(got, ref, atol=1e-6)
    assert_allclose([p.volatility for p in on_ray.points], [p.volatility for p in local.points], rtol=1e-6)


@pytest.mark.parametrize("objective", ["max_sharpe", "hrp"], ids=["max_sharpe", "hrp"])
def test_backtest_on_ray_equals_sequential(sp500_returns, objective):
    view = View(symbols=("AAPL", "JNJ", "JPM", "KO", "MSFT", "XOM", "PG", "WMT"))
    spec = BacktestSpec(
        strategy="optimized",
        optimization=OptimizationSpec(objective=objective),
        start=pd.Timestamp("2017-01-01"),
        end=pd.Timestamp("2021-12-31"),
        costs_bps=5,
    )
    assert tasks.runs_on_ray(spec, 59)  # enough work for Ray, even through the compiled programme
    on_ray = tasks.backtest(sp500_returns, spec, view=view, benchmark=sp500_returns["AAPL"])
    local = walk_forward(view.cut(sp500_returns), spec, benchmark=sp500_returns["AAPL"])
    # month ends of 2017-01 … 2021-11; 2021-12-31 is the end, nothing follows it
    assert len(on_ray.rebalances) == len(local.rebalances) == 59
    # blocks re-solve one compiled programme, so a date's weights can differ slightly
    # depending on which block it fell in (first solve vs re-solve): compare at the solver tolerance
    for a, b in zip(on_ray.rebalances, local.rebalances, strict=True):
        assert a.date == b.date and list(a.weights) == list(b.weights)
        assert_allclose(list(a.weights.values()), list(b.weights.values()), atol=1e-6)
    pd.testing.assert_series_equal(on_ray.equity, local.equity, rtol=1e-6)


def test_async_paths_report_ray(sp500_returns):
    view = View(symbols=("AAPL", "JNJ", "KO", "XOM"))
    spec = BacktestSpec(
        strategy="equal_weight", start=pd.Timestamp("2020-01-01"), end=pd.Timestamp("2021-12-31")
    )
    result, used_ray = asyncio.run(tasks.backtest_async(sp500_returns, spec, view=view))
    assert not used_ray and len(result.rebalances) == 23  # 1/n weights: no work worth a Ray call
    assert all(r.weights == {s: 0.25 for s in view.symbols} for r in result.rebalances)
    hrp = BacktestSpec(
        strategy="optimized",
        optimization=OptimizationSpec(objective="hrp"),
        start=pd.Timestamp("2021-01-01"),
        end=pd.Timestamp("2021-12-31"),
    )
    on_ray, used_ray = asyncio.run(tasks.backtest_async(sp500_returns, hrp, view=view))
    assert used_ray and len(on_ray.rebalances) == 11
    local = walk_forward(view.cut(sp500_returns), hrp)
    for a, b in zip(on_ray.rebalances, local.rebalances, strict=True):
        assert a.date == b.date and a.weights == b.weights  # hrp is deterministic: bit-identical


def test_blocking_and_async_run_one_plan(sp500_returns):
    """Both entrypoints run the same plan: the same blocks on Ray, the same answer; in-process alike."""
    view = View(symbols=("AAPL", "JNJ", "KO", "XOM"))
    hrp = BacktestSpec(
        strategy="optimized",
        optimization=OptimizationSpec(objective="hrp"),
        start=pd.Timestamp("2021-01-01"),
        end=pd.Timestamp("2021-12-31"),
    )
    plan = tasks.plan_backtest(sp500_returns, hrp, view=view)
    assert plan.on_ray and plan.task is tasks.decide_dates
    assert [d for block in plan.blocks for d in block] == list(backtest_dates(view.cut(sp500_returns), hrp))
    blocking, awaited = tasks.run(plan), asyncio.run(tasks.run_async(plan))
    assert [r.weights for r in blocking.rebalances] == [r.weights for r in awaited.rebalances]
    pd.testing.assert_series_equal(blocking.equity, awaited.equity)

    window = View(symbols=view.symbols, start=pd.Timestamp("2020-01-01"), complete=True)
    small = tasks.plan_frontier(sp500_returns, OptimizationSpec(), 10, view=window)
    assert not small.on_ray and not small.blocks  # 10 points on 4 assets: in-process, nothing submitted
    a, b = tasks.run(small), asyncio.run(tasks.run_async(small))
    assert [p.weights for p in a.points] == [p.weights for p in b.points]


@pytest.mark.parametrize(
    ("n_points", "n_assets", "expected"),
    [(100, 20, False), (120, 20, True), (60, 6, False), (200, 6, True), (15, 80, True)],
)
def test_frontier_on_ray_by_estimated_work(n_points, n_assets, expected):
    assert tasks.frontier_on_ray(n_points, n_assets) is expected
    assert tasks.min_points_per_task(n_assets) * tasks.point_ms(n_assets) >= tasks.MIN_TASK_MS


@pytest.mark.parametrize(
    ("strategy", "objective", "n_dates", "expected"),
    [
        ("equal_weight", "min_variance", 300, False),  # 1/n weights: 0.1 ms each
        ("equal_weight", "min_variance", 1_000, True),
        ("optimized", "max_sharpe", 35, False),  # compiled programme, ~1 ms each
        ("optimized", "max_sharpe", 120, True),
        ("optimized", "risk_parity", 3, True),  # an iterative skfolio fit, ~20 ms each
        ("optimized", "risk_parity", 2, False),
    ],
)
def test_runs_on_ray_by_estimated_work(strategy, objective, n_dates, expected):
    spec = BacktestSpec(strategy=strategy, optimization=OptimizationSpec(objective=objective))
    assert tasks.runs_on_ray(spec, n_dates) is expected
    assert tasks.min_dates_per_task(spec) * tasks.decision_ms(spec) >= tasks.MIN_TASK_MS
