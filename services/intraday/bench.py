"""Benchmark workloads of the intraday service (called by the bench harness; never imported at runtime).

Shape — every workload is a :class:`Workload`:

* ``build(size) -> inputs`` with ``size`` in ``"tiny" | "small" | "medium" | "large"``;
* ``variants``: ``{"sequential": fn, "ray": fn, "peer": fn}``, each ``fn(inputs) -> result``;
  ``sequential`` is the engine in this process, ``ray`` the service's Ray path on whatever Ray is
  connected, ``peer`` vectorbt (imported lazily; :class:`PeerUnavailable` when it is not installed);
* ``same_result(a, b) -> bool``: identical trade counts and total returns equal to ``rtol=1e-9``
  (plus ``atol=1e-12``) for every combination;
* ``units(inputs) -> int``: backtests in one run (report backtests per second).

Workloads: ``sma_grid_5min`` — the SMA crossover grid (fast 5..50 × slow 20..200, fast < slow: 7,830
combinations at ``large``) on ~17,000 simulated 5-minute bars with 1 bp commission and 1 bp slippage;
``sma_grid_daily`` — the same grid, long-only, on the 20 real S&P 500 daily series skfolio bundles
(closes only, so ``open = close``: orders fill at the next close). Long-only because over 30 years of
real prices a few long/short combinations hold a short through a more-than-doubling price and lose more
than the whole equity; there the models differ by design (vectorbt covers only what the cash allows, we
book the full loss), so the comparison would not be like for like.

How vectorbt reproduces our execution model (checked by ``same_result`` and by
``tests/intraday/test_bench.py``): ``Portfolio.from_signals`` with the target series shifted one bar
(so the order sits on the bar where we act), ``price=open``, ``fees=commission``, ``slippage=slippage``,
``size=inf`` (all equity), ``lock_cash=True`` (a short sells ``equity / (1 + fee) / fill`` units, as we
do), ``upon_opposite_entry="reverse"``, ``accumulate=False``, ``init_cash=1``, and edge signals: long
entry where the target turns +1, short entry where it turns -1, long/short exit where it turns 0 from
+1/-1. Equity curves then agree to ~1e-14 and trade PnL exactly; vectorbt's trade ``Return`` divides
PnL by the entry value *without* the entry fee, ours by the capital committed (with it), so
``ours = vectorbt / (1 + fee)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from services.bench.spec import Workload
from services.intraday import engine as E

SIZES = ("tiny", "small", "medium", "large")
FULL_GRID = {"fast": list(range(5, 51)), "slow": list(range(20, 201))}
GRIDS = {
    "tiny": {"fast": list(range(5, 11)), "slow": list(range(20, 31))},
    "small": {"fast": list(range(5, 21)), "slow": list(range(20, 61))},
    "medium": {"fast": list(range(5, 51)), "slow": list(range(20, 101))},
    "large": FULL_GRID,
}
BARS_5MIN = {"tiny": 2_000, "small": 8_000, "medium": 17_280, "large": 17_280}
DAILY_SERIES = {"tiny": 2, "small": 5, "medium": 10, "large": 20}
COSTS = E.Costs(commission_bps=1.0, slippage_bps=1.0)
PEER_CHUNK = 400  # vectorbt columns per call (bounds its memory: ~17k bars x 400 columns x 8 B per array)
RTOL, ATOL = 1e-9, 1e-12


class PeerUnavailable(RuntimeError):
    """vectorbt is not installed (it is a benchmark peer only: ``pip install vectorbt``)."""


@dataclass(frozen=True)
class GridInputs:
    """Bar sets and the SMA grid to run on each."""

    bars: list[E.BarData]
    grid: dict[str, list[int]]
    costs: E.Costs = COSTS
    direction: str = "both"

    def expanded(self) -> E.Grid:
        return E.expand_grid("sma_cross", {**self.grid, "direction": [self.direction]})


def build_5min(size: str) -> GridInputs:
    """The last ``BARS_5MIN[size]`` bars of 60 simulated days from core's documented 24/7 model."""
    from services.core.datagen import simulate_24x7

    bars, _ = simulate_24x7("2023-07-21", "2023-09-18")
    return GridInputs([E.prepare_bars(bars.iloc[-BARS_5MIN[size] :])], GRIDS[size])


def build_daily(size: str) -> GridInputs:
    """``DAILY_SERIES[size]`` of skfolio's 20 real S&P 500 daily price series (open = high = low = close)."""
    from services.core.readers import load_sp500

    prices = load_sp500()
    out = []
    for sym in prices.columns[: DAILY_SERIES[size]]:
        c = prices[sym].dropna()
        df = pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 0.0})
        out.append(E.prepare_bars(df, E.Calendar.session))
    return GridInputs(out, GRIDS[size], direction="long")


def n_backtests(inputs: GridInputs) -> int:
    return len(inputs.bars) * len(inputs.expanded().combos)


# --- variants -----------------------------------------------------------------------------------------
def _summary(results: Sequence[E.SweepResult]) -> dict[str, np.ndarray]:
    return {
        "total_return": np.concatenate([r.metrics()["total_return"] for r in results]),
        "n_trades": np.concatenate([r.metrics()["n_trades"] for r in results]),
    }


def run_sequential(inputs: GridInputs) -> dict[str, np.ndarray]:
    """The engine's sweep in this process, one bar set after the other."""
    grid = inputs.expanded()
    return _summary([E.sweep(b, grid, inputs.costs) for b in inputs.bars])


def run_ray(inputs: GridInputs) -> dict[str, np.ndarray]:
    """The service's Ray sweep (chunks of the grid over the connected cluster, bars put once)."""
    from services.intraday import tasks

    grid = inputs.expanded()
    return _summary([tasks.sweep_on_ray(b, grid, inputs.costs) for b in inputs.bars])


@functools.cache
def import_vectorbt() -> Any:
    """Import vectorbt lazily. vectorbt 1.0 registers a plotly template with a trace type plotly 6+
    dropped (``scattermapbox``); the template is built with ``skip_invalid=True`` while importing."""
    try:
        import plotly.graph_objs.layout as layout
    except ImportError as exc:  # pragma: no cover - plotly comes with vectorbt
        raise PeerUnavailable(str(exc)) from exc
    original = layout.Template.__init__

    def lenient(self: Any, arg: Any = None, layout: Any = None, data: Any = None, **kw: Any) -> None:
        kw.setdefault("skip_invalid", True)
        original(self, arg, layout=layout, data=data, **kw)

    layout.Template.__init__ = lenient
    try:
        import vectorbt
    except ImportError as exc:
        raise PeerUnavailable("vectorbt is not installed (pip install vectorbt)") from exc
    finally:
        layout.Template.__init__ = original
    return vectorbt


def vectorbt_portfolio(vbt: Any, bars: E.BarData, targets: pd.DataFrame, costs: E.Costs) -> Any:
    """vectorbt ``Portfolio.from_signals`` set up to reproduce our kernel for target columns ``targets``
    (decided at each close, int in {-1, 0, 1}, index = bar stamps)."""
    prev = targets.shift(1).fillna(0)
    prev2 = targets.shift(2).fillna(0)
    cols = targets.columns
    close = pd.DataFrame(np.repeat(bars.close[:, None], len(cols), 1), index=targets.index, columns=cols)
    price = pd.DataFrame(np.repeat(bars.open[:, None], len(cols), 1), index=targets.index, columns=cols)
    return vbt.Portfolio.from_signals(
        close=close,
        entries=(prev == 1) & (prev2 != 1),
        exits=(prev == 0) & (prev2 == 1),
        short_entries=(prev == -1) & (prev2 != -1),
        short_exits=(prev == 0) & (prev2 == -1),
        price=price,
        fees=costs.fee,
        slippage=costs.slippage,
        size=np.inf,
        lock_cash=True,
        init_cash=1.0,
        upon_opposite_entry="reverse",
        accumulate=False,
        freq=f"{round(bars.bar_minutes)}min",
    )


def run_peer(inputs: GridInputs) -> dict[str, np.ndarray]:
    """vectorbt end to end: its moving averages, the crossover targets, ``Portfolio.from_signals``."""
    vbt = import_vectorbt()
    grid = inputs.expanded()
    fast = [c["fast"] for c in grid.combos]
    slow = [c["slow"] for c in grid.combos]
    total, trades = [], []
    for bars in inputs.bars:
        close = pd.Series(bars.close, index=bars.index)
        for a in range(0, len(fast), PEER_CHUNK):
            f, s = fast[a : a + PEER_CHUNK], slow[a : a + PEER_CHUNK]
            fast_ma = vbt.MA.run(close, window=f).ma.to_numpy()
            slow_ma = vbt.MA.run(close, window=s).ma.to_numpy()
            t = pd.DataFrame(np.sign(np.nan_to_num(fast_ma - slow_ma)), index=bars.index)
            if inputs.direction == "long":
                t = t.clip(lower=0)
            pf = vectorbt_portfolio(vbt, bars, t, inputs.costs)
            total.append(pf.total_return().to_numpy())
            trades.append(pf.trades.count().to_numpy().astype(float))
    return {"total_return": np.concatenate(total), "n_trades": np.concatenate(trades)}


def same_result(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Identical trade counts, total returns equal to ``rtol=1e-9, atol=1e-12``, for every combination."""
    return (
        a["n_trades"].shape == b["n_trades"].shape
        and bool(np.array_equal(a["n_trades"], b["n_trades"]))
        and bool(np.allclose(a["total_return"], b["total_return"], rtol=RTOL, atol=ATOL))
    )


VARIANTS = {"sequential": run_sequential, "ray": run_ray, "peer": run_peer}
WORKLOADS = {
    "sma_grid_5min": Workload(
        name="sma_grid_5min",
        description="SMA crossover grid (fast 5..50 x slow 20..200 at large) on ~17,000 5-minute bars, "
        "1 bp fees + 1 bp slippage",
        build=build_5min,
        variants=VARIANTS,
        same_result=same_result,
        units=n_backtests,
        unit="backtests",
    ),
    "sma_grid_daily": Workload(
        name="sma_grid_daily",
        description="the same grid on the 20 real S&P 500 daily series (skfolio), 1 bp fees + 1 bp slippage",
        build=build_daily,
        variants=VARIANTS,
        same_result=same_result,
        units=n_backtests,
        unit="backtests",
    ),
}
