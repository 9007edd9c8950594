"""The benchmark workload builds, and its variants agree (tiny size; no timing assertions)."""

from __future__ import annotations

import numpy as np
import pytest

from services.garch import bench


@pytest.mark.slow
def test_rolling_variants_agree(ray_local):
    inputs = bench.build_rolling("tiny")
    assert inputs["refits"] == 40
    seq = bench.rolling_sequential(inputs)
    ray_result = bench.rolling_ray(inputs)
    peer = bench.rolling_peer(inputs)
    assert np.array_equal(seq, ray_result)  # the same engine, chunked or not
    assert bench.rolling_same(seq, peer)
    assert not bench.rolling_same(seq, peer * 1.01)  # the check can fail
    assert set(bench.WORKLOADS["rolling"].variants) == {"sequential", "ray", "peer"}
