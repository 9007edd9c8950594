"""Efficient frontier: points equal skfolio's own solves; blocks compose to the whole frontier."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from skfolio.optimization import MeanRisk

from services.portfolio.engine import (
    Constraints,
    OptimizationSpec,
    PortfolioError,
    assemble_frontier,
    efficient_frontier,
    frontier_points,
    frontier_targets,
    optimize,
)


@pytest.fixture(scope="module")
def frontier(recent):
    return efficient_frontier(recent, OptimizationSpec(), n_points=12)


WEIGHT_ATOL = 2e-3
"""skfolio's CVXPY solutions sit up to ~5e-4 from the optimum on 20 assets (their variance is never
below ours), so weights are compared at 2e-3 and the variance exactly."""


def _check_against_skfolio(returns, frontier, **params):
    targets = np.array([p.target_return for p in frontier.points])
    ref = MeanRisk(min_return=targets / 252, **params).fit(returns).weights_
    got = np.array([[p.weights[s] for s in returns.columns] for p in frontier.points])
    assert_allclose(got, ref, atol=WEIGHT_ATOL)
    cov = returns.cov().to_numpy()
    for w, v in zip(got, ref, strict=True):
        assert w @ cov @ w <= v @ cov @ v * (1 + 1e-7)


def test_points_equal_skfolio_min_return_fits(recent, frontier):
    _check_against_skfolio(recent, frontier)


def test_frontier_shape(recent, frontier):
    pts = frontier.points
    assert len(pts) == 12
    # starts at the minimum-variance portfolio, then return and volatility both rise
    mv = optimize(recent)
    assert_allclose(pts[0].volatility, mv.volatility, rtol=1e-4)
    assert pts[0].volatility <= mv.volatility * (1 + 1e-7)
    assert np.all(np.diff([p.expected_return for p in pts]) > 0)
    assert np.all(np.diff([p.volatility for p in pts]) > 0)
    for p in pts:
        assert p.expected_return >= p.target_return - 1e-7
        assert abs(sum(p.weights.values()) - 1) <= 1e-9
    # the top is (nearly) the single highest-mean asset under long-only max-weight 1
    best = recent.mean().idxmax()
    assert pts[-1].weights[best] > 0.99


def test_blocks_compose_to_the_whole(recent, frontier):
    spec = OptimizationSpec()
    targets = frontier_targets(recent, spec, 12)
    blocks = [frontier_points(recent, spec, t) for t in np.array_split(targets[::-1], 3)]
    whole = assemble_frontier(recent, spec, [p for b in blocks for p in b])
    # every point is an independent solve, so the blocks give bit-identical points
    assert whole.points == frontier.points


def test_constrained_frontier(recent):
    spec = OptimizationSpec(constraints=Constraints(max_weight=0.2))
    f = efficient_frontier(recent, spec, n_points=5)
    assert max(max(p.weights.values()) for p in f.points) <= 0.2 + 1e-9
    _check_against_skfolio(recent, f, max_weights=0.2)


@pytest.mark.parametrize("n", [1, 20_000], ids=["one", "too_many"])
def test_bad_n_points(recent, n):
    with pytest.raises(PortfolioError) as err:
        efficient_frontier(recent, n_points=n)
    assert err.value.field == "n_points"
