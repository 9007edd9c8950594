"""vectorbt (the benchmark peer) reproduces our execution model: same trades, PnL and returns.

Skipped when vectorbt is not installed (it is a benchmark dependency only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.intraday import bench
from services.intraday.engine import Costs, IndicatorCache, backtest, make_strategy, prepare_bars

from .conftest import random_walk_bars


@pytest.fixture(scope="module")
def vbt():
    try:
        return bench.import_vectorbt()
    except bench.PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
@pytest.mark.parametrize("costs", [Costs(), Costs(5, 2)], ids=["no-costs", "costs"])
@pytest.mark.parametrize("direction", ["both", "long", "short"])
def test_vectorbt_trades_equal_ours(vbt, costs, direction):
    b = prepare_bars(random_walk_bars(2500, seed=21))
    specs = [
        make_strategy("sma_cross", {"fast": f, "slow": s, "direction": direction})
        for f, s in [(5, 20), (9, 40), (3, 60)]
    ]
    cache = IndicatorCache(b)
    targets = pd.DataFrame({j: s.targets(cache) for j, s in enumerate(specs)}, index=b.index).astype(float)
    pf = bench.vectorbt_portfolio(vbt, b, targets, costs)
    values = pf.value()
    records = pf.trades.records_readable
    for j, spec in enumerate(specs):
        ours = backtest(b, spec, costs)
        theirs = records[records["Column"] == j].reset_index(drop=True)
        assert len(theirs) == len(ours.trades) > 10
        assert (theirs["Entry Timestamp"].to_numpy() == ours.trades["entry_time"].to_numpy()).all()
        assert (theirs["Exit Timestamp"].to_numpy() == ours.trades["exit_time"].to_numpy()).all()
        assert (theirs["Direction"].str.lower().to_numpy() == ours.trades["side"].to_numpy()).all()
        assert_allclose(theirs["Avg Entry Price"], ours.trades["entry_price"], rtol=1e-13)
        assert_allclose(theirs["PnL"], ours.trades["pnl"], rtol=0, atol=1e-12)
        assert_allclose(theirs["Return"] / (1 + costs.fee), ours.trades["return"], rtol=1e-9, atol=1e-12)
        assert_allclose(values[j].to_numpy(), ours.equity.to_numpy(), rtol=0, atol=1e-12)


def test_tiny_workload_same_result_as_peer(vbt):
    inputs = bench.WORKLOADS["sma_grid_5min"].build("tiny")
    ours = bench.run_sequential(inputs)
    peer = bench.run_peer(inputs)
    assert bench.same_result(ours, peer)
    assert len(ours["n_trades"]) == bench.n_backtests(inputs) and (ours["n_trades"] > 0).all()
    # and same_result can fail: one perturbed return breaks it
    broken = {
        "total_return": ours["total_return"] + np.r_[1e-6, np.zeros(len(ours["n_trades"]) - 1)],
        "n_trades": ours["n_trades"],
    }
    assert not bench.same_result(broken, peer)
