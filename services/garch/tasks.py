"""Ray tasks of the GARCH service: thin wrappers over the engine, one task per chunk of work.

* :func:`fit_symbols_task` — full arch fits (std errors, forecasts), a chunk of symbols per task;
* :func:`score_specs_task` — a chunk of the model-selection grid per task;
* :func:`rolling_task` — a chunk of consecutive refit blocks (a refit plus the origins reusing its
  parameters) per task; several symbols' blocks can share a chunk. Warm starts run through a chunk.

Inputs live in the object store once (datasets' returns via the catalog; an inline series once per
request) and every chunk receives the reference. The driver-side helpers (``fit_many``, ``score_grid``,
``rolling_many`` and their ``_async`` twins) cut the work with :mod:`services.core.parallel`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import ray

from services.core.catalog import DAILY_DATASETS, Catalog
from services.core.errors import ProblemError
from services.core.parallel import map_chunks, map_chunks_async
from services.garch.engine import (
    Candidate,
    FitResult,
    ModelSpec,
    ReturnKind,
    RollingPlan,
    RollingResult,
    concat_rolling,
    fit_model,
    run_rolling,
    score_model,
    to_returns,
)

Returns = dict[str, pd.Series]

ROLLING_CHUNKS_PER_CPU = 8
"""Rolling refits are cut finer than other work: a refit's cost varies with its optimiser's iterations, so
with two chunks per CPU one CPU could idle for up to half a chunk (seconds) at the end; a chunk of a
medium run still lasts ~0.5 s, against a few ms of task overhead. Warm starts (opt-in) restart cold at
each chunk's first refit."""
MIN_REFITS_PER_TASK = 16
"""Smallest chunk: ~0.15 s of refits, so short requests are not cut into tasks of a few milliseconds."""


# --- inputs ---------------------------------------------------------------------------------------
def dataset_returns(catalog: Catalog, dataset: str, kind: ReturnKind | str = ReturnKind.LOG) -> Returns:
    """Returns of every symbol of a daily dataset (each symbol's missing prices dropped first)."""
    prices = catalog.close_prices(dataset)
    return {
        str(s): to_returns(prices[s].dropna().rename(str(s)), kind, field=f"{dataset}.{s}")
        for s in prices.columns
    }


def find_dataset(catalog: Catalog, symbol: str, dataset: str | None = None) -> str:
    """The daily dataset holding ``symbol`` (``dataset`` if given; else the first of daily, prices, sp500).

    Raises
    ------
    ProblemError
        404 when no daily dataset has the symbol.
    """
    names = [dataset] if dataset else ["daily", "prices", "sp500"]
    for name in names:
        if name not in DAILY_DATASETS:
            raise ProblemError.not_found("dataset", name, available=list(DAILY_DATASETS))
        if symbol in catalog.symbols(name):
            return name
    raise ProblemError.not_found("symbol", symbol, datasets=names)


def window_dates(series: pd.Series, start: Any = None, end: Any = None) -> pd.Series:
    """``series`` between ``start`` and ``end`` (inclusive dates; None = open)."""
    if start is None and end is None:
        return series
    return series.loc[pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None]


def origin_bounds(
    index: pd.DatetimeIndex, start: Any = None, end: Any = None
) -> tuple[int | None, int | None]:
    """Positions of the first origin on/after ``start`` and the last on/before ``end``."""
    first = int(index.searchsorted(pd.Timestamp(start))) if start else None
    last = int(index.searchsorted(pd.Timestamp(end), side="right")) - 1 if end else None
    return first, last


# --- tasks ----------------------------------------------------------------------------------------
@ray.remote
def fit_symbols_task(
    symbols: list[str],
    returns: Returns,
    spec: ModelSpec,
    options: dict[str, Any],
    start: Any = None,
    end: Any = None,
) -> list[FitResult]:
    """``fit_model`` on ``start..end`` of each symbol of the chunk (``options``: horizon, annualization,
    simulations, seed)."""
    return [
        fit_model(window_dates(returns[s], start, end), spec, field=f"symbols[{s}]", **options)
        for s in symbols
    ]


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


# --- driver side ----------------------------------------------------------------------------------
def _blocks(plans: dict[str, RollingPlan]) -> list[tuple[str, int, int]]:
    return [(sym, a, b) for sym, plan in plans.items() for a, b in plan.blocks()]


def _join(items: list[tuple[str, int, int]], parts: list[RollingResult]) -> dict[str, RollingResult]:
    by_symbol: dict[str, list[RollingResult]] = {}
    for (sym, _, _), part in zip(items, parts, strict=True):
        by_symbol.setdefault(sym, []).append(part)
    return {sym: concat_rolling(p) for sym, p in by_symbol.items()}


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
    items = _blocks(plans)
    parts = map_chunks(
        rolling_task,
        items,
        ray.put(returns),
        ray.put(plans),
        spec,
        options,
        chunks_per_cpu=chunks_per_cpu,
        min_chunk=MIN_REFITS_PER_TASK,
        progress=progress,
    )
    return _join(items, parts)


async def rolling_many_async(
    returns: dict[str, np.ndarray],
    plans: dict[str, RollingPlan],
    spec: ModelSpec,
    *,
    chunks_per_cpu: int = ROLLING_CHUNKS_PER_CPU,
    **options: Any,
) -> dict[str, RollingResult]:
    """:func:`rolling_many` for ``async`` routes."""
    items = _blocks(plans)
    returns_ref, plans_ref = await asyncio.to_thread(lambda: (ray.put(returns), ray.put(plans)))
    parts = await map_chunks_async(
        rolling_task,
        items,
        returns_ref,
        plans_ref,
        spec,
        options,
        chunks_per_cpu=chunks_per_cpu,
        min_chunk=MIN_REFITS_PER_TASK,
    )
    return _join(items, parts)


def fit_many(
    symbols: list[str], returns: Any, spec: ModelSpec, *, start: Any = None, end: Any = None, **options: Any
) -> list[FitResult]:
    """Full fits of several symbols in parallel (``returns``: a :data:`Returns` dict or its object ref)."""
    ref = returns if isinstance(returns, ray.ObjectRef) else ray.put(returns)
    return map_chunks(fit_symbols_task, symbols, ref, spec, options, start, end)


async def fit_many_async(
    symbols: list[str], returns: Any, spec: ModelSpec, *, start: Any = None, end: Any = None, **options: Any
) -> list[FitResult]:
    """:func:`fit_many` for ``async`` routes."""
    ref = returns if isinstance(returns, ray.ObjectRef) else await asyncio.to_thread(ray.put, returns)
    return await map_chunks_async(fit_symbols_task, symbols, ref, spec, options, start, end)


async def score_grid_async(specs: list[ModelSpec], returns: pd.Series) -> list[Candidate]:
    """The selection grid scored in parallel chunks."""
    return await map_chunks_async(score_specs_task, specs, await asyncio.to_thread(ray.put, returns))
