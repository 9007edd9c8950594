"""Walk-forward: folds, in-sample winners, out-of-sample results and the stitched curve."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

from services.intraday.engine import (
    Costs,
    DomainError,
    Execution,
    backtest,
    expand_grid,
    fold_bounds,
    sweep,
    walk_forward,
)

GRID = {"fast": [3, 5, 8], "slow": [12, 24, 48]}


def test_fold_bounds_follow_sessions(bars):
    folds = fold_bounds(bars, 4, 2)
    starts = np.flatnonzero(bars.session_first)
    assert folds[0] == (0, int(starts[4]), int(starts[6]))
    assert folds[1][0] == int(starts[2])
    assert folds[-1][2] == len(bars)
    # test windows tile the data after the first training window
    assert all(a[2] == b[1] for a, b in itertools.pairwise(folds))


def test_walk_forward_folds_are_sweeps_and_backtests(bars):
    costs, execution = Costs(1, 1), Execution()
    grid = expand_grid("sma_cross", GRID)
    wf = walk_forward(
        bars, grid, train_days=3, test_days=2, costs=costs, execution=execution, rank_by="sharpe"
    )
    bounds = fold_bounds(bars, 3, 2)
    assert len(wf.folds) == len(bounds)
    for fold, (a, b, c) in zip(wf.folds, bounds, strict=True):
        best, in_sample = sweep(bars, grid, costs, execution, start=a, stop=b).best("sharpe")
        assert fold.best_params == best.params() and fold.in_sample == in_sample
        oos = backtest(bars, best, costs, execution, start=b, stop=c)
        assert fold.out_of_sample == oos.metrics
    assert len(wf.equity) == bounds[-1][2] - bounds[0][1]
    assert_allclose(wf.metrics["total_return"], wf.equity.iloc[-1] - 1, rtol=1e-15)


def test_stitched_curve_with_one_combo_is_one_backtest(bars):
    """With a single combination every fold picks it, so the stitched run is a plain backtest."""
    grid = expand_grid("sma_cross", {"fast": [5], "slow": [20]})
    wf = walk_forward(bars, grid, 3, 2, Costs(3, 1))
    first = fold_bounds(bars, 3, 2)[0][1]
    direct = backtest(bars, grid.strategies[0], Costs(3, 1), start=first)
    assert_allclose(wf.equity.to_numpy(), direct.equity.to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("train,test", [(0, 1), (3, 0), (500, 1)], ids=["no-train", "no-test", "too-long"])
def test_bad_fold_sizes(bars, train, test):
    with pytest.raises(DomainError):
        fold_bounds(bars, train, test)
