"""Ray layer of the sentiment service: chunked scoring against a scorer placed once, and CV grid cells.

* Scoring: :func:`score_chunks` runs over *chunks* of texts (never one task per text) with the
  :class:`~services.sentiment.engine.Scorer` passed as an object-store ref, put once per model version
  (``Catalog.put``). Ray keeps worker processes alive, so the e5 embedder of ``ml`` loads once per
  worker (``get_embedder`` caches it), like an actor pool sized to the cluster, without the actors'
  idle reservation of CPUs.
* Training: :func:`run_cells_ray` evaluates the grid cells of
  :func:`~services.sentiment.engine.train_model` as parallel tasks, each feature block put once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import ray

from services.core.parallel import map_chunks, map_chunks_async
from services.sentiment.engine import (
    EMBEDDING_DIM,
    Cell,
    CellResult,
    ModelName,
    ScoreBatch,
    Scorer,
    cross_validate_cell,
    get_embedder,
)

__all__ = [
    "CHUNK_TEXTS",
    "embed_ray",
    "run_cells_ray",
    "score_ray",
    "score_ray_async",
    "split_texts",
]

#: Texts per Ray task by model: big enough to amortise the task overhead (~1 ms) many times over.
CHUNK_TEXTS: dict[str, int] = {"ml": 1_000, "ml:fast": 5_000, "lexicon": 500, "lexicon:vader": 1_000}
#: Texts per task for a trained ``ml`` version with e5 embeddings (~40 texts/s per core).
EMBEDDING_CHUNK_TEXTS = 64


def chunk_texts(scorer: Scorer) -> int:
    """Texts per Ray task for ``scorer`` (:data:`CHUNK_TEXTS`)."""
    return EMBEDDING_CHUNK_TEXTS if scorer.embeds else CHUNK_TEXTS[scorer.name.value]


def split_texts(texts: Sequence[str], size: int) -> list[Sequence[str]]:
    """Contiguous chunks of at most ``size`` texts (order kept)."""
    return [texts[i : i + size] for i in range(0, len(texts), size)]


@ray.remote
def score_chunks(chunks: list[Sequence[str]], scorer: Scorer) -> list[ScoreBatch]:
    """Score each chunk of texts with ``scorer`` (resolved from the object store); one batch per chunk."""
    return [scorer.score(list(chunk)) for chunk in chunks]


@ray.remote
def embed_chunks(chunks: list[Sequence[str]]) -> list[np.ndarray]:
    """e5 embeddings of each chunk (the embedder is loaded once per worker process)."""
    return [get_embedder().embed(list(chunk)) for chunk in chunks]


@ray.remote
def cv_cell(cell: Cell, X: Any, y: np.ndarray, folds: np.ndarray, max_iter: int) -> CellResult:
    """k-fold CV of one grid cell (its feature block arrives from the object store)."""
    return cross_validate_cell(cell, X, y, folds, max_iter)


def score_ray(
    texts: Sequence[str],
    scorer_ref: Any,
    model: str,
    progress: Callable[[int, int], None] | None = None,
    chunk: int | None = None,
) -> ScoreBatch:
    """Score ``texts`` in chunks on Ray against ``scorer_ref`` (a :class:`Scorer` ref); input order kept.

    ``chunk`` texts per task (default :data:`CHUNK_TEXTS` of the model; see :func:`chunk_texts`).
    """
    chunks = split_texts(texts, chunk or CHUNK_TEXTS[ModelName(model).value])
    counter = None if progress is None else (lambda done, _n: progress(done, len(chunks)))
    return _joined(model, map_chunks(score_chunks, chunks, scorer_ref, progress=counter) if chunks else [])


async def score_ray_async(
    texts: Sequence[str], scorer_ref: Any, model: str, chunk: int | None = None
) -> ScoreBatch:
    """:func:`score_ray` awaited without blocking the event loop (routes): the same chunks, awaited."""
    chunks = split_texts(texts, chunk or CHUNK_TEXTS[ModelName(model).value])
    return _joined(model, await map_chunks_async(score_chunks, chunks, scorer_ref) if chunks else [])


def _joined(model: str, batches: Sequence[ScoreBatch]) -> ScoreBatch:
    if not batches:
        return ScoreBatch(model, np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0))
    return ScoreBatch.concat(batches)


def embed_ray(texts: Sequence[str], chunk: int = EMBEDDING_CHUNK_TEXTS) -> np.ndarray:
    """e5 embeddings of ``texts`` computed in chunks across the cluster, in input order."""
    parts = map_chunks(embed_chunks, split_texts(list(texts), chunk))
    return np.concatenate(parts) if parts else np.zeros((0, EMBEDDING_DIM), np.float32)


def run_cells_ray(
    cells: Sequence[Cell], blocks: Mapping[str, Any], y: np.ndarray, folds: np.ndarray, max_iter: int = 1000
) -> list[CellResult]:
    """Evaluate grid cells as parallel Ray tasks (one per cell: each is k model fits, seconds of work)."""
    y_ref, folds_ref = ray.put(y), ray.put(folds)
    block_refs = {name: ray.put(blocks[name]) for name in {c.block for c in cells}}
    refs = [cv_cell.remote(c, block_refs[c.block], y_ref, folds_ref, max_iter) for c in cells]
    return ray.get(refs)
