"""Optimisation engine: weights against direct skfolio fits and closed forms; constraints; errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from skfolio import RiskMeasure
from skfolio.moments import OAS, DenoiseCovariance, EmpiricalCovariance, EWCovariance, LedoitWolf
from skfolio.optimization import (
    EqualWeighted,
    HierarchicalEqualRiskContribution,
    HierarchicalRiskParity,
    InverseVolatility,
    MeanRisk,
    ObjectiveFunction,
    RiskBudgeting,
)
from skfolio.prior import EmpiricalPrior

from services.portfolio.engine import (
    WEIGHT_TOL,
    Constraints,
    CovarianceMethod,
    InfeasibleConstraintError,
    Objective,
    OptimizationSpec,
    PortfolioError,
    UnsupportedConstraintError,
    optimize,
)

WEIGHT_ATOL = 1e-5  # interior-point solver tolerance (CLARABEL) on the weights


def _weights(result, symbols):
    return np.array([result.weights[s] for s in symbols])


# --- against a direct skfolio fit on the same data ---------------------------------------------
DIRECT = {
    Objective.MIN_VARIANCE: lambda: MeanRisk(),
    Objective.MAX_SHARPE: lambda: MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO),
    Objective.MIN_CVAR: lambda: MeanRisk(risk_measure=RiskMeasure.CVAR),
    Objective.RISK_PARITY: lambda: RiskBudgeting(risk_measure=RiskMeasure.VARIANCE),
    Objective.HRP: lambda: HierarchicalRiskParity(risk_measure=RiskMeasure.VARIANCE),
    Objective.HERC: lambda: HierarchicalEqualRiskContribution(risk_measure=RiskMeasure.VARIANCE),
    Objective.INVERSE_VOLATILITY: lambda: InverseVolatility(),
    Objective.EQUAL_WEIGHT: lambda: EqualWeighted(),
}


@pytest.mark.parametrize("objective", list(DIRECT), ids=[o.value for o in DIRECT])
def test_weights_equal_direct_skfolio_fit(recent, objective):
    ours = optimize(recent, OptimizationSpec(objective=objective))
    ref = DIRECT[objective]().fit(recent).weights_
    assert_allclose(_weights(ours, list(recent.columns)), ref, atol=WEIGHT_ATOL)


def test_max_sharpe_with_risk_free_rate_equals_skfolio(recent):
    ours = optimize(recent, OptimizationSpec(objective="max_sharpe", risk_free_rate=0.04))
    ref = MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO, risk_free_rate=0.04 / 252).fit(recent)
    assert_allclose(_weights(ours, list(recent.columns)), ref.weights_, atol=WEIGHT_ATOL)


COVARIANCES = {
    CovarianceMethod.SAMPLE: EmpiricalCovariance,
    CovarianceMethod.LEDOIT_WOLF: LedoitWolf,
    CovarianceMethod.OAS: OAS,
    CovarianceMethod.EWMA: lambda: EWCovariance(half_life=40),
    CovarianceMethod.DENOISED: DenoiseCovariance,
}


@pytest.mark.parametrize("method", list(COVARIANCES), ids=[m.value for m in COVARIANCES])
def test_covariance_estimator_and_reported_statistics(recent, method):
    """Weights match skfolio with that estimator; return/vol/Sharpe are annualised from its moments."""
    ours = optimize(recent, OptimizationSpec(covariance=method, risk_free_rate=0.02))
    prior = EmpiricalPrior(covariance_estimator=COVARIANCES[method]())
    ref = MeanRisk(prior_estimator=prior).fit(recent)
    w = _weights(ours, list(recent.columns))
    assert_allclose(w, ref.weights_, atol=WEIGHT_ATOL)
    cov = COVARIANCES[method]().fit(recent).covariance_
    mu = recent.mean().to_numpy()
    assert_allclose(ours.volatility, math.sqrt(252 * w @ cov @ w), rtol=1e-12)
    assert_allclose(ours.expected_return, 252 * mu @ w, rtol=1e-12)
    assert_allclose(ours.sharpe, (ours.expected_return - 0.02) / ours.volatility, rtol=1e-12)


# --- closed forms (unconstrained, short allowed) ------------------------------------------------
@pytest.fixture(scope="module")
def small(recent) -> pd.DataFrame:
    return recent[["JNJ", "KO", "PG", "XOM"]]


FREE = Constraints(min_weight=-10.0, max_weight=10.0)


def test_min_variance_equals_closed_form(small):
    """Global minimum variance: w = S^-1 1 / (1' S^-1 1) with the sample covariance (ddof=1)."""
    cov = np.cov(small.to_numpy(), rowvar=False, ddof=1)
    x = np.linalg.solve(cov, np.ones(4))
    ours = optimize(small, OptimizationSpec(constraints=FREE))
    assert_allclose(_weights(ours, list(small.columns)), x / x.sum(), atol=WEIGHT_ATOL)
    assert_allclose(ours.volatility, math.sqrt(252 / x.sum()), rtol=1e-6)


def test_max_sharpe_equals_tangency_portfolio(small):
    """Tangency portfolio: w = S^-1 (mu - rf) / 1' S^-1 (mu - rf), Sharpe = sqrt(ppy (mu-rf)' S^-1 (mu-rf)).

    The Sharpe ratio is flat around its maximum, so the solver's weights agree to 5e-4 while the
    ratio itself agrees to 1e-7.
    """
    cov = np.cov(small.to_numpy(), rowvar=False, ddof=1)
    excess = small.mean().to_numpy() - 0.01 / 252
    x = np.linalg.solve(cov, excess)
    ours = optimize(small, OptimizationSpec(objective="max_sharpe", constraints=FREE, risk_free_rate=0.01))
    assert_allclose(_weights(ours, list(small.columns)), x / x.sum(), atol=5e-4)
    assert_allclose(ours.sharpe, math.sqrt(252 * excess @ x), rtol=1e-7)


def test_max_return_sits_on_the_target_volatility(recent):
    ours = optimize(recent, OptimizationSpec(objective="max_return", target_volatility=0.22))
    assert ours.status == "optimal"
    assert_allclose(ours.volatility, 0.22, rtol=1e-5)
    ref = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_RETURN, max_standard_deviation=0.22 / math.sqrt(252)
    ).fit(recent)
    assert_allclose(_weights(ours, list(recent.columns)), ref.weights_, atol=WEIGHT_ATOL)


# --- weights and constraints --------------------------------------------------------------------
@pytest.mark.parametrize("objective", list(Objective), ids=[o.value for o in Objective])
def test_weights_sum_to_one(recent, objective):
    spec = OptimizationSpec(objective=objective, target_volatility=0.25)
    result = optimize(recent, spec)
    assert abs(sum(result.weights.values()) - 1.0) <= WEIGHT_TOL
    assert list(result.weights) == list(recent.columns)
    assert result.status in {"optimal", "closed_form"}


def test_per_asset_bounds_and_bounded_short(recent):
    c = Constraints(min_weight={"AAPL": -0.10, "MSFT": -0.05}, max_weight=0.15)
    spec = OptimizationSpec(objective="max_sharpe", constraints=c)
    result = optimize(recent, spec)
    w = pd.Series(result.weights)
    assert w.max() <= 0.15 + 1e-9
    assert w.drop(["AAPL", "MSFT"]).min() >= -1e-9
    assert w["AAPL"] >= -0.10 - 1e-9 and w["MSFT"] >= -0.05 - 1e-9
    ref = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
        min_weights={"AAPL": -0.10, "MSFT": -0.05},
        max_weights=0.15,
    ).fit(recent)
    assert_allclose(w.to_numpy(), ref.weights_, atol=WEIGHT_ATOL)


def test_budget(recent):
    result = optimize(recent, OptimizationSpec(constraints=Constraints(budget=0.8)))
    assert abs(sum(result.weights.values()) - 0.8) <= WEIGHT_TOL


def test_max_turnover_bounds_each_change(recent):
    current = {s: 1 / 20 for s in recent.columns}
    c = Constraints(max_turnover=0.02, current_weights=current)
    result = optimize(recent, OptimizationSpec(objective="max_sharpe", constraints=c))
    change = np.abs(np.array([result.weights[s] - current[s] for s in recent.columns]))
    assert change.max() <= 0.02 + 1e-7
    assert_allclose(result.turnover, change.sum(), rtol=1e-12)
    free = optimize(recent, OptimizationSpec(objective="max_sharpe"))
    assert free.sharpe > result.sharpe  # the constraint binds


# --- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (OptimizationSpec(constraints=Constraints(max_weight=0.04)), "constraints.max_weight"),
        (OptimizationSpec(constraints=Constraints(min_weight=0.06)), "constraints.min_weight"),
        (
            OptimizationSpec(constraints=Constraints(min_weight={"AAPL": 0.3}, max_weight={"AAPL": 0.2})),
            "constraints.min_weight",
        ),
        (
            OptimizationSpec(
                constraints=Constraints(
                    max_weight=0.1, max_turnover=0.01, current_weights={"AAPL": 0.5, "MSFT": 0.5}
                )
            ),
            "constraints.max_turnover",
        ),
        (OptimizationSpec(objective="max_return", target_volatility=0.05), "target_volatility"),
        (OptimizationSpec(objective="max_sharpe", risk_free_rate=0.9), "risk_free_rate"),
    ],
    ids=["max_weight_sum", "min_weight_sum", "crossed_bounds", "turnover", "target_vol", "rf_above_all"],
)
def test_infeasible_constraint_is_named(recent, spec, field):
    with pytest.raises(InfeasibleConstraintError) as err:
        optimize(recent, spec)
    assert err.value.field == field


def test_unsupported_constraint_is_named():
    with pytest.raises(UnsupportedConstraintError) as err:
        OptimizationSpec(
            objective="hrp", constraints=Constraints(max_turnover=0.1, current_weights={"A": 1.0})
        )
    assert err.value.field == "constraints.max_turnover"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"objective": "max_return"}, "target_volatility"),
        ({"cvar_confidence": 1.0}, "cvar_confidence"),
        ({"objective": "nope"}, None),
    ],
    ids=["no_target", "confidence", "unknown_objective"],
)
def test_bad_spec(kwargs, field):
    with pytest.raises(ValueError) as err:
        OptimizationSpec(**kwargs)
    assert getattr(err.value, "field", None) == field


def test_bad_returns(recent):
    with pytest.raises(PortfolioError, match="at least"):
        optimize(recent.iloc[:5])
    broken = recent.copy()
    broken.iloc[3, 2] = np.nan
    with pytest.raises(PortfolioError, match="missing"):
        optimize(broken)
    with pytest.raises(PortfolioError, match="outside the universe"):
        optimize(recent, OptimizationSpec(constraints=Constraints(max_weight={"ZZZZ": 0.5})))
