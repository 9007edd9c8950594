"""Date windows of a return series: the sample a fit uses and the forecast origins a rolling run covers."""

from __future__ import annotations

from typing import Any

import pandas as pd


def window_dates(series: pd.Series, start: Any = None, end: Any = None) -> pd.Series:
    """``series`` between ``start`` and ``end`` (inclusive dates; None = open)."""
    if start is None and end is None:
        return series
    return series.loc[pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None]


def origin_bounds(
    index: pd.DatetimeIndex, start: Any = None, end: Any = None
) -> tuple[int | None, int | None]:
    """Positions of the first origin on/after ``start`` and the last on/before ``end``."""
    first = int(index.searchsorted(pd.Timestamp(start))) if start else None
    last = int(index.searchsorted(pd.Timestamp(end), side="right")) - 1 if end else None
    return first, last
