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
