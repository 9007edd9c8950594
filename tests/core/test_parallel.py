from __future__ import annotations

import asyncio

import pytest
import ray

from services.core.parallel import map_chunks, map_chunks_async, n_chunks_for, split


@ray.remote
def _square_chunk(chunk, offset_ref):
    return [(x * x + offset_ref, len(chunk)) for x in chunk]


def test_split_keeps_order_and_sizes() -> None:
    parts = split(list(range(10)), 3)
    assert [list(p) for p in parts] == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert split([], 3) == [] and len(split(list(range(2)), 5)) == 2


@pytest.mark.parametrize(("n", "cpus", "expected"), [(1000, 2, 4), (3, 2, 3), (0, 2, 0), (100, 16, 32)])
def test_chunk_count_follows_cpus(n: int, cpus: float, expected: int) -> None:
    assert n_chunks_for(n, cpus=cpus) == expected


def test_map_chunks_matches_a_loop_and_chunks(ray_local) -> None:
    items = list(range(101))
    offset = ray.put(7)
    seen: list[tuple[int, int]] = []
    out = map_chunks(_square_chunk, items, offset, progress=lambda d, t: seen.append((d, t)))
    assert [v for v, _ in out] == [x * x + 7 for x in items]
    assert max(size for _, size in out) > 1  # work went out in chunks, not one task per item
    assert seen[-1] == (101, 101)
    out2 = asyncio.run(map_chunks_async(_square_chunk, items, offset))
    assert out2 == out
