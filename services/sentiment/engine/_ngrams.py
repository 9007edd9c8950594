"""Hashed word/character n-gram features (no vocabulary, so an artifact holds no training text)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

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
    tfidf
        Sublinear TF-IDF (``(1 + log tf) * idf``, then the whole row L2-normalised, as sklearn's
        ``TfidfTransformer(sublinear_tf=True)``) instead of per-analyser L2-normalised counts; the
        ``idf`` comes from :meth:`fit_idf` on the training texts.
    binary
        Presence (0/1) of each hashed n-gram, unnormalised: the input of the NB-weighted logistic
        regression (``_training.fit_nb_head``).
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = None
    log2_features: int = 18
    tfidf: bool = False
    binary: bool = False

    def __post_init__(self) -> None:
        if self.tfidf and self.binary:
            raise ValueError("an n-gram block is tfidf or binary, not both")
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

    @property
    def hashing(self) -> tuple:
        """What :meth:`counts` depends on: blocks with equal keys share their raw counts."""
        return (self.word_ngrams, self.char_ngrams, self.log2_features)

    def counts(self, normalized: Sequence[str]) -> sp.csr_matrix:
        """Raw hashed n-gram counts, the input of the TF-IDF and binary blocks (:meth:`transform`)."""
        return self._counts(normalized)

    def transform(
        self, normalized: Sequence[str], idf: np.ndarray | None = None, counts: sp.csr_matrix | None = None
    ) -> sp.csr_matrix:
        """``(n, n_features)`` CSR matrix of normalised texts: each analyser's block L2-normalised, or TF-IDF.

        With :attr:`tfidf`, ``idf`` (from :meth:`fit_idf`) is required. ``counts``: the texts'
        :meth:`counts` if already computed (TF-IDF and binary blocks; left unchanged).
        """
        if self.binary:
            X = self._counts(normalized) if counts is None else counts.copy()
            X.data[:] = 1.0
            return X
        if not self.tfidf:
            blocks = [v.transform(normalized) for v in self._vectorizers]
            return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")
        if idf is None:
            raise ValueError("a tfidf n-gram block needs the idf fitted on its training texts")
        X = self._counts(normalized) if counts is None else counts.copy()
        np.log(X.data, out=X.data)
        X.data += 1.0
        X.data *= idf[X.indices]  # column scaling in place: a diagonal matrix product costs O(n_features)
        return normalize(X, norm="l2", copy=False)

    def _counts(self, normalized: Sequence[str]) -> sp.csr_matrix:
        blocks = [v.transform(normalized) for v in self._count_vectorizers]
        return (blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")).tocsr()

    @cached_property
    def _count_vectorizers(self) -> tuple[HashingVectorizer, ...]:
        return tuple(clone(v).set_params(norm=None) for v in self._vectorizers)

    def fit_idf(self, normalized: Sequence[str]) -> np.ndarray:
        """Smooth IDF per column, ``log((1 + n) / (1 + df)) + 1`` (sklearn's), of training texts (float32)."""
        X = self._counts(normalized)
        df = np.bincount(X.indices, minlength=self.n_features)
        return (np.log((1.0 + X.shape[0]) / (1.0 + df)) + 1.0).astype(np.float32)

    def nonzeros(self, normalized: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the non-zero entries ``(rows, cols, values)`` of :meth:`transform`, word n-grams only.

        They come in CSR order with bit for bit the same values (float32), computed without building a
        sparse matrix.

        Own code because a scorer called for a handful of texts spends ~0.3 ms in the fixed cost of
        ``HashingVectorizer.transform`` (validation, sparse construction, ``normalize``) and ~0.06 ms
        here; from a few hundred texts on, sklearn's Cython loop is faster (~20 % at 20k texts).
        Same hash as sklearn's ``FeatureHasher``: signed MurmurHash3 (seed 0) of the UTF-8 token,
        ``abs(h) % n_features``, with the same special case for ``h = -2**31``.
        """
        if self.char_ngrams is not None or self.tfidf or self.binary:
            raise ValueError("nonzeros() covers L2-normalised word n-gram counts only")
        analyse = self._analyser
        n_features = 1 << self.log2_features
        lengths, hashes = [], []
        for doc in normalized:
            tokens = analyse(doc)
            lengths.append(len(tokens))
            hashes.extend([murmurhash3_32(t, 0) for t in tokens])
        h = np.asarray(hashes, dtype=np.int64)
        col = np.abs(h) % n_features
        col[h == -(2**31)] = (2**31 - 1 - (n_features - 1)) % n_features
        row = np.repeat(np.arange(len(lengths)), lengths)
        key, count = np.unique(row * n_features + col, return_counts=True)
        rows, cols = key // n_features, key % n_features
        norm = np.sqrt(np.bincount(rows, count.astype(np.float64) ** 2, minlength=len(lengths)))
        return rows, cols, (count.astype(np.float32) / norm[rows]).astype(np.float32)

    @cached_property
    def _analyser(self):
        return self._vectorizers[0].build_analyzer()

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        return {
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": None if self.char_ngrams is None else list(self.char_ngrams),
            "log2_features": self.log2_features,
            "tfidf": self.tfidf,
            "binary": self.binary,
        }

    @classmethod
    def from_dict(cls, d: dict) -> NgramSpec:
        """Inverse of :meth:`to_dict`."""
        char = d.get("char_ngrams")
        return cls(
            tuple(d["word_ngrams"]),
            None if char is None else tuple(char),
            int(d["log2_features"]),
            bool(d.get("tfidf", False)),
            bool(d.get("binary", False)),
        )
