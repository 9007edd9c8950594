import numpy as np
import pytest

from services.core.exceptions import DomainError
from services.sentiment.engine import CLASSES, map_labels


def test_class_order():
    assert CLASSES == ("negative", "neutral", "positive")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([0, 1, 2], ["negative", "positive", "neutral"]),
        ([0.0, 1.0, 2.0], ["negative", "positive", "neutral"]),
        (np.array([2, 0, 1], dtype=np.int32), ["neutral", "negative", "positive"]),
        (["0", " 1 ", "2.0"], ["negative", "positive", "neutral"]),
        (["Bearish", "BULLISH", "neutral"], ["negative", "positive", "neutral"]),
        (["neg", "neu", "pos", "-1", "+1"], ["negative", "neutral", "positive", "negative", "positive"]),
    ],
    ids=["int-coding", "float-coding", "numpy-int32", "string-digits", "bear-bull-words", "short-forms"],
)
def test_map_labels(raw, expected):
    got = map_labels(raw)
    assert got.dtype == np.int64
    assert [CLASSES[i] for i in got] == expected


@pytest.mark.parametrize(
    ("raw", "bad_index"),
    [([0, 1, 3], 2), (["positive", "great"], 1), ([0, 1.5], 1), ([True], 0), ([None, 0], 0)],
    ids=["out-of-range", "unknown-word", "fractional", "bool", "none"],
)
def test_map_labels_rejects(raw, bad_index):
    with pytest.raises(DomainError, match=f"index {bad_index}") as info:
        map_labels(raw)
    assert info.value.field == "labels" and info.value.rows == [bad_index]
