"""What the engine's arch fits share (``engine/_arch.py``, ``_optimize.arch_forecast_variance``): the
likelihood in return units and its criteria, the failure path of the full fit and of the selection grid,
and one forecast for the single fit and the rolling windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from arch import arch_model
from arch.univariate.base import ARCHModel

from services.garch.engine import SCALE, ModelSpec, fit_model, forecast_variance, score_model, window_model
from services.garch.engine._arch import Criteria, fitted_nobs


def test_criteria_are_arch_s_shifted_by_the_scaling_jacobian(sim_returns):
    res = arch_model(SCALE * sim_returns.to_numpy(), dist="t").fit(disp="off")
    c = Criteria.of(res.loglikelihood, int(res.nobs), res.num_params)
    shift = res.nobs * np.log(SCALE)
    assert c.loglik == res.loglikelihood + shift
    assert c.aic == pytest.approx(res.aic - 2 * shift, rel=1e-12)
    assert c.bic == pytest.approx(res.bic - 2 * shift, rel=1e-12)
    assert all(
        math.isnan(v) for v in (Criteria.failed().loglik, Criteria.failed().aic, Criteria.failed().bic)
    )


@pytest.mark.parametrize("mean", ["constant", "ar1"])
def test_fit_and_score_fail_alike(sim_returns, monkeypatch, mean):
    def boom(self, *_a, **_k):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(ARCHModel, "fit", boom)
    spec = ModelSpec(mean=mean)
    fit, cand = fit_model(sim_returns, spec, horizon=3), score_model(sim_returns, spec)
    expected = "fit failed: LinAlgError: singular"
    assert fit.message == cand.message == expected and not fit.converged and not cand.converged
    assert fit.nobs == cand.nobs == fitted_nobs(len(sim_returns), spec) == len(sim_returns) - (mean == "ar1")
    for value in (fit.loglik, fit.aic, fit.bic, cand.loglik, cand.aic, cand.bic, *fit.forecast_variance):
        assert math.isnan(value)
    assert len(fit.forecast_variance) == 3


@pytest.mark.parametrize(("vol", "horizon"), [("garch", 3), ("egarch", 4)])
def test_single_fit_and_window_forecast_are_one_forecast(sim_returns, vol, horizon):
    """fit_model's forecast is forecast_variance of the fitted parameters on the same sample."""
    tail = sim_returns.iloc[-500:]
    spec = ModelSpec(vol=vol, dist="t")
    fit = fit_model(tail, spec, horizon=horizon, simulations=300, seed=7)
    res = arch_model(SCALE * tail.to_numpy(), **spec.arch_kwargs()).fit(disp="off")
    model = window_model(SCALE * tail.to_numpy(), spec)
    var = forecast_variance(model, res.params.to_numpy(), horizon, spec, simulations=300, seed=7) / SCALE**2
    np.testing.assert_allclose(fit.forecast_variance, var, rtol=1e-6)
    nan = forecast_variance(model, np.full(res.params.size, np.nan), horizon, spec)
    assert nan.shape == (horizon,) and np.isnan(nan).all()
