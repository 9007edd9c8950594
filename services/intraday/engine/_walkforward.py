"""Walk-forward analysis: pick the best parameters in-sample, trade them out-of-sample, roll forward.

Folds are counted in sessions (local calendar days): fold ``f`` trains on sessions
``[f * test_days, f * test_days + train_days)`` and tests on the ``test_days`` sessions that follow (the
last fold may be shorter). Each fold reports the in-sample best (by ``rank_by``) and that combination's
out-of-sample backtest started flat. The stitched out-of-sample equity is one kernel run over all test
sessions whose signal, in each fold's window, is that fold's best strategy: parameters switch at fold
boundaries as a live trader's would (a position the new parameters agree with is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._backtest import Costs, Execution, backtest, run_kernel, trades_frame
from ._bars import BarData
from ._errors import DomainError
from ._metrics import metrics_dict
from ._strategies import IndicatorCache
from ._sweep import Grid, StatsFn, sweep


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: the in-sample winner and its out-of-sample result."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    best_params: dict[str, Any]
    in_sample: dict[str, float]
    out_of_sample: dict[str, float]


@dataclass(frozen=True)
class WalkForwardResult:
    """Folds, the stitched out-of-sample equity (starting at 1) and its trades and metrics."""

    folds: list[Fold]
    equity: pd.Series
    trades: pd.DataFrame
    metrics: dict[str, float]
    n_combos: int
    n_skipped: int


def fold_bounds(bars: BarData, train_days: int, test_days: int) -> list[tuple[int, int, int]]:
    """Bar index bounds ``(train_start, test_start, test_stop)`` of every fold."""
    for name, v in (("train_days", train_days), ("test_days", test_days)):
        if int(v) != v or v < 1:
            raise DomainError(f"{name}={v!r}: must be a positive integer", field=name)
    starts = np.flatnonzero(bars.session_first)
    n_sessions = starts.size
    if n_sessions < train_days + 1:
        raise DomainError(
            f"the bars hold {n_sessions} sessions; need at least train_days + 1 = {train_days + 1}",
            field="train_days",
        )
    bounds = np.r_[starts, len(bars)]
    folds = []
    f = 0
    while f * test_days + train_days < n_sessions:
        a = f * test_days
        b = a + train_days
        c = min(b + test_days, n_sessions)
        folds.append((int(bounds[a]), int(bounds[b]), int(bounds[c])))
        f += 1
    return folds


def walk_forward(
    bars: BarData,
    grid: Grid,
    train_days: int,
    test_days: int,
    costs: Costs | None = None,
    execution: Execution | None = None,
    *,
    rank_by: str = "sharpe",
    stats_fn: StatsFn | None = None,
) -> WalkForwardResult:
    """Walk-forward optimisation of ``grid`` on ``bars`` (``stats_fn`` as in :func:`sweep`)."""
    costs = costs or Costs()
    execution = execution or Execution()
    cache = IndicatorCache(bars)
    folds: list[Fold] = []
    targets = np.zeros(len(bars), np.int8)
    session_flat = execution.flat_at_session_end
    bounds = fold_bounds(bars, train_days, test_days)
    for train_start, test_start, test_stop in bounds:
        res = sweep(bars, grid, costs, execution, start=train_start, stop=test_start, stats_fn=stats_fn)
        best, in_sample = res.best(rank_by)
        oos = backtest(bars, best, costs, execution, start=test_start, stop=test_stop, cache=cache)
        targets[test_start:test_stop] = oos.targets.to_numpy()
        # the bar before each window carries that window's signal, so the stitched run acts on it at the
        # window's first open exactly as the per-fold run does
        targets[test_start - 1] = best.targets(cache)[test_start - 1]
        session_flat = session_flat or best.flat_at_session_end
        folds.append(
            Fold(
                train_start=bars.index[train_start],
                train_end=bars.index[test_start - 1],
                test_start=bars.index[test_start],
                test_end=bars.index[test_stop - 1],
                best_params=best.params(),
                in_sample=in_sample,
                out_of_sample=oos.metrics,
            )
        )
    first, last = bounds[0][1], bounds[-1][2]
    stitched_exec = Execution(execution.stop_loss, execution.take_profit, session_flat)
    stats, rec = run_kernel(bars, targets, costs, stitched_exec, first, last, record=True)
    assert rec is not None
    equity, _, rows = rec
    return WalkForwardResult(
        folds=folds,
        equity=pd.Series(equity, index=bars.index[first:last], name="equity"),
        trades=trades_frame(rows, bars.index),
        metrics=metrics_dict(stats, bars.periods_per_year),
        n_combos=len(grid.combos),
        n_skipped=grid.n_skipped,
    )
