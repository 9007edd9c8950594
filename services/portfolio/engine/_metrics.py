"""Risk and performance measures as plain functions of a return series.

Returns are simple per-period returns (1-D array or Series). Annualisation uses ``periods_per_year``
(252 for exchange days, 365 for a 24/7 market). Losses (VaR, CVaR, drawdown) are positive numbers.
Historical VaR/CVaR, skew and kurtosis follow skfolio's definitions (tested equal); the rest are the
textbook formulas of ``docs/portfolio.md`` (the same definitions as empyrical where it has them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats
from skfolio import measures as skm

from ._enums import VarMethod
from ._returns import TRADING_DAYS, check_return_bounds
from ._summary import DOWN2, M2, M3, M4, MAX_DD, MEAN, PEAK_I, RECOVERY_I, SUM_LOG1P, TROUGH_I, series_summary
from .exceptions import PortfolioError

_EPS = float(np.finfo(float).eps)
CONFIDENCE_LEVELS = (0.95, 0.99)
"""Confidence levels reported for VaR and CVaR."""


def _arr(returns: np.ndarray | pd.Series, name: str = "returns") -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1:
        raise PortfolioError(f"{name} must be one series, got shape {r.shape}", field=name)
    if r.size < 2:
        raise PortfolioError(f"{name} needs at least 2 observations, got {r.size}", field=name)
    if not np.isfinite(r).all():
        raise PortfolioError(f"{name} contains non-finite values", field=name)
    if (r <= -1).any():
        raise PortfolioError(f"{name} contains a loss of 100 % or more ({r.min()})", field=name)
    check_return_bounds(r, name)
    return r


def _growth(sum_log1p: float, periods_per_year: int, n: int) -> float:
    """Compound annual growth rate from ``sum(log1p r)``; ``inf`` where it exceeds the float range."""
    try:
        return math.exp(sum_log1p * periods_per_year / n) - 1
    except OverflowError:
        return math.inf


def annualised_return(returns, periods_per_year: int = TRADING_DAYS) -> float:
    """Compound annual growth rate: ``prod(1 + r) ** (ppy / n) - 1``."""
    r = _arr(returns)
    return _growth(float(np.log1p(r).sum()), periods_per_year, r.size)


def annualised_volatility(returns, periods_per_year: int = TRADING_DAYS) -> float:
    """``std(r, ddof=1) * sqrt(ppy)``."""
    return float(np.std(_arr(returns), ddof=1) * math.sqrt(periods_per_year))


def sharpe_ratio(returns, risk_free_rate: float = 0.0, periods_per_year: int = TRADING_DAYS) -> float:
    """``mean(r - rf/ppy) / std(r, ddof=1) * sqrt(ppy)``; ``risk_free_rate`` is annual."""
    r = _arr(returns) - risk_free_rate / periods_per_year
    sd = np.std(r, ddof=1)
    return float(r.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else float("nan")


def sortino_ratio(returns, risk_free_rate: float = 0.0, periods_per_year: int = TRADING_DAYS) -> float:
    """``mean(r - t) * ppy / (sqrt(mean(min(r - t, 0)^2)) * sqrt(ppy))`` with target ``t = rf/ppy``."""
    r = _arr(returns) - risk_free_rate / periods_per_year
    downside = math.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    return float(r.mean() / downside * math.sqrt(periods_per_year)) if downside > 0 else float("nan")


@dataclass(frozen=True)
class Drawdown:
    """Largest peak-to-trough fall of the compounded wealth ``prod(1 + r)`` (starting wealth 1).

    ``peak`` is the last date wealth stood at its running maximum before the trough (``None`` when the
    peak is the starting wealth, before the first return), ``recovery`` the first date wealth regained
    that maximum (``None`` if never).
    """

    max_drawdown: float
    peak: pd.Timestamp | None
    trough: pd.Timestamp | None
    recovery: pd.Timestamp | None


def max_drawdown(returns: pd.Series | np.ndarray) -> Drawdown:
    """Maximum drawdown (a positive fraction) and its dates."""
    r = _arr(returns)
    index = returns.index if isinstance(returns, pd.Series) else pd.RangeIndex(r.size)
    wealth = np.concatenate([[1.0], np.cumprod(1 + r)])
    peak = np.maximum.accumulate(wealth)
    dd = 1 - wealth / peak
    t = int(np.argmax(dd))
    if dd[t] <= 0:
        return Drawdown(0.0, None, None, None)
    p = int(np.flatnonzero(wealth[:t] == peak[t])[-1])
    after = np.flatnonzero(wealth[t:] >= peak[t])
    rec = t + int(after[0]) if after.size else None

    def date(i: int | None):
        return None if i is None or i == 0 else index[i - 1]

    return Drawdown(float(dd[t]), date(p), date(t), date(rec))


def calmar_ratio(returns, periods_per_year: int = TRADING_DAYS) -> float:
    """``annualised_return / max_drawdown``."""
    mdd = max_drawdown(np.asarray(returns)).max_drawdown
    return annualised_return(returns, periods_per_year) / mdd if mdd > 0 else float("nan")


def skewness(returns) -> float:
    """Sample skewness ``m3 / m2^1.5`` (biased moments, skfolio ``skew``)."""
    return float(skm.skew(_arr(returns)))


def excess_kurtosis(returns) -> float:
    """Excess kurtosis ``m4 / m2^2 - 3`` (biased moments, skfolio ``kurtosis`` minus 3)."""
    return float(skm.kurtosis(_arr(returns)) - 3.0)


def _cornish_fisher_z(z: float, s: float, k: float) -> float:
    return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36


def value_at_risk(returns, confidence: float = 0.95, method: VarMethod = VarMethod.HISTORICAL) -> float:
    """One-period value at risk at ``confidence``, as a positive loss.

    * historical: the empirical loss quantile (skfolio ``value_at_risk``);
    * gaussian: ``-(mu + sigma * z)``, ``z = Phi^-1(1 - confidence)``, ``sigma`` with ``ddof=1``;
    * cornish_fisher: ``z`` replaced by its Cornish–Fisher expansion in skew ``S`` and excess kurtosis ``K``.
    """
    r = _arr(returns)
    _check_confidence(confidence)
    return _Moments(r).var(confidence, VarMethod(method))


def conditional_value_at_risk(
    returns, confidence: float = 0.95, method: VarMethod = VarMethod.HISTORICAL
) -> float:
    """One-period CVaR (expected shortfall) at ``confidence``, as a positive loss.

    * historical: mean of the worst ``1 - confidence`` share of losses (skfolio ``cvar``);
    * gaussian: ``-(mu - sigma * phi(z) / a)`` with ``a = 1 - confidence``;
    * cornish_fisher: ``-(mu + sigma * (1/a) * int_0^a z_cf(p) dp)``, the tail mean of the
      Cornish–Fisher quantile function, integrated in closed form through the truncated normal
      moments ``int_{-inf}^q z^k phi(z) dz``.
    """
    r = _arr(returns)
    _check_confidence(confidence)
    return _Moments(r).cvar(confidence, VarMethod(method))


@lru_cache(maxsize=64)
def _normal_tail(confidence: float) -> tuple[float, float]:
    """``(q, phi(q))`` with ``q = Phi^-1(1 - confidence)`` (scipy's ppf costs ~0.1 ms a call)."""
    q = float(stats.norm.ppf(1 - confidence))
    return q, float(stats.norm.pdf(q))


class _Moments:
    """What every VaR/CVaR method needs, computed once per series.

    That is the sorted returns, their mean, ``ddof=1`` standard deviation, skew and excess kurtosis.

    Skew, kurtosis and the historical VaR/CVaR follow skfolio's definitions exactly (the tests compare
    them with ``skfolio.measures``) but come from one pass and one sort: skfolio's general, weighted
    code path costs ~90 µs per moment and ~10 µs per tail figure, most of a light metrics request.
    """

    __slots__ = ("kurt", "mu", "sigma", "skew", "sorted", "summary")

    def __init__(self, r: np.ndarray, target: float = 0.0) -> None:
        self.summary = x = series_summary(r, target)  # also the Sortino and drawdown inputs
        mu, m2, m3, m4 = x[MEAN], x[M2], x[M3], x[M4]
        undefined = not m2 > (_EPS * mu) ** 2
        self.sorted = np.sort(r)
        self.mu, self.sigma = float(mu), math.sqrt(m2 * r.size / (r.size - 1))
        self.skew = float("nan") if undefined else float(m3 / m2**1.5)
        self.kurt = float("nan") if undefined else float(m4 / m2**2 - 3.0)

    def var(self, confidence: float, method: VarMethod) -> float:
        if method is VarMethod.HISTORICAL:
            # skfolio: the (i+1)-th smallest return, i = floor(n (1 - beta)) (with a rounding tolerance)
            n = self.sorted.size
            i = min(n - 1, math.floor((1.0 - confidence) * n + 4 * _EPS * n))
            return float(-self.sorted[i])
        z, _ = _normal_tail(confidence)
        if method is VarMethod.CORNISH_FISHER:
            z = _cornish_fisher_z(z, self.skew, self.kurt)
        return float(-(self.mu + self.sigma * z))

    def cvar(self, confidence: float, method: VarMethod) -> float:
        if method is VarMethod.HISTORICAL:
            # skfolio: the mean of the worst k = n (1 - beta) returns, the boundary one weighted in part
            x, k = self.sorted, (1.0 - confidence) * self.sorted.size
            i = max(0, int(math.ceil(k) - 1))
            return float(-x[:i].sum() / k + x[i] * (i / k - 1.0))
        a = 1 - confidence
        q, phi = _normal_tail(confidence)
        if method is VarMethod.GAUSSIAN:
            return float(-(self.mu - self.sigma * phi / a))
        s, k = self.skew, self.kurt
        m0, m1, m2, m3 = a, -phi, a - q * phi, -(q**2 + 2) * phi
        tail = m1 + (m2 - m0) * s / 6 + (m3 - 3 * m1) * k / 24 - (2 * m3 - 5 * m1) * s**2 / 36
        return float(-(self.mu + self.sigma * tail / a))


def _check_confidence(confidence: float) -> None:
    if not 0.5 <= confidence < 1:
        raise PortfolioError(f"confidence must lie in [0.5, 1), got {confidence}", field="confidence")


@dataclass(frozen=True)
class BenchmarkStats:
    """Statistics of a return series against a benchmark over the same periods."""

    beta: float
    alpha: float
    tracking_error: float
    information_ratio: float
    correlation: float


def benchmark_stats(
    returns, benchmark, risk_free_rate: float = 0.0, periods_per_year: int = TRADING_DAYS
) -> BenchmarkStats:
    """Beta, annual Jensen alpha, tracking error and information ratio.

    ``beta = cov(r, b) / var(b)`` (ddof=1); ``alpha = ppy * mean((r - rf) - beta (b - rf))``;
    ``TE = std(r - b, ddof=1) sqrt(ppy)``; ``IR = ppy * mean(r - b) / TE``.
    """
    r, b = _arr(returns), _arr(benchmark, "benchmark")
    if r.size != b.size:
        raise PortfolioError(f"benchmark has {b.size} observations, returns {r.size}", field="benchmark")
    rf = risk_free_rate / periods_per_year
    var_b = np.var(b, ddof=1)
    if not var_b > 0:
        raise PortfolioError("benchmark returns are constant", field="benchmark")
    beta = float(np.cov(r, b, ddof=1)[0, 1] / var_b)
    alpha = float(periods_per_year * np.mean((r - rf) - beta * (b - rf)))
    active = r - b
    te = float(np.std(active, ddof=1) * math.sqrt(periods_per_year))
    ir = float(periods_per_year * active.mean() / te) if te > 0 else float("nan")
    return BenchmarkStats(beta, alpha, te, ir, float(np.corrcoef(r, b)[0, 1]))


@dataclass(frozen=True)
class TailRisk:
    """One VaR or CVaR figure, labelled with its method and confidence."""

    measure: str  # "var" | "cvar"
    method: VarMethod
    confidence: float
    value: float


@dataclass(frozen=True)
class PerformanceMetrics:
    """Every measure of ``performance_metrics``; see ``docs/portfolio.md`` for the definitions."""

    n_observations: int
    periods_per_year: int
    annualised_return: float
    annualised_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: Drawdown
    calmar: float
    skew: float
    excess_kurtosis: float
    risk: tuple[TailRisk, ...]
    benchmark: BenchmarkStats | None = None


def performance_metrics(
    returns: pd.Series | np.ndarray,
    benchmark: pd.Series | np.ndarray | None = None,
    *,
    risk_free_rate: float = 0.0,
    periods_per_year: int = TRADING_DAYS,
    dates: Sequence | np.ndarray | None = None,
) -> PerformanceMetrics:
    """All the risk and performance measures of one return series (and against a benchmark).

    ``dates`` label the observations for the drawdown's dates (default: the Series' index, else positions).
    """
    r = _arr(returns)
    ppy = periods_per_year
    if not ppy > 0:
        raise PortfolioError(f"periods_per_year must be > 0, got {ppy}", field="periods_per_year")
    rf = risk_free_rate / ppy
    moments = _Moments(r, rf)
    x = moments.summary
    cagr = _growth(float(x[SUM_LOG1P]), ppy, r.size)
    downside = math.sqrt(x[DOWN2])
    index = dates if dates is not None else returns.index if isinstance(returns, pd.Series) else range(r.size)

    def date(i: float) -> pd.Timestamp | None:
        return None if i <= 0 else index[int(i) - 1]

    drawdown = (
        Drawdown(float(x[MAX_DD]), date(x[PEAK_I]), date(x[TROUGH_I]), date(x[RECOVERY_I]))
        if x[MAX_DD] > 0
        else Drawdown(0.0, None, None, None)
    )
    risk = tuple(
        TailRisk(name, method, c, fn(c, method))
        for name, fn in (("var", moments.var), ("cvar", moments.cvar))
        for method in VarMethod
        for c in CONFIDENCE_LEVELS
    )
    return PerformanceMetrics(
        n_observations=int(r.size),
        periods_per_year=ppy,
        annualised_return=cagr,
        annualised_volatility=moments.sigma * math.sqrt(ppy),
        sharpe=(moments.mu - rf) / moments.sigma * math.sqrt(ppy) if moments.sigma > 0 else float("nan"),
        sortino=(moments.mu - rf) / downside * math.sqrt(ppy) if downside > 0 else float("nan"),
        max_drawdown=drawdown,
        calmar=cagr / drawdown.max_drawdown if drawdown.max_drawdown > 0 else float("nan"),
        skew=moments.skew,
        excess_kurtosis=moments.kurt,
        risk=risk,
        benchmark=None
        if benchmark is None
        else benchmark_stats(r, benchmark, risk_free_rate, periods_per_year),
    )
