"""Parameter sweeps: many combinations of one strategy on one bar set in one call.

:func:`sweep_stats` is the unit of work (one Ray task runs it on a chunk of combinations): indicators are
shared through one :class:`IndicatorCache` (one SMA per distinct window, one RSI per window…) and each
combination costs one compiled kernel pass with no per-bar storage.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _kernel as k
from ._backtest import Costs, Execution, run_kernel
from ._bars import BarData
from ._errors import StrategyError
from ._metrics import METRICS, metrics_table
from ._strategies import (
    IndicatorCache,
    Strategy,
    StrategyName,
    make_strategy,
    strategy_params,
)

MAX_SKIPPED_SHOWN = 5


@dataclass(frozen=True)
class Grid:
    """The valid combinations of a parameter grid, and how many were skipped as invalid.

    Attributes
    ----------
    name : StrategyName
    combos : list of dict
        Valid parameter combinations in grid order.
    strategies : list of Strategy
        The validated specs, one per combo.
    n_skipped : int
        Combinations rejected by the spec (e.g. ``fast >= slow``).
    skipped_examples : list of str
        The first few reasons.
    """

    name: StrategyName
    combos: list[dict[str, Any]]
    strategies: list[Strategy] = field(repr=False)
    n_skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)

    @property
    def n_total(self) -> int:
        return len(self.combos) + self.n_skipped


def grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    """Count the combinations in ``grid`` (before validation)."""
    n = 1
    for values in grid.values():
        n *= len(values)
    return n


def expand_grid(name: StrategyName | str, grid: Mapping[str, Sequence[Any]], **inputs: Any) -> Grid:
    """All combinations of ``grid`` (parameters not in it keep their defaults), validated by the spec.

    Raises
    ------
    StrategyError
        For an unknown strategy or parameter, an empty value list, or when no combination is valid.
    """
    name = make_strategy(name, {}, **inputs).name  # validates the name and the inputs
    keys = list(grid)
    unknown = sorted(set(keys) - set(strategy_params(name)))
    if unknown:
        raise StrategyError(
            f"unknown parameter(s) {unknown} for {name.value}; it takes {sorted(strategy_params(name))}",
            field=f"grid.{unknown[0]}",
        )
    for key in keys:
        if len(grid[key]) == 0:
            raise StrategyError(f"grid value list for {key!r} is empty", field=f"grid.{key}")
    combos: list[dict[str, Any]] = []
    strategies: list[Strategy] = []
    skipped: list[str] = []
    n_skipped = 0
    for values in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, values, strict=True))
        try:
            strategies.append(make_strategy(name, params, **inputs))
        except StrategyError as exc:
            n_skipped += 1
            if len(skipped) < MAX_SKIPPED_SHOWN:
                skipped.append(str(exc))
            continue
        combos.append(strategies[-1].params())
    if not strategies:
        raise StrategyError(
            f"no valid parameter combination in the grid ({n_skipped} skipped); first: {skipped[0]}",
            field="grid",
        )
    return Grid(name, combos, strategies, n_skipped, skipped)


def sweep_stats(
    bars: BarData,
    strategies: Sequence[Strategy],
    costs: Costs,
    execution: Execution,
    start: int = 0,
    stop: int | None = None,
    cache: IndicatorCache | None = None,
) -> np.ndarray:
    """Kernel statistics of each strategy on ``bars[start:stop]``, shape (len(strategies), 13)."""
    cache = cache or IndicatorCache(bars)
    out = np.empty((len(strategies), k.N_STATS))
    for j, strategy in enumerate(strategies):
        out[j], _ = run_kernel(
            bars, strategy.targets(cache), costs, execution.for_strategy(strategy), start, stop
        )
    return out


StatsFn = Callable[[BarData, Sequence[Strategy], Costs, Execution, int, "int | None"], np.ndarray]


@dataclass(frozen=True)
class SweepResult:
    """Metrics of every valid combination of a grid.

    Attributes
    ----------
    grid : Grid
    stats : ndarray, shape (n_combos, 13)
        Kernel statistics, rows in ``grid.combos`` order.
    periods_per_year : float
    """

    grid: Grid
    stats: np.ndarray
    periods_per_year: float

    def metrics(self) -> dict[str, np.ndarray]:
        """:data:`METRICS` for every combination, each shape (n_combos,)."""
        return metrics_table(self.stats, self.periods_per_year)

    def table(self) -> pd.DataFrame:
        """One row per combination: the parameters, then the metrics."""
        return pd.concat([pd.DataFrame(self.grid.combos), pd.DataFrame(self.metrics())], axis=1)

    def ranked(self, rank_by: str = "sharpe", top: int | None = None) -> pd.DataFrame:
        """Return :meth:`table` sorted best first by ``rank_by``, cut to ``top`` rows.

        Higher is better and NaN comes last; ties are kept in grid order.
        """
        if rank_by not in METRICS:
            raise StrategyError(f"rank_by={rank_by!r}: choose one of {list(METRICS)}", field="rank_by")
        t = self.table()
        t = t.sort_values(rank_by, ascending=False, na_position="last", kind="stable")
        return t if top is None else t.head(top)

    def best(self, rank_by: str = "sharpe") -> tuple[Strategy, dict[str, float]]:
        """Return the best combination's spec and metrics."""
        row = self.ranked(rank_by, 1)
        i = int(row.index[0])
        return self.grid.strategies[i], {m: float(row[m].iloc[0]) for m in METRICS}


def sweep(
    bars: BarData,
    grid: Grid,
    costs: Costs | None = None,
    execution: Execution | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    stats_fn: StatsFn | None = None,
) -> SweepResult:
    """Evaluate every combination of ``grid`` on ``bars[start:stop]``.

    ``stats_fn`` replaces :func:`sweep_stats` (the Ray layer passes a function that spreads chunks of
    ``grid.strategies`` over the cluster); it must return the same rows in the same order.
    """
    fn = stats_fn or sweep_stats
    stats = fn(bars, grid.strategies, costs or Costs(), execution or Execution(), start, stop)
    return SweepResult(grid, np.asarray(stats), bars.periods_per_year)
