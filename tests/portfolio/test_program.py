"""The compiled mean-variance programme of the backtests against skfolio's own fit, date by date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from skfolio.moments import LedoitWolf
from skfolio.optimization import MeanRisk, ObjectiveFunction
from skfolio.prior import EmpiricalPrior

from services.portfolio.engine import Constraints, MeanVarianceProgram, OptimizationSpec, optimize


@pytest.fixture(scope="module")
def windows(sp500_returns) -> list[pd.DataFrame]:
    """A year of history at each of 24 month ends, 2019-2020 (a calm and a crisis year)."""
    r = sp500_returns.loc["2017":"2020"]
    ends = r.index.to_series().groupby(r.index.to_period("M")).max().loc["2019-01":]
    return [r.loc[:d].iloc[-252:] for d in ends]


CASES = {
    "min_variance": (OptimizationSpec(), {}),
    "min_variance_bounded_lw": (
        OptimizationSpec(covariance="ledoit_wolf", constraints=Constraints(max_weight=0.15)),
        {"max_weights": 0.15, "prior_estimator": EmpiricalPrior(covariance_estimator=LedoitWolf())},
    ),
    "max_sharpe": (
        OptimizationSpec(objective="max_sharpe", risk_free_rate=0.01),
        {"objective_function": ObjectiveFunction.MAXIMIZE_RATIO, "risk_free_rate": 0.01 / 252},
    ),
    "max_sharpe_short": (
        OptimizationSpec(objective="max_sharpe", constraints=Constraints(min_weight=-0.1, max_weight=0.3)),
        {"objective_function": ObjectiveFunction.MAXIMIZE_RATIO, "min_weights": -0.1, "max_weights": 0.3},
    ),
}
WEIGHT_ATOL = 2e-3
"""skfolio's own solutions on 20 assets sit up to ~1.3e-3 from the optimum (its objective is worse than
ours on every date checked), so the weights are compared at 2e-3 and the objectives exactly."""


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_date_matches_skfolio(windows, case):
    spec, params = CASES[case]
    program = MeanVarianceProgram(spec, list(windows[0].columns))
    for window in windows:
        ours = program.solve(window)
        ref = MeanRisk(**params).fit(window)
        w, v = ours.weight_array(list(window.columns)), ref.weights_
        assert_allclose(w, v, atol=WEIGHT_ATOL)
        assert abs(w.sum() - 1) <= 1e-9
        assert ours.status == "optimal"
        cov = ref.prior_estimator_.return_distribution_.covariance
        if spec.objective == "min_variance":
            assert w @ cov @ w <= v @ cov @ v * (1 + 1e-7)  # at least as low a variance as skfolio's
        else:
            excess = window.mean().to_numpy() - spec.rf_per_period
            assert excess @ w / np.sqrt(w @ cov @ w) >= excess @ v / np.sqrt(v @ cov @ v) - 1e-7


def test_singular_covariance_uses_skfolios_nearest_matrix(sp500_returns):
    """20 rows for 20 assets: the sample covariance is singular; like skfolio, the programme uses the
    nearest positive-definite matrix, and its minimum variance is no higher than skfolio's."""
    window = sp500_returns.loc["2020-03"].iloc[:20]
    spec = OptimizationSpec()
    with pytest.warns(UserWarning, match="not positive definite"):
        ours = MeanVarianceProgram(spec, list(window.columns)).solve(window)
        ref = optimize(window, spec)
    assert_allclose(ours.volatility, ref.volatility, rtol=1e-4)
    assert ours.volatility <= ref.volatility * (1 + 1e-7)


def test_refuses_other_objectives(sp500_returns):
    window = sp500_returns.iloc[-100:]
    with pytest.raises(ValueError, match="solves"):
        MeanVarianceProgram(OptimizationSpec(objective="hrp"), list(window.columns)).solve(window)


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (11, 5), (43, 21)])
@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_csc_is_scipys_conversion(shape, density):
    """The programme's dense-to-CSC shortcut gives scipy's very arrays (so Clarabel solves the same QP)."""
    from scipy import sparse

    from services.portfolio.engine._program import _csc

    rng = np.random.default_rng(0)
    dense = rng.normal(size=shape) * (rng.random(shape) < density)
    ours, ref = _csc(dense), sparse.csc_matrix(dense)
    assert ours.shape == ref.shape and ours.has_sorted_indices
    for name in ("indptr", "indices", "data"):
        a, b = getattr(ours, name), getattr(ref, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
