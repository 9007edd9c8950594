"""Ray tasks of the portfolio service: thin wrappers over the engine, one task per block.

* efficient frontier: the target grid is fixed on the driver (two small solves), then each task solves
  a block of targets (one Clarabel QP per target on the block's moments). Small frontiers, by
  estimated work, run in-process (:func:`frontier_on_ray`);
* walk-forward backtest: each task decides the weights of a block of rebalance dates, each date from
  the data up to it only; the driver then simulates the (cheap, sequential) holding path. Small
  walk-forwards, by estimated decision work, run in-process (:func:`runs_on_ray`).

Each operation is planned once (:func:`plan_frontier`, :func:`plan_backtest`: the cut of the data, Ray or
in-process, the blocks and what every task shares) and run by :func:`run` (blocking: ``ray.get``) or
:func:`run_async` (awaiting the same object refs); ``frontier``/``frontier_async`` and
``backtest``/``backtest_async`` are the two together.

Tasks receive the returns panel as an object ref — a dataset's returns are put once per process by the
app (``Catalog.put``), inline returns once per request — plus the engine's :class:`View` (symbols and
window) to cut from it. Bad input (``PortfolioError``, a ``ValueError``) is never retried.
"""

from __future__ import annotations

import asyncio
import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
import ray

from services.core.metrics import ran_on_ray
from services.core.parallel import n_chunks_for, split
from services.core.ray_conn import resolve
from services.core.routing import RAY_MIN_WORK_MS as RAY_MIN_WORK_MS
from services.core.routing import route
from services.portfolio.engine import (
    BacktestResult,
    BacktestSpec,
    Decision,
    Frontier,
    FrontierPoint,
    Objective,
    OptimizationSpec,
    Strategy,
    View,
    assemble_frontier,
    backtest_dates,
    decide_block,
    frontier_points,
    frontier_targets,
    walk_forward,
)

R = TypeVar("R")
WHOLE = View()
"""The default view: every symbol, every date of the panel."""

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
MIN_TASK_MS = 10.0
"""Smallest block per task (frontier points, rebalance dates), in estimated work: at least a task's own
cost to submit, start and return."""
BACKTEST_CHUNKS_PER_CPU = 1
"""Rebalance decisions cost about the same each (one programme, warm), so one block per CPU balances
and saves the task overhead and idle gap of a second round."""

_RETRY: dict[str, Any] = {"max_retries": 2, "retry_exceptions": [ConnectionError, TimeoutError]}


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
    """Import the engine (skfolio, cvxpy, Clarabel) in this worker, so its first real task does not pay for
    it. Explicitly: Ray ships a remote function by value, so running this one imports nothing by itself."""
    importlib.import_module("services.portfolio.engine")
    return True


def warm_up(n: int | None = None) -> None:
    """Import the engine in about ``n`` workers (default: two per CPU) so first requests are not slow."""
    from services.core.ray_conn import cluster_cpus

    ray.get([_warm.remote() for _ in range(n or int(2 * cluster_cpus()))])


def _ref(returns: pd.DataFrame, ref: Any | None) -> Any:
    return ref if ref is not None else ray.put(returns)


# --- plan and run ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan(Generic[R]):
    """One operation, planned once for its blocking and its ``async`` entrypoint (which differ only in how
    they wait). ``on_ray``: ``task.remote(block, *shared)`` for each of ``blocks``, then ``finish`` of the
    blocks' results in order; else ``local()``, the whole operation in-process."""

    on_ray: bool
    local: Callable[[], R]
    finish: Callable[[list[Any]], R]
    task: Any = None
    blocks: Sequence[Sequence[Any]] = ()
    shared: tuple[Any, ...] = ()

    def submit(self) -> list[Any]:
        """Submit one task per block; their object refs, in block order."""
        return [self.task.remote(block, *self.shared) for block in self.blocks]


def _blocks(items: Sequence[Any], chunks_per_cpu: int, min_chunk: int) -> list[Sequence[Any]]:
    """``items`` cut into about ``chunks_per_cpu`` blocks per cluster CPU, each at least ``min_chunk``."""
    return split(items, n_chunks_for(len(items), chunks_per_cpu=chunks_per_cpu, min_chunk=min_chunk))


def _flat(parts: Sequence[Sequence[Any]]) -> list[Any]:
    return [r for part in parts for r in part]


def run(plan: Plan[R]) -> R:
    """Run ``plan``, blocking (jobs, benchmarks, worker threads)."""
    if not plan.on_ray:
        return plan.local()
    ran_on_ray()
    return plan.finish(_flat(ray.get(plan.submit())))


async def run_async(plan: Plan[R]) -> R:
    """Run ``plan`` from an ``async`` route: the same tasks, their refs awaited; in-process work in a thread."""
    if not plan.on_ray:
        return await asyncio.to_thread(plan.local)
    parts = await resolve(plan.submit())
    return await asyncio.to_thread(plan.finish, _flat(parts))


# --- frontier -------------------------------------------------------------------------------------
def point_ms(n_assets: int) -> float:
    """Estimated cost of one frontier point, a Clarabel QP over ``n_assets`` (fit to the measurements in
    docs/bench.md, "Routing costs")."""
    return 0.25 + 5e-4 * n_assets**2


def frontier_on_ray(n_points: int, n_assets: int) -> bool:
    """Whether a frontier runs on Ray, by its estimated work and the service's load (:func:`route`)."""
    return route(n_points * point_ms(n_assets)).on_ray


def min_points_per_task(n_assets: int) -> int:
    """Frontier points per task so that a task is worth :data:`MIN_TASK_MS` of work."""
    return max(1, math.ceil(MIN_TASK_MS / point_ms(n_assets)))


def plan_frontier(
    returns: pd.DataFrame,
    spec: OptimizationSpec,
    n_points: int,
    *,
    view: View = WHOLE,
    ref: Any | None = None,
    chunks_per_cpu: int = 2,
    use_ray: bool | None = None,
) -> Plan[Frontier]:
    """The plan of an efficient frontier: its target grid (two small solves, here), then blocks of
    points as Ray tasks, or all of them in-process.

    ``returns`` is the full panel (``ref`` its object-store copy, if already put); ``view`` cuts it.
    ``use_ray``: None (the service's choice) runs in-process when the points are too little work for Ray
    (:func:`frontier_on_ray`); True and False force the path (benchmarks).
    """
    window = view.cut(returns)
    targets = frontier_targets(window, spec, n_points)
    on_ray = frontier_on_ray(n_points, window.shape[1]) if use_ray is None else use_ray

    def finish(points: list[FrontierPoint]) -> Frontier:
        return assemble_frontier(window, spec, points)

    def local() -> Frontier:
        return finish(frontier_points(window, spec, targets))

    if not on_ray:
        return Plan(False, local, finish)
    blocks = _blocks(list(targets), chunks_per_cpu, min_points_per_task(window.shape[1]))
    return Plan(True, local, finish, frontier_block, blocks, (_ref(returns, ref), view, spec))


def frontier(
    returns: pd.DataFrame,
    spec: OptimizationSpec,
    n_points: int,
    *,
    view: View = WHOLE,
    ref: Any | None = None,
    chunks_per_cpu: int = 2,
    use_ray: bool | None = None,
) -> Frontier:
    """Efficient frontier, its blocks as Ray tasks (blocking; for jobs and benchmarks): :func:`plan_frontier`,
    then :func:`run`."""
    return run(
        plan_frontier(
            returns, spec, n_points, view=view, ref=ref, chunks_per_cpu=chunks_per_cpu, use_ray=use_ray
        )
    )


async def frontier_async(
    returns: pd.DataFrame,
    spec: OptimizationSpec,
    n_points: int,
    *,
    view: View = WHOLE,
    ref: Any | None = None,
    chunks_per_cpu: int = 2,
    use_ray: bool | None = None,
) -> tuple[Frontier, bool]:
    """:func:`frontier` for an ``async`` route (the plan made in a thread); also says whether Ray ran it."""
    plan = await asyncio.to_thread(
        plan_frontier,
        returns,
        spec,
        n_points,
        view=view,
        ref=ref,
        chunks_per_cpu=chunks_per_cpu,
        use_ray=use_ray,
    )
    return await run_async(plan), plan.on_ray


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
    """Whether a walk-forward of ``n_dates`` decisions runs on Ray, by estimated work and load (:func:`route`)."""
    return route(n_dates * decision_ms(spec)).on_ray


def min_dates_per_task(spec: BacktestSpec) -> int:
    """Rebalance dates per task so that a task is worth :data:`MIN_TASK_MS` of work."""
    return max(1, math.ceil(MIN_TASK_MS / decision_ms(spec)))


def plan_backtest(
    returns: pd.DataFrame,
    spec: BacktestSpec,
    *,
    view: View = WHOLE,
    ref: Any | None = None,
    rankings: pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    chunks_per_cpu: int = BACKTEST_CHUNKS_PER_CPU,
    use_ray: bool | None = None,
) -> Plan[BacktestResult]:
    """The plan of a walk-forward backtest: its rebalance dates, then the decisions as Ray tasks in blocks
    of dates and the holding path simulated here, or the whole walk-forward in-process.

    ``use_ray``: None (the service's choice) runs in-process when the decisions are too little work for
    Ray (:func:`runs_on_ray`); True and False force the path (benchmarks).

    ``view`` picks the universe (its ``start``/``end`` should stay None: the lookback needs the
    history before ``spec.start``).
    """
    panel = view.cut(returns)
    dates = backtest_dates(panel, spec, rankings)
    on_ray = runs_on_ray(spec, len(dates)) if use_ray is None else use_ray

    def finish(decisions: list[Decision]) -> BacktestResult:
        return walk_forward(panel, spec, rankings=rankings, benchmark=benchmark, decisions=decisions)

    def local() -> BacktestResult:
        return walk_forward(panel, spec, rankings=rankings, benchmark=benchmark)

    if not on_ray:
        return Plan(False, local, finish)
    blocks = _blocks(list(dates), chunks_per_cpu, min_dates_per_task(spec))
    return Plan(True, local, finish, decide_dates, blocks, (_ref(returns, ref), view, spec, rankings))


def backtest(
    returns: pd.DataFrame,
    spec: BacktestSpec,
    *,
    view: View = WHOLE,
    ref: Any | None = None,
    rankings: pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    chunks_per_cpu: int = BACKTEST_CHUNKS_PER_CPU,
    use_ray: bool | None = None,
) -> BacktestResult:
    """Walk-forward backtest, the rebalance decisions as Ray tasks in blocks of dates (blocking):
    :func:`plan_backtest`, then :func:`run`."""
    return run(
        plan_backtest(
            returns,
            spec,
            view=view,
            ref=ref,
            rankings=rankings,
            benchmark=benchmark,
            chunks_per_cpu=chunks_per_cpu,
            use_ray=use_ray,
        )
    )


async def backtest_async(
    returns: pd.DataFrame,
    spec: BacktestSpec,
    *,
    view: View = WHOLE,
    ref: Any | None = None,
    rankings: pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    chunks_per_cpu: int = BACKTEST_CHUNKS_PER_CPU,
    use_ray: bool | None = None,
) -> tuple[BacktestResult, bool]:
    """:func:`backtest` for an ``async`` route (the plan made in a thread); also says whether Ray ran the
    decisions."""
    plan = await asyncio.to_thread(
        plan_backtest,
        returns,
        spec,
        view=view,
        ref=ref,
        rankings=rankings,
        benchmark=benchmark,
        chunks_per_cpu=chunks_per_cpu,
        use_ray=use_ray,
    )
    return await run_async(plan), plan.on_ray
