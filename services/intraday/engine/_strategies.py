"""Strategies as typed, validated parameter specs that turn bars into a target-position series.

Each strategy is a frozen dataclass: its fields are the parameters (checked on construction, the bad
value shown), :meth:`Strategy.indicators` gives the per-bar indicator values it reads and
:meth:`Strategy.targets` the desired position in {-1, 0, +1} decided at each bar's close (acted on at the
next open by the kernel). Indicators come from an :class:`IndicatorCache`, so a sweep over many
parameter combinations computes each distinct indicator (e.g. one SMA per window) once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numba import njit

from . import _indicators as ind
from ._bars import BarData
from ._errors import StrategyError


class Direction(StrEnum):
    """Which sides a strategy may trade."""

    long = "long"
    short = "short"
    both = "both"


class StrategyName(StrEnum):
    """The strategies the service offers."""

    sma_cross = "sma_cross"
    rsi_reversion = "rsi_reversion"
    bollinger_reversion = "bollinger_reversion"
    breakout = "breakout"
    momentum = "momentum"
    garch_rsi_bb = "garch_rsi_bb"


class IndicatorCache:
    """Indicator arrays of one :class:`BarData`, each computed once per distinct key."""

    def __init__(self, bars: BarData) -> None:
        self.bars = bars
        self._store: dict[Hashable, Any] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the value stored under ``key``, computing it on first use."""
        if key not in self._store:
            self._store[key] = compute()
        return self._store[key]

    def sma(self, window: int) -> np.ndarray:
        return self.get(("sma", window), lambda: ind.sma(self.bars.close, window))

    def rsi(self, window: int) -> np.ndarray:
        return self.get(("rsi", window), lambda: ind.rsi(self.bars.close, window))

    def mean_std(self, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the rolling mean and population std of the close (Bollinger's middle band and width)."""
        return self.get(("mean_std", window), lambda: ind._rolling_mean_std(self.bars.close, window))

    def prior_high(self, lookback: int) -> np.ndarray:
        return self.get(("prior_high", lookback), lambda: ind.prior_high(self.bars.high, lookback))

    def prior_low(self, lookback: int) -> np.ndarray:
        return self.get(("prior_low", lookback), lambda: ind.prior_low(self.bars.low, lookback))

    def momentum(self, lookback: int) -> np.ndarray:
        return self.get(("momentum", lookback), lambda: ind.momentum(self.bars.close, lookback))


# --- compiled signal rules ---------------------------------------------------------------------------
@njit(cache=True)
def _sign_diff(a, b):
    n = a.shape[0]
    out = np.zeros(n, np.int8)
    for i in range(n):
        d = a[i] - b[i]
        if d > 0:
            out[i] = 1
        elif d < 0:
            out[i] = -1
    return out


@njit(cache=True)
def _band_reversion(x, lower, upper, exit_long, exit_short):
    # enter long below `lower`, short above `upper`; leave a long once x >= exit_long, a short once
    # x <= exit_short; NaN inputs (warm-up) give no position
    n = x.shape[0]
    out = np.zeros(n, np.int8)
    state = 0
    for i in range(n):
        if np.isnan(lower[i]) or np.isnan(upper[i]) or np.isnan(x[i]):
            state = 0
        else:
            if state == 1 and x[i] >= exit_long[i]:
                state = 0
            elif state == -1 and x[i] <= exit_short[i]:
                state = 0
            if x[i] < lower[i]:
                state = 1
            elif x[i] > upper[i]:
                state = -1
        out[i] = state
    return out


@njit(cache=True)
def _breakout(close, hi, lo):
    n = close.shape[0]
    out = np.zeros(n, np.int8)
    state = 0
    for i in range(n):
        if not np.isnan(hi[i]):
            if close[i] > hi[i]:
                state = 1
            elif close[i] < lo[i]:
                state = -1
        out[i] = state
    return out


@njit(cache=True)
def _threshold(x, threshold):
    n = x.shape[0]
    out = np.zeros(n, np.int8)
    for i in range(n):
        if x[i] > threshold:
            out[i] = 1
        elif x[i] < -threshold:
            out[i] = -1
    return out


@njit(cache=True)
def _garch_rsi_bb(close, rsi, lower, upper, rsi_lower, rsi_upper, daily, session_first, session_last):
    # the course rule: on a day whose GARCH signal is +1 an overbought bar (RSI > upper and close above
    # the upper band) opens a short, on a -1 day an oversold bar opens a long; the position is carried
    # (forward-filled) within the day, and no position is asked for at a session's last close
    n = close.shape[0]
    out = np.zeros(n, np.int8)
    state = 0
    for i in range(n):
        if session_first[i]:
            state = 0
        if not (np.isnan(rsi[i]) or np.isnan(upper[i])):
            if daily[i] > 0 and rsi[i] > rsi_upper and close[i] > upper[i]:
                state = -1
            elif daily[i] < 0 and rsi[i] < rsi_lower and close[i] < lower[i]:
                state = 1
        out[i] = 0 if session_last[i] else state
    return out


# --- specs -------------------------------------------------------------------------------------------
def _bad(name: str, value: Any, why: str) -> StrategyError:
    return StrategyError(f"{name}={value!r}: {why}", field=f"strategy.params.{name}")


def _window(name: str, value: Any, low: int = 1, high: int = 10_000) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise _bad(name, value, f"must be an integer in [{low}, {high}]")


def _number(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        raise _bad(name, value, f"must be a number in {'(' if open_low else '['}{low}, {high}]")


@dataclass(frozen=True)
class Strategy:
    """Base of every strategy spec: ``direction`` filters the raw long/short signal."""

    name: ClassVar[StrategyName]
    #: the strategy is defined with positions closed at every session end
    flat_at_session_end: ClassVar[bool] = False
    #: time of one bar evaluation (indicators + kernel) relative to ``sma_cross``, for size checks:
    #: sweeps of 4 distinct windows on 100,000 SIM bars (sma_cross ~12 ns a bar on one core)
    bar_cost: ClassVar[float] = 1.0

    direction: Direction = Direction.both

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "direction", Direction(self.direction))
        except ValueError:
            raise _bad(
                "direction", self.direction, f"must be one of {[d.value for d in Direction]}"
            ) from None

    def params(self) -> dict[str, Any]:
        """Return the parameters as plain JSON-able values (inputs such as a daily series left out)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("input"):
                continue
            v = getattr(self, f.name)
            out[f.name] = v.value if isinstance(v, StrEnum) else v
        return out

    def indicators(self, cache: IndicatorCache) -> dict[str, np.ndarray]:
        """Per-bar indicator values the rule reads, shape (n,) each."""
        raise NotImplementedError

    def raw_targets(self, cache: IndicatorCache) -> np.ndarray:
        raise NotImplementedError

    def targets(self, cache: IndicatorCache) -> np.ndarray:
        """Desired position at each close, int8 in {-1, 0, +1}, shape (n,)."""
        t = self.raw_targets(cache)
        if self.direction is Direction.long:
            t = np.maximum(t, 0).astype(np.int8)
        elif self.direction is Direction.short:
            t = np.minimum(t, 0).astype(np.int8)
        return t


@dataclass(frozen=True)
class SmaCross(Strategy):
    """Long while the fast SMA is above the slow one, short while below (flat when equal or warming up)."""

    name: ClassVar[StrategyName] = StrategyName.sma_cross
    fast: int = 10
    slow: int = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        _window("fast", self.fast)
        _window("slow", self.slow)
        if self.fast >= self.slow:
            raise _bad("fast", self.fast, f"must be smaller than slow={self.slow}")

    def indicators(self, cache: IndicatorCache) -> dict[str, np.ndarray]:
        return {"sma_fast": cache.sma(self.fast), "sma_slow": cache.sma(self.slow)}

    def raw_targets(self, cache: IndicatorCache) -> np.ndarray:
        return _sign_diff(cache.sma(self.fast), cache.sma(self.slow))


@dataclass(frozen=True)
class RsiReversion(Strategy):
    """RSI mean reversion.

    Long when RSI < ``lower`` until it rises above ``exit_level``; short when RSI > ``upper`` until it
    falls below ``exit_level``.
    """

    name: ClassVar[StrategyName] = StrategyName.rsi_reversion
    bar_cost: ClassVar[float] = 4.0
    window: int = 14
    lower: float = 30.0
    upper: float = 70.0
    exit_level: float = 50.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _window("window", self.window)
        for p in ("lower", "upper", "exit_level"):
            _number(p, getattr(self, p), 0.0, 100.0)
        if not self.lower <= self.exit_level <= self.upper or self.lower >= self.upper:
            raise _bad(
                "lower",
                self.lower,
                f"need lower < upper and lower <= exit_level <= upper "
                f"(upper={self.upper}, exit_level={self.exit_level})",
            )

    def indicators(self, cache: IndicatorCache) -> dict[str, np.ndarray]:
        return {"rsi": cache.rsi(self.window)}

    def raw_targets(self, cache: IndicatorCache) -> np.ndarray:
        r = cache.rsi(self.window)
        n = r.shape[0]
        full = np.full
        return _band_reversion(
            r,
            full(n, float(self.lower)),
            full(n, float(self.upper)),
            full(n, float(self.exit_level)),
            full(n, float(self.exit_level)),
        )


@dataclass(frozen=True)
class BollingerReversion(Strategy):
    """Long when the close falls below the lower band, short above the upper band; out at the middle."""

    name: ClassVar[StrategyName] = StrategyName.bollinger_reversion
    bar_cost: ClassVar[float] = 12.0
    window: int = 20
    k: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _window("window", self.window, low=2)
        _number("k", self.k, 0.0, 10.0, open_low=True)

    def _bands(self, cache: IndicatorCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, std = cache.mean_std(self.window)
        return mean - self.k * std, mean, mean + self.k * std

    def indicators(self, cache: IndicatorCache) -> dict[str, np.ndarray]:
        lo, mid, up = self._bands(cache)
        return {"bb_lower": lo, "bb_middle": mid, "bb_upper": up}

    def raw_targets(self, cache: IndicatorCache) -> np.ndarray:
        lo, mid, up = self._bands(cache)
        return _band_reversion(cache.bars.close, lo, up, mid, mid)


@dataclass(frozen=True)
class Breakout(Strategy):
    """Donchian stop-and-reverse on breakouts of the prior ``lookback`` bars.

    Long when the close breaks above the prior ``lookback``-bar high, short when it breaks below the prior
    low; held until the opposite breakout.
    """

    name: ClassVar[StrategyName] = StrategyName.breakout
    bar_cost: ClassVar[float] = 9.0
    lookback: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        _window("lookback", self.lookback)

    def indicators(self, cache: IndicatorCache) -> dict[str, np.ndarray]:
        return {"prior_high": cache.prior_high(self.lookback), "prior_low": cache.prior_low(self.lookback)}

    def raw_targets(self, cache: IndicatorCache) -> np.ndarray:
        return _breakout(cache.bars.close, cache.prior_high(self.lookback), cache.prior_low(self.lookback))


@dataclass(frozen=True)
class Momentum(Strategy):
    """Long when the ``lookback``-bar return exceeds ``threshold``, short below ``-threshold``, else flat."""

    name: ClassVar[StrategyName] = StrategyName.momentum
    bar_cost: ClassVar[float] = 1.5
    lookback: int = 20
    threshold: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _window("lookback", self.lookback)
        _number("threshold", self.threshold, 0.0, 10.0)

    def indicators(self, cache: IndicatorCache) -> dict[str, np.ndarray]:
        return {"momentum": cache.momentum(self.lookback)}

    def raw_targets(self, cache: IndicatorCache) -> np.ndarray:
        return _threshold(cache.momentum(self.lookback), float(self.threshold))


def align_daily(daily: pd.Series | None, bars: BarData) -> np.ndarray:
    """Return the daily signal of each bar's session date (0 where the series has no value), float64 (n,)."""
    if daily is None or len(daily) == 0:
        return np.zeros(len(bars))
    s = pd.Series(np.asarray(daily, dtype=np.float64), index=pd.DatetimeIndex(daily.index))
    if s.index.tz is not None:
        s.index = s.index.tz_localize(None)
    s = s.groupby(s.index.normalize()).last()
    return s.reindex(bars.session_dates()).fillna(0.0).to_numpy()


@dataclass(frozen=True)
class GarchRsiBb(Strategy):
    """The course strategy: GARCH picks the day's side, RSI and Bollinger bands time the entries.

    The GARCH service's daily signal picks the day's side, 5-minute RSI and Bollinger bands time
    contrarian entries, and positions close at the end of the session.

    ``daily_signal`` is a series indexed by date with values in {-1, 0, +1} (the GARCH service's
    ``GET /v1/volatility/signal``, already lagged so the value for day D uses data up to D - 1). On a +1
    day a bar with RSI > ``rsi_upper`` and close above the upper band opens a short; on a -1 day a bar
    with RSI < ``rsi_lower`` and close below the lower band opens a long; the position is held to the
    session close (or reversed by the opposite entry).
    """

    name: ClassVar[StrategyName] = StrategyName.garch_rsi_bb
    bar_cost: ClassVar[float] = 4.0
    flat_at_session_end: ClassVar[bool] = True
    rsi_window: int = 20
    bb_window: int = 20
    bb_k: float = 2.0
    rsi_lower: float = 30.0
    rsi_upper: float = 70.0
    daily_signal: pd.Series | None = field(default=None, compare=False, repr=False, metadata={"input": True})

    def __post_init__(self) -> None:
        super().__post_init__()
        _window("rsi_window", self.rsi_window)
        _window("bb_window", self.bb_window, low=2)
        _number("bb_k", self.bb_k, 0.0, 10.0, open_low=True)
        _number("rsi_lower", self.rsi_lower, 0.0, 100.0)
        _number("rsi_upper", self.rsi_upper, 0.0, 100.0)
        if self.rsi_lower >= self.rsi_upper:
            raise _bad("rsi_lower", self.rsi_lower, f"must be below rsi_upper={self.rsi_upper}")
        if self.daily_signal is not None:
            values = np.asarray(self.daily_signal, dtype=np.float64)
            bad = np.flatnonzero(~np.isin(values, (-1.0, 0.0, 1.0)))
            if bad.size:
                raise StrategyError(
                    f"daily signal values must be -1, 0 or 1; rows {bad[:10].tolist()}",
                    field="strategy.daily_signal",
                    rows=bad[:100].tolist(),
                )

    def _daily(self, cache: IndicatorCache) -> np.ndarray:
        return cache.get(("daily", id(self.daily_signal)), lambda: align_daily(self.daily_signal, cache.bars))

    def _bands(self, cache: IndicatorCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, std = cache.mean_std(self.bb_window)
        return mean - self.bb_k * std, mean, mean + self.bb_k * std

    def indicators(self, cache: IndicatorCache) -> dict[str, np.ndarray]:
        lo, mid, up = self._bands(cache)
        return {
            "rsi": cache.rsi(self.rsi_window),
            "bb_lower": lo,
            "bb_middle": mid,
            "bb_upper": up,
            "daily_signal": self._daily(cache),
        }

    def raw_targets(self, cache: IndicatorCache) -> np.ndarray:
        lo, _, up = self._bands(cache)
        b = cache.bars
        return _garch_rsi_bb(
            b.close,
            cache.rsi(self.rsi_window),
            lo,
            up,
            float(self.rsi_lower),
            float(self.rsi_upper),
            self._daily(cache),
            b.session_first,
            b.session_last,
        )


STRATEGIES: dict[StrategyName, type[Strategy]] = {
    cls.name: cls for cls in (SmaCross, RsiReversion, BollingerReversion, Breakout, Momentum, GarchRsiBb)
}


def strategy_params(name: StrategyName | str) -> dict[str, Any]:
    """Parameter names of strategy ``name`` with their defaults (inputs such as series excluded)."""
    cls = STRATEGIES[StrategyName(name)]
    return {
        f.name: (f.default.value if isinstance(f.default, StrEnum) else f.default)
        for f in dataclasses.fields(cls)
        if not f.metadata.get("input")
    }


def make_strategy(
    name: StrategyName | str, params: Mapping[str, Any] | None = None, **inputs: Any
) -> Strategy:
    """Build and validate strategy ``name`` from ``params`` (plus inputs such as ``daily_signal``).

    Integral floats (``10.0``) are accepted for integer parameters, as JSON and grids often send them.
    """
    try:
        cls = STRATEGIES[StrategyName(name)]
    except ValueError:
        raise StrategyError(
            f"unknown strategy {name!r}; choose one of {[s.value for s in StrategyName]}",
            field="strategy.name",
        ) from None
    params = dict(params or {})
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - {k for k, f in known.items() if not f.metadata.get("input")})
    if unknown:
        raise StrategyError(
            f"unknown parameter(s) {unknown} for {cls.name.value}; it takes {sorted(strategy_params(name))}",
            field=f"strategy.params.{unknown[0]}",
        )
    for key, value in params.items():
        if isinstance(known[key].default, int) and not isinstance(known[key].default, bool):
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                params[key] = int(value)
            elif isinstance(value, np.integer):
                params[key] = int(value)
    return cls(**params, **inputs)
