"""Independent, plainly written references for the intraday tests (per-bar Python loops and pandas).

The backtest reference keeps equity in "capital × trade factor" form rather than the kernel's cash and
units, so agreement checks the arithmetic as well as the rules.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def trade_factor(side: int, entry: float, exit_: float, fee: float) -> float:
    """1 + the net return of a trade entered at fill ``entry`` and left at fill ``exit_``."""
    if side > 0:
        return 1.0 + (exit_ * (1 - fee) - entry * (1 + fee)) / (entry * (1 + fee))
    return 1.0 + (entry * (1 - fee) - exit_ * (1 + fee)) / (entry * (1 + fee))


def mark_factor(side: int, entry: float, price: float, fee: float) -> float:
    """Value of the position (per unit of capital) marked at ``price``, before exit costs."""
    if side > 0:
        return price / (entry * (1 + fee))
    return 1.0 + (entry * (1 - fee) - price) / (entry * (1 + fee))


def reference_backtest(
    o,
    h,
    lo,
    c,
    session_first,
    session_last,
    target,
    *,
    fee=0.0,
    slip=0.0,
    stop_loss=None,
    take_profit=None,
    flat=False,
):
    """Per-bar loop of the execution model documented in ``services/intraday/engine/_kernel.py``.

    Returns ``(equity list, trades list of dicts)``.
    """
    n = len(c)
    equity_when_flat = 1.0
    pos, entry, capital, entry_i = 0, 0.0, 0.0, -1
    last_signal = 0
    curve, trades = [], []

    def exit_at(i, price, reason, bars_held):
        nonlocal pos, equity_when_flat
        fill = price * (1 - slip) if pos > 0 else price * (1 + slip)
        f = trade_factor(pos, entry, fill, fee)
        equity_when_flat = capital * f
        trades.append(
            dict(
                entry_i=entry_i,
                exit_i=i,
                side=pos,
                entry_price=entry,
                exit_price=fill,
                ret=f - 1,
                pnl=capital * (f - 1),
                reason=reason,
                bars=bars_held,
            )
        )
        pos = 0

    for i in range(n):
        if flat and session_first[i]:
            last_signal = 0
        signal = int(target[i - 1]) if i > 0 else 0
        if signal != last_signal:
            last_signal = signal
            if pos != signal:
                if pos != 0:
                    exit_at(i, o[i], "signal", i - entry_i)
                if signal != 0:
                    pos, capital, entry_i = signal, equity_when_flat, i
                    entry = o[i] * (1 + slip) if signal > 0 else o[i] * (1 - slip)
        if pos != 0 and (stop_loss is not None or take_profit is not None):
            sl = entry * (1 - pos * stop_loss) if stop_loss is not None else None
            tp = entry * (1 + pos * take_profit) if take_profit is not None else None
            hit = None
            if pos > 0:
                if sl is not None and o[i] <= sl:
                    hit = ("stop_loss", o[i])
                elif tp is not None and o[i] >= tp:
                    hit = ("take_profit", o[i])
                elif sl is not None and lo[i] <= sl:
                    hit = ("stop_loss", sl)
                elif tp is not None and h[i] >= tp:
                    hit = ("take_profit", tp)
            else:
                if sl is not None and o[i] >= sl:
                    hit = ("stop_loss", o[i])
                elif tp is not None and o[i] <= tp:
                    hit = ("take_profit", o[i])
                elif sl is not None and h[i] >= sl:
                    hit = ("stop_loss", sl)
                elif tp is not None and lo[i] <= tp:
                    hit = ("take_profit", tp)
            if hit:
                exit_at(i, hit[1], hit[0], i - entry_i + 1)
        if pos != 0 and flat and session_last[i]:
            exit_at(i, c[i], "session_end", i - entry_i + 1)
        curve.append(capital * mark_factor(pos, entry, c[i], fee) if pos else equity_when_flat)
    if pos != 0:
        f = mark_factor(pos, entry, c[n - 1], fee)
        trades.append(
            dict(
                entry_i=entry_i,
                exit_i=n - 1,
                side=pos,
                entry_price=entry,
                exit_price=c[n - 1],
                ret=f - 1,
                pnl=capital * (f - 1),
                reason="open",
                bars=n - entry_i,
            )
        )
    return curve, trades


def reference_metrics(equity, trades, periods_per_year: float) -> dict[str, float]:
    """The documented metrics computed with pandas from an equity curve and a trade list."""
    eq = pd.Series(equity, dtype=float)
    r = pd.concat([pd.Series([1.0]), eq], ignore_index=True).pct_change().iloc[1:]
    n = len(r)
    std = r.std(ddof=1)
    down = math.sqrt((r.clip(upper=0.0) ** 2).mean())
    peak = pd.concat([pd.Series([1.0]), eq], ignore_index=True).cummax().iloc[1:]
    max_dd = float((eq / peak - 1).min())
    annual = eq.iloc[-1] ** (periods_per_year / n) - 1
    closed = [t for t in trades if t["reason"] != "open"]
    pnl = np.array([t["pnl"] for t in closed])
    nan = float("nan")
    return {
        "total_return": eq.iloc[-1] - 1,
        "annual_return": annual,
        "volatility": std * math.sqrt(periods_per_year),
        "sharpe": r.mean() / std * math.sqrt(periods_per_year) if std > 0 else nan,
        "sortino": r.mean() / down * math.sqrt(periods_per_year) if down > 0 else nan,
        "max_drawdown": max_dd,
        "calmar": annual / -max_dd if max_dd < 0 else nan,
        "win_rate": float((pnl > 0).mean()) if closed else nan,
        "profit_factor": pnl[pnl > 0].sum() / -pnl[pnl <= 0].sum()
        if (pnl <= 0).any() and -pnl[pnl <= 0].sum() > 0
        else nan,
        "avg_trade": float(np.mean([t["ret"] for t in closed])) if closed else nan,
        "exposure": nan,  # filled by the caller from positions
        "n_trades": float(len(trades)),
    }
