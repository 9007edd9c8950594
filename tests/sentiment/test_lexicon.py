import numpy as np
import pytest
from numpy.testing import assert_allclose
from textblob import TextBlob
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from services.sentiment.engine import LEXICON_THRESHOLD, labels_from_polarity, load_scorer, polarity_split

TEXTS = [
    "What a great, wonderful quarter!",
    "Terrible results, awful guidance.",
    "The meeting is on Tuesday.",
]


@pytest.mark.parametrize(
    ("polarity", "expected"),
    [(0.05, 2), (0.0499, 1), (0.0, 1), (-0.0499, 1), (-0.05, 0), (1.0, 2), (-1.0, 0)],
    ids=["at-pos-threshold", "inside-band-pos", "zero", "inside-band-neg", "at-neg-threshold", "max", "min"],
)
def test_threshold_band(polarity, expected):
    assert LEXICON_THRESHOLD == 0.05
    assert labels_from_polarity(np.array([polarity]))[0] == expected


def test_threshold_validation():
    with pytest.raises(ValueError, match="threshold"):
        labels_from_polarity(np.zeros(2), threshold=0.0)


def test_polarity_split_is_a_distribution_whose_score_is_the_polarity():
    s = np.linspace(-1, 1, 21)
    p = polarity_split(s)
    assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert (p >= 0).all()
    assert_allclose(p[:, 2] - p[:, 0], s, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("lexicon", lambda t: TextBlob(t).sentiment.polarity),
        ("lexicon:vader", lambda t: SentimentIntensityAnalyzer().polarity_scores(t)["compound"]),
    ],
    ids=["textblob", "vader"],
)
def test_lexicon_scorers_match_their_libraries(name, reference):
    batch = load_scorer(name).score(TEXTS)
    ref = np.array([reference(t) for t in TEXTS])
    assert batch.model == name
    assert_allclose(batch.scores, ref, atol=1e-12)
    assert batch.label_names() == ["positive", "negative", "neutral"]
    assert_allclose(batch.probabilities.sum(axis=1), 1.0, atol=1e-12)
    records = batch.records()
    assert records[0]["label"] == "positive" and set(records[0]["probabilities"]) == {
        "negative",
        "neutral",
        "positive",
    }
