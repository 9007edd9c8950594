"""Benchmark workloads of the portfolio service (called by the ``raysvc bench`` harness).

Shape (the same for every workload in :data:`WORKLOADS`)::

    WORKLOADS: dict[str, Workload]
    Workload.build(size) -> inputs            # size in SIZES; builds data, starts nothing
    Workload.variants[name](inputs) -> result # name in {"sequential", "ray", "peer"}
    Workload.same_result(a, b) -> bool        # results agree within Workload.tolerance

* ``sequential`` runs the engine in this process; ``ray`` forces the service's Ray path (the service
  itself keeps work under ~50 ms in-process, ``tasks.runs_on_ray``/``frontier_on_ray``) on whatever Ray is
  connected (the caller connects; import the engine in the workers first with
  :func:`services.portfolio.tasks.warm_up` or one untimed call, or the first timing includes skfolio's
  import in each worker); ``peer`` does the same work with PyPortfolioOpt (a benchmark peer only,
  imported lazily; the variant is absent when it is not installed).
* Data: skfolio's real S&P 500 prices (20 stocks, 1990-2022, bundled, offline).

Workloads
---------
``frontier``
    Long-only mean-variance efficient frontier (sample mean and covariance), ``n_points`` portfolios.
    medium = the issue's 100 points on the 20 stocks (2013-2022).
``walk_forward``
    Monthly walk-forward max-Sharpe backtest (252-day lookback, long-only, 10 bps costs). medium = the
    issue's 10 years (2013-2022, 120 rebalances) on the 20 stocks. The peer decides each date with
    PyPortfolioOpt ``EfficientFrontier.max_sharpe`` on the same moments; the holding path is simulated
    by the engine for every variant (it is not an optimiser's job and costs ~1 ms).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from services.bench.spec import Workload

SIZES = ("tiny", "small", "medium", "large")

_FRONTIER = {  # size -> (n_points, n_assets, first year)
    "tiny": (10, 5, "2020"),
    "small": (30, 10, "2018"),
    "medium": (100, 20, "2013"),
    "large": (400, 20, "2013"),
}
_WALK = {  # size -> (rebalance, n_assets, first out-of-sample year)
    "tiny": ("M", 5, "2022"),
    "small": ("M", 10, "2020"),
    "medium": ("M", 20, "2013"),
    "large": ("W", 20, "2013"),
}
FRONTIER_TOL = {"weights_atol": 2e-3}
WALK_TOL = {"weights_atol": 2e-3, "equity_rtol": 1e-3}


def warm_up() -> None:
    """Import the engine (skfolio, Clarabel) in the Ray workers; the harness calls it after each Ray start."""
    from services.portfolio.tasks import warm_up as _warm

    _warm()


def _frontier_units(inputs: dict[str, Any]) -> int:
    return int(inputs["n_points"])


def _walk_units(inputs: dict[str, Any]) -> int:
    from services.portfolio.engine import backtest_dates

    return len(backtest_dates(inputs["returns"], inputs["spec"]))


def _returns() -> pd.DataFrame:
    from skfolio.datasets import load_sp500_dataset

    from services.portfolio.engine import prices_to_returns

    return prices_to_returns(load_sp500_dataset())


def _check_size(size: str) -> None:
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")


def _has_peer() -> bool:
    return importlib.util.find_spec("pypfopt") is not None


# --- efficient frontier ---------------------------------------------------------------------------
def build_frontier(size: str) -> dict[str, Any]:
    """Inputs of the frontier workload: the returns window, the spec and the number of points."""
    from services.portfolio.engine import OptimizationSpec

    _check_size(size)
    n_points, n_assets, first = _FRONTIER[size]
    returns = _returns().loc[first:"2022"].iloc[:, :n_assets]
    return {"returns": returns, "spec": OptimizationSpec(), "n_points": n_points}


def frontier_sequential(inputs: dict[str, Any]):
    from services.portfolio import tasks

    return tasks.frontier(inputs["returns"], inputs["spec"], inputs["n_points"], use_ray=False)


_REFS: dict[str, dict[int, Any]] = {}


def _shared_ref(frame: pd.DataFrame) -> Any:
    """``frame`` in the object store once per Ray session, as the service holds each dataset's returns
    (``Catalog.put`` once per connection), so the timed calls do not copy the panel each time. Keyed by
    the driver's node id, which a new local Ray changes (job ids restart at 1 in every new cluster)."""
    import ray

    session = ray.get_runtime_context().get_node_id()
    if session not in _REFS:
        _REFS.clear()
        _REFS[session] = {}
    refs = _REFS[session]
    if id(frame) not in refs:
        refs[id(frame)] = ray.put(frame)
    return refs[id(frame)]


def frontier_ray(inputs: dict[str, Any]):
    from services.portfolio import tasks

    returns = inputs["returns"]
    return tasks.frontier(returns, inputs["spec"], inputs["n_points"], use_ray=True, ref=_shared_ref(returns))


def frontier_peer(inputs: dict[str, Any]):
    """PyPortfolioOpt: the same target grid built with its own ``min_volatility`` and ``_max_return``,
    then ``efficient_return`` per target on one instance (its target parameter is reused)."""
    from pypfopt import EfficientFrontier

    returns = inputs["returns"]
    mu, cov = returns.mean() * 252, returns.cov() * 252
    ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1))
    ef.min_volatility()
    low = ef.portfolio_performance()[0]
    high = EfficientFrontier(mu, cov, weight_bounds=(0, 1))._max_return()
    ef = EfficientFrontier(mu, cov, weight_bounds=(0, 1))
    out = []
    for t in np.linspace(low, low + (high - low) * (1 - 1e-6), inputs["n_points"]):
        w = pd.Series(ef.efficient_return(float(t)))
        out.append(w.reindex(returns.columns).to_numpy())
    return np.array(out)


def _frontier_matrix(result) -> np.ndarray:
    if isinstance(result, np.ndarray):
        return result
    return np.array([list(p.weights.values()) for p in result.points])


def frontier_same(a, b) -> bool:
    """Weights of every point within ``weights_atol`` (solver tolerances differ between libraries)."""
    wa, wb = _frontier_matrix(a), _frontier_matrix(b)
    return wa.shape == wb.shape and bool(np.allclose(wa, wb, rtol=0, atol=FRONTIER_TOL["weights_atol"]))


# --- walk-forward ---------------------------------------------------------------------------------
def build_walk_forward(size: str) -> dict[str, Any]:
    """Inputs of the walk-forward workload: the full returns (history for the lookback) and the spec."""
    from services.portfolio.engine import BacktestSpec, Objective, OptimizationSpec, Rebalance, Strategy

    _check_size(size)
    rebalance, n_assets, first = _WALK[size]
    returns = _returns().loc[str(int(first) - 2) : "2022"].iloc[:, :n_assets]
    spec = BacktestSpec(
        strategy=Strategy.OPTIMIZED,
        rebalance=Rebalance(rebalance),
        lookback=252,
        optimization=OptimizationSpec(objective=Objective.MAX_SHARPE),
        costs_bps=10,
        start=pd.Timestamp(f"{first}-01-01"),
    )
    return {"returns": returns, "spec": spec}


def walk_forward_sequential(inputs: dict[str, Any]):
    from services.portfolio import tasks

    return tasks.backtest(inputs["returns"], inputs["spec"], use_ray=False)


def walk_forward_ray(inputs: dict[str, Any]):
    from services.portfolio import tasks

    returns = inputs["returns"]
    return tasks.backtest(returns, inputs["spec"], use_ray=True, ref=_shared_ref(returns))


def walk_forward_peer(inputs: dict[str, Any]):
    """Each rebalance decided by PyPortfolioOpt ``max_sharpe`` (rf = 0) on the same window's moments."""
    from pypfopt import EfficientFrontier

    from services.portfolio.engine import Decision, backtest_dates, walk_forward

    returns, spec = inputs["returns"], inputs["spec"]
    decisions = []
    for d in backtest_dates(returns, spec):
        window = returns.loc[:d].iloc[-spec.lookback :]
        ef = EfficientFrontier(window.mean() * 252, window.cov() * 252, weight_bounds=(0, 1))
        w = ef.max_sharpe(risk_free_rate=0.0)
        decisions.append(Decision(d, {str(k): float(v) for k, v in w.items()}, "optimal"))
    return walk_forward(returns, spec, decisions=decisions)


def walk_forward_same(a, b) -> bool:
    """Same dates, weights within ``weights_atol``, final equity within ``equity_rtol``."""
    if [r.date for r in a.rebalances] != [r.date for r in b.rebalances]:
        return False
    for ra, rb in zip(a.rebalances, b.rebalances, strict=True):
        keys = sorted(set(ra.weights) | set(rb.weights))
        wa = np.array([ra.weights.get(k, 0.0) for k in keys])
        wb = np.array([rb.weights.get(k, 0.0) for k in keys])
        if not np.allclose(wa, wb, rtol=0, atol=WALK_TOL["weights_atol"]):
            return False
    return bool(np.isclose(a.equity.iloc[-1], b.equity.iloc[-1], rtol=WALK_TOL["equity_rtol"], atol=0))


def _variants(sequential, ray, peer) -> dict[str, Callable[[Any], Any]]:
    out = {"sequential": sequential, "ray": ray}
    if _has_peer():
        out["peer"] = peer
    return out


WORKLOADS: dict[str, Workload] = {
    "frontier": Workload(
        name="frontier",
        build=build_frontier,
        variants=_variants(frontier_sequential, frontier_ray, frontier_peer),
        same_result=frontier_same,
        description="long-only mean-variance efficient frontier, 20 real S&P 500 stocks (medium: 100 points)",
        tolerance=FRONTIER_TOL,
        units=_frontier_units,
        unit="portfolios",
    ),
    "walk_forward": Workload(
        name="walk_forward",
        build=build_walk_forward,
        variants=_variants(walk_forward_sequential, walk_forward_ray, walk_forward_peer),
        same_result=walk_forward_same,
        description="monthly max-Sharpe walk-forward, 252-day lookback, 20 real S&P 500 stocks "
        "(medium: 10 years, 120 rebalances)",
        tolerance=WALK_TOL,
        units=_walk_units,
        unit="rebalances",
    ),
}
