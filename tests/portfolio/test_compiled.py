"""The interactive optimisations' fast path: ``optimize_compiled`` (the compiled Clarabel QP for min_variance
and max_sharpe) against skfolio's ``optimize`` on many universes of the shipped data, every covariance
estimator and every constraint those objectives honour; the other objectives still go through skfolio;
and the service's estimation window is exactly the one it cut before (tolerances: ``reference.py``)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.core.catalog import Catalog
from services.core.errors import DomainError
from services.core.settings import get_settings
from services.portfolio import schemas as S
from services.portfolio import service as svc
from services.portfolio.engine import (
    PROGRAM_OBJECTIVES,
    Constraints,
    CovarianceMethod,
    Objective,
    OptimizationSpec,
    PortfolioError,
    build_estimator,
    build_prior,
    optimize,
    optimize_compiled,
)
from tests.portfolio.reference import OBJECTIVE_RTOL, TIGHT, TIGHT_WEIGHT_ATOL, WEIGHT_ATOL

ISSUE = ["AAPL", "MSFT", "KO", "XOM"]
"""The 4-asset body of ``POST /optimize-portfolio`` in the side-by-side comparison (issue #19)."""


@pytest.fixture(scope="module")
def catalog(data_dir) -> Catalog:
    """The shipped datasets: sp500 (skfolio's real prices) and prices (the generated data/prices.csv)."""
    return Catalog(get_settings())


def constraints(kind: str, symbols: list[str]) -> Constraints:
    n = len(symbols)
    return {
        "long_only": Constraints(),
        "capped": Constraints(max_weight=max(0.3, 1.5 / n)),
        "short": Constraints(min_weight=-0.1, max_weight=0.5),
        "per_symbol": Constraints(min_weight={symbols[0]: 0.05}, max_weight={symbols[-1]: 0.2}),
        "budget": Constraints(budget=0.8),
        "turnover": Constraints(max_turnover=0.1, current_weights={s: 1 / n for s in symbols}),
    }[kind]


CONSTRAINTS = ["long_only", "capped", "short", "per_symbol", "budget", "turnover"]
COVARIANCES = [c.value for c in CovarianceMethod]
OBJECTIVES = sorted(o.value for o in PROGRAM_OBJECTIVES)


def random_universes(catalog: Catalog, n: int, seed: int) -> list[tuple[str, pd.DataFrame]]:
    """``n`` windows per dataset: 2-12 random symbols, 60-1500 days ending on a random date."""
    rng = np.random.default_rng(seed)
    out = []
    for ds in svc.DATASETS:
        full = svc.dataset_returns(catalog, ds)
        for _ in range(n):
            symbols = [str(s) for s in rng.choice(full.columns, int(rng.integers(2, 13)), replace=False)]
            complete = full[symbols].dropna()
            length = int(rng.choice([60, 252, 756, 1500]))
            stop = int(rng.integers(min(length, len(complete)), len(complete) + 1))
            out.append((ds, complete.iloc[max(0, stop - length) : stop]))
    return out


def assert_matches_skfolio(window: pd.DataFrame, spec: OptimizationSpec) -> None:
    """``optimize_compiled`` gives skfolio's answer: the same errors, or weights within WEIGHT_ATOL, the
    objective at least as good and equal to OBJECTIVE_RTOL, and statistics that are those of its weights."""
    try:
        ref = optimize(window, spec)
    except PortfolioError as err:
        with pytest.raises(type(err)) as got:
            optimize_compiled(window, spec)
        assert str(got.value) == str(err) and got.value.field == err.field
        return
    ours = optimize_compiled(window, spec)
    symbols = list(window.columns)
    assert ours.solver == "clarabel" and ref.solver == "skfolio"
    w, v = ours.weight_array(symbols), ref.weight_array(symbols)
    assert_allclose(w, v, atol=WEIGHT_ATOL, rtol=0)
    assert abs(w.sum() - spec.constraints.budget) <= 1e-9
    lo, hi = spec.constraints.bounds(symbols)
    assert (w >= lo - 1e-8).all() and (w <= hi + 1e-8).all()  # clipped, then rescaled to the budget
    if spec.constraints.max_turnover is not None:
        w0 = spec.constraints.current(symbols)
        assert (np.abs(w - w0) <= spec.constraints.max_turnover + 1e-9).all()
        assert ours.turnover == pytest.approx(float(np.abs(w - w0).sum()), abs=1e-12)
    if spec.objective is Objective.MIN_VARIANCE:
        assert ours.volatility <= ref.volatility * (1 + 1e-7)
        assert ours.volatility == pytest.approx(ref.volatility, rel=OBJECTIVE_RTOL)
    else:
        assert ours.sharpe >= ref.sharpe - 1e-7 * abs(ref.sharpe)
        assert ours.sharpe == pytest.approx(ref.sharpe, rel=OBJECTIVE_RTOL)
    # the reported statistics are those of the weights, from skfolio's own moments of the window
    dist = build_prior(spec).fit(window).return_distribution_
    ppy = spec.periods_per_year
    ret, vol = ppy * dist.mu @ w, math.sqrt(ppy * w @ dist.covariance @ w)
    assert ours.expected_return == pytest.approx(ret, rel=1e-9, abs=1e-12)
    assert ours.volatility == pytest.approx(vol, rel=1e-9)
    assert ours.sharpe == pytest.approx((ret - spec.risk_free_rate) / vol, rel=1e-9, abs=1e-12)
    for name in ("status", "objective", "covariance", "n_observations", "start", "end"):
        assert getattr(ours, name) == getattr(ref, name), name


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("covariance", COVARIANCES)
@pytest.mark.parametrize("kind", CONSTRAINTS)
def test_issue_universe_every_combination_matches_skfolio(catalog, objective, covariance, kind):
    """The 4-asset legacy body on both datasets' last three years, every objective x estimator x constraint."""
    for ds in svc.DATASETS:
        window, _ = svc.estimation_window(catalog, S.OptimizeRequest(symbols=ISSUE, dataset=ds))
        spec = OptimizationSpec(
            objective=objective,
            covariance=covariance,
            constraints=constraints(kind, ISSUE),
            risk_free_rate=0.02,
        )
        assert_matches_skfolio(window, spec)


def test_random_universes_match_skfolio(catalog):
    """48 random universes (24 per dataset), each objective with a random estimator, constraints, rate."""
    rng = np.random.default_rng(19)
    with warnings.catch_warnings():  # the short windows of many assets: skfolio's nearest-PD warning
        warnings.filterwarnings("ignore", message=".*not positive definite.*")
        for _, window in random_universes(catalog, 24, seed=19):
            symbols = list(window.columns)
            for objective in OBJECTIVES:
                spec = OptimizationSpec(
                    objective=objective,
                    covariance=str(rng.choice(COVARIANCES)),
                    constraints=constraints(str(rng.choice(CONSTRAINTS)), symbols),
                    risk_free_rate=float(rng.choice([0.0, 0.02, 0.05])),
                )
                assert_matches_skfolio(window, spec)


def test_random_universes_equal_tightly_solved_skfolio(catalog):
    """Against skfolio solved to tight tolerances, the weights agree within TIGHT_WEIGHT_ATOL: both are
    the optimum, and skfolio's default fit is the one that sits off it."""
    rng = np.random.default_rng(7)
    for _, window in random_universes(catalog, 8, seed=7):
        symbols = list(window.columns)
        for objective in OBJECTIVES:
            spec = OptimizationSpec(
                objective=objective,
                covariance=str(rng.choice(["sample", "ledoit_wolf", "ewma"])),
                constraints=constraints(str(rng.choice(["long_only", "short", "capped"])), symbols),
            )
            try:
                ours = optimize_compiled(window, spec)
            except PortfolioError:
                continue  # e.g. no asset beats the risk-free rate: the errors are compared above
            with warnings.catch_warnings():  # "Solution may be inaccurate" at tolerances this tight
                warnings.simplefilter("ignore", UserWarning)
                ref = build_estimator(spec, symbols, solver_params=TIGHT).fit(window).weights_
            assert_allclose(ours.weight_array(symbols), ref / ref.sum(), atol=TIGHT_WEIGHT_ATOL, rtol=0)


@pytest.mark.parametrize(
    "spec",
    [
        OptimizationSpec(objective="hrp"),
        OptimizationSpec(objective="herc"),
        OptimizationSpec(objective="risk_parity", constraints=Constraints(max_weight=0.5)),
        OptimizationSpec(objective="min_cvar", constraints=Constraints(max_weight=0.5)),
        OptimizationSpec(objective="max_return", target_volatility=0.3),
        OptimizationSpec(objective="inverse_volatility"),
        OptimizationSpec(objective="equal_weight"),
    ],
    ids=lambda s: s.objective.value,
)
def test_other_objectives_go_through_skfolio(catalog, monkeypatch, spec):
    """Objectives the QP does not solve: skfolio's very result, and the QP is never built."""
    import services.portfolio.engine._program as program

    def refuse(*_a, **_k):
        raise AssertionError("MeanVarianceProgram built for an objective it does not solve")

    window, _ = svc.estimation_window(catalog, S.OptimizeRequest(symbols=ISSUE))
    monkeypatch.setattr(program, "MeanVarianceProgram", refuse)
    ours = optimize_compiled(window, spec)
    assert ours.solver == "skfolio"
    assert ours == optimize(window, spec)


@pytest.mark.parametrize(
    "spec",
    [
        OptimizationSpec(constraints=Constraints(max_weight=0.2)),  # 4 x 0.2 < 1
        OptimizationSpec(constraints=Constraints(min_weight={"NOPE": 0.1})),
        OptimizationSpec(constraints=Constraints(max_turnover=0.0, current_weights={"AAPL": 0.5})),
        OptimizationSpec(objective="max_sharpe", risk_free_rate=0.9),  # no asset beats it
    ],
    ids=["infeasible_bounds", "unknown_symbol", "turnover", "no_excess_return"],
)
def test_errors_are_skfolios(catalog, spec):
    window, _ = svc.estimation_window(catalog, S.OptimizeRequest(symbols=ISSUE))
    assert_matches_skfolio(window, spec)


def test_bad_windows_are_refused_like_skfolio(catalog):
    window, _ = svc.estimation_window(catalog, S.OptimizeRequest(symbols=ISSUE))
    cash = window.assign(CASH=0.0)  # a constant price: the sample covariance is singular
    gap = window.copy()
    gap.iloc[3, 1] = np.nan
    for bad in (window.iloc[:5], gap, cash):
        for objective in OBJECTIVES:
            assert_matches_skfolio(bad, OptimizationSpec(objective=objective))


# --- the service's window ---------------------------------------------------------------------------
def test_estimation_window_is_the_universe_cut(catalog):
    """The arrays-built window equals :func:`universe` cut by its view, on random universes and dates."""
    rng = np.random.default_rng(3)
    for ds in svc.DATASETS:
        full = svc.dataset_returns(catalog, ds)
        dates = full.index
        for _ in range(40):
            symbols = [str(s) for s in rng.choice(full.columns, int(rng.integers(2, 10)), replace=False)]
            start, end = sorted(rng.choice(len(dates), 2, replace=False))
            body = {
                "symbols": symbols,
                "dataset": ds if ds == "prices" and rng.random() < 0.5 else None,
                "start": str(dates[start].date()) if rng.random() < 0.5 else None,
                "end": str(dates[end].date()) if rng.random() < 0.5 else None,
            }
            req = S.OptimizeRequest(**body)
            try:
                full_, view, dataset = svc.universe(catalog, req)
            except DomainError as err:
                with pytest.raises(DomainError, match="no common return history"):
                    svc.estimation_window(catalog, req)
                assert err.field == "end"
                continue
            window, got = svc.estimation_window(catalog, req)
            assert got == dataset
            pd.testing.assert_frame_equal(window, view.cut(full_))


def test_optimize_blocking_answers_skfolio_in_the_same_shape(catalog):
    """The v1 response of the fast path: the same fields as skfolio's response; weights and statistics
    within the stated tolerances; the same window, status and labels."""
    req = S.OptimizeRequest(symbols=ISSUE, objective="max_sharpe", risk_free_rate=0.01)
    fast = svc.optimize_blocking(catalog, req)
    full, view, dataset = svc.universe(catalog, req)
    slow = S.OptimizeResponse.of(optimize(view.cut(full), req.to_spec(252)), dataset, 252, req.risk_free_rate)
    a, b = fast.model_dump(mode="json"), slow.model_dump(mode="json")
    assert a.keys() == b.keys()
    for key in ("dataset", "start", "end", "n_observations", "periods_per_year", "status", "objective"):
        assert a[key] == b[key], key
    assert a["weights"].keys() == b["weights"].keys()
    assert_allclose(list(a["weights"].values()), list(b["weights"].values()), atol=WEIGHT_ATOL)
    assert a["sharpe"] == pytest.approx(b["sharpe"], rel=OBJECTIVE_RTOL)
