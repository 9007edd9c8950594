"""Ray tasks of the intraday service: a sweep grid cut into chunks over the cluster.

Each task runs :func:`services.intraday.engine.sweep_stats` on a chunk of parameter combinations (one
shared :class:`~services.intraday.engine.IndicatorCache` per chunk); the bars go into the object store
once per request (or once per process for catalog data) and every chunk receives the ref.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import ray

from services.core.parallel import map_chunks, map_chunks_async
from services.intraday import engine as E

MIN_COMBOS_PER_TASK = 64
"""Smallest chunk: one combination on ~17,000 bars costs ~0.1 ms, so a task is at least a few ms of work."""


@ray.remote(max_retries=2)
def sweep_chunk(
    strategies: Sequence[E.Strategy],
    bars: E.BarData,
    costs: E.Costs,
    execution: E.Execution,
    start: int,
    stop: int | None,
) -> list[np.ndarray]:
    """Kernel statistics of each strategy in the chunk, one (13,) row per strategy."""
    return list(E.sweep_stats(bars, strategies, costs, execution, start, stop))


def _chunking(chunks_per_cpu: int | None) -> dict[str, int]:
    if chunks_per_cpu is None:
        from services.core.settings import get_settings

        chunks_per_cpu = get_settings().chunks_per_cpu
    return {"chunks_per_cpu": chunks_per_cpu, "min_chunk": MIN_COMBOS_PER_TASK}


def ray_stats_fn(
    bars_ref: Any,
    *,
    progress: Callable[[int, int], None] | None = None,
    chunks_per_cpu: int | None = None,
) -> E.StatsFn:
    """A blocking ``stats_fn`` for :func:`engine.sweep` / :func:`engine.walk_forward` that spreads the
    combinations over Ray (bars given by ``bars_ref``, already in the object store). Use it in jobs and
    worker threads, never inside ``async def``."""

    def stats(
        bars: E.BarData,
        strategies: Sequence[E.Strategy],
        costs: E.Costs,
        execution: E.Execution,
        start: int,
        stop: int | None,
    ) -> np.ndarray:
        rows = map_chunks(
            sweep_chunk,
            list(strategies),
            bars_ref,
            progress=progress,
            costs=costs,
            execution=execution,
            start=start,
            stop=stop,
            **_chunking(chunks_per_cpu),
        )
        return np.vstack(rows)

    return stats


def sweep_on_ray(
    bars: E.BarData,
    grid: E.Grid,
    costs: E.Costs | None = None,
    execution: E.Execution | None = None,
    *,
    bars_ref: Any = None,
    start: int = 0,
    stop: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> E.SweepResult:
    """:func:`engine.sweep` with the grid spread over the connected Ray cluster (blocking)."""
    ref = bars_ref if bars_ref is not None else ray.put(bars)
    return E.sweep(
        bars, grid, costs, execution, start=start, stop=stop, stats_fn=ray_stats_fn(ref, progress=progress)
    )


async def sweep_on_ray_async(
    bars: E.BarData,
    bars_ref: Any,
    grid: E.Grid,
    costs: E.Costs,
    execution: E.Execution,
    *,
    start: int = 0,
    stop: int | None = None,
    chunks_per_cpu: int | None = None,
) -> E.SweepResult:
    """:func:`sweep_on_ray` for ``async def`` routes: the chunks are awaited, never ``ray.get``."""
    rows = await map_chunks_async(
        sweep_chunk,
        grid.strategies,
        bars_ref,
        costs=costs,
        execution=execution,
        start=start,
        stop=stop,
        **_chunking(chunks_per_cpu),
    )
    return E.SweepResult(grid, np.vstack(rows), bars.periods_per_year)
