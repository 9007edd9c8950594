"""Fixtures for the intraday tests: bars from a seeded random walk (documented below), never Ray."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def random_walk_bars(
    n: int = 3000,
    seed: int = 7,
    *,
    start: str = "2023-03-01",
    freq: str = "5min",
    vol: float = 0.002,
    tz: str | None = None,
) -> pd.DataFrame:
    """OHLCV bars of a geometric random walk: log-returns N(0, ``vol``) per bar, the open equal to the
    previous close plus a small gap, highs/lows stretched by |N(0, vol/2)|, volumes uniform 1..1000."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    gap = np.exp(rng.normal(0.0, vol / 4, n))
    open_ = np.r_[100.0, close[:-1]] * gap
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    volume = rng.integers(1, 1000, n).astype(float)
    index = pd.date_range(start, periods=n, freq=freq, name="datetime", tz=tz)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def session_bars(days: int = 30, seed: int = 11) -> pd.DataFrame:
    """Exchange-session bars: 78 five-minute bars 09:30–15:55 New York time on business days."""
    stamps = []
    for day in pd.bdate_range("2023-05-01", periods=days):
        stamps.append(pd.date_range(day + pd.Timedelta("9h30min"), periods=78, freq="5min"))
    index = pd.DatetimeIndex(np.concatenate([s.values for s in stamps])).tz_localize("America/New_York")
    df = random_walk_bars(len(index), seed)
    return df.set_axis(index.rename("datetime"))


@pytest.fixture(scope="module")
def bars_df() -> pd.DataFrame:
    """3,000 24/7 five-minute bars (about 10 days)."""
    return random_walk_bars()


@pytest.fixture(scope="module")
def bars(bars_df):
    from services.intraday.engine import prepare_bars

    return prepare_bars(bars_df)


@pytest.fixture(scope="module")
def sess_bars():
    """30 exchange sessions of 5-minute bars, prepared with the session calendar."""
    from services.intraday.engine import Calendar, prepare_bars

    return prepare_bars(session_bars(), Calendar.session)
