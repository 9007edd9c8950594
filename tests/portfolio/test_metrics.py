"""Risk and performance measures, each against an independent formula written here (and skfolio's own
measure where it has one)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats
from skfolio import measures as skm

from services.portfolio.engine import (
    PortfolioError,
    VarMethod,
    annualised_return,
    annualised_volatility,
    benchmark_stats,
    calmar_ratio,
    conditional_value_at_risk,
    excess_kurtosis,
    max_drawdown,
    performance_metrics,
    sharpe_ratio,
    skewness,
    sortino_ratio,
    value_at_risk,
)

PPY = 252
RTOL = 1e-10  # closed-form identities: equal to rounding


@pytest.fixture(scope="module")
def series(sp500_returns) -> pd.Series:
    """A real, skewed, fat-tailed daily series: an equal-weight basket of five stocks, 2010-2022."""
    return sp500_returns.loc["2010":, ["AAPL", "AMD", "JPM", "XOM", "KO"]].mean(axis=1)


@pytest.fixture(scope="module")
def bench(sp500_returns) -> pd.Series:
    return sp500_returns.loc["2010":].mean(axis=1)


def test_annualised_return_is_cagr(series):
    wealth = 1.0
    for x in series:
        wealth *= 1 + x
    years = len(series) / PPY
    assert_allclose(annualised_return(series), wealth ** (1 / years) - 1, rtol=1e-9)


def test_annualised_volatility(series):
    r = series.to_numpy()
    m = sum(r) / len(r)
    var = sum((x - m) ** 2 for x in r) / (len(r) - 1)
    assert_allclose(annualised_volatility(series), math.sqrt(var * PPY), rtol=RTOL)


@pytest.mark.parametrize("rf", [0.0, 0.03], ids=["rf0", "rf3pc"])
def test_sharpe_and_sortino(series, rf):
    r = series.to_numpy() - rf / PPY
    assert_allclose(sharpe_ratio(series, rf), r.mean() / r.std(ddof=1) * math.sqrt(PPY), rtol=RTOL)
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    assert_allclose(sortino_ratio(series, rf), r.mean() * PPY / (downside * math.sqrt(PPY)), rtol=1e-9)


def test_max_drawdown_and_dates(series):
    """Reference loop over the wealth path; also skfolio's compounded max drawdown."""
    wealth, peak, peak_day, worst, worst_peak, worst_trough = 1.0, 1.0, None, 0.0, None, None
    for day, x in series.items():
        wealth *= 1 + x
        if wealth > peak:
            peak, peak_day = wealth, day
        if 1 - wealth / peak > worst:
            worst, worst_peak, worst_trough = 1 - wealth / peak, peak_day, day
    path = (1 + series).cumprod()
    top = path.loc[worst_peak] if worst_peak is not None else 1.0
    later = path.loc[worst_trough:]
    recovery = later.index[later >= top][0] if (later >= top).any() else None

    dd = max_drawdown(series)
    assert_allclose(dd.max_drawdown, worst, rtol=1e-9)
    assert_allclose(
        dd.max_drawdown, skm.max_drawdown(skm.get_drawdowns(series.to_numpy(), compounded=True)), rtol=1e-9
    )
    assert (dd.peak, dd.trough, dd.recovery) == (worst_peak, worst_trough, recovery)
    assert_allclose(calmar_ratio(series), annualised_return(series) / worst, rtol=1e-9)


def test_drawdown_from_the_first_day_and_none():
    down = pd.Series([-0.1, 0.05, 0.2], index=pd.date_range("2020-01-01", periods=3))
    dd = max_drawdown(down)
    assert dd.peak is None and dd.trough == pd.Timestamp("2020-01-01")
    assert dd.recovery == pd.Timestamp("2020-01-03")  # 0.9 * 1.05 * 1.2 = 1.134 >= 1
    assert_allclose(dd.max_drawdown, 0.1)
    assert max_drawdown(np.array([0.01, 0.02])).max_drawdown == 0.0
    # the compiled pass of performance_metrics agrees, including ties at the peak and no recovery
    ties = pd.Series([0.1, -0.1, 1 / 0.9 - 1, -0.2, 0.05], index=pd.date_range("2021-01-01", periods=5))
    for r in (down, ties, pd.Series([0.01, 0.02]), pd.Series([-0.05, -0.05])):
        assert performance_metrics(r).max_drawdown == max_drawdown(r)


def test_skew_and_kurtosis_match_scipy(series):
    assert_allclose(skewness(series), stats.skew(series, bias=True), rtol=1e-9)
    assert_allclose(excess_kurtosis(series), stats.kurtosis(series, fisher=True, bias=True), rtol=1e-9)


@pytest.mark.parametrize("confidence", [0.95, 0.99], ids=["95", "99"])
def test_historical_var_cvar(series, confidence):
    """VaR = the ceil(c n)-th smallest loss; CVaR by Rockafellar–Uryasev: VaR + E[(L - VaR)+] / (1 - c)."""
    losses = np.sort(-series.to_numpy())
    n = losses.size
    var = losses[math.ceil(confidence * n) - 1]
    cvar = var + np.maximum(losses - var, 0).sum() / ((1 - confidence) * n)
    assert_allclose(value_at_risk(series, confidence), var, rtol=RTOL)
    assert_allclose(conditional_value_at_risk(series, confidence), cvar, rtol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 10, 20, 99, 100, 101, 1000, 3271])
@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.975, 0.99])
def test_tail_figures_and_moments_equal_skfolio(n, confidence):
    """Historical VaR/CVaR, skew and kurtosis are computed from one sort and one pass; they equal
    skfolio's measures, including the sizes where n (1 - confidence) is an integer (rank rounding)."""
    r = np.random.default_rng(n).standard_t(4, size=max(n, 2)) * 0.01
    assert_allclose(value_at_risk(r, confidence), skm.value_at_risk(r, beta=confidence), rtol=1e-12)
    assert_allclose(conditional_value_at_risk(r, confidence), skm.cvar(r, beta=confidence), rtol=1e-12)
    m = performance_metrics(r)
    assert_allclose(m.skew, skm.skew(r), rtol=1e-10)
    assert_allclose(m.excess_kurtosis, skm.kurtosis(r) - 3, rtol=1e-10)


@pytest.mark.parametrize("confidence", [0.95, 0.99], ids=["95", "99"])
def test_gaussian_var_cvar(series, confidence):
    """Normal quantile and the tail mean of the normal quantile function (numerical integral)."""
    mu, sd = series.mean(), series.std(ddof=1)
    a = 1 - confidence
    assert_allclose(value_at_risk(series, confidence, "gaussian"), -stats.norm.ppf(a, mu, sd), rtol=1e-9)
    tail, _ = integrate.quad(lambda p: stats.norm.ppf(p, mu, sd), 0, a, epsabs=1e-14)
    assert_allclose(conditional_value_at_risk(series, confidence, "gaussian"), -tail / a, rtol=1e-7)


@pytest.mark.parametrize("confidence", [0.95, 0.99], ids=["95", "99"])
def test_cornish_fisher_var_cvar(series, confidence):
    """CF quantile z + (z²-1)S/6 + (z³-3z)K/24 - (2z³-5z)S²/36; CVaR = tail mean by quadrature."""
    r = series.to_numpy()
    mu, sd = r.mean(), r.std(ddof=1)
    s, k = stats.skew(r), stats.kurtosis(r)

    def quantile(p):
        z = stats.norm.ppf(p)
        return mu + sd * (z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36)

    a = 1 - confidence
    assert_allclose(value_at_risk(series, confidence, VarMethod.CORNISH_FISHER), -quantile(a), rtol=1e-9)
    tail, _ = integrate.quad(quantile, 0, a, epsabs=1e-14, limit=200)
    assert_allclose(conditional_value_at_risk(series, confidence, "cornish_fisher"), -tail / a, rtol=1e-6)


def test_benchmark_statistics_against_ols(series, bench):
    """beta and alpha are the OLS slope and (annualised) intercept of r on b (rf = 0)."""
    r, b = series.to_numpy(), bench.to_numpy()
    slope, intercept = np.polyfit(b, r, 1)
    got = benchmark_stats(r, b)
    assert_allclose(got.beta, slope, rtol=1e-9)
    assert_allclose(got.alpha, intercept * PPY, rtol=1e-8)
    active = r - b
    te = math.sqrt(sum((x - active.mean()) ** 2 for x in active) / (len(active) - 1) * PPY)
    assert_allclose(got.tracking_error, te, rtol=1e-9)
    assert_allclose(got.information_ratio, active.mean() * PPY / te, rtol=1e-9)
    assert_allclose(got.correlation, stats.pearsonr(r, b)[0], rtol=1e-9)


def test_performance_metrics_collects_everything(series, bench):
    m = performance_metrics(series, bench, risk_free_rate=0.01, periods_per_year=PPY)
    assert m.n_observations == len(series)
    # performance_metrics computes its shared moments once; each figure equals the one-measure function
    # (each tested against its formula above) and skfolio's skew/kurtosis
    assert_allclose(m.annualised_return, annualised_return(series, PPY), rtol=RTOL)
    assert_allclose(m.annualised_volatility, annualised_volatility(series, PPY), rtol=RTOL)
    assert_allclose(m.sharpe, sharpe_ratio(series, 0.01), rtol=RTOL)
    assert_allclose(m.sortino, sortino_ratio(series, 0.01, PPY), rtol=RTOL)
    assert m.max_drawdown == max_drawdown(series)
    assert_allclose(m.calmar, calmar_ratio(series, PPY), rtol=RTOL)
    assert_allclose(m.skew, skm.skew(series.to_numpy()), rtol=RTOL)
    assert_allclose(m.excess_kurtosis, skm.kurtosis(series.to_numpy()) - 3, rtol=RTOL)
    for x in m.risk:
        fn = value_at_risk if x.measure == "var" else conditional_value_at_risk
        assert_allclose(x.value, fn(series, x.confidence, x.method), rtol=RTOL)
    labels = {(x.measure, x.method.value, x.confidence) for x in m.risk}
    assert labels == {(k, v.value, c) for k in ("var", "cvar") for v in VarMethod for c in (0.95, 0.99)}
    for x in m.risk:
        assert x.value > 0
    cvar99 = {x.method: x.value for x in m.risk if x.measure == "cvar" and x.confidence == 0.99}
    var99 = {x.method: x.value for x in m.risk if x.measure == "var" and x.confidence == 0.99}
    assert all(cvar99[k] >= var99[k] for k in VarMethod)
    assert m.benchmark is not None and m.max_drawdown.trough is not None


@pytest.mark.parametrize(
    "bad",
    [np.array([0.01]), np.array([0.01, np.nan]), np.array([[0.01, 0.02]]), np.array([0.1, -1.5])],
    ids=["short", "nan", "2d", "below_minus_one"],
)
def test_bad_series(bad):
    with pytest.raises(PortfolioError):
        performance_metrics(bad)


def test_confidence_checked(series):
    with pytest.raises(PortfolioError, match="confidence"):
        value_at_risk(series, 1.0)
