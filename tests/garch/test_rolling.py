"""Rolling out-of-sample forecasts equal direct arch fits on each window; chunks join to the whole."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from arch import arch_model
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from services.core.errors import DomainError
from services.garch.engine import (
    SCALE,
    Dist,
    ModelSpec,
    concat_rolling,
    evaluate_rolling,
    plan_rolling,
    realized_squared,
    run_rolling,
)

SPEC = ModelSpec(dist=Dist.T)  # GARCH(1,1)-t, the benchmark model
WINDOW = 180


def _direct(returns: np.ndarray, t: int, horizon: int = 1, window: int = WINDOW, spec: ModelSpec = SPEC):
    """arch's own fit on the window ending at t, with BLAS single-threaded as the engine runs it."""
    with threadpool_limits(1):
        return _direct_fit(returns, t, horizon, window, spec)


def _direct_fit(returns, t, horizon, window, spec):
    res = arch_model(SCALE * returns[t - window + 1 : t + 1], **spec.arch_kwargs()).fit(
        disp="off", show_warning=False
    )
    return res, res.forecast(horizon=horizon, reindex=False).variance.to_numpy()[-1] / SCALE**2


@pytest.fixture(scope="module")
def seed_rolling(seed_returns):
    """Cold rolling fits on the seed daily series over 60 origins spread across the sample."""
    r = seed_returns.to_numpy()
    plan = plan_rolling(r.size, SPEC, window=WINDOW, refit_every=1, horizon=3, first=1500, last=1559)
    return r, plan, run_rolling(r, SPEC, plan)


def test_rolling_forecast_equals_direct_fit_at_t(seed_rolling):
    r, _plan, res = seed_rolling
    assert res.converged.all() and res.refit.all() and not res.warm.any()
    for i in (0, 17, 33, 59):
        t = int(res.origins[i])
        direct, fc = _direct(r, t, horizon=3)
        assert_allclose(res.variance[i], fc, rtol=1e-4)
        assert_allclose(res.loglik[i], direct.loglikelihood + direct.nobs * np.log(SCALE), rtol=0, atol=1e-5)
        assert_allclose(
            res.params[i, 2:], direct.params.to_numpy()[2:], rtol=1e-3, atol=1e-4
        )  # alpha, beta, nu


def test_pieces_cut_at_refits_join_to_the_whole(seed_rolling):
    """As the Ray tasks cut a plan: contiguous rows starting at a refit (``blocks``, ``rows``)."""
    r, plan, whole = seed_rolling
    blocks = plan.blocks()
    cuts = [blocks[i * len(blocks) // 4][0] for i in range(4)] + [plan.origins.size]
    chunks = [plan.rows(a, b) for a, b in itertools.pairwise(cuts)]
    assert len(chunks) == 4 and all(c.refit[0] for c in chunks)
    assert_array_equal(np.concatenate([c.origins for c in chunks]), plan.origins)
    parts = [run_rolling(r, SPEC, c) for c in reversed(chunks)]
    joined = concat_rolling(parts)
    assert_array_equal(joined.origins, whole.origins)
    assert_array_equal(joined.variance, whole.variance)  # cold refits do not depend on chunking


def test_warm_start_matches_direct_fits(sim_returns):
    """On a well-identified series warm starts land on arch's own optimum at every refit, to the optimiser's
    tolerance: SLSQP stops when the log-likelihood changes by < 1e-6 between iterations, which on 500
    observations leaves up to ~2e-3 in log-likelihood and ~2e-3 relative in the forecast (measured)."""
    r = sim_returns.to_numpy()
    window = 500
    plan = plan_rolling(r.size, SPEC, window=window, refit_every=1, first=900, last=939)
    warm = run_rolling(r, SPEC, plan, warm_start=True)
    assert warm.warm[1:].all() and warm.converged.all()
    for i in (1, 10, 25, 39):
        _, fc = _direct(r, int(warm.origins[i]), window=window)
        assert_allclose(warm.variance[i], fc, rtol=5e-3)
    cold = run_rolling(r, SPEC, plan)
    assert_allclose(warm.variance, cold.variance, rtol=5e-3)
    assert_allclose(warm.loglik, cold.loglik, rtol=0, atol=1e-2)
    assert warm.iterations[1:].mean() < cold.iterations[1:].mean()


def test_refit_every_reuses_parameters_on_the_new_window(seed_returns):
    r = seed_returns.to_numpy()
    plan = plan_rolling(r.size, SPEC, window=WINDOW, refit_every=5, first=2000, last=2009)
    res = run_rolling(r, SPEC, plan)
    assert_array_equal(res.refit, [True, False, False, False, False] * 2)
    t = int(res.origins[3])  # forecast with the refit at origins[0], filtered through the window ending at t
    direct, _ = _direct(r, int(res.origins[0]))
    model = arch_model(SCALE * r[t - WINDOW + 1 : t + 1], **SPEC.arch_kwargs())
    fc = model.forecast(direct.params.to_numpy(), horizon=1, reindex=False).variance.to_numpy()[-1] / SCALE**2
    assert_allclose(res.variance[3], fc, rtol=1e-4)
    assert_allclose(res.params[3], res.params[0], rtol=0)


@pytest.mark.slow
def test_seed_rolling_vol_is_sane(seed_returns):
    """Rolling one-step forecasts across the whole seed series, annualised with 365, track realised vol."""
    r = seed_returns.to_numpy()
    plan = plan_rolling(r.size, SPEC, window=WINDOW, refit_every=25)
    res = run_rolling(r, SPEC, plan)
    ann = np.sqrt(res.variance[:, 0] * 365)
    realized = np.std(r, ddof=1) * np.sqrt(365)
    assert 0.5 < np.median(ann) / realized < 1.5
    assert np.nanmax(ann) < 5.0  # never the original 917 %-style blow-up
    ev = evaluate_rolling(res, r)[0]
    assert ev.n == res.origins.size - 1
    assert 0.0 < ev.mincer_zarnowitz.beta < 2.0


def test_realized_squared_alignment(seed_rolling):
    r, _, res = seed_rolling
    real = realized_squared(res, r)
    t = int(res.origins[5])
    assert_allclose(real[5], r[t + 1 : t + 4] ** 2)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window": 30}, "window"),
        ({"refit_every": 0}, "refit_every"),
        ({"horizon": 0}, "horizon"),
        ({"window": 5000}, "window"),
        ({"first": 4000}, "start"),
    ],
    ids=["window-too-short", "refit-zero", "horizon-zero", "window-longer-than-data", "no-origins"],
)
def test_bad_plans(kwargs, field):
    with pytest.raises(DomainError) as err:
        plan_rolling(3288, SPEC, **kwargs)
    assert err.value.field == field
