"""The compiled backtest kernel: one pass over the bars for one target-position series.

Execution model (the same in the sweep, the backtest and the walk-forward):

* ``target[t]`` in {-1, 0, +1} is decided from data up to the *close* of bar ``t`` and acted on at the
  *open* of bar ``t + 1`` (no look-ahead). The book trades only when the target changes, so after a
  forced exit (stop-loss, take-profit, session end) it stays flat until the signal changes; with
  ``flat_at_session_end`` a new session starts from "no signal", so a standing target re-enters at the
  session's first open.
* All equity goes into each position. A buy fills at ``price * (1 + slippage)``, a sell at
  ``price * (1 - slippage)``; commission is ``fee * traded value``. Entering with equity ``E`` buys (or
  sells short) ``E / (1 + fee) / fill`` units, so trade returns are
  ``(exit * (1 - fee) - entry * (1 + fee)) / (entry * (1 + fee))`` long and
  ``(entry * (1 - fee) - exit * (1 + fee)) / (entry * (1 + fee))`` short. This is vectorbt's
  ``Portfolio.from_signals`` with ``size=inf, lock_cash=True`` on signals shifted one bar and
  ``price=open`` (see ``services/intraday/bench.py``).
* Stops are fractions of the entry fill and are watched from the entry bar on: a bar that opens beyond a
  stop exits at the open, otherwise a stop inside ``[low, high]`` exits at the stop price (stop-loss
  first when a bar touches both).
* With ``flat_at_session_end`` an open position is closed at the close of each session's last bar.
* Equity is marked at every close; a position still open after the last bar stays open, marked at the
  last close, without exit costs.

Everything is accumulated in one pass (sums of bar returns and of their squares, downside sum of squares,
running peak and drawdown, trade statistics), so a sweep needs no per-bar storage; the backtest asks the
same function to also record the equity curve, positions and trades.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# layout of the statistics vector returned by `simulate`
S_BARS, S_EQUITY, S_MEAN, S_M2, S_DOWN2, S_MAXDD, S_IN_MARKET = 0, 1, 2, 3, 4, 5, 6
S_CLOSED, S_OPEN, S_WINS, S_SUM_RET, S_GROSS_PROFIT, S_GROSS_LOSS = 7, 8, 9, 10, 11, 12
N_STATS = 13

# columns of the trade record matrix
T_ENTRY_I, T_EXIT_I, T_SIDE, T_ENTRY_PX, T_EXIT_PX, T_RET, T_PNL, T_REASON, T_BARS = range(9)
N_TRADE_COLS = 9

# exit reasons
R_SIGNAL, R_STOP_LOSS, R_TAKE_PROFIT, R_SESSION_END, R_OPEN = 0, 1, 2, 3, 4


@njit(cache=True, inline="always")
def _close(pos, units, cash, price, fee, slip):
    # cash after closing `units` of side `pos` at market `price`; returns (cash, fill)
    if pos > 0:
        fill = price * (1.0 - slip)
        acq = units * fill
        return cash + (acq - acq * fee), fill
    fill = price * (1.0 + slip)
    req = units * fill
    return cash - (req + req * fee), fill


@njit(cache=True, inline="always")
def _tally(pnl, wins, gross_profit, gross_loss):
    """Add a closed trade's P&L to the win count and the gross profit or loss."""
    if pnl > 0:
        return wins + 1, gross_profit + pnl, gross_loss
    return wins, gross_profit, gross_loss - pnl


@njit(cache=True, inline="always")
def _record(trades_out, nt, entry_i, exit_i, bars, side, entry_px, exit_px, ret, pnl, reason):
    """Write one closed trade into row ``nt`` of ``trades_out``; return the next row."""
    trades_out[nt, T_ENTRY_I] = entry_i
    trades_out[nt, T_EXIT_I] = exit_i
    trades_out[nt, T_SIDE] = side
    trades_out[nt, T_ENTRY_PX] = entry_px
    trades_out[nt, T_EXIT_PX] = exit_px
    trades_out[nt, T_RET] = ret
    trades_out[nt, T_PNL] = pnl
    trades_out[nt, T_REASON] = reason
    trades_out[nt, T_BARS] = bars
    return nt + 1


@njit(cache=True, error_model="numpy")
def simulate(
    open_,
    high,
    low,
    close,
    session_first,
    session_last,
    target,
    start,
    stop,
    fee,
    slip,
    stop_loss,
    take_profit,
    flat_session,
    record,
    equity_out,
    position_out,
    trades_out,
):
    """Run the strategy given by ``target`` over bars ``[start, stop)``.

    Parameters
    ----------
    open_, high, low, close : ndarray of float64, shape (n,)
    session_first, session_last : ndarray of bool, shape (n,)
    target : ndarray of int8, shape (n,)
        Desired position decided at each close.
    start, stop : int
        Simulated bars; ``target[start - 1]`` (if any) is acted on at ``open_[start]``.
    fee, slip : float
        Commission and slippage as fractions (bps / 1e4).
    stop_loss, take_profit : float
        Fractions of the entry fill; NaN for none.
    flat_session, record : bool
    equity_out, position_out : ndarray, shape (stop - start,) when ``record`` (else shape (0,))
    trades_out : ndarray of float64, shape (stop - start, 9) when ``record``

    Returns
    -------
    stats : ndarray of float64, shape (13,)
    n_trades : int
        Rows of ``trades_out`` filled.
    """
    has_sl = not np.isnan(stop_loss)
    has_tp = not np.isnan(take_profit)
    stats = np.zeros(N_STATS)
    cash = 1.0
    pos = 0
    units = 0.0
    capital = 0.0
    entry_px = 0.0
    entry_i = -1
    sl_px = 0.0
    tp_px = 0.0
    last_desired = 0
    eq_prev = 1.0
    peak = 1.0
    max_dd = 0.0
    s1 = 0.0
    s2 = 0.0
    down2 = 0.0
    in_market = 0
    k = 0
    nt = 0
    closed = 0
    wins = 0
    sum_ret = 0.0
    gp = 0.0
    gl = 0.0
    for i in range(start, stop):
        # --- 1. act at the open on the target decided at the previous close
        if flat_session and session_first[i]:
            last_desired = 0
        desired = target[i - 1] if i >= 1 else 0
        if desired != last_desired:
            last_desired = desired
            if pos != desired:
                if pos != 0:
                    cash, fill = _close(pos, units, cash, open_[i], fee, slip)
                    pnl = cash - capital
                    ret = pnl / capital
                    closed += 1
                    sum_ret += ret
                    wins, gp, gl = _tally(pnl, wins, gp, gl)
                    if record:
                        nt = _record(
                            trades_out, nt, entry_i, i, i - entry_i, pos, entry_px, fill, ret, pnl, R_SIGNAL
                        )
                    pos = 0
                    units = 0.0
                if desired != 0 and cash > 0.0:  # a ruined book (equity <= 0) stays flat
                    capital = cash
                    if desired > 0:
                        entry_px = open_[i] * (1.0 + slip)
                        units = cash / (1.0 + fee) / entry_px
                        cash = 0.0
                        sl_px = entry_px * (1.0 - stop_loss)
                        tp_px = entry_px * (1.0 + take_profit)
                    else:
                        entry_px = open_[i] * (1.0 - slip)
                        units = cash / (entry_px * (1.0 + fee))
                        acq = units * entry_px
                        cash = cash + (acq - acq * fee)
                        sl_px = entry_px * (1.0 + stop_loss)
                        tp_px = entry_px * (1.0 - take_profit)
                    pos = desired
                    entry_i = i
        # --- 2. stops inside the bar, then 3. the session's closing bar
        reason = -1
        exit_at = 0.0
        if pos != 0 and (has_sl or has_tp):
            o = open_[i]
            if pos > 0:
                if has_sl and o <= sl_px:
                    reason, exit_at = R_STOP_LOSS, o
                elif has_tp and o >= tp_px:
                    reason, exit_at = R_TAKE_PROFIT, o
                elif has_sl and low[i] <= sl_px:
                    reason, exit_at = R_STOP_LOSS, sl_px
                elif has_tp and high[i] >= tp_px:
                    reason, exit_at = R_TAKE_PROFIT, tp_px
            else:
                if has_sl and o >= sl_px:
                    reason, exit_at = R_STOP_LOSS, o
                elif has_tp and o <= tp_px:
                    reason, exit_at = R_TAKE_PROFIT, o
                elif has_sl and high[i] >= sl_px:
                    reason, exit_at = R_STOP_LOSS, sl_px
                elif has_tp and low[i] <= tp_px:
                    reason, exit_at = R_TAKE_PROFIT, tp_px
        if reason < 0 and pos != 0 and flat_session and session_last[i]:
            reason, exit_at = R_SESSION_END, close[i]
        if reason >= 0:
            cash, fill = _close(pos, units, cash, exit_at, fee, slip)
            pnl = cash - capital
            ret = pnl / capital
            closed += 1
            sum_ret += ret
            wins, gp, gl = _tally(pnl, wins, gp, gl)
            if record:
                nt = _record(
                    trades_out, nt, entry_i, i, i - entry_i + 1, pos, entry_px, fill, ret, pnl, reason
                )
            pos = 0
            units = 0.0
        # --- 4. mark to the close and accumulate
        if pos > 0:
            eq = cash + units * close[i]
            in_market += 1
        elif pos < 0:
            eq = cash - units * close[i]
            in_market += 1
        else:
            eq = cash
        r = eq / eq_prev - 1.0
        eq_prev = eq
        k += 1
        s1 += r
        s2 += r * r
        if r < 0.0:
            down2 += r * r
        if eq >= peak:
            peak = eq
        else:
            dd = eq / peak - 1.0
            if dd < max_dd:
                max_dd = dd
        if record:
            equity_out[i - start] = eq
            position_out[i - start] = pos
    if pos != 0:
        pnl = eq_prev - capital
        stats[S_OPEN] = 1.0
        if record:
            trades_out[nt, T_ENTRY_I] = entry_i
            trades_out[nt, T_EXIT_I] = stop - 1
            trades_out[nt, T_SIDE] = pos
            trades_out[nt, T_ENTRY_PX] = entry_px
            trades_out[nt, T_EXIT_PX] = close[stop - 1]
            trades_out[nt, T_RET] = pnl / capital
            trades_out[nt, T_PNL] = pnl
            trades_out[nt, T_REASON] = R_OPEN
            trades_out[nt, T_BARS] = stop - entry_i
            nt += 1
    stats[S_BARS] = k
    stats[S_EQUITY] = eq_prev
    stats[S_MEAN] = s1 / k if k > 0 else 0.0
    # sum of squared deviations from the sums (per-bar returns have |mean| << std, so this loses nothing
    # that matters and keeps the loop free of a dependent division)
    stats[S_M2] = max(s2 - s1 * s1 / k, 0.0) if k > 0 else 0.0
    stats[S_DOWN2] = down2
    stats[S_MAXDD] = max_dd
    stats[S_IN_MARKET] = in_market
    stats[S_CLOSED] = closed
    stats[S_WINS] = wins
    stats[S_SUM_RET] = sum_ret
    stats[S_GROSS_PROFIT] = gp
    stats[S_GROSS_LOSS] = gl
    return stats, nt
