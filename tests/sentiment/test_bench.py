"""The bench workloads follow the protocol, and every checked variant agrees with ``sequential``."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from services.bench.protocol import load_service
from services.sentiment import bench


def test_protocol_loads():
    workloads, err = load_service("sentiment")
    assert err is None
    assert {w.name for w in workloads} == {"ml_fast", "ml", "vader", "textblob"}
    for w in workloads:
        assert "sequential" in w.variants and "ray" in w.variants and w.unit == "texts"


@pytest.mark.parametrize("name", ["ml_fast", "ml", "vader", "textblob"])
def test_variants_agree_on_tiny(ray_local, name):
    w = bench.WORKLOADS[name]
    texts = w.build("tiny")
    assert w.units(texts) == len(texts) > 0
    ref = w.variants["sequential"](texts)
    for variant, fn in w.variants.items():
        got = fn(texts)
        assert len(got.scores) == len(texts)
        if variant not in w.not_comparable:
            assert w.same_result(ref, got), variant
    # a check that can fail: a flipped score is caught
    flipped = bench.Scores(ref.labels, -ref.scores + 0.5)
    assert not w.same_result(ref, flipped)


def test_model_comparison_rows_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score

    from services.sentiment.bench import compare_models, model_checks
    from services.sentiment.engine import load_scorer

    checks = [c for c in model_checks() if c.name.startswith("formal")]
    assert [c.name for c in checks] == ["formal dev", "formal test"]  # the fixture ships with the tests
    scorers = {"ml:fast": load_scorer("ml:fast"), "vader": load_scorer("lexicon:vader")}
    rows = compare_models(scorers, checks, repeat=1)
    assert [r["model"] for r in rows] == ["ml:fast", "vader"]
    for row, scorer in zip(rows, scorers.values(), strict=True):
        for check in checks:
            pred = scorer.score(check.texts).labels
            assert row[f"{check.name} accuracy"] == accuracy_score(check.labels, pred)
            assert row[f"{check.name} macro-F1"] == f1_score(check.labels, pred, average="macro")
        assert row["texts/s (1 process)"] > 0 and 0 <= row["formal dev Brier"] <= 2
    # vader paired with ml:fast on the first check: against a reference loop of the same counts
    y = checks[0].labels
    a, b = (
        (scorers["ml:fast"].score(checks[0].texts).labels == y),
        (scorers["vader"].score(checks[0].texts).labels == y),
    )
    paired = rows[1]
    assert_allclose(paired["Δ acc vs ml:fast"], b.mean() - a.mean(), atol=1e-12)
    n10, n01 = int((b & ~a).sum()), int((a & ~b).sum())
    from math import comb

    tail = sum(comb(n10 + n01, k) for k in range(min(n10, n01) + 1)) / 2 ** (n10 + n01)
    assert_allclose(paired["McNemar p vs ml:fast"], min(1.0, 2 * tail), rtol=1e-9)
    low, high = paired["95% CI vs ml:fast"]
    assert low < b.mean() - a.mean() < high and high - low < 0.2
    assert "Δ acc vs ml:fast" not in rows[0]


def test_paired_accuracy_of_a_model_with_itself_and_a_clear_winner():
    from services.sentiment.bench import paired_accuracy

    y = np.arange(300) % 3
    same = paired_accuracy(y, y, y)
    assert same["Δ acc"] == 0 and same["McNemar p"] == 1.0
    worse = y.copy()
    worse[:60] = (worse[:60] + 1) % 3  # 60 texts wrong, none gained
    clear = paired_accuracy(y, worse, y)
    assert_allclose(clear["Δ acc"], 0.2) and clear["McNemar p"] < 1e-15 and clear["95% CI"][0] > 0.1


def test_sentiment_models_cli_help():
    from services.bench.cli import main

    assert main(["sentiment-models", "--help"]) == 0
