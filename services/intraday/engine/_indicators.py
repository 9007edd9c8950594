"""Technical indicators as compiled array functions (numba, ``cache=True``).

Every function takes float64 arrays of shape (n,) and returns arrays of shape (n,) with NaN during the
warm-up; each equals a plain pandas/numpy reference in ``tests/intraday/test_indicators.py``. They are
written here rather than taken from a TA library because the sweep calls them thousands of times inside
compiled code; the definitions follow the usual conventions, stated per function.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _check_window(window: int, name: str = "window") -> int:
    if int(window) != window or window < 1:
        raise ValueError(f"{name} must be a positive integer, got {window!r}")
    return int(window)


@njit(cache=True)
def _sma(x, window):
    # running sum minus the sum `window` bars back: the same arithmetic as vectorbt's rolling mean,
    # so crossovers computed from it agree with the benchmark peer bit for bit
    n = x.shape[0]
    out = np.empty(n)
    csum = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = acc + x[i]
        csum[i] = acc
        if i < window - 1:
            out[i] = np.nan
        elif i < window:
            out[i] = acc / window
        else:
            out[i] = (acc - csum[i - window]) / window
    return out


def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Compute the simple moving average of the last ``window`` values (NaN for the first ``window - 1``)."""
    return _sma(np.asarray(x, dtype=np.float64), _check_window(window))


@njit(cache=True)
def _ema(x, window):
    n = x.shape[0]
    alpha = 2.0 / (window + 1.0)
    out = np.empty(n)
    y = x[0]
    for i in range(n):
        if i > 0:
            y = (1.0 - alpha) * y + alpha * x[i]
        out[i] = y if i >= window - 1 else np.nan
    return out


def ema(x: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average, ``alpha = 2 / (window + 1)``, seeded with the first value.

    Equals ``pd.Series(x).ewm(span=window, adjust=False, min_periods=window).mean()``.
    """
    return _ema(np.asarray(x, dtype=np.float64), _check_window(window))


@njit(cache=True)
def _wilder(values, window, first):
    # Wilder's smoothing (RMA) of values[first:], seeded with the mean of the first `window` of them
    n = values.shape[0]
    out = np.full(n, np.nan)
    if n - first < window:
        return out
    acc = 0.0
    for i in range(first, first + window):
        acc += values[i]
    avg = acc / window
    out[first + window - 1] = avg
    for i in range(first + window, n):
        avg = (avg * (window - 1) + values[i]) / window
        out[i] = avg
    return out


@njit(cache=True)
def _rsi(close, window):
    n = close.shape[0]
    gain = np.zeros(n)
    loss = np.zeros(n)
    for i in range(1, n):
        d = close[i] - close[i - 1]
        if d > 0:
            gain[i] = d
        else:
            loss[i] = -d
    ag = _wilder(gain, window, 1)
    al = _wilder(loss, window, 1)
    out = np.full(n, np.nan)
    for i in range(n):
        if np.isnan(ag[i]):
            continue
        if al[i] == 0.0:
            out[i] = 100.0 if ag[i] > 0.0 else 50.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + ag[i] / al[i])
    return out


def rsi(close: np.ndarray, window: int = 14) -> np.ndarray:
    """Relative strength index with Wilder's smoothing.

    Average gain and loss of the close-to-close changes are seeded with their simple mean over the first
    ``window`` changes and then updated as ``avg = (avg * (window - 1) + x) / window``;
    ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)`` (100 when there is no loss, 50 when neither).
    The first value is at index ``window``.
    """
    return _rsi(np.asarray(close, dtype=np.float64), _check_window(window))


@njit(cache=True)
def _rolling_mean_std(x, window):
    # two-pass mean and population standard deviation of each full window (accurate, O(n * window))
    n = x.shape[0]
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    for i in range(window - 1, n):
        s = 0.0
        for j in range(i - window + 1, i + 1):
            s += x[j]
        m = s / window
        v = 0.0
        for j in range(i - window + 1, i + 1):
            d = x[j] - m
            v += d * d
        mean[i] = m
        std[i] = np.sqrt(v / window)
    return mean, std


def bollinger(
    close: np.ndarray, window: int = 20, k: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute Bollinger bands ``(lower, middle, upper)``.

    The bands are the ``window``-bar simple mean ± ``k`` population standard deviations (ddof = 0,
    Bollinger's own definition and pandas-ta's default).
    """
    if not np.isfinite(k) or k <= 0:
        raise ValueError(f"k must be a positive number, got {k!r}")
    mean, std = _rolling_mean_std(np.asarray(close, dtype=np.float64), _check_window(window))
    return mean - k * std, mean, mean + k * std


@njit(cache=True)
def _zscore(x, window):
    mean, std = _rolling_mean_std(x, window)
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(n):
        if std[i] > 0.0:
            out[i] = (x[i] - mean[i]) / std[i]
    return out


def zscore(x: np.ndarray, window: int = 20) -> np.ndarray:
    """Compute the rolling z-score ``(x - mean) / std`` over ``window`` bars (population std; NaN where 0)."""
    return _zscore(np.asarray(x, dtype=np.float64), _check_window(window))


@njit(cache=True)
def _atr(high, low, close, window):
    n = close.shape[0]
    tr = np.empty(n)
    tr[0] = high[0] - low[0]
    for i in range(1, n):
        tr[i] = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
    return _wilder(tr, window, 0)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14) -> np.ndarray:
    """Average true range with Wilder's smoothing seeded by the mean of the first ``window`` true ranges.

    ``TR_t = max(high_t - low_t, |high_t - close_{t-1}|, |low_t - close_{t-1}|)``, ``TR_0 = high_0 - low_0``.
    """
    f = np.float64
    return _atr(np.asarray(high, f), np.asarray(low, f), np.asarray(close, f), _check_window(window))


@njit(cache=True)
def _vwap(high, low, close, volume, session):
    n = close.shape[0]
    out = np.full(n, np.nan)
    pv = 0.0
    vol = 0.0
    for i in range(n):
        if i == 0 or session[i] != session[i - 1]:
            pv = 0.0
            vol = 0.0
        pv += (high[i] + low[i] + close[i]) / 3.0 * volume[i]
        vol += volume[i]
        if vol > 0.0:
            out[i] = pv / vol
    return out


def vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, session: np.ndarray
) -> np.ndarray:
    """Session-anchored VWAP of the typical price ``(high + low + close) / 3``.

    Cumulative ``sum(price * volume) / sum(volume)`` restarting at each new ``session`` value; NaN until
    the session has traded volume.
    """
    f = np.float64
    return _vwap(
        np.asarray(high, f),
        np.asarray(low, f),
        np.asarray(close, f),
        np.asarray(volume, f),
        np.asarray(session, np.int64),
    )


@njit(cache=True)
def _rolling_extreme(x, window, want_max):
    # extreme of the `window` values *before* each bar (x[i-window:i]); NaN until there are that many
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(window, n):
        e = x[i - window]
        for j in range(i - window + 1, i):
            if (x[j] > e) if want_max else (x[j] < e):
                e = x[j]
        out[i] = e
    return out


def prior_high(high: np.ndarray, lookback: int) -> np.ndarray:
    """Highest high of the ``lookback`` bars before each bar (the current bar excluded)."""
    return _rolling_extreme(np.asarray(high, np.float64), _check_window(lookback, "lookback"), True)


def prior_low(low: np.ndarray, lookback: int) -> np.ndarray:
    """Lowest low of the ``lookback`` bars before each bar (the current bar excluded)."""
    return _rolling_extreme(np.asarray(low, np.float64), _check_window(lookback, "lookback"), False)


def momentum(close: np.ndarray, lookback: int) -> np.ndarray:
    """Rate of change ``close_t / close_{t-lookback} - 1`` (NaN for the first ``lookback`` bars)."""
    lookback = _check_window(lookback, "lookback")
    close = np.asarray(close, np.float64)
    out = np.full(close.shape, np.nan)
    out[lookback:] = close[lookback:] / close[:-lookback] - 1.0
    return out
