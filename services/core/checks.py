"""Input checks shared by the engines, the request shapes and the file readers.

Pure numpy/pandas raising :class:`DomainError` with the field and the rows at fault: no Ray, no HTTP, no
settings, so an engine may import it (``tests/core/test_layers.py`` holds the engines to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from services.core.exceptions import DomainError

MAX_ABS_RETURN = 100.0
"""The largest |return| accepted for one period, as a decimal (10,000 %): far beyond any market's, and the
bound keeps moments, compounding and a GARCH fit's squared, scaled returns finite (1e308 overflows them)."""


def rows_where(mask: np.ndarray, limit: int = 10) -> list[int]:
    """The first ``limit`` row numbers where ``mask`` holds."""
    return np.flatnonzero(mask)[:limit].tolist()


def check_return_bounds(values: np.ndarray, field: str, *, error: type[DomainError] = DomainError) -> None:
    """Raise ``error`` naming ``field`` and the rows (first axis) where ``|r| > MAX_ABS_RETURN``."""
    bad = np.abs(np.asarray(values, dtype=float)) > MAX_ABS_RETURN
    rows = np.flatnonzero(bad.any(axis=1) if bad.ndim == 2 else bad)
    if rows.size:
        raise error(
            f"{rows.size} row(s) of returns beyond ±{MAX_ABS_RETURN:g} (±{MAX_ABS_RETURN:.0%} in one period; "
            f"returns are decimals, 0.01 = 1 %) at rows {rows[:10].tolist()}",
            field=field,
            rows=rows[:100].tolist(),
        )


def check_increasing(
    stamps: Sequence[datetime] | pd.DatetimeIndex,
    field: str = "dates",
    *,
    error: type[DomainError] = DomainError,
) -> None:
    """Raise ``error`` naming ``field`` and the rows where ``stamps`` repeat or go back in time (a timestamp
    with a timezone is compared in UTC)."""
    idx = pd.DatetimeIndex(stamps)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    diffs = np.diff(idx.asi8)
    for bad, what in (
        (diffs == 0, "duplicate timestamps"),
        (diffs < 0, "timestamps not strictly increasing"),
    ):
        if bad.any():
            rows = (np.flatnonzero(bad) + 1).tolist()
            first = rows[0]
            raise error(
                f"{what} at rows {rows[:10]} (e.g. {idx[first - 1]} then {idx[first]})",
                field=field,
                rows=rows[:100],
            )


def validate_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Check OHLCV bars (index = time); raise :class:`DomainError` naming the rows. Returns ``bars``."""
    check_increasing(bars.index, "datetime")
    values = bars[["open", "high", "low", "close"]].to_numpy()
    volume = bars["volume"].to_numpy()
    if not np.isfinite(values).all() or not np.isfinite(volume).all():
        rows = rows_where(
            ~np.isfinite(bars[["open", "high", "low", "close", "volume"]].to_numpy()).all(axis=1)
        )
        raise DomainError(f"non-finite values at rows {rows}", field="bars", rows=rows)
    neg = rows_where((values <= 0).any(axis=1))
    if neg:
        raise DomainError(f"prices must be positive; rows {neg}", field="bars", rows=neg)
    o, h, low, c = values.T
    inverted = rows_where(h < low)
    if inverted:
        raise DomainError(f"high < low at rows {inverted}", field="high", rows=inverted)
    outside = rows_where((h < np.maximum(o, c)) | (low > np.minimum(o, c)))
    if outside:
        raise DomainError(f"open/close outside [low, high] at rows {outside}", field="bars", rows=outside)
    negative = rows_where(volume < 0)
    if negative:
        raise DomainError(f"negative volume at rows {negative}", field="volume", rows=negative)
    return bars
