"""Hashed word/character n-gram features (no vocabulary, so an artifact holds no training text)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

__all__ = ["NgramSpec"]


@dataclass(frozen=True)
class NgramSpec:
    """Settings of the hashed n-gram block.

    Parameters
    ----------
    word_ngrams
        ``(min_n, max_n)`` of word n-grams.
    char_ngrams
        ``(min_n, max_n)`` of character n-grams inside word boundaries (``char_wb``), or ``None``
        for words only (the fast model: sklearn's char analyser runs at ~10k texts/s per core).
    log2_features
        Hash space per analyser is ``2 ** log2_features`` columns.
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = None
    log2_features: int = 18

    def __post_init__(self) -> None:
        for name in ("word_ngrams", "char_ngrams"):
            rng = getattr(self, name)
            if rng is None and name == "char_ngrams":
                continue
            if len(rng) != 2 or not 1 <= rng[0] <= rng[1] <= 8:
                raise ValueError(f"{name} must be (min_n, max_n) with 1 <= min_n <= max_n <= 8, got {rng!r}")
            object.__setattr__(self, name, (int(rng[0]), int(rng[1])))
        if not 10 <= self.log2_features <= 24:
            raise ValueError(f"log2_features must be in [10, 24], got {self.log2_features!r}")

    @property
    def n_features(self) -> int:
        """Total number of columns of :meth:`transform`."""
        return (1 if self.char_ngrams is None else 2) << self.log2_features

    @cached_property
    def _vectorizers(self) -> tuple[HashingVectorizer, ...]:
        # inputs are normalize_text output, already lower case: skip sklearn's second lower-casing pass
        kw = dict(n_features=1 << self.log2_features, alternate_sign=False, dtype=np.float32, lowercase=False)
        out = [
            HashingVectorizer(
                analyzer="word", ngram_range=self.word_ngrams, token_pattern=r"(?u)\b\w+\b", **kw
            )
        ]
        if self.char_ngrams is not None:
            out.append(HashingVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams, **kw))
        return tuple(out)

    def transform(self, normalized: Sequence[str]) -> sp.csr_matrix:
        """``(n, n_features)`` CSR matrix, each analyser's block L2-normalised, of normalised texts."""
        blocks = [v.transform(normalized) for v in self._vectorizers]
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        return {
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": None if self.char_ngrams is None else list(self.char_ngrams),
            "log2_features": self.log2_features,
        }

    @classmethod
    def from_dict(cls, d: dict) -> NgramSpec:
        """Inverse of :meth:`to_dict`."""
        char = d.get("char_ngrams")
        return cls(tuple(d["word_ngrams"]), None if char is None else tuple(char), int(d["log2_features"]))
