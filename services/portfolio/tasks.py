"""Ray tasks of the portfolio service: thin wrappers over the engine, one task per block.

* efficient frontier: the target grid is fixed on the driver (two small solves), then each task solves
  a block of targets (one Clarabel QP per target on the block's moments). Small frontiers, by
  estimated work, run in-process (:func:`frontier_on_ray`);
* walk-forward backtest: each task decides the weights of a block of rebalance dates, each date from
  the data up to it only; the driver then simulates the (cheap, sequential) holding path. Small
  walk-forwards, by estimated decision work, run in-process (:func:`runs_on_ray`).

Tasks receive the returns panel as an object ref — a dataset's returns are put once per process by the
app (``Catalog.put``), inline returns once per request — plus the :class:`View` (symbols and window) to
cut from it. Bad input (``PortfolioError``, a ``ValueError``) is never retried.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import ray

from services.core.parallel import map_chunks, map_chunks_async
from services.portfolio.engine import (
    BacktestResult,
    BacktestSpec,
    Decision,
    Frontier,
    FrontierPoint,
    Objective,
    OptimizationSpec,
    Strategy,
    assemble_frontier,
    backtest_dates,
    decide_block,
    frontier_points,
    frontier_targets,
    walk_forward,
)

DECISION_MS: dict[Objective, float] = {
    Objective.MIN_VARIANCE: 1.0,
    Objective.MAX_SHARPE: 1.0,
    Objective.EQUAL_WEIGHT: 4.0,
    Objective.INVERSE_VOLATILITY: 6.0,
}
"""Estimated cost of one rebalance decision by objective on ~20 assets and a year of data; other objectives
are iterative skfolio fits (:data:`ITERATIVE_DECISION_MS`). Measurements: docs/bench.md, "Routing costs"."""
ITERATIVE_DECISION_MS = 20.0
CLOSED_FORM_DECISION_MS = 0.1
"""``equal_weight`` and unoptimised ``sentiment_top_n``: 1/n weights, no fit."""
RAY_MIN_WORK_MS = 50.0
"""Frontiers and walk-forwards with less estimated work run in-process: below it, Ray's fixed cost per call
outweighs the parallelism (docs/bench.md, "Routing costs")."""
MIN_TASK_MS = 10.0
"""Smallest block per task (frontier points, rebalance dates), in estimated work: at least a task's own
cost to submit, start and return."""
BACKTEST_CHUNKS_PER_CPU = 1
"""Rebalance decisions cost about the same each (one programme, warm), so one block per CPU balances
and saves the task overhead and idle gap of a second round."""

_RETRY: dict[str, Any] = {"max_retries": 2, "retry_exceptions": [ConnectionError, TimeoutError]}


@dataclass(frozen=True)
class View:
    """Which part of a returns panel a request reads: ``symbols`` (None: all) between ``start`` and ``end``;
    with ``complete``, only the rows where every chosen symbol has a return (for estimation windows)."""

    symbols: tuple[str, ...] | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    complete: bool = False

    def cut(self, returns: pd.DataFrame) -> pd.DataFrame:
        """The view of ``returns`` (a no-op for an already cut frame)."""
        out = returns if self.symbols is None else returns.loc[:, list(self.symbols)]
        out = out.loc[self.start : self.end]
        return out.dropna(how="any") if self.complete else out


@ray.remote(**_RETRY)
def frontier_block(
    targets: Sequence[float], returns: pd.DataFrame, view: View, spec: OptimizationSpec
) -> list[FrontierPoint]:
    """Frontier points of a block of target returns (engine :func:`frontier_points`)."""
    return frontier_points(view.cut(returns), spec, np.asarray(targets, dtype=float))


@ray.remote(**_RETRY)
def decide_dates(
    dates: Sequence[pd.Timestamp],
    returns: pd.DataFrame,
    view: View,
    spec: BacktestSpec,
    rankings: pd.DataFrame | None,
) -> list[Decision]:
    """Target weights of a block of rebalance dates (engine :func:`decide_block`)."""
    return decide_block(view.cut(returns), dates, spec, rankings)


@ray.remote
def _warm() -> bool:
    from services.portfolio.engine import optimize  # noqa: F401 - imports skfolio and cvxpy in the worker

    return True


def warm_up(n: int | None = None) -> None:
    """Import the engine in about ``n`` workers (default: two per CPU) so first requests are not slow."""
    from services.core.ray_conn import cluster_cpus

    ray.get([_warm.remote() for _ in range(n or int(2 * cluster_cpus()))])


def _ref(returns: pd.DataFrame, ref: Any | None) -> Any:
    return ref if ref is not None else ray.put(returns)


# --- frontier -------------------------------------------------------------------------------------
def point_ms(n_assets: int) -> float:
    """Estimated cost of one frontier point, a Clarabel QP over ``n_assets`` (fit to the measurements in
    docs/bench.md, "Routing costs")."""
    return 0.25 + 5e-4 * n_assets**2


def frontier_on_ray(n_points: int, n_assets: int) -> bool:
    """Whether a frontier is worth Ray's fixed cost (:data:`RAY_MIN_WORK_MS`)."""
    return n_points * point_ms(n_assets) >= RAY_MIN_WORK_MS


def _min_points_per_task(n_assets: int) -> int:
    return max(1, math.ceil(MIN_TASK_MS / point_ms(n_assets)))


def frontier(
    returns: pd.DataFrame,
    spec: OptimizationSpec,
    n_points: int,
    *,
    view: View = View(),
    ref: Any | None = None,
    chunks_per_cpu: int = 2,
    use_ray: bool | None = None,
) -> Frontier:
    """Efficient frontier, its blocks as Ray tasks (blocking; for jobs and benchmarks).

    ``returns`` is the full panel (``ref`` its object-store copy, if already put); ``view`` cuts it.
    ``use_ray``: None (the service's choice) runs in-process when the points are too little work for Ray
    (:func:`frontier_on_ray`); True and False force the path (benchmarks).
    """
    window = view.cut(returns)
    targets = frontier_targets(window, spec, n_points)
    if not (frontier_on_ray(n_points, window.shape[1]) if use_ray is None else use_ray):
        return assemble_frontier(window, spec, frontier_points(window, spec, targets))
    points = map_chunks(
        frontier_block,
        list(targets),
        _ref(returns, ref),
        view,
        spec,
        chunks_per_cpu=chunks_per_cpu,
        min_chunk=_min_points_per_task(window.shape[1]),
    )
    return assemble_frontier(window, spec, points)


async def frontier_async(
    returns: pd.DataFrame,
    spec: OptimizationSpec,
    n_points: int,
    *,
    view: View = View(),
    ref: Any | None = None,
    chunks_per_cpu: int = 2,
) -> tuple[Frontier, bool]:
    """:func:`frontier` for an ``async`` route; also says whether Ray ran it."""
    window = view.cut(returns)
    targets = await asyncio.to_thread(frontier_targets, window, spec, n_points)
    if not frontier_on_ray(n_points, window.shape[1]):
        points = await asyncio.to_thread(frontier_points, window, spec, targets)
        return assemble_frontier(window, spec, points), False
    points = await map_chunks_async(
        frontier_block,
        list(targets),
        _ref(returns, ref),
        view,
        spec,
        chunks_per_cpu=chunks_per_cpu,
        min_chunk=_min_points_per_task(window.shape[1]),
    )
    return assemble_frontier(window, spec, points), True


# --- walk-forward ---------------------------------------------------------------------------------
def decision_ms(spec: BacktestSpec) -> float:
    """Estimated cost of one rebalance decision of ``spec`` (see :data:`DECISION_MS`)."""
    closed = spec.strategy is Strategy.EQUAL_WEIGHT or (
        spec.strategy is Strategy.SENTIMENT_TOP_N and not spec.optimize_picks
    )
    if closed:
        return CLOSED_FORM_DECISION_MS
    return DECISION_MS.get(spec.optimization.objective, ITERATIVE_DECISION_MS)


def runs_on_ray(spec: BacktestSpec, n_dates: int) -> bool:
    """Whether a walk-forward of ``n_dates`` decisions is worth Ray's fixed cost (:data:`RAY_MIN_WORK_MS`)."""
    return n_dates * decision_ms(spec) >= RAY_MIN_WORK_MS


def _min_dates_per_task(spec: BacktestSpec) -> int:
    return max(1, math.ceil(MIN_TASK_MS / decision_ms(spec)))


def backtest(
    returns: pd.DataFrame,
    spec: BacktestSpec,
    *,
    view: View = View(),
    ref: Any | None = None,
    rankings: pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    chunks_per_cpu: int = BACKTEST_CHUNKS_PER_CPU,
    use_ray: bool | None = None,
) -> BacktestResult:
    """Walk-forward backtest, the rebalance decisions as Ray tasks in blocks of dates (blocking).

    ``use_ray``: None (the service's choice) runs in-process when the decisions are too little work for
    Ray (:func:`runs_on_ray`); True and False force the path (benchmarks).

    ``view`` picks the universe (its ``start``/``end`` should stay None: the lookback needs the
    history before ``spec.start``).
    """
    panel = view.cut(returns)
    dates = backtest_dates(panel, spec, rankings)
    if not (runs_on_ray(spec, len(dates)) if use_ray is None else use_ray):
        return walk_forward(panel, spec, rankings=rankings, benchmark=benchmark)
    decisions = map_chunks(
        decide_dates,
        list(dates),
        _ref(returns, ref),
        view,
        spec,
        rankings,
        chunks_per_cpu=chunks_per_cpu,
        min_chunk=_min_dates_per_task(spec),
    )
    return walk_forward(panel, spec, rankings=rankings, benchmark=benchmark, decisions=decisions)


async def backtest_async(
    returns: pd.DataFrame,
    spec: BacktestSpec,
    *,
    view: View = View(),
    ref: Any | None = None,
    rankings: pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    chunks_per_cpu: int = BACKTEST_CHUNKS_PER_CPU,
) -> tuple[BacktestResult, bool]:
    """:func:`backtest` for an ``async`` route; also says whether Ray ran the decisions."""
    panel = view.cut(returns)
    dates = backtest_dates(panel, spec, rankings)
    if not runs_on_ray(spec, len(dates)):
        result = await asyncio.to_thread(walk_forward, panel, spec, rankings=rankings, benchmark=benchmark)
        return result, False
    decisions = await map_chunks_async(
        decide_dates,
        list(dates),
        _ref(returns, ref),
        view,
        spec,
        rankings,
        chunks_per_cpu=chunks_per_cpu,
        min_chunk=_min_dates_per_task(spec),
    )
    result = await asyncio.to_thread(
        walk_forward, panel, spec, rankings=rankings, benchmark=benchmark, decisions=decisions
    )
    return result, True
