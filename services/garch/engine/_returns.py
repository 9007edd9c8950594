"""Returns from prices, input validation and the annualisation factor read off the data's calendar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.core.checks import MAX_ABS_RETURN, check_increasing, check_return_bounds
from services.core.exceptions import DomainError

from ._spec import ReturnKind

CALENDAR_DAYS = 365
EXCHANGE_DAYS = 252
WEEKEND_SHARE = 0.10
"""A daily series with at least this share of Saturday/Sunday observations trades every calendar day."""


@dataclass(frozen=True)
class Annualization:
    """Periods per year used to annualise variances (``vol_annual = sqrt(var * periods)``)."""

    periods: int
    source: str


def check_series(values: pd.Series, field: str) -> pd.Series:
    """Validate a numeric series: finite values, strictly increasing dates when it has a date index.

    Raises
    ------
    DomainError
        naming ``field`` and the first offending rows.
    """
    arr = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        kind = "NaN" if np.isnan(arr[bad[0]]) else "infinite"
        raise DomainError(
            f"{bad.size} non-finite value(s) ({kind} at row {int(bad[0])}); rows {bad[:10].tolist()}",
            field=field,
            rows=bad[:100].tolist(),
        )
    if isinstance(values.index, pd.DatetimeIndex):
        check_increasing(values.index, f"{field}.dates")
    return pd.Series(arr, index=values.index, name=values.name)


def check_returns(returns: pd.Series, field: str) -> pd.Series:
    """:func:`check_series` plus the bound ``|r| <= MAX_ABS_RETURN`` (returns are decimals: 0.01 = 1 %)."""
    returns = check_series(returns, field)
    check_return_bounds(returns.to_numpy(), field)
    return returns


def to_returns(
    prices: pd.Series, kind: ReturnKind | str = ReturnKind.LOG, field: str = "prices"
) -> pd.Series:
    """Log or simple returns of a price series (the first date is dropped).

    Prices must be finite and strictly positive, with no step between them beyond ``MAX_ABS_RETURN``;
    dates (if any) strictly increasing.
    """
    kind = ReturnKind(kind)
    prices = check_series(prices, field)
    bad = np.flatnonzero(prices.to_numpy() <= 0)
    if bad.size:
        raise DomainError(
            f"prices must be positive; {prices.iloc[bad[0]]!r} at row {int(bad[0])}",
            field=field,
            rows=bad[:100].tolist(),
        )
    values = prices.to_numpy()
    with np.errstate(over="ignore"):  # 1e300 after 1e-300: an infinite simple return, rejected below
        ret = np.diff(np.log(values)) if kind is ReturnKind.LOG else values[1:] / values[:-1] - 1.0
    bad = np.flatnonzero(~(np.abs(ret) <= MAX_ABS_RETURN)) + 1
    if bad.size:
        raise DomainError(
            f"prices jump by a {kind.value} return beyond ±{MAX_ABS_RETURN:g} (±{MAX_ABS_RETURN:.0%}) at rows "
            f"{bad[:10].tolist()} (e.g. {values[bad[0] - 1]!r} then {values[bad[0]]!r})",
            field=field,
            rows=bad[:100].tolist(),
        )
    return pd.Series(ret, index=prices.index[1:], name=prices.name)


def require_obs(n: int, needed: int, what: str, field: str = "series") -> None:
    """Raise a :class:`DomainError` when fewer than ``needed`` observations are available."""
    if n < needed:
        raise DomainError(f"{n} observations are too few for {what}: need at least {needed}", field=field)


def detect_annualization(index: pd.Index, override: int | None = None) -> Annualization:
    """Periods per year from the dates: 365 for a 7-day calendar, 252 for exchange days.

    A series trades every calendar day when at least ``WEEKEND_SHARE`` (10 %) of its dates fall on a
    weekend (an exchange-day series has none; a 24/7 series has 2/7 ≈ 29 %). ``override`` wins.
    """
    if override is not None:
        if override < 1:
            raise DomainError(
                f"annualization={override} must be a positive number of periods", field="annualization"
            )
        return Annualization(int(override), "requested")
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        return Annualization(EXCHANGE_DAYS, "default: no dates to detect a calendar from")
    share = float(np.mean(index.dayofweek >= 5))
    if share >= WEEKEND_SHARE:
        return Annualization(CALENDAR_DAYS, f"detected: 7-day calendar ({share:.0%} of dates on weekends)")
    return Annualization(EXCHANGE_DAYS, f"detected: exchange days ({share:.0%} of dates on weekends)")
