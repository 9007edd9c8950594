"""A small finance word list of this project's own, and the dense lexicon features of the ``ml`` model.

General-purpose lexicons miss how finance talks: "cut", "miss", "downgrade", "beat", "upgrade" carry
the sentiment of a headline while "liability" or "tax" do not. The lists below were written for this
project (they are not derived from Loughran-McDonald, whose licence is academic-use only): words and
stems that, in market news and posts, point clearly up or down for the company named. They are
matched on :func:`~._text.normalize_text` output, by word prefix (``downgrad`` matches "downgraded"),
with a simple negation rule (``not``, ``no``, ``never``, ``n't``, ``without`` within the three preceding
words of the same clause flips the hit).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ._direction import DIRECTION_FEATURES, direction_features
from ._lexicon import textblob_polarity, vader_compound

__all__ = [
    "DEFAULT_LEXICON",
    "FINANCE_NEGATIVE",
    "FINANCE_POSITIVE",
    "LEXICON_FEATURES",
    "finance_counts",
    "lexicon_features",
]

FINANCE_POSITIVE: tuple[str, ...] = (
    "accelerat",
    "accretive",
    "advance",
    "all-time high",
    "beat",
    "better-than-expected",
    "boom",
    "boost",
    "breakout",
    "bullish",
    "buyback",
    "climb",
    "expand",
    "exceed",
    "gain",
    "growth",
    "grew",
    "grow",
    "higher",
    "hike",
    "improv",
    "increase",
    "jump",
    "outperform",
    "overweight",
    "profit",
    "raise",
    "rally",
    "rebound",
    "recover",
    "rise",
    "rising",
    "rose",
    "skyrocket",
    "soar",
    "spike",
    "strong",
    "surge",
    "surpass",
    "tops",
    "topped",
    "upbeat",
    "upgrad",
    "upside",
    "upturn",
    "wins",
)
FINANCE_NEGATIVE: tuple[str, ...] = (
    "bankrupt",
    "bearish",
    "cut",
    "declin",
    "decrease",
    "default",
    "deficit",
    "delay",
    "delist",
    "dips",
    "dipped",
    "disappoint",
    "downgrad",
    "downside",
    "downturn",
    "drop",
    "fall",
    "fell",
    "fraud",
    "halt",
    "impair",
    "investigat",
    "lawsuit",
    "layoff",
    "lay off",
    "lower",
    "loss",
    "lost",
    "miss",
    "plummet",
    "plunge",
    "probe",
    "recall",
    "recession",
    "sell-off",
    "selloff",
    "shortfall",
    "sink",
    "slash",
    "slid",
    "slide",
    "slip",
    "slow",
    "slump",
    "sank",
    "sues",
    "sued",
    "suspend",
    "tumbl",
    "underperform",
    "underweight",
    "warn",
    "weak",
    "worse",
    "worst",
    "writedown",
    "write-down",
)
_NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "cannot"})

#: Names of the columns returned by :func:`lexicon_features`, in order.
LEXICON_FEATURES: tuple[str, ...] = (
    "fin_pos",
    "fin_neg",
    "fin_net",
    "pct_up",
    "pct_down",
    "vader_compound",
    "textblob_polarity",
    *DIRECTION_FEATURES,
)
#: What ``ml`` is trained on by default: all but TextBlob, the slowest (~1,000 texts/s per core).
DEFAULT_LEXICON: tuple[str, ...] = tuple(n for n in LEXICON_FEATURES if n != "textblob_polarity")


def _stem_pattern(stems: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted((re.escape(s) for s in stems), key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})")


_POS = _stem_pattern(FINANCE_POSITIVE)
_NEG = _stem_pattern(FINANCE_NEGATIVE)
_WORD = re.compile(r"[a-z']+")
_CLAUSE = re.compile(r"[,.;:!?]")  # negation scope ends at punctuation


def finance_counts(normalized: str) -> tuple[int, int]:
    """Positive and negative finance-term hits in a normalised text, after the negation rule."""
    pos = neg = 0
    for pattern, sign in ((_POS, 1), (_NEG, -1)):
        for match in pattern.finditer(normalized):
            clause = _CLAUSE.split(normalized[max(0, match.start() - 40) : match.start()])[-1]
            before = _WORD.findall(clause)[-3:]
            negated = any(w in _NEGATIONS or w.endswith("n't") for w in before)
            if (sign > 0) != negated:
                pos += 1
            else:
                neg += 1
    return pos, neg


def lexicon_features(
    texts: Sequence[str], normalized: Sequence[str], names: Sequence[str] = LEXICON_FEATURES
) -> np.ndarray:
    """Dense ``(n, len(names))`` features, the columns of :data:`LEXICON_FEATURES` that ``names`` lists.

    Only the named columns are computed: TextBlob (~1,000 texts/s per core) is the slowest part, and
    a model that does not use it does not pay for it.

    Parameters
    ----------
    texts
        Raw texts (VADER and TextBlob read case, punctuation and emoji; the direction rules read
        the numbers).
    normalized
        The same texts after :func:`~._text.normalize_text`.
    names
        Feature names, in the order of the returned columns.
    """
    unknown = set(names) - set(LEXICON_FEATURES)
    if unknown:
        raise ValueError(f"unknown lexicon features {sorted(unknown)}; known: {list(LEXICON_FEATURES)}")
    cols: dict[str, np.ndarray] = {}
    if {"fin_pos", "fin_neg", "fin_net"} & set(names):
        counts = np.array([finance_counts(t) for t in normalized], dtype=float).reshape(-1, 2)
        n_words = np.array([max(len(t.split()), 1) for t in normalized], dtype=float)
        cols["fin_pos"], cols["fin_neg"] = np.minimum(counts, 3.0).T
        cols["fin_net"] = (counts[:, 0] - counts[:, 1]) / np.sqrt(n_words)
    cols["pct_up"] = np.array(["xpctup" in t for t in normalized], dtype=float)
    cols["pct_down"] = np.array(["xpctdown" in t for t in normalized], dtype=float)
    if "vader_compound" in names:
        cols["vader_compound"] = vader_compound(texts)
    if "textblob_polarity" in names:
        cols["textblob_polarity"] = textblob_polarity(texts)
    if set(DIRECTION_FEATURES) & set(names):
        cols.update(zip(DIRECTION_FEATURES, direction_features(texts).T, strict=True))
    return np.column_stack([cols[name] for name in names]).reshape(len(texts), len(names))
