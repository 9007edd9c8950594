"""Forecast evaluation against realised squared returns: MSE, QLIKE, Mincer–Zarnowitz."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _pairs(forecast: np.ndarray, realized: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f, r = np.asarray(forecast, dtype=float), np.asarray(realized, dtype=float)
    keep = np.isfinite(f) & np.isfinite(r) & (f > 0)
    return f[keep], r[keep]


def mse(forecast: np.ndarray, realized: np.ndarray) -> float:
    """Mean squared error ``mean((r2 - h)^2)`` of variance forecasts ``h`` against realised ``r2``."""
    f, r = _pairs(forecast, realized)
    return float(np.mean((r - f) ** 2)) if f.size else float("nan")


def qlike(forecast: np.ndarray, realized: np.ndarray) -> float:
    """QLIKE loss ``mean(ln h + r2 / h)`` (Patton 2011; robust to a noisy proxy, defined for r2 = 0).

    This form differs from ``r2/h - ln(r2/h) - 1`` only by a term in ``r2`` alone, so it ranks forecasts
    identically; lower is better.
    """
    f, r = _pairs(forecast, realized)
    return float(np.mean(np.log(f) + r / f)) if f.size else float("nan")


@dataclass(frozen=True)
class MincerZarnowitz:
    """OLS ``r2_t = alpha + beta * h_t + e_t``; an unbiased forecast has alpha = 0, beta = 1."""

    alpha: float
    beta: float
    r2: float
    n: int


def mincer_zarnowitz(forecast: np.ndarray, realized: np.ndarray) -> MincerZarnowitz:
    """Mincer–Zarnowitz regression of realised squared returns on variance forecasts."""
    f, r = _pairs(forecast, realized)
    nan = float("nan")
    if f.size < 3 or np.ptp(f) == 0:
        return MincerZarnowitz(nan, nan, nan, int(f.size))
    fc, rc = f - f.mean(), r - r.mean()
    sxx, sxy, syy = float(fc @ fc), float(fc @ rc), float(rc @ rc)
    beta = sxy / sxx
    alpha = float(r.mean() - beta * f.mean())
    r2 = sxy * sxy / (sxx * syy) if syy > 0 else nan
    return MincerZarnowitz(alpha, beta, r2, int(f.size))


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of the h-step variance forecasts over the origins whose target has been realised."""

    step: int
    n: int
    mse: float
    qlike: float
    mincer_zarnowitz: MincerZarnowitz


def evaluate(forecast: np.ndarray, realized: np.ndarray, step: int = 1) -> Evaluation:
    """All measures for one forecast step."""
    mz = mincer_zarnowitz(forecast, realized)
    return Evaluation(step, mz.n, mse(forecast, realized), qlike(forecast, realized), mz)
