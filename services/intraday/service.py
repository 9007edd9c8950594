"""Request handling shared by the HTTP routes and the batch job: request models → engine → response models.

The routes and ``python -m services.intraday.job`` call the same functions, so a job returns exactly the
body the HTTP API would.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from services.core.catalog import Catalog
from services.core.errors import DomainError, ProblemError
from services.core.metrics import engine_timer
from services.core.names import SIM, SINGLE_SYMBOL_DATASETS, Dataset
from services.core.routing import Route
from services.core.shapes import thin
from services.intraday import engine as E
from services.intraday import schemas as S

BARS_CACHE_SIZE = 16
SESSION_DATASETS = {Dataset.PRICES, Dataset.SP500}  # exchange-day datasets (close-only bars)


def _naive(ts: Any) -> pd.Timestamp | None:
    if ts is None:
        return None
    t = pd.Timestamp(ts)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t


def slice_bars(frame: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    """The bars of ``frame`` from ``start`` (inclusive) to ``end`` (exclusive), compared in the frame's
    timezone; at least two."""
    idx = frame.index
    s, e = _naive(start), _naive(end)
    if idx.tz is not None:
        s = s.tz_localize("UTC") if s is not None else None
        e = e.tz_localize("UTC") if e is not None else None
    mask = np.ones(len(frame), bool)
    if s is not None:
        mask &= idx >= s
    if e is not None:
        mask &= idx < e
    out = frame[mask]
    if len(out) < 2:
        raise DomainError(f"fewer than 2 bars between start={start} and end={end}", field="start")
    return out


def catalog_frame(catalog: Catalog, dataset: str, symbol: str) -> pd.DataFrame:
    """OHLCV bars of ``symbol`` from a catalog dataset (close-only daily sets: open = high = low = close)."""
    if dataset in SINGLE_SYMBOL_DATASETS:
        if symbol != SIM:
            raise ProblemError.not_found("symbol", symbol, dataset=dataset, available=[SIM])
        return catalog.frame(dataset)[["open", "high", "low", "close", "volume"]]
    prices = catalog.close_prices(dataset)
    if symbol not in prices.columns:
        raise ProblemError.not_found("symbol", symbol, dataset=dataset, available=list(prices.columns)[:100])
    c = prices[symbol].dropna()
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 0.0})


def bars_for(req: S.DataIn, catalog: Catalog | None, *, max_rows: int | None = None) -> tuple[E.BarData, str]:
    """The request's bars as :class:`BarData` and a description of their source.

    Catalog bars are kept by the catalog per (dataset, symbol, range, calendar, session), the most recent
    ``BARS_CACHE_SIZE``.
    """
    session = E.SessionSpec(req.timezone, req.session_open, req.session_close)
    calendar = req.calendar
    if req.bars is not None:
        frame = req.bars.to_frame()
        if max_rows is not None and len(frame) > max_rows:
            raise ProblemError.too_large(
                f"{len(frame):,} inline bars exceed the limit of {max_rows:,}",
                batch_command="raysvc job intraday sweep --bars-csv FILE ...",
            )
        return E.prepare_bars(slice_bars(frame, req.start, req.end), calendar, session), "inline"
    symbol = req.symbol or SIM
    dataset = req.dataset
    if (
        dataset in SESSION_DATASETS
        and calendar is E.Calendar.continuous
        and "calendar" not in req.model_fields_set
    ):
        calendar = E.Calendar.session  # exchange-day data annualises with 252 days unless told otherwise
    if catalog is None:
        raise DomainError("no data catalog in this process", field="symbol")

    def make() -> tuple[E.BarData, str]:
        frame = slice_bars(catalog_frame(catalog, dataset, symbol), req.start, req.end)
        return E.prepare_bars(frame, calendar, session), f"{dataset}:{symbol}"

    key = (dataset, symbol, str(req.start), str(req.end), calendar, session)
    return catalog.derived("intraday:bars", key, make, keep=BARS_CACHE_SIZE)


def bars_key(req: S.DataIn) -> str | None:
    """Object-store key of catalog bars (None for inline bars, which are put once per request)."""
    if req.bars is not None:
        return None
    parts = (
        req.dataset,
        req.symbol or SIM,
        req.start,
        req.end,
        req.calendar,
        req.timezone,
        req.session_open,
        req.session_close,
    )
    return "intraday:bars:" + ":".join(map(str, parts))


def data_info(bars: E.BarData, source: str) -> S.DataInfo:
    return S.DataInfo(
        source=source,
        n_bars=len(bars),
        start=bars.index[0],
        end=bars.index[-1],
        calendar=bars.calendar,
        bar_minutes=bars.bar_minutes,
        periods_per_year=bars.periods_per_year,
    )


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def metrics_out(m: dict[str, float]) -> S.Metrics:
    """Engine metrics → response model (NaN/inf → null)."""
    return S.Metrics(**{k: _finite(v) for k, v in m.items() if k != "n_trades"}, n_trades=int(m["n_trades"]))


def downsample(equity: pd.Series, points: int | None) -> S.EquityCurve:
    """The equity curve, cut to about ``points`` evenly spaced values (always keeping the last)."""
    if points is not None and len(equity) > points:
        equity = equity.iloc[thin(len(equity), points)]
    return S.EquityCurve(datetime=list(equity.index.to_pydatetime()), equity=equity.to_numpy().tolist())


def daily_series(d: S.DailySignalIn | None) -> pd.Series | None:
    if d is None:
        return None
    return pd.Series(d.signal, index=pd.DatetimeIndex(d.dates), dtype=float)


def make_strategy(name: E.StrategyName, params: dict[str, Any], daily: pd.Series | None) -> E.Strategy:
    inputs = {"daily_signal": daily} if name is E.StrategyName.garch_rsi_bb else {}
    return E.make_strategy(name, params, **inputs)


def costs_of(c: S.CostsIn) -> E.Costs:
    return E.Costs(c.commission_bps, c.slippage_bps)


def execution_of(x: S.ExecutionIn) -> E.Execution:
    return E.Execution(x.stop_loss, x.take_profit, x.flat_at_session_end)


def _nan_list(a: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(a, dtype=float)]


def run_signals(
    req: S.SignalsRequest, bars: E.BarData, source: str, daily: pd.Series | None
) -> S.SignalsResponse:
    strategy = make_strategy(req.strategy.name, req.strategy.params, daily)
    cache = E.IndicatorCache(bars)
    with engine_timer():
        res = E.backtest(bars, strategy, cache=cache)
    return S.SignalsResponse(
        strategy=strategy.name,
        params=strategy.params(),
        data=data_info(bars, source),
        datetime=list(bars.index.to_pydatetime()),
        close=bars.close.tolist(),
        indicators={k: _nan_list(v) for k, v in strategy.indicators(cache).items()},
        target=res.targets.astype(int).tolist(),
        position=res.positions.astype(int).tolist(),
    )


def trades_out(trades: pd.DataFrame) -> list[S.Trade]:
    return [S.Trade(**row) for row in trades.to_dict("records")]


def run_backtest(
    req: S.BacktestRequest, bars: E.BarData, source: str, daily: pd.Series | None
) -> S.BacktestResponse:
    strategy = make_strategy(req.strategy.name, req.strategy.params, daily)
    with engine_timer():
        res = E.backtest(bars, strategy, costs_of(req.costs), execution_of(req.execution))
    return S.BacktestResponse(
        strategy=strategy.name,
        params=res.params,
        data=data_info(bars, source),
        costs=req.costs,
        execution=req.execution,
        metrics=metrics_out(res.metrics),
        trades=trades_out(res.trades) if "trades" in req.include else None,
        equity=downsample(res.equity, req.equity_points) if "equity" in req.include else None,
    )


def grid_of(req: S.SweepRequest, daily: pd.Series | None, max_grid: int | None = None) -> E.Grid:
    """The request's validated grid (413 beyond ``max_grid`` combinations)."""
    overlap = sorted(set(req.grid) & set(req.fixed))
    if overlap:
        raise DomainError(f"parameters {overlap} are both in grid and fixed", field="fixed")
    n = E.grid_size(req.grid)
    if max_grid is not None and n > max_grid:
        raise ProblemError.too_large(
            f"the grid has {n:,} combinations; the interactive limit is {max_grid:,}",
            batch_command="raysvc job intraday sweep --params-file SPEC.json",
        )
    grid = {**{k: [v] for k, v in req.fixed.items()}, **req.grid}
    inputs = {"daily_signal": daily} if req.strategy is E.StrategyName.garch_rsi_bb else {}
    return E.expand_grid(req.strategy, grid, **inputs)


EVAL_NS = 5.0
"""Nanoseconds per sma_cross bar evaluation of a sweep on one core (``bar_cost`` scales the others): 2.7-5.0
measured over sma_cross, breakout, bollinger_reversion and momentum grids on 17,000 bars (docs/bench.md,
"Routing costs")."""


def sweep_work_ms(bar_evals: int) -> float:
    """Estimated milliseconds of ``bar_evals`` sweep evaluations on one core (the routing input)."""
    return bar_evals * EVAL_NS / 1e6


def _where(where: Route | None) -> dict[str, Any]:
    """The response fields of a routing decision (none: a job, which runs on the cluster)."""
    return (
        {}
        if where is None
        else {"computed_on": where.computed_on, "estimated_work_ms": round(where.work_ms, 1)}
    )


def sweep_response(
    req: S.SweepRequest,
    res: E.SweepResult,
    bars: E.BarData,
    source: str,
    seconds: float,
    n_chunks: int | None = None,
    where: Route | None = None,
) -> S.SweepResponse:
    ranked = res.ranked(req.rank_by, req.top)
    metrics = res.metrics()
    rows = [
        S.SweepRow(
            params=res.grid.combos[i], metrics=metrics_out({m: float(metrics[m][i]) for m in E.METRICS})
        )
        for i in ranked.index
    ]
    return S.SweepResponse(
        strategy=req.strategy,
        data=data_info(bars, source),
        rank_by=req.rank_by,
        n_combinations=res.grid.n_total,
        n_evaluated=len(res.grid.combos),
        n_skipped=res.grid.n_skipped,
        skipped_examples=res.grid.skipped_examples,
        n_chunks=n_chunks,
        seconds=round(seconds, 4),
        results=rows,
        **_where(where),
    )


def run_walk_forward(
    req: S.WalkForwardRequest,
    bars: E.BarData,
    source: str,
    daily: pd.Series | None,
    stats_fn: Any = None,
    max_grid: int | None = None,
    where: Route | None = None,
) -> S.WalkForwardResponse:
    t0 = time.perf_counter()
    grid = grid_of(req, daily, max_grid)
    wf = E.walk_forward(
        bars,
        grid,
        req.train_days,
        req.test_days,
        costs_of(req.costs),
        execution_of(req.execution),
        rank_by=req.rank_by,
        stats_fn=stats_fn,
    )
    folds = [
        S.FoldOut(
            train_start=f.train_start,
            train_end=f.train_end,
            test_start=f.test_start,
            test_end=f.test_end,
            best_params=f.best_params,
            in_sample=metrics_out(f.in_sample),
            out_of_sample=metrics_out(f.out_of_sample),
        )
        for f in wf.folds
    ]
    return S.WalkForwardResponse(
        strategy=req.strategy,
        data=data_info(bars, source),
        rank_by=req.rank_by,
        n_combinations=grid.n_total,
        n_skipped=grid.n_skipped,
        folds=folds,
        metrics=metrics_out(wf.metrics),
        n_trades=len(wf.trades),
        equity=downsample(wf.equity, req.equity_points) if "equity" in req.include else None,
        seconds=round(time.perf_counter() - t0, 4),
        **_where(where),
    )


def parse_garch_signal(body: Any) -> pd.Series:
    """The GARCH service's ``GET /v1/volatility/signal`` body → a series trading date → {-1, 0, 1}.

    The body's ``signals`` rows (``history`` in early versions) are dated at their forecast *origin*
    (after the close of day D, forecasting D + 1), so each signal is keyed by the next date of the GARCH
    data's own calendar (the next origin; after the last one the next day, or the next business day for
    exchange-day data). Rows with
    ``applies_to`` (the GARCH service's own next-date column) or ``trade_date`` are keyed by it.
    """
    rows = None
    if isinstance(body, dict):
        rows = body.get("signals") if isinstance(body.get("signals"), list) else body.get("history")
    if not isinstance(rows, list) or not rows:
        raise ProblemError.unavailable("garch service", "its signal response holds no `signals` rows")
    try:
        dated = sorted(
            (pd.Timestamp(r.get("applies_to") or r.get("trade_date") or r["date"]), float(r["signal"]))
            for r in rows
            if (r.get("applies_to") or "") != "next"
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProblemError.unavailable("garch service", f"unexpected signal rows: {exc}") from None
    dates = pd.DatetimeIndex([d for d, _ in dated])
    values = np.array([v for _, v in dated])
    if not (rows[0].get("applies_to") or rows[0].get("trade_date")):
        weekdays_only = bool((dates.dayofweek < 5).all()) and len(dates) > 5
        last = dates[-1] + (pd.offsets.BDay(1) if weekdays_only else pd.Timedelta(days=1))
        dates = pd.DatetimeIndex([*list(dates[1:]), last])
    series = pd.Series(values, index=dates.normalize(), dtype=float)
    return series[~series.index.duplicated(keep="last")]
