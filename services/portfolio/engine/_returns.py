"""Turning a wide price panel into the returns the optimiser and the backtests read.

Everything in the engine works on a *wide* frame: a sorted ``DatetimeIndex`` (one row per trading
day) and one column per symbol. Returns are simple (linear) returns, as skfolio expects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from services.core.checks import check_increasing
from services.core.checks import check_return_bounds as _check_return_bounds

from .exceptions import PortfolioError

TRADING_DAYS = 252
"""Periods per year of an exchange-day panel (the 24/7 seed series uses 365)."""

MIN_OBSERVATIONS = 20
"""Fewest return rows an estimate may rest on."""


def check_return_bounds(values: np.ndarray, field: str) -> None:
    """:func:`services.core.checks.check_return_bounds`, raising :class:`PortfolioError`."""
    _check_return_bounds(values, field, error=PortfolioError)


def prices_to_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Compute simple returns of a wide price panel.

    Parameters
    ----------
    prices : DataFrame of shape (n_days, n_symbols)
        Positive prices, date index, one column per symbol. Leading NaNs (late listings) are allowed;
        a row is dropped once any symbol lacks a return on it.

    Returns
    -------
    DataFrame of shape (n_days - 1 or fewer, n_symbols)
        ``p_t / p_{t-1} - 1``, rows with any missing value dropped.
    """
    check_panel(prices, field="prices")
    bad = (prices <= 0).to_numpy() & prices.notna().to_numpy()
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise PortfolioError(
            f"prices must be positive; {prices.columns[col]} is {prices.iat[row, col]} on "
            f"{prices.index[row].date()}",
            field="prices",
        )
    returns = prices.pct_change(fill_method=None).iloc[1:]
    return returns.dropna(how="any")


def check_panel(frame: pd.DataFrame, *, field: str = "returns") -> None:
    """Reject frames the engine cannot read: wrong index, duplicate symbols, no rows."""
    if not isinstance(frame, pd.DataFrame):
        raise PortfolioError(f"{field} must be a DataFrame, got {type(frame).__name__}", field=field)
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise PortfolioError(
            f"{field} must have a DatetimeIndex, got {type(frame.index).__name__}", field=field
        )
    check_increasing(frame.index, field, error=PortfolioError)
    dup = frame.columns[frame.columns.duplicated()]
    if len(dup):
        raise PortfolioError(f"{field} has duplicate symbols: {list(dup)}", field=field)
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise PortfolioError(f"{field} is empty (shape {frame.shape})", field=field)


def select_returns(
    returns: pd.DataFrame,
    symbols: Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    *,
    min_observations: int = MIN_OBSERVATIONS,
) -> pd.DataFrame:
    """Select the returns of ``symbols`` between ``start`` and ``end`` (inclusive), checked for estimation.

    Raises
    ------
    PortfolioError
        Unknown symbols (all listed), missing values in the window, or fewer than ``min_observations`` rows.
    """
    check_panel(returns)
    if symbols is not None:
        symbols = list(symbols)
        if len(set(symbols)) != len(symbols):
            raise PortfolioError(f"symbols contains duplicates: {symbols}", field="symbols")
        unknown = [s for s in symbols if s not in returns.columns]
        if unknown:
            raise PortfolioError(f"unknown symbols {unknown}", field="symbols")
        returns = returns[symbols]
    window = returns.loc[start:end]
    if window.isna().any().any():
        gaps = window.columns[window.isna().any()].tolist()
        raise PortfolioError(f"missing returns between {start} and {end} for {gaps}", field="symbols")
    if len(window) < min_observations:
        raise PortfolioError(
            f"{len(window)} return observations between {start} and {end}; at least {min_observations} needed",
            field="start",
        )
    if not np.isfinite(window.to_numpy()).all():
        raise PortfolioError("returns contain non-finite values", field="returns")
    return window
