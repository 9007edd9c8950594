"""Mean-variance efficient frontier, split so that blocks of points can run as independent tasks.

``frontier_targets`` fixes the grid of target returns once (the minimum-variance portfolio and the
maximum return reachable under the constraints); ``frontier_points`` solves any block of that grid,
one Clarabel QP per target (:class:`MeanVarianceProgram`; the tests check each point against skfolio's
``MeanRisk`` with the same ``min_return``).
``efficient_frontier`` is the sequential composition of the two; the Ray path maps
``frontier_points`` over blocks of targets and concatenates, giving the same points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ._enums import Objective
from ._optimize import OptimizationSpec, optimize
from ._program import MeanVarianceProgram
from .exceptions import InfeasibleConstraintError, PortfolioError

MAX_FRONTIER_POINTS = 10_000
"""Largest frontier the engine computes (the HTTP API stops at 1,000 and points to the batch job)."""


@dataclass(frozen=True)
class FrontierPoint:
    """One efficient portfolio: annualised ``expected_return``, ``volatility``, ``sharpe`` and weights."""

    target_return: float
    expected_return: float
    volatility: float
    sharpe: float
    weights: dict[str, float]


@dataclass(frozen=True)
class Frontier:
    """Efficient frontier ordered by increasing target return (annual)."""

    points: tuple[FrontierPoint, ...]
    covariance: str
    n_observations: int
    start: pd.Timestamp
    end: pd.Timestamp


def _frontier_spec(spec: OptimizationSpec) -> OptimizationSpec:
    if spec.objective is not Objective.MIN_VARIANCE:
        spec = replace(spec, objective=Objective.MIN_VARIANCE, target_volatility=None)
    return spec


def frontier_targets(returns: pd.DataFrame, spec: OptimizationSpec, n_points: int) -> np.ndarray:
    """Annual target returns of ``n_points`` frontier portfolios, evenly spaced.

    From the minimum-variance portfolio's expected return to (a hair under) the highest expected
    return reachable under the constraints.

    Returns
    -------
    ndarray of shape (n_points,)
    """
    if not 2 <= n_points <= MAX_FRONTIER_POINTS:
        raise PortfolioError(
            f"n_points must lie in [2, {MAX_FRONTIER_POINTS}], got {n_points}", field="n_points"
        )
    spec = _frontier_spec(spec)
    program = MeanVarianceProgram(spec, [str(s) for s in returns.columns])
    mu, cov = program.moments(returns)
    w_min, _ = program.min_variance(mu, cov)
    low = (
        spec.periods_per_year * float(mu @ w_min)
        if w_min is not None
        else optimize(returns, spec).expected_return
    )
    # The highest reachable return is a linear programme over the (turnover-narrowed) weight box:
    # filling the highest-mean assets first is exact for a box plus one budget equation.
    w = program.lo.copy()
    room = program.budget - w.sum()
    for i in np.argsort(-mu):
        add = min(program.hi[i] - program.lo[i], room)
        w[i] += add
        room -= add
        if room <= 0:
            break
    high = spec.periods_per_year * float(mu @ w)
    # stay a hair inside the top so the last target is solvable within the solver's tolerance
    high = low + (high - low) * (1 - 1e-6)
    return np.linspace(low, high, n_points)


def frontier_points(
    returns: pd.DataFrame, spec: OptimizationSpec, targets: np.ndarray
) -> list[FrontierPoint]:
    """Minimum-variance portfolios with expected annual return at least each of ``targets``.

    Parameters
    ----------
    returns : DataFrame of shape (n_observations, n_assets)
    spec : OptimizationSpec
        Covariance, constraints and units; the objective is taken as ``min_variance``.
    targets : array-like of shape (n_targets,)
        Annual target returns (a block of :func:`frontier_targets`).
    """
    spec = _frontier_spec(spec)
    targets = np.atleast_1d(np.asarray(targets, dtype=float))
    program = MeanVarianceProgram(spec, [str(s) for s in returns.columns])
    mu, cov = program.moments(returns)
    points = []
    for target in targets:
        raw, status = program.min_variance(mu, cov, target / spec.periods_per_year)
        if raw is None:
            raise InfeasibleConstraintError(
                f"frontier target return {target:.6g} is unreachable under the constraints ({status})",
                field="n_points",
            )
        r = program.result(returns, mu, cov, raw, status)
        points.append(FrontierPoint(float(target), r.expected_return, r.volatility, r.sharpe, r.weights))
    return points


def efficient_frontier(
    returns: pd.DataFrame, spec: OptimizationSpec | None = None, n_points: int = 50
) -> Frontier:
    """Compute the whole frontier in one process (the sequential reference of the Ray path)."""
    spec = _frontier_spec(spec or OptimizationSpec())
    targets = frontier_targets(returns, spec, n_points)
    return assemble_frontier(returns, spec, frontier_points(returns, spec, targets))


def assemble_frontier(returns: pd.DataFrame, spec: OptimizationSpec, points: list[FrontierPoint]) -> Frontier:
    """Wrap computed points (from one or many blocks) into a :class:`Frontier`."""
    return Frontier(
        points=tuple(sorted(points, key=lambda p: p.target_return)),
        covariance=spec.covariance.value,
        n_observations=len(returns),
        start=returns.index[0],
        end=returns.index[-1],
    )
