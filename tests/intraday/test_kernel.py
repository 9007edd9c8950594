"""The compiled kernel against the plainly written per-bar reference, hand-checked cases, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.intraday.engine import Costs, Execution, metrics_dict, prepare_bars, run_kernel, trades_frame

from .conftest import random_walk_bars, session_bars
from .reference import reference_backtest, reference_metrics

PNL_TOL = 1e-10
REASONS = ("signal", "stop_loss", "take_profit", "session_end", "open")


def random_targets(n: int, seed: int, p_change: float = 0.05) -> np.ndarray:
    """A target series that changes with probability ``p_change`` per bar to a random value in {-1,0,1}."""
    rng = np.random.default_rng(seed)
    t = np.zeros(n, np.int8)
    cur = 0
    for i in range(n):
        if rng.random() < p_change:
            cur = int(rng.integers(-1, 2))
        t[i] = cur
    return t


def run_both(b, targets, costs, execution):
    stats, (equity, positions, rows) = run_kernel(b, targets, costs, execution, record=True)
    ref_eq, ref_trades = reference_backtest(
        b.open,
        b.high,
        b.low,
        b.close,
        b.session_first,
        b.session_last,
        targets,
        fee=costs.fee,
        slip=costs.slippage,
        stop_loss=execution.stop_loss,
        take_profit=execution.take_profit,
        flat=execution.flat_at_session_end,
    )
    return stats, equity, positions, rows, ref_eq, ref_trades


CASES = {
    "no-costs": (Costs(), Execution()),
    "costs": (Costs(5, 3), Execution()),
    "stops": (Costs(2, 1), Execution(stop_loss=0.004, take_profit=0.006)),
    "stop-loss-only": (Costs(1, 0), Execution(stop_loss=0.002)),
    "take-profit-only": (Costs(0, 2), Execution(take_profit=0.003)),
    "session-flat": (Costs(3, 2), Execution(flat_at_session_end=True)),
    "everything": (Costs(10, 5), Execution(stop_loss=0.003, take_profit=0.003, flat_at_session_end=True)),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
@pytest.mark.parametrize("seed", range(8), ids=lambda s: f"seed{s}")
def test_kernel_equals_reference(case, seed):
    costs, execution = CASES[case]
    df = random_walk_bars(1500, seed=100 + seed, vol=0.003)
    b = prepare_bars(df)
    targets = random_targets(len(b), seed, p_change=0.03 + 0.02 * (seed % 3))
    stats, equity, positions, rows, ref_eq, ref_trades = run_both(b, targets, costs, execution)
    # identical trades
    assert len(rows) == len(ref_trades)
    got = trades_frame(rows, b.index)
    assert got["exit_reason"].tolist() == [t["reason"] for t in ref_trades]
    assert_allclose(rows[:, 0], [t["entry_i"] for t in ref_trades], rtol=0, atol=0)
    assert_allclose(rows[:, 1], [t["exit_i"] for t in ref_trades], rtol=0, atol=0)
    assert_allclose(rows[:, 2], [t["side"] for t in ref_trades], rtol=0, atol=0)
    assert_allclose(rows[:, 8], [t["bars"] for t in ref_trades], rtol=0, atol=0)
    assert_allclose(rows[:, 3], [t["entry_price"] for t in ref_trades], rtol=1e-14)
    assert_allclose(rows[:, 4], [t["exit_price"] for t in ref_trades], rtol=1e-14)
    # PnL and returns to 1e-10
    assert_allclose(rows[:, 6], [t["pnl"] for t in ref_trades], rtol=0, atol=PNL_TOL)
    assert_allclose(rows[:, 5], [t["ret"] for t in ref_trades], rtol=0, atol=PNL_TOL)
    assert_allclose(equity, ref_eq, rtol=0, atol=PNL_TOL)
    # metrics from the one-pass statistics equal pandas on the reference curve
    m = metrics_dict(stats, b.periods_per_year)
    ref = reference_metrics(ref_eq, ref_trades, b.periods_per_year)
    ref["exposure"] = float(np.mean(positions != 0))
    for name, value in ref.items():
        assert_allclose(m[name], value, rtol=1e-8, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed{s}")
def test_kernel_equals_reference_in_sessions(seed):
    b = prepare_bars(session_bars(8, seed=seed), "session")
    targets = random_targets(len(b), seed, p_change=0.08)
    costs, execution = Costs(4, 2), Execution(stop_loss=0.004, flat_at_session_end=True)
    _stats, equity, positions, rows, ref_eq, ref_trades = run_both(b, targets, costs, execution)
    assert [int(r) for r in rows[:, 1]] == [t["exit_i"] for t in ref_trades]
    assert_allclose(equity, ref_eq, rtol=0, atol=PNL_TOL)
    # flat over every session end
    assert (positions[b.session_last] == 0).all()


def tiny_bars(o, h, lo, c) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=len(c), freq="5min")
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": 1.0}, index=idx)


def test_one_long_trade_by_hand():
    # signal at close of bar 0 -> buy at open of bar 1 (101); exit signal at close of bar 2 -> sell at 105
    b = prepare_bars(
        tiny_bars([100, 101, 103, 105], [101, 104, 106, 106], [99, 100, 102, 104], [100.5, 103, 104, 105.5])
    )
    _stats, (eq, pos, rows) = run_kernel(
        b, np.array([1, 1, 0, 0], np.int8), Costs(), Execution(), record=True
    )
    assert rows.shape[0] == 1
    assert rows[0, 3] == 101 and rows[0, 4] == 105
    assert_allclose(rows[0, 5], 105 / 101 - 1, rtol=1e-15)
    assert_allclose(eq, [1.0, 103 / 101, 104 / 101, 105 / 101], rtol=1e-15)
    assert pos.tolist() == [0, 1, 1, 0]


def test_costs_by_hand():
    # 10 bps commission, 20 bps slippage: buy fill 101 * 1.002, sell fill 105 * 0.998
    b = prepare_bars(
        tiny_bars([100, 101, 103, 105], [101, 104, 106, 106], [99, 100, 102, 104], [100.5, 103, 104, 105.5])
    )
    _, (eq, _, rows) = run_kernel(b, np.array([1, 1, 0, 0], np.int8), Costs(10, 20), Execution(), record=True)
    entry, exit_ = 101 * 1.002, 105 * 0.998
    expected = exit_ * 0.999 / (entry * 1.001) - 1
    assert_allclose(rows[0, 5], expected, rtol=1e-14)
    assert_allclose(eq[-1], 1 + expected, rtol=1e-14)
    # short: sell 101 * 0.998, cover 105 * 1.002
    _, (_, _, rows) = run_kernel(
        b, np.array([-1, -1, 0, 0], np.int8), Costs(10, 20), Execution(), record=True
    )
    e, x = 101 * 0.998, 105 * 1.002
    assert_allclose(rows[0, 5], (e * 0.999 - x * 1.001) / (e * 1.001), rtol=1e-14)


def test_stop_loss_hit_by_hand():
    # long from 100 (bar 1 open); 5 % stop at 95; bar 2 trades down to 94 -> out at 95, not at the low
    b = prepare_bars(
        tiny_bars([100, 100, 99, 96], [101, 101, 99.5, 97], [99, 98, 94, 95], [100, 99, 96, 96.5])
    )
    _, (eq, pos, rows) = run_kernel(b, np.ones(4, np.int8), Costs(), Execution(stop_loss=0.05), record=True)
    assert rows.shape[0] == 1 and rows[0, 7] == 1  # stop_loss
    assert rows[0, 1] == 2 and rows[0, 4] == 95.0
    assert_allclose(eq[2:], [0.95, 0.95])  # flat after the stop; the standing signal does not re-enter
    assert pos.tolist() == [0, 1, 0, 0]


def test_gap_through_stop_fills_at_open():
    b = prepare_bars(tiny_bars([100, 100, 90, 91], [101, 101, 92, 92], [99, 99, 89, 90], [100, 100, 91, 91]))
    _, (_, _, rows) = run_kernel(b, np.ones(4, np.int8), Costs(), Execution(stop_loss=0.05), record=True)
    assert rows[0, 4] == 90.0  # opened below the 95 stop: filled at the open


def test_take_profit_and_reentry_after_signal_change():
    b = prepare_bars(tiny_bars([100] * 6, [100.5, 100.5, 103, 100.5, 100.5, 100.5], [99.5] * 6, [100] * 6))
    targets = np.array([1, 1, 1, 0, 1, 1], np.int8)
    _, (_, pos, rows) = run_kernel(b, targets, Costs(), Execution(take_profit=0.02), record=True)
    assert rows[0, 7] == 2 and rows[0, 4] == 102.0  # take-profit at 102 inside bar 2
    assert pos.tolist() == [0, 1, 0, 0, 0, 1]  # re-entered only after the signal went 0 -> 1


@pytest.mark.parametrize(
    "execution", [Execution(), Execution(stop_loss=0.003, take_profit=0.004)], ids=["signals", "stops"]
)
def test_no_look_ahead(execution):
    """Changing anything after bar t (prices and the signal) never changes what happened up to bar t."""
    df = random_walk_bars(800, seed=3)
    b = prepare_bars(df)
    targets = random_targets(len(b), 5, 0.1)
    _, (eq, pos, _) = run_kernel(b, targets, Costs(3, 2), execution, record=True)
    rng = np.random.default_rng(0)
    for t in rng.integers(10, 790, 15):
        df2 = df.copy()
        df2.iloc[t + 1 :, :4] *= 1.05 if t % 2 else 0.95
        t2 = targets.copy()
        t2[t + 1 :] = -t2[t + 1 :]
        _, (eq2, pos2, _) = run_kernel(prepare_bars(df2), t2, Costs(3, 2), execution, record=True)
        assert_allclose(eq2[: t + 1], eq[: t + 1], rtol=0, atol=0)
        assert (pos2[: t + 1] == pos[: t + 1]).all()
        if execution.stop_loss is None:
            # the decision taken at the close of t is what bar t+1 holds, whatever bar t+1 looks like
            assert pos2[t + 1] == pos[t + 1]


def test_open_position_at_end_is_marked_without_exit_costs():
    b = prepare_bars(tiny_bars([100, 100, 102], [101, 101, 103], [99, 99, 101], [100, 101, 102]))
    stats, (eq, _, rows) = run_kernel(b, np.ones(3, np.int8), Costs(10, 0), Execution(), record=True)
    assert rows.shape[0] == 1 and rows[0, 7] == 4  # open
    assert_allclose(eq[-1], 102 / (100 * 1.001), rtol=1e-15)
    m = metrics_dict(stats, b.periods_per_year)
    assert m["n_trades"] == 1 and np.isnan(m["win_rate"])
