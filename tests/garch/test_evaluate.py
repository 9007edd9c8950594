"""Forecast-evaluation measures against statsmodels OLS and the textbook formulas."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

from services.garch.engine import evaluate, mincer_zarnowitz, mse, qlike


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    h = rng.uniform(0.5e-4, 4e-4, 400)
    r2 = h * rng.standard_t(6, 400) ** 2 * (4 / 6)
    return h, r2


def test_mincer_zarnowitz_equals_ols(data):
    h, r2 = data
    ols = sm.OLS(r2, sm.add_constant(h)).fit()
    mz = mincer_zarnowitz(h, r2)
    assert_allclose([mz.alpha, mz.beta, mz.r2], [ols.params[0], ols.params[1], ols.rsquared], rtol=1e-10)
    assert mz.n == 400


def test_losses(data):
    h, r2 = data
    assert_allclose(mse(h, r2), np.mean((r2 - h) ** 2), rtol=1e-12)
    assert_allclose(qlike(h, r2), np.mean(np.log(h) + r2 / h), rtol=1e-12)
    # QLIKE ranks like the normalised form r2/h - ln(r2/h) - 1: the difference is the same for any forecast
    norm = lambda f: np.mean(r2 / f - np.log(r2 / f) - 1)  # noqa: E731
    assert_allclose(qlike(h, r2) - norm(h), qlike(2 * h, r2) - norm(2 * h), rtol=1e-10)


def test_missing_values_are_skipped(data):
    h, r2 = data
    h2, r22 = h.copy(), r2.copy()
    h2[0], r22[1] = np.nan, np.nan
    ev = evaluate(h2, r22, step=2)
    assert ev.n == 398 and ev.step == 2
    assert_allclose(ev.mse, mse(h[2:], r2[2:]), rtol=1e-12)


def test_degenerate_regression_is_nan():
    mz = mincer_zarnowitz(np.ones(10), np.arange(10.0))
    assert np.isnan(mz.beta) and mz.n == 10
