"""Every workload the services offer, at size ``tiny``, through the harness on the session's Ray:
structure and same-result checks (never timings). Services without a ``bench.py`` are listed as skipped."""

from __future__ import annotations

import pytest

from services.bench import protocol
from services.bench.harness import Harness, Options

WORKLOADS, SKIPPED = protocol.discover()


def test_every_service_offers_valid_workloads():
    """A service whose ``bench.py`` breaks the protocol would be skipped with the reason: none is."""
    assert SKIPPED == {}
    assert {w.service for w in WORKLOADS} == {"sentiment", "garch", "portfolio", "intraday"}


@pytest.fixture(scope="module")
def tiny_results(ray_local):
    if not WORKLOADS:
        pytest.skip(f"no service offers a bench.py yet: {SKIPPED}")
    return Harness(WORKLOADS, Options(size="tiny", repeat=1)).run()


@pytest.mark.slow
@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.key for w in WORKLOADS])
def test_tiny_workload_runs_and_every_variant_agrees(tiny_results, workload):
    (w,) = [r for r in tiny_results["workloads"] if r["key"] == workload.key]
    assert w["error"] is None, w["error"]
    assert w["status"] == "ok", {k: (v["check"], v["error"]) for k, v in w["variants"].items()}
    assert "sequential" in w["variants"]
    rays = [k for k, v in w["variants"].items() if v["kind"] == "ray"]
    assert len(rays) == sum(1 for v in workload.variants if v.startswith("ray"))
    for label, v in w["variants"].items():
        assert v["n"] == 1 and v["median_s"] > 0, label
        assert v["error"] is None, (label, v["error"])
        if label in workload.not_comparable:
            assert v["same_result"] is None
        else:
            assert v["same_result"] is True, (label, v["check"])
    for v in workload.variants:
        if v.startswith("peer"):  # measured, or skipped with the reason
            assert v in w["variants"] or v in w["skipped"], v
    if workload.units is not None:
        assert w["units"] > 0
