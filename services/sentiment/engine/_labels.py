"""Sentiment classes and the mapping of raw dataset labels onto them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import numpy as np

from services.core.exceptions import DomainError

__all__ = ["CLASSES", "Label", "map_labels"]


class Label(StrEnum):
    """The three sentiment classes, in the column order of every probability matrix."""

    negative = "negative"
    neutral = "neutral"
    positive = "positive"


#: Column order of every probability matrix: index 0 negative, 1 neutral, 2 positive.
CLASSES: tuple[str, ...] = tuple(label.value for label in Label)

# Twitter Financial News coding (zeroshot/twitter-financial-news-sentiment): 0 bearish, 1 bullish, 2 neutral.
_NUMERIC = {0: "negative", 1: "positive", 2: "neutral"}
_STRINGS = {
    "negative": "negative",
    "neg": "negative",
    "bearish": "negative",
    "bear": "negative",
    "-1": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "none": "neutral",
    "positive": "positive",
    "pos": "positive",
    "bullish": "positive",
    "bull": "positive",
    "+1": "positive",
}


def map_labels(raw: Iterable[object]) -> np.ndarray:
    """Map raw labels onto class indices of :data:`CLASSES`.

    Integers (or integer-valued floats/strings) follow the Twitter Financial News coding
    ``0 bearish -> negative``, ``1 bullish -> positive``, ``2 -> neutral``. Strings are matched
    case-insensitively: ``negative/neg/bearish``, ``neutral/neu``, ``positive/pos/bullish``
    (``-1``/``+1`` too).

    Returns
    -------
    numpy.ndarray
        ``int64`` indices into :data:`CLASSES` (0 negative, 1 neutral, 2 positive).

    Raises
    ------
    DomainError
        (a ``ValueError``) naming the first position and value that cannot be mapped.
    """
    out = []
    for i, value in enumerate(raw):
        label = _map_one(value)
        if label is None:
            raise DomainError(
                f"label at index {i} is {value!r}: expected 0/1/2 or one of {sorted(_STRINGS)}",
                field="labels",
                rows=[i],
            )
        out.append(CLASSES.index(label))
    return np.asarray(out, dtype=np.int64)


def _map_one(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return _NUMERIC.get(int(value))
    if isinstance(value, (float, np.floating)):
        return _NUMERIC.get(int(value)) if float(value).is_integer() else None
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _STRINGS:
            return _STRINGS[key]
        try:
            number = float(key)
        except ValueError:
            return None
        return _NUMERIC.get(int(number)) if number.is_integer() else None
    return None
