"""General-purpose lexicon scorers (TextBlob, VADER): the baseline, not the product.

Both return a polarity in [-1, 1]. A lexicon has no class probabilities, so the scorers report the
*polarity split* ``P(pos) = max(s, 0)``, ``P(neg) = max(-s, 0)``, ``P(neu) = 1 - |s|``; then
``score = P(pos) - P(neg) = s`` exactly, as for the ML scorers. The label comes from documented
thresholds on ``s`` (not from the arg-max of the split):

- VADER: the authors' thresholds, ``compound >= 0.05`` positive, ``<= -0.05`` negative.
- TextBlob: the same band, ``polarity >= 0.05`` positive, ``<= -0.05`` negative (TextBlob gives 0.0
  for texts without opinion words, which is most financial headlines).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "LEXICON_THRESHOLD",
    "labels_from_polarity",
    "polarity_split",
    "textblob_polarity",
    "vader_compound",
]

#: |polarity| below this band is neutral for both lexicon scorers.
LEXICON_THRESHOLD = 0.05


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_compound(texts: Sequence[str]) -> np.ndarray:
    """VADER compound score in [-1, 1] per text."""
    analyzer = _vader()
    return np.fromiter((analyzer.polarity_scores(t)["compound"] for t in texts), float, len(texts))


def textblob_polarity(texts: Sequence[str]) -> np.ndarray:
    """TextBlob (pattern lexicon) polarity in [-1, 1] per text."""
    from textblob import TextBlob

    return np.fromiter((TextBlob(t).sentiment.polarity for t in texts), float, len(texts))


def polarity_split(polarity: np.ndarray) -> np.ndarray:
    """``(n, 3)`` pseudo-probabilities ``[max(-s,0), 1-|s|, max(s,0)]`` of polarities ``s``."""
    s = np.clip(np.asarray(polarity, dtype=float), -1.0, 1.0)
    return np.column_stack([np.maximum(-s, 0.0), 1.0 - np.abs(s), np.maximum(s, 0.0)])


def labels_from_polarity(polarity: np.ndarray, threshold: float = LEXICON_THRESHOLD) -> np.ndarray:
    """Class indices (0 negative, 1 neutral, 2 positive) from polarities and a neutral band.

    ``s >= threshold`` is positive, ``s <= -threshold`` negative, anything between neutral.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    s = np.asarray(polarity, dtype=float)
    out = np.ones(s.shape, dtype=np.int64)
    out[s >= threshold] = 2
    out[s <= -threshold] = 0
    return out
