"""One backtest: a strategy spec on bars with costs and execution options → trades, equity, metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _kernel as k
from ._bars import BarData
from ._errors import DomainError
from ._metrics import metrics_dict
from ._strategies import IndicatorCache, Strategy

EXIT_REASONS = ("signal", "stop_loss", "take_profit", "session_end", "open")
TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "side",
    "entry_price",
    "exit_price",
    "return",
    "pnl",
    "bars_held",
    "exit_reason",
)


@dataclass(frozen=True)
class Costs:
    """Trading costs in basis points of traded value: commission, and slippage applied to every fill."""

    commission_bps: float = 0.0
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        for name in ("commission_bps", "slippage_bps"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 1000):
                raise DomainError(f"{name}={v!r}: must be a number in [0, 1000]", field=f"costs.{name}")

    @property
    def fee(self) -> float:
        return self.commission_bps / 1e4

    @property
    def slippage(self) -> float:
        return self.slippage_bps / 1e4


@dataclass(frozen=True)
class Execution:
    """Exit rules on top of the signal.

    Stop-loss / take-profit as fractions of the entry fill, and whether to be flat at each session's close.
    """

    stop_loss: float | None = None
    take_profit: float | None = None
    flat_at_session_end: bool = False

    def __post_init__(self) -> None:
        for name in ("stop_loss", "take_profit"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 1):
                raise DomainError(
                    f"{name}={v!r}: must be a fraction in (0, 1) or null", field=f"execution.{name}"
                )

    def for_strategy(self, strategy: Strategy) -> Execution:
        """Return these options, with session-end exits forced on when the strategy is defined with them."""
        if strategy.flat_at_session_end and not self.flat_at_session_end:
            return Execution(self.stop_loss, self.take_profit, True)
        return self


def _nan(v: float | None) -> float:
    return np.nan if v is None else float(v)


def run_kernel(
    bars: BarData,
    targets: np.ndarray,
    costs: Costs,
    execution: Execution,
    start: int = 0,
    stop: int | None = None,
    *,
    record: bool = False,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Run :func:`~services.intraday.engine._kernel.simulate` on ``bars[start:stop]``.

    Returns the statistics vector (13,) and, when ``record``, ``(equity, positions, trade_rows)``.
    """
    stop = len(bars) if stop is None else stop
    if not 0 <= start < stop <= len(bars):
        raise DomainError(f"empty or invalid bar range [{start}, {stop}) of {len(bars)} bars", field="start")
    m = stop - start if record else 0
    equity = np.empty(m)
    positions = np.empty(m, np.int8)
    trades = np.empty((m, k.N_TRADE_COLS))
    stats, nt = k.simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.session_first,
        bars.session_last,
        np.ascontiguousarray(targets, dtype=np.int8),
        start,
        stop,
        costs.fee,
        costs.slippage,
        _nan(execution.stop_loss),
        _nan(execution.take_profit),
        execution.flat_at_session_end,
        record,
        equity,
        positions,
        trades,
    )
    return stats, ((equity, positions, trades[:nt]) if record else None)


def trades_frame(rows: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Turn the kernel's trade rows into a frame with :data:`TRADE_COLUMNS`."""
    ei = rows[:, k.T_ENTRY_I].astype(np.int64)
    xi = rows[:, k.T_EXIT_I].astype(np.int64)
    return pd.DataFrame(
        {
            "entry_time": index[ei],
            "exit_time": index[xi],
            "side": np.where(rows[:, k.T_SIDE] > 0, "long", "short"),
            "entry_price": rows[:, k.T_ENTRY_PX],
            "exit_price": rows[:, k.T_EXIT_PX],
            "return": rows[:, k.T_RET],
            "pnl": rows[:, k.T_PNL],
            "bars_held": rows[:, k.T_BARS].astype(np.int64),
            "exit_reason": np.asarray(EXIT_REASONS, dtype=object)[rows[:, k.T_REASON].astype(np.int64)],
        },
        columns=list(TRADE_COLUMNS),
    )


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest.

    Attributes
    ----------
    strategy : str
    params : dict
    trades : DataFrame, shape (n_trades, 9)
        :data:`TRADE_COLUMNS`; prices are fills (slippage included), ``return``/``pnl`` net of costs,
        ``exit_reason`` one of :data:`EXIT_REASONS` (``open``: still held at the end, marked at the close).
    equity : Series, shape (n_bars,)
        Equity (starting at 1) marked at each close.
    positions : Series of int8, shape (n_bars,)
        Position held at each close.
    targets : Series of int8, shape (n_bars,)
        The signal: desired position decided at each close.
    metrics : dict of str to float
        See :mod:`services.intraday.engine._metrics`.
    """

    strategy: str
    params: dict[str, Any]
    trades: pd.DataFrame
    equity: pd.Series
    positions: pd.Series
    targets: pd.Series
    metrics: dict[str, float] = field(default_factory=dict)


def backtest(
    bars: BarData,
    strategy: Strategy,
    costs: Costs | None = None,
    execution: Execution | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    cache: IndicatorCache | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on ``bars[start:stop]``.

    Indicators use all earlier bars, so a later ``start`` begins with warmed-up indicators and the signal
    standing at ``start - 1``.
    """
    costs = costs or Costs()
    execution = (execution or Execution()).for_strategy(strategy)
    cache = cache or IndicatorCache(bars)
    stop = len(bars) if stop is None else stop
    targets = strategy.targets(cache)
    stats, rec = run_kernel(bars, targets, costs, execution, start, stop, record=True)
    assert rec is not None
    equity, positions, rows = rec
    idx = bars.index[start:stop]
    return BacktestResult(
        strategy=strategy.name.value,
        params=strategy.params(),
        trades=trades_frame(rows, bars.index),
        equity=pd.Series(equity, index=idx, name="equity"),
        positions=pd.Series(positions, index=idx, name="position"),
        targets=pd.Series(targets[start:stop], index=idx, name="target"),
        metrics=metrics_dict(stats, bars.periods_per_year),
    )
