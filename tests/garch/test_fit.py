"""`fit_model` equals a direct `arch_model(...).fit()` on the same data, with outputs in the returns' units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from numpy.testing import assert_allclose

from services.core.errors import DomainError
from services.garch.engine import SCALE, Dist, Mean, ModelSpec, Vol, fit_model

SPECS = [ModelSpec(vol=v, p=1, o=0 if v is Vol.GARCH else 1, q=1, dist=d) for v in Vol for d in Dist] + [
    ModelSpec(mean=Mean.ZERO, dist=Dist.T),
    ModelSpec(mean=Mean.AR1, vol=Vol.GJR, o=1),
    ModelSpec(p=2, q=1),
]
HORIZON = 5


@pytest.fixture(scope="module", params=SPECS, ids=lambda s: s.label.replace(" ", ""))
def pair(request, sim_returns):
    """(spec, our result, arch's result on 100 × returns)."""
    spec = request.param
    ours = fit_model(sim_returns, spec, horizon=1 if spec.vol is Vol.EGARCH else HORIZON)
    direct = arch_model(SCALE * sim_returns.to_numpy(), **spec.arch_kwargs()).fit(disp="off")
    return spec, ours, direct


def _to_scaled(spec: ModelSpec, params: dict[str, float]) -> np.ndarray:
    """Our return-unit parameters mapped back to arch's percent units."""
    out = []
    betas = sum(v for k, v in params.items() if k.startswith("beta["))
    for name, value in params.items():
        if name in ("mu", "Const"):
            value *= SCALE
        elif name == "omega":
            value = value + np.log(SCALE**2) * (1 - betas) if spec.vol is Vol.EGARCH else value * SCALE**2
        out.append(value)
    return np.array(out)


def test_params_equal_arch(pair):
    spec, ours, direct = pair
    assert list(ours.params) == list(direct.params.index)  # arch's names, arch's order
    assert_allclose(_to_scaled(spec, ours.params), direct.params.to_numpy(), rtol=1e-9, atol=1e-12)
    assert ours.converged == (direct.convergence_flag == 0)


def test_loglik_and_criteria_equal_arch(pair):
    _, ours, direct = pair
    shift = direct.nobs * np.log(SCALE)  # density of r = 100 * density of 100 r, per observation
    assert ours.nobs == direct.nobs
    assert_allclose(ours.loglik - shift, direct.loglikelihood, rtol=1e-12)
    assert_allclose(ours.aic + 2 * shift, direct.aic, rtol=1e-12)
    assert_allclose(ours.bic + 2 * shift, direct.bic, rtol=1e-12)


def test_std_errors_and_pvalues_equal_arch(pair):
    spec, ours, direct = pair
    se = np.array(list(ours.std_errors.values()))
    scale = np.array(
        [SCALE if n in ("mu", "Const") else SCALE**2 if n == "omega" else 1.0 for n in ours.params]
    )
    keep = np.array([not (n == "omega" and spec.vol is Vol.EGARCH) for n in ours.params])
    assert_allclose((se * scale)[keep], direct.std_err.to_numpy()[keep], rtol=1e-8)
    assert_allclose(
        np.array(list(ours.pvalues.values()))[keep], direct.pvalues.to_numpy()[keep], rtol=1e-6, atol=1e-12
    )


def test_params_really_in_return_units(pair, sim_returns):
    """Plugging our parameters into arch on the *unscaled* returns reproduces likelihood and volatility."""
    spec, ours, _ = pair
    fixed = arch_model(sim_returns.to_numpy(), **spec.arch_kwargs()).fix(list(ours.params.values()))
    assert_allclose(fixed.loglikelihood, ours.loglik, rtol=1e-9)
    assert_allclose(fixed.conditional_volatility[-1], ours.last_conditional_vol, rtol=1e-9)


def test_forecast_equals_arch(pair):
    _spec, ours, direct = pair
    fc = direct.forecast(horizon=ours.horizon, reindex=False).variance.to_numpy()[-1]
    assert_allclose(np.array(ours.forecast_variance) * SCALE**2, fc, rtol=1e-10)
    assert ours.annualization == 252  # business-day dates
    assert_allclose(ours.forecast_vol_annualized, np.sqrt(np.array(ours.forecast_variance) * 252), rtol=1e-12)


def test_egarch_multi_step_uses_seeded_simulation(sim_returns):
    spec = ModelSpec(vol=Vol.EGARCH, o=1, dist=Dist.T)
    a = fit_model(sim_returns, spec, horizon=10, simulations=500, seed=7)
    b = fit_model(sim_returns, spec, horizon=10, simulations=500, seed=7)
    assert a.forecast_method == "simulation" and a.simulations == 500 and a.seed == 7
    assert a.forecast_variance == b.forecast_variance  # reproducible through the seed
    direct = arch_model(SCALE * sim_returns.to_numpy(), **spec.arch_kwargs()).fit(disp="off")
    from arch.univariate import StudentsT

    rng = StudentsT(seed=np.random.default_rng(7)).simulate(direct.params.to_numpy()[-1:])
    fc = direct.forecast(horizon=10, method="simulation", simulations=500, rng=rng, reindex=False)
    assert_allclose(np.array(a.forecast_variance) * SCALE**2, fc.variance.to_numpy()[-1], rtol=1e-10)


def test_seed_daily_is_annualised_with_365_and_sane(seed_returns):
    res = fit_model(seed_returns, ModelSpec(dist=Dist.T), horizon=10)
    assert res.annualization == 365 and "7-day" in res.annualization_source
    recent = float(np.std(seed_returns.to_numpy()[-90:], ddof=1) * np.sqrt(365))
    ratio = res.forecast_vol_annualized[0] / recent
    assert 0.5 < ratio < 2.0, (res.forecast_vol_annualized[0], recent)
    assert 0.3 < res.realized_vol_annualized < 1.5  # ~72 % a year, nowhere near 917 %
    assert max(res.forecast_vol_annualized) < 1.5


def test_annualization_override(sim_returns):
    res = fit_model(sim_returns, ModelSpec(), annualization=365)
    assert res.annualization == 365 and res.annualization_source == "requested"
    assert_allclose(res.forecast_vol_annualized[0], np.sqrt(res.forecast_variance[0] * 365), rtol=1e-12)


def test_failing_fit_is_reported_not_raised():
    flat = pd.Series(np.full(300, 0.01), index=pd.bdate_range("2020-01-01", periods=300))
    res = fit_model(flat, ModelSpec(dist=Dist.T))
    assert res.converged is False
    assert res.message


@pytest.mark.parametrize(
    ("mutate", "field", "text"),
    [
        (lambda s: s.where(s.index != s.index[10]), "series", "NaN"),
        (lambda s: s.where(s.index != s.index[20], np.inf), "series", "infinite"),
        (lambda s: s.iloc[:40], "series", "too few"),
        (lambda s: s.set_axis(s.index[::-1]), "series.dates", "not strictly increasing"),
    ],
    ids=["nan", "inf", "too-few", "dates-decreasing"],
)
def test_bad_input_is_a_domain_error(sim_returns, mutate, field, text):
    with pytest.raises(DomainError, match=text) as err:
        fit_model(mutate(sim_returns), ModelSpec())
    assert err.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vol": "gjr", "o": 0}, "model.o"),
        ({"vol": "garch", "o": 1}, "model.o"),
        ({"dist": "cauchy"}, "model.dist"),
        ({"p": 0}, "model.p"),
        ({"q": 9}, "model.q"),
    ],
    ids=["gjr-without-o", "garch-with-o", "unknown-dist", "p-zero", "q-too-large"],
)
def test_bad_spec_is_a_domain_error(kwargs, field):
    with pytest.raises(DomainError) as err:
        ModelSpec(**kwargs)
    assert err.value.field == field


def test_only_arch_fitting_noise_is_silenced():
    import warnings

    from arch.utility.exceptions import ConvergenceWarning

    from services.garch.engine._fit import quiet_arch

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_arch():
            warnings.warn("did not converge", ConvergenceWarning, stacklevel=2)
            warnings.warn("overflow", RuntimeWarning, stacklevel=2)
            warnings.warn("this argument goes away", DeprecationWarning, stacklevel=2)
    assert [w.category for w in seen] == [DeprecationWarning]
