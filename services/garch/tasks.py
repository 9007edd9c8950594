"""Ray code of the GARCH service, nothing else: remote functions over the engine (one task per chunk of
work), how the work is cut into chunks, and the object-store puts/gets around them.

* :func:`fit_symbols_task` — full arch fits (std errors, forecasts), a chunk of symbols per task;
* :func:`score_specs_task` — a chunk of the model-selection grid per task;
* :func:`rolling_task` — a chunk of consecutive refit blocks (a refit plus the origins reusing its
  parameters) per task; several symbols' blocks can share a chunk. Warm starts run through a chunk.

Inputs live in the object store once (datasets' returns via the catalog; an inline series once per
request) and every chunk receives the reference. Each driver-side entrypoint is one planning step (a
:class:`Fanout`: the items, the refs put once, the chunking) run by :meth:`Fanout.run` (blocking:
``rolling_many``, ``fit_many``) or :meth:`Fanout.run_async` (awaited: ``rolling_many_async``,
``fit_many_async``, ``score_grid_async``); both submit the same tasks through :mod:`services.core.parallel`.
Dataset lookup and HTTP problems live in :mod:`services.garch.service`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import ray

from services.core.parallel import map_chunks, map_chunks_async
from services.garch.engine import (
    Candidate,
    FitResult,
    ModelSpec,
    RollingPlan,
    RollingResult,
    concat_rolling,
    fit_model,
    run_rolling,
    score_model,
    window_dates,
)

Returns = dict[str, pd.Series]

ROLLING_CHUNKS_PER_CPU = 8
"""Rolling refits are cut finer than other work: a refit's cost varies with its optimiser's iterations, so
with two chunks per CPU one CPU could idle for up to half a chunk (seconds) at the end; a chunk of a
medium run still lasts ~0.5 s, against a few ms of task overhead. Warm starts (opt-in) restart cold at
each chunk's first refit."""
MIN_REFITS_PER_TASK = 16
"""Smallest chunk: ~0.15 s of refits, so short requests are not cut into tasks of a few milliseconds."""


# --- tasks ----------------------------------------------------------------------------------------
def fit_symbols(
    symbols: list[str],
    returns: Returns,
    spec: ModelSpec,
    options: dict[str, Any],
    start: Any = None,
    end: Any = None,
) -> list[FitResult]:
    """``fit_model`` on ``start..end`` of each symbol (``options``: horizon, annualization, simulations,
    seed): in the service process, or a chunk as :func:`fit_symbols_task`."""
    return [
        fit_model(window_dates(returns[s], start, end), spec, field=f"symbols[{s}]", **options)
        for s in symbols
    ]


fit_symbols_task = ray.remote(fit_symbols)


@ray.remote
def score_specs_task(specs: list[ModelSpec], returns: pd.Series) -> list[Candidate]:
    """``score_model`` for each grid point of the chunk."""
    return [score_model(returns, s) for s in specs]


@ray.remote
def rolling_task(
    items: list[tuple[str, int, int]],
    returns: dict[str, np.ndarray],
    plans: dict[str, RollingPlan],
    spec: ModelSpec,
    options: dict[str, Any],
) -> list[RollingResult]:
    """Rolling refits for a chunk of ``(symbol, start_row, stop_row)`` refit blocks of ``plans``.

    Consecutive blocks of one symbol run as one ``run_rolling`` call (so warm starts carry through the
    chunk); the result is cut back into one result per item.
    """
    out: list[RollingResult] = []
    i = 0
    while i < len(items):
        sym, a, _b = items[i]
        j = i + 1
        while j < len(items) and items[j][0] == sym and items[j][1] == items[j - 1][2]:
            j += 1
        stop = items[j - 1][2]
        res = run_rolling(returns[sym], spec, plans[sym].rows(a, stop), **options)
        out.extend(res.rows(s - a, e - a) for _, s, e in items[i:j])
        i = j
    return out


# --- driver side ---------------------------------------------------------------------------------
def _flat(parts: list[Any]) -> Any:
    return parts


@dataclass(frozen=True)
class Fanout:
    """One planned fan-out: ``task.remote(chunk, *shared)`` over chunks of ``items`` (``shared``: refs put
    once, small values), and ``finish`` turning the flat per-item results into the answer.

    Planning (building it) may block on ``ray.put``; the async entrypoints build it in a worker thread.
    """

    task: Any
    items: Sequence[Any]
    shared: tuple[Any, ...]
    chunks_per_cpu: int = 2
    min_chunk: int = 1
    finish: Callable[[list[Any]], Any] = field(default=_flat)

    def run(self, progress: Callable[[int, int], None] | None = None) -> Any:
        """Blocking: ``ray.get`` the chunks (``progress(done, total)`` in items as they finish)."""
        parts = map_chunks(
            self.task,
            self.items,
            *self.shared,
            chunks_per_cpu=self.chunks_per_cpu,
            min_chunk=self.min_chunk,
            progress=progress,
        )
        return self.finish(parts)

    async def run_async(self) -> Any:
        """The same tasks, awaited without blocking the event loop."""
        parts = await map_chunks_async(
            self.task, self.items, *self.shared, chunks_per_cpu=self.chunks_per_cpu, min_chunk=self.min_chunk
        )
        return self.finish(parts)


def _put(value: Any) -> Any:
    """``value`` in the object store (an object ref is passed through)."""
    return value if isinstance(value, ray.ObjectRef) else ray.put(value)


def _blocks(plans: dict[str, RollingPlan]) -> list[tuple[str, int, int]]:
    return [(sym, a, b) for sym, plan in plans.items() for a, b in plan.blocks()]


def _join(items: list[tuple[str, int, int]], parts: list[RollingResult]) -> dict[str, RollingResult]:
    by_symbol: dict[str, list[RollingResult]] = {}
    for (sym, _, _), part in zip(items, parts, strict=True):
        by_symbol.setdefault(sym, []).append(part)
    return {sym: concat_rolling(p) for sym, p in by_symbol.items()}


def plan_rolling_many(
    returns: dict[str, np.ndarray],
    plans: dict[str, RollingPlan],
    spec: ModelSpec,
    chunks_per_cpu: int,
    options: dict[str, Any],
) -> Fanout:
    """The fan-out of :func:`rolling_many`: every symbol's refit blocks, returns and plans put once."""
    items = _blocks(plans)
    return Fanout(
        rolling_task,
        items,
        (ray.put(returns), ray.put(plans), spec, options),
        chunks_per_cpu=chunks_per_cpu,
        min_chunk=MIN_REFITS_PER_TASK,
        finish=partial(_join, items),
    )


def rolling_many(
    returns: dict[str, np.ndarray],
    plans: dict[str, RollingPlan],
    spec: ModelSpec,
    *,
    chunks_per_cpu: int = ROLLING_CHUNKS_PER_CPU,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> dict[str, RollingResult]:
    """Rolling forecasts of each symbol's plan on the cluster (blocking; ``progress(done, total)`` in refits).

    ``options`` go to :func:`~services.garch.engine.run_rolling` (``warm_start``, ``simulations``, ``seed``).
    """
    result: dict[str, RollingResult] = plan_rolling_many(returns, plans, spec, chunks_per_cpu, options).run(
        progress
    )
    return result


async def rolling_many_async(
    returns: dict[str, np.ndarray],
    plans: dict[str, RollingPlan],
    spec: ModelSpec,
    *,
    chunks_per_cpu: int = ROLLING_CHUNKS_PER_CPU,
    **options: Any,
) -> dict[str, RollingResult]:
    """:func:`rolling_many` for ``async`` routes."""
    fanout = await asyncio.to_thread(plan_rolling_many, returns, plans, spec, chunks_per_cpu, options)
    result: dict[str, RollingResult] = await fanout.run_async()
    return result


def plan_fit_many(
    symbols: list[str], returns: Any, spec: ModelSpec, start: Any, end: Any, options: dict[str, Any]
) -> Fanout:
    """The fan-out of :func:`fit_many`: a chunk of symbols per task, ``returns`` put once (unless a ref)."""
    return Fanout(fit_symbols_task, symbols, (_put(returns), spec, options, start, end))


def fit_many(
    symbols: list[str], returns: Any, spec: ModelSpec, *, start: Any = None, end: Any = None, **options: Any
) -> list[FitResult]:
    """Full fits of several symbols in parallel (``returns``: a :data:`Returns` dict or its object ref)."""
    fits: list[FitResult] = plan_fit_many(symbols, returns, spec, start, end, options).run()
    return fits


async def fit_many_async(
    symbols: list[str], returns: Any, spec: ModelSpec, *, start: Any = None, end: Any = None, **options: Any
) -> list[FitResult]:
    """:func:`fit_many` for ``async`` routes."""
    fanout = await asyncio.to_thread(plan_fit_many, symbols, returns, spec, start, end, options)
    fits: list[FitResult] = await fanout.run_async()
    return fits


def plan_score_grid(specs: list[ModelSpec], returns: pd.Series) -> Fanout:
    """The fan-out of :func:`score_grid_async`: chunks of the grid, the series put once."""
    return Fanout(score_specs_task, specs, (ray.put(returns),))


async def score_grid_async(specs: list[ModelSpec], returns: pd.Series) -> list[Candidate]:
    """The selection grid scored in parallel chunks."""
    fanout = await asyncio.to_thread(plan_score_grid, specs, returns)
    scores: list[Candidate] = await fanout.run_async()
    return scores
