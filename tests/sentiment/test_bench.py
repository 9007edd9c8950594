"""The bench workloads follow the protocol, and every checked variant agrees with ``sequential``."""

from __future__ import annotations

import pytest

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


def test_sentiment_models_cli_help():
    from services.bench.cli import main

    assert main(["sentiment-models", "--help"]) == 0
