"""Chunked fan-out of work over the Ray cluster, shared by every service.

Rules (Ray's own anti-pattern notes): one task per *chunk* of items sized for the cluster, never one per
tiny item; large shared inputs go into the object store once and every chunk receives the ref; submit
everything, collect once; bound the tasks in flight and consume them as they finish.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ray

from services.core.metrics import ran_on_ray
from services.core.ray_conn import cluster_cpus, resolve

T = TypeVar("T")

MAX_IN_FLIGHT_PER_CPU = 4


def n_chunks_for(
    n_items: int, *, chunks_per_cpu: int = 2, cpus: float | None = None, min_chunk: int = 1
) -> int:
    """How many chunks to cut ``n_items`` into: about ``chunks_per_cpu`` per cluster CPU, each ≥ ``min_chunk``."""
    if n_items <= 0:
        return 0
    cpus = cluster_cpus() if cpus is None else cpus
    by_cpu = max(1, math.ceil(cpus) * chunks_per_cpu)
    by_size = max(1, n_items // max(1, min_chunk))
    return max(1, min(n_items, by_cpu, by_size))


def split(items: Sequence[T], n_chunks: int) -> list[Sequence[T]]:
    """Cut ``items`` into ``n_chunks`` contiguous, nearly equal slices (order kept)."""
    if n_chunks <= 0:
        return []
    n = len(items)
    bounds = [round(i * n / n_chunks) for i in range(n_chunks + 1)]
    return [items[bounds[i] : bounds[i + 1]] for i in range(n_chunks) if bounds[i + 1] > bounds[i]]


def map_chunks(
    remote_fn: Any,
    items: Sequence[Any],
    *shared: Any,
    chunks_per_cpu: int = 2,
    min_chunk: int = 1,
    progress: Callable[[int, int], None] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Run ``remote_fn.remote(chunk, *shared, **kwargs)`` over chunks of ``items``; flatten in input order.

    ``remote_fn`` must return a list with one result per item of its chunk. ``shared`` arguments should be
    object refs (``ray.put`` once). In-flight tasks are bounded; ``progress(done_items, total_items)`` is
    called as chunks finish (for job progress and CLI bars). Blocking: use in jobs and worker threads; in
    ``async def`` routes use :func:`map_chunks_async`.
    """
    chunks = split(items, n_chunks_for(len(items), chunks_per_cpu=chunks_per_cpu, min_chunk=min_chunk))
    ran_on_ray()
    max_in_flight = max(2, int(cluster_cpus() * MAX_IN_FLIGHT_PER_CPU))
    if progress is None and len(chunks) <= max_in_flight:  # nothing to report or throttle: one get
        parts = ray.get([remote_fn.remote(chunk, *shared, **kwargs) for chunk in chunks])
        return [r for part in parts for r in part]
    results: dict[int, list[Any]] = {}
    pending: dict[Any, int] = {}
    done_items = 0
    next_chunk = 0
    while next_chunk < len(chunks) or pending:
        while next_chunk < len(chunks) and len(pending) < max_in_flight:
            pending[remote_fn.remote(chunks[next_chunk], *shared, **kwargs)] = next_chunk
            next_chunk += 1
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            i = pending.pop(ref)
            results[i] = ray.get(ref)
            done_items += len(chunks[i])
            if progress is not None:
                progress(done_items, len(items))
    return [r for i in range(len(chunks)) for r in results[i]]


async def map_chunks_async(
    remote_fn: Any,
    items: Sequence[Any],
    *shared: Any,
    chunks_per_cpu: int = 2,
    min_chunk: int = 1,
    **kwargs: Any,
) -> list[Any]:
    """Like :func:`map_chunks`, awaited without blocking the event loop (for interactive requests)."""
    chunks = split(items, n_chunks_for(len(items), chunks_per_cpu=chunks_per_cpu, min_chunk=min_chunk))
    refs = [remote_fn.remote(chunk, *shared, **kwargs) for chunk in chunks]
    parts = await resolve(refs)
    return [r for part in parts for r in part]
