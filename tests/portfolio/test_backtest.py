"""Walk-forward backtests: no look-ahead, a share-holding reference loop, strategies and costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.portfolio.engine import (
    BacktestSpec,
    Constraints,
    Decision,
    OptimizationSpec,
    PortfolioError,
    Rebalance,
    backtest_dates,
    decide_weights,
    optimize,
    prices_to_returns,
    rebalance_dates,
    simulate,
    walk_forward,
)


@pytest.fixture(scope="module")
def prices(sp500_prices) -> pd.DataFrame:
    return sp500_prices.loc["2016":"2022"]


@pytest.fixture(scope="module")
def returns(prices) -> pd.DataFrame:
    return prices_to_returns(prices)


SHARPE = BacktestSpec(
    strategy="optimized",
    rebalance="M",
    lookback=252,
    optimization=OptimizationSpec(objective="max_sharpe"),
    costs_bps=10,
    start=pd.Timestamp("2019-01-01"),
)


def test_changing_future_prices_never_changes_past_weights(prices, returns):
    """Scramble every price after the cut; weights decided on or before it stay bit-identical."""
    cut = pd.Timestamp("2020-06-30")
    base = walk_forward(returns, SHARPE)
    rng = np.random.default_rng(7)
    shocked = prices.copy()
    after = shocked.index > cut
    shocked.loc[after] *= np.exp(np.cumsum(rng.normal(0, 0.03, size=(after.sum(), prices.shape[1])), axis=0))
    moved = walk_forward(prices_to_returns(shocked), SHARPE)
    before = [(a, b) for a, b in zip(base.rebalances, moved.rebalances, strict=True) if a.date <= cut]
    later = [(a, b) for a, b in zip(base.rebalances, moved.rebalances, strict=True) if a.date > cut]
    assert len(before) >= 18 and len(later) >= 20
    for a, b in before:
        assert a.date == b.date and a.weights == b.weights
    # the shock is strong enough to matter: every later decision changed
    assert all(a.weights != b.weights for a, b in later)
    assert_allclose(base.equity.loc[:cut], moved.equity.loc[:cut], rtol=0, atol=0)


def test_decision_sees_only_the_lookback_window(returns):
    d = pd.Timestamp("2021-03-31")
    spec = BacktestSpec(
        strategy="optimized", lookback=300, optimization=OptimizationSpec(objective="min_variance")
    )
    window = returns.loc[:d].iloc[-300:]
    got = decide_weights(returns, d, spec).weights
    assert list(got) == list(window.columns)
    # backtests solve min-variance with the compiled programme; skfolio agrees to its accuracy (test_program)
    assert_allclose(list(got.values()), list(optimize(window).weights.values()), atol=1e-3)


def test_rebalance_dates_are_period_ends(returns):
    spec = BacktestSpec(rebalance=Rebalance.QUARTERLY, lookback=252)
    dates = rebalance_dates(returns.index, spec)
    # 2016 holds 251 daily returns (the first price day has none), so 2016-12-30 lacks a full year
    assert len(returns.loc[:"2016-12-30"]) == 251
    assert dates[0] == pd.Timestamp("2017-03-31")
    for d in dates:
        nxt = returns.index[returns.index.get_loc(d) + 1]
        assert nxt.quarter != d.quarter
    weekly = rebalance_dates(returns.index, BacktestSpec(rebalance="W", lookback=252))
    assert (weekly.dayofweek <= 4).all() and len(weekly) > 5 * len(dates)


def _reference_equity(prices: pd.DataFrame, plan: list[tuple[pd.Timestamp, dict]], bps: float) -> pd.Series:
    """Hold shares bought at each rebalance close; pay bps on the value traded; cash earns nothing."""
    wealth, shares, cash, values = 1.0, {}, 0.0, {}
    for k, (day, target) in enumerate(plan):
        px = prices.loc[day]
        wealth = cash + sum(n * px[s] for s, n in shares.items()) if shares else 1.0
        held = {s: n * px[s] / wealth for s, n in shares.items()}
        traded = sum(abs(target.get(s, 0) - held.get(s, 0)) for s in set(target) | set(held))
        wealth -= wealth * traded * bps / 1e4
        shares = {s: w * wealth / px[s] for s, w in target.items()}
        cash = wealth - sum(w * wealth for w in target.values())
        stop = plan[k + 1][0] if k + 1 < len(plan) else prices.index[-1]
        if k == 0:
            values[day] = 1.0
        for t in prices.index[(prices.index > day) & (prices.index <= stop)]:
            values[t] = cash + sum(n * prices.at[t, s] for s, n in shares.items())
    return pd.Series(values)


@pytest.mark.parametrize("bps", [0.0, 25.0], ids=["free", "25bps"])
def test_simulation_matches_share_holding_loop(prices, returns, bps):
    spec = BacktestSpec(
        strategy="optimized",
        lookback=126,
        optimization=OptimizationSpec(objective="min_variance", constraints=Constraints(budget=0.9)),
        costs_bps=bps,
        start=pd.Timestamp("2021-01-01"),
    )
    result = walk_forward(returns, spec)
    plan = [(r.date, r.weights) for r in result.rebalances]
    ref = _reference_equity(prices, plan, bps)
    assert_allclose(result.equity.to_numpy(), ref.reindex(result.equity.index).to_numpy(), rtol=1e-12)
    assert result.rebalances[0].turnover == pytest.approx(0.9)
    assert result.rebalances[0].cost == pytest.approx(0.9 * bps / 1e4)


def test_costs_reduce_equity(returns):
    free = walk_forward(returns, BacktestSpec(strategy="equal_weight", start=pd.Timestamp("2018-01-01")))
    paid = walk_forward(
        returns, BacktestSpec(strategy="equal_weight", costs_bps=50, start=pd.Timestamp("2018-01-01"))
    )
    assert paid.equity.iloc[-1] < free.equity.iloc[-1]
    factor = np.prod([1 - r.cost for r in paid.rebalances])
    assert_allclose(paid.equity.iloc[-1], free.equity.iloc[-1] * factor, rtol=1e-12)
    # equal weight drifts between rebalances, so each later rebalance trades a little
    assert all(0 < r.turnover < 0.5 for r in paid.rebalances[1:])


def test_benchmark_and_metrics(returns):
    result = walk_forward(returns, SHARPE, benchmark=returns["AAPL"])
    assert result.benchmark_equity is not None
    assert_allclose(
        result.benchmark_equity.iloc[-1], (1 + returns["AAPL"].loc[result.returns.index]).prod(), rtol=1e-12
    )
    assert result.metrics.benchmark is not None
    assert result.metrics.n_observations == len(result.returns)
    assert result.equity.index[0] == result.rebalances[0].date


@pytest.fixture(scope="module")
def rankings() -> pd.DataFrame:
    """A hand-made monthly ranking table (dated when each ranking became known)."""
    rows = []
    for date, order in [
        ("2021-01-29", ["AAPL", "ZZZZ", "MSFT", "KO", "XOM", "JPM"]),
        ("2021-02-26", ["XOM", "CVX", "JPM", "AAPL"]),
        ("2021-03-31", ["PFE", "JNJ", "PG", "PEP", "KO"]),
    ]:
        rows += [{"date": pd.Timestamp(date), "symbol": s, "rank": i + 1} for i, s in enumerate(order)]
    return pd.DataFrame(rows)


def test_sentiment_top_n(returns, rankings):
    spec = BacktestSpec(strategy="sentiment_top_n", top_n=3, lookback=60, end=pd.Timestamp("2021-06-30"))
    result = walk_forward(returns, spec, rankings=rankings)
    first = result.rebalances[0]
    assert first.date == pd.Timestamp("2021-01-29")
    assert first.picks == ("AAPL", "MSFT", "KO") and first.skipped == ("ZZZZ",)
    assert first.weights == pytest.approx({"AAPL": 1 / 3, "MSFT": 1 / 3, "KO": 1 / 3})
    assert result.rebalances[1].picks == ("XOM", "CVX", "JPM")
    # April and May reuse March's ranking: the latest one known at that date
    assert [r.picks for r in result.rebalances[2:]] == [("PFE", "JNJ", "PG")] * 3
    # a ranking published later never changes an earlier decision
    future = pd.concat(
        [rankings, pd.DataFrame({"date": pd.Timestamp("2021-02-01"), "symbol": ["GE"], "rank": [0]})]
    )
    assert decide_weights(returns, pd.Timestamp("2021-01-29"), spec, future).weights == first.weights
    assert decide_weights(returns, pd.Timestamp("2021-02-01"), spec, future).picks[0] == "GE"


def test_sentiment_optimised_among_picks(returns, rankings):
    spec = BacktestSpec(
        strategy="sentiment_top_n", top_n=3, lookback=60, optimize_picks=True, end=pd.Timestamp("2021-03-31")
    )
    d = decide_weights(returns, pd.Timestamp("2021-01-29"), spec, rankings)
    ref = optimize(returns.loc[:"2021-01-29"].iloc[-60:][["AAPL", "MSFT", "KO"]]).weights
    assert list(d.weights) == list(ref)
    assert_allclose(list(d.weights.values()), list(ref.values()), atol=1e-5)


def test_sentiment_needs_rankings(returns):
    with pytest.raises(PortfolioError) as err:
        walk_forward(returns, BacktestSpec(strategy="sentiment_top_n"))
    assert err.value.field == "rankings"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lookback": 5}, "lookback"),
        ({"top_n": 0}, "top_n"),
        ({"costs_bps": -1}, "costs_bps"),
        ({"start": "2022-01-01", "end": "2021-01-01"}, "start"),
    ],
    ids=["lookback", "top_n", "costs", "dates"],
)
def test_bad_spec(kwargs, field):
    with pytest.raises(PortfolioError) as err:
        BacktestSpec(**kwargs)
    assert err.value.field == field


def test_window_without_rebalance_dates(returns):
    with pytest.raises(PortfolioError):
        backtest_dates(returns.loc[:"2016-06-30"], BacktestSpec(lookback=252))


def test_simulate_rejects_empty():
    with pytest.raises(PortfolioError):
        simulate(pd.DataFrame({"A": [0.1]}, index=pd.date_range("2020-01-01", periods=1)), [])


def _panel(a: list[float], b: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"A": a, "B": b}, index=pd.date_range("2020-01-01", periods=len(a), freq="B"))


def test_simulate_by_hand():
    """Two periods worked out on paper: drift, turnover against the drifted weights, costs, cash."""
    r = _panel([0.0, 0.10, -0.05, 0.02], [0.0, 0.0, 0.10, 0.01])
    d = r.index
    plan = [Decision(d[0], {"A": 0.5, "B": 0.5}, "x"), Decision(d[2], {"A": 0.8}, "x")]
    net, records = simulate(r, plan, costs_bps=100)
    # day 1: pay 1 % on turnover 1, then A +10 %: wealth 0.99 * 1.05
    # day 2: A -5 %, B +10 % on drifted values 0.55 / 0.5 of wealth 1.05
    w2 = (0.55 * 0.95 + 0.5 * 1.10) / 1.05
    drifted = {"A": 0.55 * 0.95 / (w2 * 1.05), "B": 0.5 * 1.10 / (w2 * 1.05)}
    turnover = abs(0.8 - drifted["A"]) + drifted["B"]
    # day 3: 80 % in A (+2 %), 20 % cash, after paying 1 % of the turnover
    day3 = (1 - 0.01 * turnover) * (1 + 0.8 * 0.02) - 1
    assert_allclose(net.to_numpy(), [0.99 * 1.05 - 1, w2 - 1, day3], rtol=1e-13)
    assert list(net.index) == list(d[1:])
    assert [x.turnover for x in records] == pytest.approx([1.0, turnover], rel=1e-13)
    assert records[1].cost == pytest.approx(0.01 * turnover, rel=1e-13)


def test_simulate_names_a_held_symbol_without_returns():
    r = _panel([0.0, 0.01, 0.02], [np.nan, 0.01, np.nan])
    plan = [Decision(r.index[0], {"A": 0.5, "B": 0.5}, "x")]
    with pytest.raises(PortfolioError, match="B has no returns while held after 2020-01-01") as err:
        simulate(r, plan)
    assert err.value.field == "returns"
    # a symbol that is not held may lack returns
    net, _ = simulate(r, [Decision(r.index[0], {"A": 1.0}, "x")])
    assert_allclose(net.to_numpy(), [0.01, 0.02])


def test_simulate_without_out_of_sample_day():
    r = _panel([0.0, 0.01], [0.0, 0.01])
    with pytest.raises(PortfolioError, match="no out-of-sample day") as err:
        simulate(r, [Decision(r.index[1], {"A": 1.0}, "x")])
    assert err.value.field == "end"
