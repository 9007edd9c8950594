"""The daily volatility regime signal the intraday strategy consumes.

At each forecast origin ``t`` (after the close of day ``t``):

* ``forecast_t`` — the model's one-step variance forecast for day ``t+1`` (a rolling out-of-sample fit);
* ``realized_t`` — the sample variance of the last ``realized_window`` returns up to ``t`` (ddof 1);
* ``premium_t = (forecast_t - realized_t) / realized_t`` — how far the forecast sits above recent realised
  variance, as a fraction;
* ``zscore_t = premium_t / std(premium over the last std_window origins)`` — the premium in units of its
  own recent variability (not demeaned, as in the course strategy this project grew from);
* ``signal_t = +1`` if ``zscore_t > threshold`` (volatility expected to rise above its recent level),
  ``-1`` if ``zscore_t < -threshold`` (expected to fall), else ``0``. The default threshold is 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.core.exceptions import DomainError

from ._rolling import DEFAULT_WINDOW

THRESHOLD = 1.0


@dataclass(frozen=True)
class RegimeSignal:
    """Signal series aligned with ``origins`` (NaN/0 where the history is too short)."""

    origins: np.ndarray
    forecast: np.ndarray
    realized: np.ndarray
    premium: np.ndarray
    premium_std: np.ndarray
    zscore: np.ndarray
    signal: np.ndarray
    threshold: float
    realized_window: int
    std_window: int


def regime_signal(
    returns: np.ndarray,
    origins: np.ndarray,
    forecast: np.ndarray,
    *,
    realized_window: int = DEFAULT_WINDOW,
    std_window: int = DEFAULT_WINDOW,
    threshold: float = THRESHOLD,
) -> RegimeSignal:
    """Compute the signal from one-step variance forecasts made at consecutive ``origins`` of ``returns``."""
    if realized_window < 2:
        raise DomainError(f"realized_window={realized_window} must be at least 2", field="realized_window")
    if std_window < 2:
        raise DomainError(f"std_window={std_window} must be at least 2", field="std_window")
    if threshold <= 0:
        raise DomainError(f"threshold={threshold} must be positive", field="threshold")
    r = pd.Series(np.asarray(returns, dtype=float))
    realized = r.rolling(realized_window).var(ddof=1).to_numpy()[origins]
    f = np.asarray(forecast, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        premium = np.where(realized > 0, (f - realized) / realized, np.nan)
    premium_std = pd.Series(premium).rolling(std_window).std(ddof=1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(premium_std > 0, premium / premium_std, np.nan)
    signal = np.where(z > threshold, 1, np.where(z < -threshold, -1, 0)).astype(int)
    return RegimeSignal(
        origins=np.asarray(origins),
        forecast=f,
        realized=realized,
        premium=premium,
        premium_std=premium_std,
        zscore=z,
        signal=signal,
        threshold=float(threshold),
        realized_window=realized_window,
        std_window=std_window,
    )
