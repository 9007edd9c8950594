"""Each indicator equals a plain pandas/numpy reference on the same bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.intraday.engine import (
    atr,
    bollinger,
    ema,
    momentum,
    prior_high,
    prior_low,
    rsi,
    sma,
    vwap,
    zscore,
)

RTOL = 1e-10
WINDOWS = [1, 2, 5, 14, 50]


@pytest.fixture(scope="module")
def df(bars_df):
    return bars_df.iloc[:1200]


def wilder_reference(x: pd.Series, window: int, first: int) -> pd.Series:
    """Wilder's RMA: the mean of the first ``window`` values from ``first`` as seed, then
    ``ewm(alpha=1/window, adjust=False)`` over the rest."""
    vals = x.iloc[first:].reset_index(drop=True)
    seeded = pd.concat([pd.Series([vals.iloc[:window].mean()]), vals.iloc[window:]], ignore_index=True)
    smooth = seeded.ewm(alpha=1.0 / window, adjust=False).mean()
    out = pd.Series(np.nan, index=range(len(x)))
    out.iloc[first + window - 1 :] = smooth.to_numpy()
    return out


def window_std(x: pd.Series, w: int) -> pd.Series:
    """Population std of each full window by numpy's two-pass ``std`` (pandas' online rolling std drifts
    by ~1e-9 relative on narrow windows, more than the tolerance here)."""
    out = np.full(len(x), np.nan)
    out[w - 1 :] = np.lib.stride_tricks.sliding_window_view(x.to_numpy(), w).std(axis=1)
    return pd.Series(out, index=x.index)


@pytest.mark.parametrize("w", WINDOWS, ids=lambda w: f"w{w}")
def test_sma(df, w):
    assert_allclose(sma(df["close"].to_numpy(), w), df["close"].rolling(w).mean().to_numpy(), rtol=RTOL)


@pytest.mark.parametrize("w", WINDOWS, ids=lambda w: f"w{w}")
def test_ema(df, w):
    ref = df["close"].ewm(span=w, adjust=False, min_periods=w).mean()
    assert_allclose(ema(df["close"].to_numpy(), w), ref.to_numpy(), rtol=RTOL)


@pytest.mark.parametrize("w", [2, 14, 20], ids=lambda w: f"w{w}")
def test_rsi_wilder(df, w):
    d = df["close"].diff().reset_index(drop=True)
    gain = wilder_reference(d.clip(lower=0), w, 1)
    loss = wilder_reference(-d.clip(upper=0), w, 1)
    ref = 100 - 100 / (1 + gain / loss)
    got = rsi(df["close"].to_numpy(), w)
    assert np.isnan(got[:w]).all() and not np.isnan(got[w:]).any()
    assert_allclose(got, ref.to_numpy(), rtol=RTOL)


def test_rsi_edge_values():
    up = np.arange(1.0, 30.0)
    assert_allclose(rsi(up, 14)[14:], 100.0)
    assert_allclose(rsi(np.full(30, 5.0), 14)[14:], 50.0)


@pytest.mark.parametrize("w,k", [(20, 2.0), (10, 1.5), (2, 3.0)], ids=["20x2", "10x1.5", "2x3"])
def test_bollinger(df, w, k):
    mid = df["close"].rolling(w).mean()
    sd = window_std(df["close"], w)
    lo, m, up = bollinger(df["close"].to_numpy(), w, k)
    assert_allclose(m, mid.to_numpy(), rtol=RTOL)
    assert_allclose(up, (mid + k * sd).to_numpy(), rtol=RTOL)
    assert_allclose(lo, (mid - k * sd).to_numpy(), rtol=RTOL)


@pytest.mark.parametrize("w", [5, 20], ids=lambda w: f"w{w}")
def test_zscore(df, w):
    x = df["close"]
    ref = (x - x.rolling(w).mean()) / window_std(x, w)
    assert_allclose(zscore(x.to_numpy(), w), ref.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("w", [1, 14], ids=lambda w: f"w{w}")
def test_atr_wilder(df, w):
    prev = df["close"].shift()
    tr = pd.concat([df["high"] - df["low"], (df["high"] - prev).abs(), (df["low"] - prev).abs()], axis=1).max(
        axis=1
    )
    tr.iloc[0] = df["high"].iloc[0] - df["low"].iloc[0]
    ref = wilder_reference(tr.reset_index(drop=True), w, 0)
    got = atr(df["high"].to_numpy(), df["low"].to_numpy(), df["close"].to_numpy(), w)
    assert_allclose(got, ref.to_numpy(), rtol=RTOL)


def test_vwap_session_anchored(df):
    day = df.index.normalize()
    tp = (df["high"] + df["low"] + df["close"]) / 3
    ref = (tp * df["volume"]).groupby(day).cumsum() / df["volume"].groupby(day).cumsum()
    session = (day.asi8 // 86_400_000_000_000).astype(np.int64)
    got = vwap(df["high"], df["low"], df["close"], df["volume"], session)
    assert_allclose(got, ref.to_numpy(), rtol=RTOL)
    first = np.r_[True, session[1:] != session[:-1]]
    assert_allclose(got[first], tp.to_numpy()[first], rtol=RTOL)  # restarts each session


def test_vwap_without_volume_is_nan():
    out = vwap(np.ones(3), np.ones(3), np.ones(3), np.zeros(3), np.zeros(3, np.int64))
    assert np.isnan(out).all()


@pytest.mark.parametrize("w", [1, 20], ids=lambda w: f"w{w}")
def test_prior_extremes_and_momentum(df, w):
    assert_allclose(
        prior_high(df["high"].to_numpy(), w), df["high"].rolling(w).max().shift(1).to_numpy(), rtol=0
    )
    assert_allclose(
        prior_low(df["low"].to_numpy(), w), df["low"].rolling(w).min().shift(1).to_numpy(), rtol=0
    )
    assert_allclose(momentum(df["close"].to_numpy(), w), df["close"].pct_change(w).to_numpy(), rtol=RTOL)


@pytest.mark.parametrize("bad", [0, -3, 2.5], ids=["zero", "negative", "fraction"])
def test_window_validated(bad):
    with pytest.raises(ValueError, match="window"):
        sma(np.ones(10), bad)
