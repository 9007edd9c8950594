"""Direction × financial quantity rules, the generated training sentences and the calibration report."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import brier_score_loss, log_loss

from services.sentiment.engine._calibration import calibration_report, fit_temperature
from services.sentiment.engine._direction import DIRECTION_FEATURES, direction_events, direction_features
from services.sentiment.engine._finance_lexicon import LEXICON_FEATURES, lexicon_features
from services.sentiment.engine._synthetic import formal_news_examples
from services.sentiment.engine._text import normalize_texts


@pytest.mark.parametrize(
    ("text", "events"),
    [
        ("Operating profit rose to EUR 40 mn from EUR 31 mn.", [1]),
        ("Net sales increased by 12 percent in the first half.", [1]),
        ("The order book grew.", [1]),
        ("Sales fell 5 % in the third quarter.", [-1]),
        # less is better: the sign flips
        ("The pre-tax loss narrowed to EUR 2 mn from EUR 5 mn.", [1]),
        ("The net loss widened to EUR 4.1 mn.", [-1]),
        ("Personnel costs were cut.", [1]),
        ("Net debt rose.", [-1]),
        # no verb: the numbers decide
        ("Operating profit totalled EUR 9.0 mn, compared to EUR 16.8 mn a year earlier.", [-1]),
        ("EBIT margin was 12.1 % versus 10.3 % a year earlier.", [1]),
        ("Costs increased from 10 to 12.", [-1]),
        ("Net sales were SEK 1,204 million (SEK 918 million).", [1]),
        ("Operating profit totalled EUR 9.0 mn, down from EUR 16.8 mn in 2007.", [-1]),
        # quality verbs, swings, negation, clauses
        ("EBITDA margin improved to 14.2 %.", [1]),
        ("The company swung to an operating profit of EUR 3 mn.", [1]),
        ("The group turned to a net loss.", [-1]),
        ("Operating profit did not increase.", [-1]),
        ("Sales fell, but profit rose.", [-1, 1]),
        # no direction × quantity
        ("Net sales for 2024 amounted to EUR 310 mn.", []),
        ("The company will publish its interim report on 25 April.", []),
        ("Shares of the bank rose to a record after the merger from 2019 to 2021.", [1]),
        ("Operating profit EUR 3.1 mn (2023: EUR 4 mn).", [-1]),  # the year in brackets is skipped
        ("Sales grew from 2019 to 2021.", [1]),  # the verb, not the years
        ("The plan runs from 2019 to 2021.", []),
    ],
)
def test_direction_events(text, events):
    assert direction_events(text) == events


def test_direction_features_columns():
    texts = ["Net loss widened; costs were cut and sales rose.", "The net loss was EUR 2 mn.", "Hello."]
    f = direction_features(texts)
    assert f.shape == (3, len(DIRECTION_FEATURES))
    pos, neg, net, metric, bad_level = f.T
    assert_allclose(pos, [2, 0, 0])
    assert_allclose(neg, [1, 0, 0])
    assert_allclose(net, [1, 0, 0])
    assert_allclose(metric, [1, 1, 0])
    assert_allclose(bad_level, [0, 1, 0])  # a loss stated with no direction


def test_lexicon_features_computes_the_named_columns_only():
    texts = ["Profit rose 5 % to EUR 3 mn.", "Shares plunged after the profit warning!"]
    full = lexicon_features(texts, normalize_texts(texts))
    assert full.shape == (2, len(LEXICON_FEATURES))
    names = ("dq_net", "vader_compound", "fin_pos")
    part = lexicon_features(texts, normalize_texts(texts), names)
    assert_allclose(part, full[:, [LEXICON_FEATURES.index(n) for n in names]])
    with pytest.raises(ValueError, match="unknown lexicon features"):
        lexicon_features(texts, normalize_texts(texts), ("nope",))


def test_generated_sentences_follow_their_own_labels():
    data = formal_news_examples(600, seed=3)
    assert len(data) > 500 and data["text"].is_unique
    assert set(data["label"]) == {"negative", "neutral", "positive"}
    assert data.equals(formal_news_examples(600, seed=3))  # seeded
    # every movement the rules can read agrees with the grammar's label
    events = [np.sign(sum(direction_events(t))) for t in data["text"]]
    read = [(e, lab) for e, lab in zip(events, data["label"], strict=True) if e != 0]
    agree = np.mean([{1: "positive", -1: "negative"}[e] == lab for e, lab in read])
    assert len(read) > 250 and agree > 0.97


def test_temperature_and_calibration_report_match_references():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    logits = rng.normal(size=(2000, 3))
    logits[np.arange(2000), y] += 1.0
    over = np.exp(3 * logits) / np.exp(3 * logits).sum(1, keepdims=True)  # over-confident by T = 3
    t = fit_temperature(over, y)
    assert 2.5 < t < 3.5
    # the fitted T is the NLL minimum: a reference grid search agrees
    grid = np.linspace(0.5, 6, 551)

    def nll(tt):
        z = np.log(over) / tt
        p = np.exp(z - z.max(1, keepdims=True))
        return log_loss(y, p / p.sum(1, keepdims=True), labels=[0, 1, 2])

    assert abs(t - grid[np.argmin([nll(g) for g in grid])]) < 0.02
    rep = calibration_report(y, over)
    onehot = np.eye(3)[y]
    brier_ref = sum(brier_score_loss(onehot[:, k], over[:, k]) for k in range(3))  # per-class mean, summed
    assert rep["brier"] == pytest.approx(brier_ref, rel=1e-9)
    assert rep["nll"] == pytest.approx(log_loss(y, over, labels=[0, 1, 2]), rel=1e-9)
    assert sum(r["count"] for r in rep["reliability"]) == 2000
    conf = over.max(1)
    ece_ref = 0.0
    for lo in np.arange(10) / 10:
        m = (conf >= lo) & (conf < lo + 0.1) if lo < 0.9 else conf >= lo
        if m.any():
            ece_ref += m.mean() * abs((over[m].argmax(1) == y[m]).mean() - conf[m].mean())
    assert rep["ece"] == pytest.approx(ece_ref, abs=1e-9)
    assert rep["ece"] > calibration_report(y, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))["ece"]
