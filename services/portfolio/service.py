"""Request handling shared by the HTTP routes and the batch job: request models → engine/tasks → responses.

Each price dataset's returns are computed once per process and kept by the catalog (``Catalog.derived``),
which also puts them into the object store once. Frontiers and backtests are planned once
(``_plan_frontier``, ``_plan_backtest``: the request's data, limits and :mod:`tasks` plan) and then run
blocking (``*_blocking``: the job) or awaited (the ``async`` ones: routes, which also await the sentiment
service).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from services.core.catalog import SPECS, Catalog
from services.core.clients import get_json
from services.core.errors import DomainError, ProblemError
from services.core.metrics import engine_timer
from services.core.names import Dataset
from services.core.settings import get_settings
from services.portfolio import schemas as S
from services.portfolio import tasks
from services.portfolio.engine import (
    BacktestResult,
    BacktestSpec,
    Frontier,
    Strategy,
    View,
    backtest_dates,
    check_return_bounds,
    optimize_compiled,
    performance_metrics,
)

log = logging.getLogger("services.portfolio")

DATASETS: tuple[str, ...] = (Dataset.SP500.value, Dataset.PRICES.value)
DEFAULT_WINDOW = 756
"""Rows of the default estimation window (3 years of trading days) when ``start`` is not given."""
INLINE_MAX_POINTS = 1000
"""Frontier points per request; more → 413 and the batch job."""
INLINE_MAX_REBALANCES = 1000
"""Rebalance dates per backtest request; more → 413 and the batch job."""
RANKINGS_PATH = "/v1/sentiment/rankings"

Arrays = tuple[pd.DatetimeIndex, np.ndarray, dict[str, int]]
"""A dataset's returns as (dates, values, column position of each symbol): :func:`dataset_arrays`."""
RETURNS, ARRAYS = "portfolio:returns", "portfolio:arrays"
"""Kinds of the derived data this service keeps on the catalog, by dataset name (``Catalog.derived_count``)."""


# --- data -----------------------------------------------------------------------------------------
def dataset_returns(catalog: Catalog, dataset: str) -> pd.DataFrame:
    """Simple daily returns of every symbol of ``dataset`` (made once, kept by the catalog; NaN where a
    symbol has no price)."""
    return catalog.derived(
        RETURNS, dataset, lambda: catalog.close_prices(dataset).pct_change(fill_method=None).iloc[1:]
    )


def dataset_arrays(catalog: Catalog, dataset: str) -> Arrays:
    """:func:`dataset_returns` as (dates, values, column position of each symbol), made once, kept by the
    catalog."""

    def make() -> Arrays:
        frame = dataset_returns(catalog, dataset)
        return frame.index, frame.to_numpy(), {c: i for i, c in enumerate(frame.columns)}

    return catalog.derived(ARRAYS, dataset, make)


def weighted_returns(
    catalog: Catalog,
    dataset: str,
    weights: dict[str, float],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns of fixed ``weights`` on ``dataset`` between ``start`` and ``end`` (inclusive), over
    the dates where every symbol has a return, as ``(returns, datetime64 dates)``. Plain numpy on arrays
    built once: the pandas ``[cols].loc[a:b].dropna()`` chain and a dated Series cost ~1 ms, most of a
    light metrics request."""
    dates, values, column = dataset_arrays(catalog, dataset)
    ns = dates.asi8
    lo = 0 if start is None else int(ns.searchsorted(start.value, "left"))
    hi = len(ns) if end is None else int(ns.searchsorted(end.value, "right"))
    block, days = values[lo:hi, [column[s] for s in weights]], ns[lo:hi].view("M8[ns]")
    complete = ~np.isnan(block).any(axis=1)
    if not complete.all():
        block, days = block[complete], days[complete]
    return block @ np.fromiter(weights.values(), float, len(weights)), days


def returns_ref(catalog: Catalog, dataset: str) -> Any:
    """Object-store ref of :func:`dataset_returns` (put once per Ray connection)."""
    return catalog.put(f"portfolio:returns:{dataset}", lambda: dataset_returns(catalog, dataset))


def pick_dataset(
    catalog: Catalog, symbols: Sequence[str], requested: str | None, field: str = "symbols"
) -> str:
    """The dataset holding every symbol: ``requested``, else sp500 (real) when it can, else prices."""
    candidates = [requested] if requested else list(DATASETS)
    for ds in candidates:
        have = set(catalog.symbols(ds))
        missing = [s for s in symbols if s not in have]
        if not missing:
            return ds
    if requested:
        raise ProblemError.not_found("symbol", ", ".join(missing), dataset=requested, field=field)
    unknown = [s for s in symbols if all(s not in set(catalog.symbols(d)) for d in DATASETS)]
    if unknown:
        raise ProblemError.not_found("symbol", ", ".join(unknown), datasets=list(DATASETS), field=field)
    raise DomainError(f"no single dataset holds all of {list(symbols)}; choose `dataset`", field="dataset")


def _stamp(d: Any) -> pd.Timestamp | None:
    return None if d is None else pd.Timestamp(d)


def universe(catalog: Catalog, req: S._Universe) -> tuple[pd.DataFrame, View, str]:
    """(full returns, the request's view of them, dataset name or ``inline``) of a request."""
    if req.returns is not None:
        frame = req.returns.to_frame()
        check_return_bounds(frame.to_numpy(), "returns.values")
        frame.index.name = None
        view = View(start=_stamp(req.start), end=_stamp(req.end), complete=True)
        return frame, view, "inline"
    dataset = pick_dataset(catalog, req.symbols or [], req.dataset)
    full = dataset_returns(catalog, dataset)
    cols = full[req.symbols].loc[: _stamp(req.end)].dropna(how="any")
    if cols.empty:
        raise DomainError(f"no common return history of {req.symbols} up to {req.end}", field="end")
    start = _stamp(req.start) or cols.index[max(0, len(cols) - DEFAULT_WINDOW)]
    view = View(symbols=tuple(req.symbols or ()), start=start, end=_stamp(req.end), complete=True)
    return full, view, dataset


def estimation_window(catalog: Catalog, req: S._Universe) -> tuple[pd.DataFrame, str]:
    """(the request's estimation window, dataset name or ``inline``): :func:`universe` cut by its view,
    the same frame (``tests/portfolio/test_compiled.py`` checks it), made from the dataset's arrays
    (:func:`dataset_arrays`, built once) instead of two pandas select / slice / dropna chains, which cost
    ~2 ms of a ~1 ms optimisation."""
    if req.returns is not None:
        full, view, dataset = universe(catalog, req)
        return view.cut(full), dataset
    symbols = list(req.symbols or [])
    dataset = pick_dataset(catalog, symbols, req.dataset)
    dates, values, column = dataset_arrays(catalog, dataset)
    ns = dates.asi8
    end = _stamp(req.end)
    stop = len(ns) if end is None else int(ns.searchsorted(end.value, "right"))
    block = values[:stop, [column[s] for s in symbols]]
    rows = np.flatnonzero(~np.isnan(block).any(axis=1))  # dates where every symbol has a return
    if rows.size == 0:
        raise DomainError(f"no common return history of {req.symbols} up to {req.end}", field="end")
    start = _stamp(req.start)
    first = (
        int(ns.searchsorted(start.value, "left"))
        if start is not None
        else rows[max(0, rows.size - DEFAULT_WINDOW)]
    )
    rows = rows[rows >= first]
    return pd.DataFrame(block[rows], index=dates[rows], columns=symbols), dataset


def _ref_for(catalog: Catalog, dataset: str) -> Any:
    """The dataset's object-store ref; None for inline data (the task layer puts it once)."""
    return returns_ref(catalog, dataset) if dataset in DATASETS else None


# --- optimize -------------------------------------------------------------------------------------
def optimize_blocking(catalog: Catalog, req: S.OptimizeRequest) -> S.OptimizeResponse:
    """``POST /v1/portfolio/optimize``, in the service process: minimum variance and maximum Sharpe
    through the compiled QP (:func:`optimize_compiled`, ~1 ms, skfolio's answer), the other objectives
    through skfolio (20-40 ms)."""
    window, dataset = estimation_window(catalog, req)
    with engine_timer():
        result = optimize_compiled(window, req.to_spec(req.periods_per_year))
    return S.OptimizeResponse.of(result, dataset, req.periods_per_year, req.risk_free_rate)


# --- frontier -------------------------------------------------------------------------------------
def _plan_frontier(
    catalog: Catalog, req: S.FrontierRequest, limit: int | None = INLINE_MAX_POINTS
) -> tuple[tasks.Plan[Frontier], str]:
    """(the frontier's plan, dataset name or ``inline``); more than ``limit`` points → 413."""
    if limit is not None and req.n_points > limit:
        raise ProblemError.too_large(
            f"{req.n_points} frontier points exceed {limit} per request",
            batch_command="raysvc job portfolio frontier --help",
        )
    full, view, dataset = universe(catalog, req)
    plan = tasks.plan_frontier(
        full,
        req.to_spec(req.periods_per_year),
        req.n_points,
        view=view,
        ref=_ref_for(catalog, dataset),
        chunks_per_cpu=get_settings().chunks_per_cpu,
    )
    return plan, dataset


async def frontier_async(catalog: Catalog, req: S.FrontierRequest) -> S.FrontierResponse:
    """``POST /v1/portfolio/frontier``: blocks of points as Ray tasks when there are enough of them."""
    plan, dataset = await asyncio.to_thread(_plan_frontier, catalog, req)
    frontier = await tasks.run_async(plan)
    return S.FrontierResponse.of(frontier, dataset, req.periods_per_year, plan.on_ray)


def frontier_blocking(catalog: Catalog, req: S.FrontierRequest) -> S.FrontierResponse:
    """The same as :func:`frontier_async`, blocking and without the interactive limit (the batch job)."""
    plan, dataset = _plan_frontier(catalog, req, limit=None)
    return S.FrontierResponse.of(tasks.run(plan), dataset, req.periods_per_year, plan.on_ray)


# --- metrics --------------------------------------------------------------------------------------
def _periods_from_dates(dates: np.ndarray) -> int:
    """365 when ``dates`` (datetime64) include a weekend day, else 252."""
    weekday = (dates.astype("M8[D]").view("int64") + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    return 365 if (weekday >= 5).any() else 252


def _series(x: S.SeriesIn, name: str) -> pd.Series:
    s = x.to_series(name)
    if s.index.tz is not None:  # dated with an offset: compare and report dates in UTC, like the datasets
        s.index = s.index.tz_convert("UTC").tz_localize(None)
    s.index.name = None
    if x.kind == "prices":
        s = s.pct_change().iloc[1:]
    return s


ON_LOOP_SYMBOLS, ON_LOOP_VALUES = 50, 20_000


def metrics_on_loop(req: S.MetricsRequest) -> bool:
    """Whether ``req`` is small enough (well under a millisecond of work) to compute on the event loop
    (see ``services.core.app.run_blocking``)."""
    if req.weights is not None:
        return len(req.weights) <= ON_LOOP_SYMBOLS
    assert req.returns is not None  # the request holds exactly one of weights and returns
    series = (
        req.returns if isinstance(req.returns, list) else (req.returns.prices or req.returns.returns or [])
    )
    return len(series) <= ON_LOOP_VALUES


def metrics_blocking(catalog: Catalog, req: S.MetricsRequest) -> S.MetricsResponse:
    """``POST /v1/portfolio/metrics``. Works on numpy arrays (returns, their datetime64 dates or None for
    a bare list, the benchmark aligned on them): pandas objects cost more than the measures here."""
    start, end = _stamp(req.start), _stamp(req.end)
    dataset: str | None = None
    dates: np.ndarray | None = None
    if req.weights is not None:
        dataset = pick_dataset(catalog, list(req.weights), req.dataset, field="weights")
        r, dates = weighted_returns(catalog, dataset, req.weights, start, end)
        source = dataset
    elif isinstance(req.returns, list):
        r, source = np.asarray(req.returns, dtype=float), "inline"
    else:
        assert req.returns is not None  # the request holds exactly one of weights and returns
        series = _series(req.returns, "returns").loc[start:end]
        r, dates, source = series.to_numpy(dtype=float), series.index.to_numpy(), "inline"
    if r.size < 2:
        raise DomainError(f"{r.size} return observations in the window; at least 2 needed", field="returns")
    ppy = req.periods_per_year or (
        _periods_from_dates(dates) if dates is not None and req.weights is None else 252
    )
    bench, name = None, None
    if req.benchmark is not None:
        name = req.benchmark if isinstance(req.benchmark, str) else "inline"
        if isinstance(req.benchmark, str):
            ds = dataset or pick_dataset(catalog, [name], req.dataset, field="benchmark")
            if dates is None:
                raise DomainError("a benchmark symbol needs dated returns", field="benchmark")
            frame = dataset_returns(catalog, ds)
            if name not in frame.columns:
                raise ProblemError.not_found("symbol", name, dataset=ds, field="benchmark")
            bench = frame[name].reindex(pd.DatetimeIndex(dates)).to_numpy()
        elif isinstance(req.benchmark, list):
            if len(req.benchmark) != r.size:
                raise DomainError(
                    f"benchmark has {len(req.benchmark)} values, returns {r.size}", field="benchmark"
                )
            bench = np.asarray(req.benchmark, dtype=float)
        else:
            b = _series(req.benchmark, "benchmark")
            bench = b.to_numpy() if dates is None else b.reindex(pd.DatetimeIndex(dates)).to_numpy()
        if dates is not None:  # the dates both series have
            both = ~np.isnan(bench)
            if both.sum() < 2:
                raise DomainError("returns and benchmark share fewer than 2 dates", field="benchmark")
            if not both.all():
                r, bench, dates = r[both], bench[both], dates[both]
    with engine_timer():
        m = performance_metrics(
            r, bench, risk_free_rate=req.risk_free_rate, periods_per_year=ppy, dates=dates
        )
    first, last = (dates[0], dates[-1]) if dates is not None else (None, None)
    return S.MetricsResponse.of(m, name, first, last, source=source)


# --- backtest -------------------------------------------------------------------------------------
def rankings_frame(body: Any) -> pd.DataFrame:
    """The sentiment service's rankings as ``date, symbol, rank``, each month's ranking dated at the
    month's last calendar day (when its data is complete).

    Accepts a list of rows or an object holding one under ``data`` / ``rankings`` / ``items`` /
    ``results``; rows carry ``month`` (``YYYY-MM``) or ``date``, ``symbol`` (or ``ticker``) and ``rank``.
    """
    rows = body
    if isinstance(body, dict):
        rows = next(
            (body[k] for k in ("data", "rankings", "items", "results") if isinstance(body.get(k), list)), None
        )
    if not isinstance(rows, list):
        raise ProblemError(
            502, "the sentiment service's rankings answer has no list of rows", title="Bad Gateway"
        )
    if not rows:
        return pd.DataFrame(
            {
                "date": pd.Series(dtype="datetime64[ns]"),
                "symbol": pd.Series(dtype=str),
                "rank": pd.Series(dtype=int),
            }
        )
    try:
        frame = pd.DataFrame(rows)
        symbol = frame["symbol"] if "symbol" in frame else frame["ticker"]
        if "month" in frame:
            when = pd.PeriodIndex(frame["month"].astype(str), freq="M").to_timestamp(how="end").normalize()
        else:
            when = pd.to_datetime(frame["date"])
        out = pd.DataFrame({"date": when, "symbol": symbol.astype(str), "rank": frame["rank"].astype(int)})
    except (KeyError, ValueError, TypeError) as exc:
        raise ProblemError(
            502, f"cannot read the sentiment service's rankings: {exc}", title="Bad Gateway"
        ) from exc
    return out.sort_values(["date", "rank"]).reset_index(drop=True)


async def fetch_rankings(min_likes: float, min_comments: float) -> tuple[pd.DataFrame, str]:
    """Every month's ranking from the sentiment service (503 naming it when it is down)."""
    base = get_settings().sentiment_url
    body = await get_json(
        "sentiment", base, RANKINGS_PATH, {"min_likes": min_likes, "min_comments": min_comments}
    )
    return await asyncio.to_thread(rankings_frame, body), base.rstrip("/") + RANKINGS_PATH


def _backtest_inputs(catalog: Catalog, req: S.BacktestRequest, rankings: pd.DataFrame | None):
    if req.strategy is Strategy.SENTIMENT_TOP_N:
        dataset: str = req.dataset or Dataset.PRICES
        if req.symbols:
            pick_dataset(catalog, req.symbols, dataset)
    else:
        dataset = (
            pick_dataset(catalog, req.symbols, req.dataset) if req.symbols else (req.dataset or Dataset.SP500)
        )
    full = dataset_returns(catalog, dataset)
    symbols = list(req.symbols) if req.symbols else list(full.columns)
    spec = BacktestSpec(
        strategy=req.strategy,
        rebalance=req.rebalance,
        lookback=req.lookback,
        optimization=req.to_spec(252),
        top_n=req.top_n,
        optimize_picks=req.optimize_picks,
        costs_bps=req.costs_bps,
        start=_stamp(req.start),
        end=_stamp(req.end),
    )
    view = View(symbols=tuple(symbols))
    panel = view.cut(full)
    n = len(backtest_dates(panel, spec, rankings))
    if n > INLINE_MAX_REBALANCES:
        raise ProblemError.too_large(
            f"{n} rebalance dates exceed {INLINE_MAX_REBALANCES} per request",
            batch_command="raysvc job portfolio backtest --help",
        )
    bench, bench_name = None, req.benchmark
    if req.benchmark == "equal_weight":
        bench = panel.mean(axis=1, skipna=False)
    elif req.benchmark is not None:
        if req.benchmark not in full.columns:
            raise ProblemError.not_found("symbol", req.benchmark, dataset=dataset, field="benchmark")
        bench = full[req.benchmark]
    return full, view, spec, dataset, symbols, bench, bench_name


def _plan_backtest(
    catalog: Catalog, req: S.BacktestRequest, rankings: pd.DataFrame | None
) -> tuple[tasks.Plan[BacktestResult], str, list[str], str | None]:
    """(the backtest's plan, dataset name, universe, benchmark name)."""
    full, view, spec, dataset, symbols, bench, name = _backtest_inputs(catalog, req, rankings)
    plan = tasks.plan_backtest(
        full, spec, view=view, ref=returns_ref(catalog, dataset), rankings=rankings, benchmark=bench
    )
    return plan, dataset, symbols, name


def _backtest_response(
    result: BacktestResult,
    req: S.BacktestRequest,
    on_ray: bool,
    dataset: str,
    symbols: list[str],
    name: str | None,
    source: str | None,
) -> S.BacktestResponse:
    return S.BacktestResponse.of(
        result,
        req,
        dataset=dataset,
        description=SPECS[dataset].description,
        universe=symbols,
        benchmark=name,
        on_ray=on_ray,
        sentiment_source=source,
    )


async def backtest_async(catalog: Catalog, req: S.BacktestRequest) -> S.BacktestResponse:
    """``POST /v1/portfolio/backtest``: rebalance decisions as Ray tasks in blocks of dates."""
    rankings, source = (None, None)
    if req.strategy is Strategy.SENTIMENT_TOP_N:
        rankings, source = await fetch_rankings(req.min_likes, req.min_comments)
    plan, dataset, symbols, name = await asyncio.to_thread(_plan_backtest, catalog, req, rankings)
    result = await tasks.run_async(plan)
    return _backtest_response(result, req, plan.on_ray, dataset, symbols, name, source)


def backtest_blocking(catalog: Catalog, req: S.BacktestRequest) -> S.BacktestResponse:
    """The same as :func:`backtest_async`, blocking (the batch job)."""
    rankings, source = (None, None)
    if req.strategy is Strategy.SENTIMENT_TOP_N:
        rankings, source = asyncio.run(fetch_rankings(req.min_likes, req.min_comments))
    plan, dataset, symbols, name = _plan_backtest(catalog, req, rankings)
    return _backtest_response(tasks.run(plan), req, plan.on_ray, dataset, symbols, name, source)
