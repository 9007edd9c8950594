"""Strategy specs: validation, and each rule's targets against a plainly written reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.intraday.engine import (
    Direction,
    IndicatorCache,
    StrategyError,
    StrategyName,
    make_strategy,
    strategy_params,
)


def loop_band_reversion(x, lower, upper, exit_long, exit_short):
    state, out = 0, []
    for xi, lo, up, el, es in zip(x, lower, upper, exit_long, exit_short, strict=True):
        if np.isnan(lo) or np.isnan(up) or np.isnan(xi):
            state = 0
        else:
            if state == 1 and xi >= el:
                state = 0
            elif state == -1 and xi <= es:
                state = 0
            if xi < lo:
                state = 1
            elif xi > up:
                state = -1
        out.append(state)
    return np.array(out)


@pytest.fixture(scope="module")
def cache(bars):
    return IndicatorCache(bars)


def test_sma_cross_targets(bars_df, cache):
    s = make_strategy("sma_cross", {"fast": 8, "slow": 21})
    diff = bars_df["close"].rolling(8).mean() - bars_df["close"].rolling(21).mean()
    assert (s.targets(cache) == np.sign(diff.fillna(0)).to_numpy()).all()


def test_rsi_reversion_targets(bars_df, cache):
    s = make_strategy("rsi_reversion", {"window": 10, "lower": 35, "upper": 65, "exit_level": 50})
    r = s.indicators(cache)["rsi"]
    n = len(r)
    ref = loop_band_reversion(r, np.full(n, 35.0), np.full(n, 65.0), np.full(n, 50.0), np.full(n, 50.0))
    assert (s.targets(cache) == ref).all() and (ref != 0).any()


def test_bollinger_reversion_targets(bars_df, cache):
    s = make_strategy("bollinger_reversion", {"window": 20, "k": 1.5})
    c = bars_df["close"]
    mid = c.rolling(20).mean()
    sd = c.rolling(20).std(ddof=0)
    ref = loop_band_reversion(
        c.to_numpy(), (mid - 1.5 * sd).to_numpy(), (mid + 1.5 * sd).to_numpy(), mid.to_numpy(), mid.to_numpy()
    )
    got = s.targets(cache)
    assert (got == ref).all() and (ref != 0).any()


def test_breakout_targets(bars_df, cache):
    s = make_strategy("breakout", {"lookback": 30})
    hi = bars_df["high"].rolling(30).max().shift()
    lo = bars_df["low"].rolling(30).min().shift()
    sig = np.where(bars_df["close"] > hi, 1.0, np.where(bars_df["close"] < lo, -1.0, np.nan))
    ref = pd.Series(sig).ffill().fillna(0).to_numpy()
    assert (s.targets(cache) == ref).all()


def test_momentum_targets_and_direction(bars_df, cache):
    s = make_strategy("momentum", {"lookback": 12, "threshold": 0.002, "direction": "long"})
    roc = bars_df["close"].pct_change(12)
    ref = np.where(roc > 0.002, 1, 0)
    assert (s.targets(cache) == ref).all()
    short = make_strategy("momentum", {"lookback": 12, "threshold": 0.002, "direction": "short"})
    assert (short.targets(cache) == np.where(roc < -0.002, -1, 0)).all()


def course_reference(df: pd.DataFrame, daily: pd.Series) -> np.ndarray:
    """The course's pandas rule: intraday signal from RSI(20)/BB(20), sign from the daily signal,
    forward-filled within the day; no position requested at a day's last bar."""
    c = df["close"].reset_index(drop=True)
    d = c.diff()

    def rma(x):
        vals = x.iloc[1:].reset_index(drop=True)
        seeded = pd.concat([pd.Series([vals.iloc[:20].mean()]), vals.iloc[20:]], ignore_index=True)
        out = pd.Series(np.nan, index=c.index)
        out.iloc[20:] = seeded.ewm(alpha=1 / 20, adjust=False).mean().to_numpy()
        return out

    rsi = 100 - 100 / (1 + rma(d.clip(lower=0)) / rma(-d.clip(upper=0)))
    mid = c.rolling(20).mean()
    sd = c.rolling(20).std(ddof=0)
    intraday = np.where(
        (rsi > 70) & (c > mid + 2 * sd), 1, np.where((rsi < 30) & (c < mid - 2 * sd), -1, np.nan)
    )
    day = df.index.normalize()
    daily_sig = daily.reindex(day).fillna(0).to_numpy()
    sign = np.where(
        (daily_sig == 1) & (intraday == 1), -1, np.where((daily_sig == -1) & (intraday == -1), 1, np.nan)
    )
    out = pd.Series(sign).groupby(np.asarray(day)).ffill().fillna(0).to_numpy()
    last = np.r_[day[1:] != day[:-1], True]
    out[last] = 0
    return out.astype(int)


def test_garch_rsi_bb_follows_the_course_rule(bars_df, bars, cache):
    days = pd.DatetimeIndex(sorted(set(bars_df.index.normalize())))
    daily = pd.Series(np.random.default_rng(1).choice([-1, 0, 1], len(days)), index=days)
    s = make_strategy("garch_rsi_bb", {}, daily_signal=daily)
    got = s.targets(IndicatorCache(bars))
    ref = course_reference(bars_df, daily)
    assert (got == ref).all() and (ref != 0).any()
    assert s.flat_at_session_end


def test_garch_rsi_bb_without_daily_signal_never_trades(cache):
    assert not make_strategy("garch_rsi_bb").targets(cache).any()


@pytest.mark.parametrize(
    "name,params,field",
    [
        ("sma_cross", {"fast": 30, "slow": 10}, "fast"),
        ("sma_cross", {"fast": 0, "slow": 10}, "fast"),
        ("sma_cross", {"fast": 2.5, "slow": 10}, "fast"),
        ("sma_cross", {"fastest": 3}, "fastest"),
        ("rsi_reversion", {"lower": 80, "upper": 20}, "lower"),
        ("bollinger_reversion", {"k": -1}, "k"),
        ("momentum", {"direction": "sideways"}, "direction"),
    ],
    ids=[
        "fast>=slow",
        "zero-window",
        "fractional-window",
        "unknown-param",
        "lower>upper",
        "negative-k",
        "bad-direction",
    ],
)
def test_invalid_params_name_the_field(name, params, field):
    with pytest.raises(StrategyError) as err:
        make_strategy(name, params)
    assert err.value.field == f"strategy.params.{field}"


def test_unknown_strategy_and_defaults():
    with pytest.raises(StrategyError, match="unknown strategy"):
        make_strategy("martingale")
    assert strategy_params("sma_cross") == {"direction": "both", "fast": 10, "slow": 30}
    assert make_strategy(StrategyName.sma_cross, {"fast": 5.0, "slow": 20.0}).fast == 5  # integral floats ok
    assert make_strategy("breakout").direction is Direction.both
