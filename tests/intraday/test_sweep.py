"""Sweeps: grid expansion and skipping, rows equal to direct backtests, ranking."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from services.intraday.engine import (
    METRICS,
    Costs,
    Execution,
    StrategyError,
    backtest,
    expand_grid,
    grid_size,
    make_strategy,
    sweep,
)

COSTS = Costs(2, 1)
GRIDS = {
    "sma_cross": {"fast": [3, 5, 8, 13, 40], "slow": [10, 20, 40]},
    "rsi_reversion": {"window": [7, 14], "lower": [25, 30], "upper": [70, 75]},
    "bollinger_reversion": {"window": [10, 20], "k": [1.5, 2.0, 2.5]},
    "breakout": {"lookback": [10, 20, 50]},
    "momentum": {"lookback": [6, 24], "threshold": [0.0, 0.002]},
}


def test_grid_skips_and_counts_invalid_combinations():
    g = expand_grid("sma_cross", GRIDS["sma_cross"])
    assert grid_size(GRIDS["sma_cross"]) == 15
    valid = [(f, s) for f in GRIDS["sma_cross"]["fast"] for s in GRIDS["sma_cross"]["slow"] if f < s]
    assert [(c["fast"], c["slow"]) for c in g.combos] == valid
    assert g.n_skipped == 15 - len(valid) and "must be smaller" in g.skipped_examples[0]


def test_full_sma_grid_size():
    g = expand_grid("sma_cross", {"fast": list(range(5, 51)), "slow": list(range(20, 201))})
    assert len(g.combos) == 7830 and g.n_skipped == 46 * 181 - 7830


@pytest.mark.parametrize(
    "grid,match",
    [
        ({"fastest": [1]}, "unknown parameter"),
        ({"fast": []}, "empty"),
        ({"fast": [50], "slow": [10]}, "no valid"),
    ],
    ids=["unknown", "empty", "none-valid"],
)
def test_bad_grids_raise(grid, match):
    with pytest.raises(StrategyError, match=match):
        expand_grid("sma_cross", grid)


@pytest.mark.parametrize("name", list(GRIDS), ids=list(GRIDS))
def test_sweep_rows_equal_direct_backtests(bars, name):
    execution = Execution(stop_loss=0.01)
    res = sweep(bars, expand_grid(name, GRIDS[name]), COSTS, execution)
    table = res.table()
    for i in range(len(res.grid.combos)):
        direct = backtest(bars, make_strategy(name, res.grid.combos[i]), COSTS, execution).metrics
        for m in METRICS:
            assert_allclose(
                table[m].iloc[i], direct[m], rtol=0, atol=0, err_msg=f"{name} {res.grid.combos[i]} {m}"
            )


def test_best_of_sweep_equals_direct_backtest(bars):
    res = sweep(
        bars, expand_grid("sma_cross", {"fast": list(range(3, 15)), "slow": list(range(10, 60, 5))}), COSTS
    )
    ranked = res.ranked("sharpe", top=5)
    assert len(ranked) == 5 and ranked["sharpe"].is_monotonic_decreasing
    assert ranked["sharpe"].iloc[0] == np.nanmax(res.metrics()["sharpe"])
    best, metrics = res.best("sharpe")
    direct = backtest(bars, best, COSTS)
    assert direct.params == {
        "direction": "both",
        "fast": int(ranked["fast"].iloc[0]),
        "slow": int(ranked["slow"].iloc[0]),
    }
    assert direct.metrics == metrics


def test_slice_of_bars_matches_backtest_slice(bars):
    g = expand_grid("breakout", {"lookback": [10, 30]})
    res = sweep(bars, g, COSTS, start=1000, stop=2000)
    direct = backtest(bars, g.strategies[1], COSTS, start=1000, stop=2000)
    assert res.table()["sharpe"].iloc[1] == direct.metrics["sharpe"]
    assert len(direct.equity) == 1000


def test_rank_by_unknown_metric(bars):
    res = sweep(bars, expand_grid("breakout", {"lookback": [10]}))
    with pytest.raises(StrategyError, match="rank_by"):
        res.ranked("alpha")
