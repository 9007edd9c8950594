"""Request handling shared by the HTTP routes and the batch job: request models → engine/tasks → responses.

Inputs are resolved once per catalog: each daily dataset's returns are computed on first use, kept by the
catalog (:meth:`Catalog.derived`) and put into the object store once (:meth:`Catalog.put`). Dataset
lookup and its 404 problems live here too; :mod:`services.garch.tasks` holds only the Ray code. The
routes run these functions in the event loop (the Ray parts awaited) and the job runs their blocking
twins, so both return the same bodies.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, NamedTuple

import pandas as pd

from services.core.catalog import Catalog
from services.core.errors import DomainError, ProblemError
from services.core.metrics import engine_timer
from services.core.names import DAILY_DATASETS, Dataset
from services.core.routing import route, single_threaded_blas
from services.garch import schemas as S
from services.garch import tasks
from services.garch.engine import (
    Annualization,
    Dist,
    ModelSpec,
    ReturnKind,
    RollingPlan,
    RollingResult,
    Vol,
    check_returns,
    detect_annualization,
    evaluate_rolling,
    origin_bounds,
    plan_rolling,
    regime_signal,
    require_obs,
    to_returns,
    window_dates,
)
from services.garch.engine._signal import __doc__ as SIGNAL_DOC

INLINE_MAX_REFITS = 1500
"""Rolling requests with more refits than this run as async jobs (``mode="auto"``) or get 413 (``"inline"``)."""
MAX_SYMBOLS_INLINE = 200
SIGNAL_DEFINITION = " ".join((SIGNAL_DOC or "").split())
SIGNAL_CACHE_SIZE = 64

Returns = dict[str, pd.Series]


# --- inputs ---------------------------------------------------------------------------------------
def find_dataset(catalog: Catalog, symbol: str, dataset: str | None = None) -> str:
    """The daily dataset holding ``symbol`` (``dataset`` if given; else the first of daily, prices, sp500).

    Raises
    ------
    ProblemError
        404 when no daily dataset has the symbol.
    """
    names = [dataset] if dataset else [Dataset.DAILY, Dataset.PRICES, Dataset.SP500]
    for name in names:
        if name not in DAILY_DATASETS:
            raise ProblemError.not_found("dataset", name, available=list(DAILY_DATASETS))
        if symbol in catalog.symbols(name):
            return name
    raise ProblemError.not_found("symbol", symbol, datasets=names)


def _compute_returns(catalog: Catalog, dataset: str, kind: ReturnKind | str) -> Returns:
    """Returns of every symbol of a daily dataset (each symbol's missing prices dropped first)."""
    prices = catalog.close_prices(dataset)
    return {
        str(s): to_returns(prices[s].dropna().rename(str(s)), kind, field=f"{dataset}.{s}")
        for s in prices.columns
    }


def dataset_returns(catalog: Catalog, dataset: str, kind: str) -> Returns:
    """Every symbol's returns of ``dataset`` (computed once per catalog)."""
    return catalog.derived(
        "garch:returns", (dataset, str(kind)), lambda: _compute_returns(catalog, dataset, kind)
    )


def returns_ref(catalog: Catalog, dataset: str, kind: str) -> Any:
    """Object-store ref of :func:`dataset_returns` (put once per Ray connection)."""
    return catalog.put(f"garch:returns:{dataset}:{kind}", lambda: dataset_returns(catalog, dataset, kind))


def inline_returns(series: S.SeriesIn, kind: str) -> pd.Series:
    """Returns of an inline series (prices → returns of ``kind``; returns are checked as sent)."""
    s = series.to_series("series")
    if series.kind == "prices":
        return to_returns(s, kind, field="series.prices")
    return check_returns(s, "series.returns")


def resolve(catalog: Catalog, req: Any, symbol: str | None) -> tuple[str, str | None, pd.Series]:
    """(name, dataset, returns) for a symbol of a daily dataset or the request's inline series."""
    if symbol is None:
        return "series", None, inline_returns(req.series, req.returns.value)
    dataset = find_dataset(catalog, symbol, req.dataset)
    return symbol, dataset, dataset_returns(catalog, dataset, req.returns.value)[symbol]


def _dates(index: pd.Index) -> list[str]:
    return [str(d.date()) for d in index] if isinstance(index, pd.DatetimeIndex) else [str(i) for i in index]


def _check_fit_inputs(returns: pd.Series, spec: ModelSpec, field: str, start: Any, end: Any) -> pd.Series:
    window = window_dates(returns, start, end)
    require_obs(len(window), spec.min_obs, spec.label, field)
    return window


# --- forecast -------------------------------------------------------------------------------------
def forecast_plan(
    catalog: Catalog, req: S.ForecastRequest
) -> tuple[list[tuple[str, str | None]], dict[str | None, Any], ModelSpec, list[int]]:
    """Validate a forecast request; return (symbol, dataset) pairs, per-dataset returns (dicts), the spec and
    each pair's number of observations in the fitting window."""
    spec = req.model.to_spec()
    if req.series is not None:
        r = inline_returns(req.series, req.returns.value)
        window = _check_fit_inputs(r, spec, "series", req.start, req.end)
        return [("series", None)], {None: {"series": r}}, spec, [len(window)]
    pairs: list[tuple[str, str | None]] = []
    data: dict[str | None, Any] = {}
    nobs: list[int] = []
    for i, sym in enumerate(req.symbols or []):
        ds = find_dataset(catalog, sym, req.dataset)
        rets = dataset_returns(catalog, ds, req.returns.value)
        nobs.append(len(_check_fit_inputs(rets[sym], spec, f"symbols[{i}]", req.start, req.end)))
        pairs.append((sym, ds))
        data[ds] = rets
    return pairs, data, spec, nobs


def fit_options(req: Any) -> dict[str, Any]:
    return {
        "horizon": req.horizon,
        "annualization": req.annualization,
        "simulations": req.simulations,
        "seed": req.seed,
    }


def fit_ms(spec: ModelSpec, nobs: int, horizon: int = 1, simulations: int = 1000) -> float:
    """Estimated cost of one :func:`~services.garch.engine.fit_model` call, in ms on one core of the 2-vCPU
    development VM: ~10 ms of optimiser set-up and line searches, ~3 ms per 1,000 observations, more for
    Student-t / skew-t errors and asymmetric terms, plus EGARCH's simulated forecasts beyond one step
    (measured 9-15 ms at 180 observations, 15-56 ms at 5,000: docs/bench.md, "Routing costs")."""
    per_obs = 0.003 * (1.3 if spec.dist is not Dist.NORMAL else 1.0) * (1.5 if spec.o else 1.0)
    sims = 0.004 * simulations * horizon if spec.vol is Vol.EGARCH and horizon > 1 else 0.0
    return 10.0 + per_obs * nobs * max(1, spec.p + spec.o + spec.q - 1) + sims


def forecast_fits(catalog: Catalog, req: S.ForecastRequest) -> S.ForecastResponse:
    """Fit every requested symbol (or the inline series), in the request's order (blocking: the route runs
    it in a thread, the batch job directly).

    Where: :func:`~services.core.routing.route` on the estimated work (:func:`fit_ms` per symbol) and the
    load of the service serving the request: in this process, or chunked Ray tasks, one call per dataset.
    """
    pairs, data, spec, nobs = forecast_plan(catalog, req)
    work = sum(fit_ms(spec, n, req.horizon, req.simulations) for n in nobs)
    where = route(work)
    groups: dict[str | None, list[str]] = {}
    for sym, ds in pairs:
        groups.setdefault(ds, []).append(sym)
    by_symbol: dict[tuple[str, str | None], S.FitOut] = {}
    for ds, symbols in groups.items():
        if where.on_ray:
            ref = data[ds] if ds is None else returns_ref(catalog, ds, req.returns.value)
            fits = tasks.fit_many(symbols, ref, spec, start=req.start, end=req.end, **fit_options(req))
        else:
            with single_threaded_blas(), engine_timer():  # as in the Ray workers: the same numbers either way
                fits = tasks.fit_symbols(symbols, data[ds], spec, fit_options(req), req.start, req.end)
        by_symbol |= {(sym, ds): S.FitOut.of(f, sym, ds) for sym, f in zip(symbols, fits, strict=True)}
    return S.ForecastResponse(
        results=[by_symbol[pair] for pair in pairs],
        computed_on=where.computed_on,
        estimated_work_ms=round(work, 1),
    )


# --- rolling --------------------------------------------------------------------------------------
class RollingInputs(NamedTuple):
    """A validated rolling request: what to fit (``name``'s returns ``r`` by ``plan`` with ``spec``) and how
    to report it (``dataset``, ``ann``)."""

    name: str
    dataset: str | None
    r: pd.Series
    plan: RollingPlan
    spec: ModelSpec
    ann: Annualization


def rolling_inputs(catalog: Catalog, req: S.RollingRequest) -> RollingInputs:
    """Validate a rolling request: (name, dataset, returns, plan, spec, annualization)."""
    spec = req.model.to_spec()
    name, dataset, r = resolve(catalog, req, req.symbol)
    first, last = (
        origin_bounds(r.index, req.start, req.end) if isinstance(r.index, pd.DatetimeIndex) else (None, None)
    )
    plan = plan_rolling(
        len(r),
        spec,
        window=req.window,
        refit_every=req.refit_every,
        horizon=req.horizon,
        first=first,
        last=last,
    )
    return RollingInputs(name, dataset, r, plan, spec, detect_annualization(r.index, req.annualization))


def rolling_options(req: S.RollingRequest) -> dict[str, Any]:
    return {"warm_start": req.warm_start, "simulations": req.simulations, "seed": req.seed}


def rolling_response(
    req: S.RollingRequest, inputs: RollingInputs, res: RollingResult, seconds: float
) -> S.RollingResponse:
    values = inputs.r.to_numpy()
    return S.RollingResponse.of(
        res,
        symbol=inputs.name,
        dataset=inputs.dataset,
        dates=_dates(inputs.r.index),
        returns=values,
        annualization=inputs.ann.periods,
        annualization_source=inputs.ann.source,
        refit_every=req.refit_every,
        warm_start=req.warm_start,
        evaluation=evaluate_rolling(res, values),
        seconds=seconds,
    )


def _rolling_work(
    req: S.RollingRequest, inputs: RollingInputs
) -> tuple[dict[str, Any], dict[str, RollingPlan], ModelSpec, dict[str, Any]]:
    """The arguments of ``tasks.rolling_many`` / ``rolling_many_async`` for one request (one symbol)."""
    return {inputs.name: inputs.r.to_numpy()}, {inputs.name: inputs.plan}, inputs.spec, rolling_options(req)


def run_rolling_blocking(catalog: Catalog, req: S.RollingRequest, progress: Any = None) -> S.RollingResponse:
    """The whole rolling request on the connected cluster, blocking (jobs); seconds include validation."""
    start = time.perf_counter()
    inputs = rolling_inputs(catalog, req)
    returns, plans, spec, options = _rolling_work(req, inputs)
    res = tasks.rolling_many(returns, plans, spec, progress=progress, **options)[inputs.name]
    return rolling_response(req, inputs, res, time.perf_counter() - start)


async def run_rolling_async(req: S.RollingRequest, inputs: RollingInputs) -> S.RollingResponse:
    """:func:`run_rolling_blocking` of already validated ``inputs``, awaited (inline HTTP requests): the same
    tasks, the response built in a worker thread; seconds count the fits and the response."""
    start = time.perf_counter()
    returns, plans, spec, options = _rolling_work(req, inputs)
    res = (await tasks.rolling_many_async(returns, plans, spec, **options))[inputs.name]
    return await asyncio.to_thread(rolling_response, req, inputs, res, time.perf_counter() - start)


# --- selection ------------------------------------------------------------------------------------
def select_inputs(
    catalog: Catalog, req: S.SelectRequest
) -> tuple[str, str | None, pd.Series, list[ModelSpec]]:
    from services.garch.engine import check_grid, default_grid

    specs = [m.to_spec() for m in req.grid] if req.grid else default_grid(req.mean)
    check_grid(specs)
    name, dataset, r = resolve(catalog, req, req.symbol)
    r = window_dates(r, req.start, req.end)
    require_obs(
        len(r),
        max(s.min_obs for s in specs),
        "the largest model of the grid",
        "series" if dataset is None else "symbol",
    )
    return name, dataset, r, specs


# --- signal ---------------------------------------------------------------------------------------
def signal_plan(
    r: pd.Series,
    spec: ModelSpec,
    *,
    window: int,
    realized_window: int,
    std_window: int,
    history: int,
    refit_every: int,
    end: Any,
) -> RollingPlan:
    """Origins for ``history`` signal days ending at ``end`` (each needs ``std_window`` premiums before it)."""
    last = origin_bounds(r.index, None, end)[1] if end is not None else len(r) - 1
    if last is None or last < 0:
        raise DomainError(f"no data on or before {end}", field="date")
    need = std_window + history - 1
    earliest = max(window, realized_window) - 1
    first = max(earliest, last - need + 1)
    if last - first + 1 < std_window:
        raise DomainError(
            f"{last - earliest + 1} forecast origins available up to {r.index[last].date()}, "
            f"fewer than std_window={std_window} "
            f"(needs window/realized_window={max(window, realized_window)} + std_window observations)",
            field="std_window",
        )
    return plan_rolling(
        len(r), spec, window=window, refit_every=refit_every, horizon=1, first=first, last=last
    )


def signal_response(
    name: str,
    dataset: str | None,
    r: pd.Series,
    res: RollingResult,
    spec: ModelSpec,
    *,
    window: int,
    realized_window: int,
    std_window: int,
    threshold: float,
    refit_every: int,
    history: int,
    annualization: int | None,
) -> S.SignalResponse:
    sig = regime_signal(
        r.to_numpy(),
        res.origins,
        res.variance[:, 0],
        realized_window=realized_window,
        std_window=std_window,
        threshold=threshold,
    )
    ann = detect_annualization(r.index, annualization)
    dates = _dates(r.index)
    next_day = _next_date(r.index, ann.periods)
    return S.SignalResponse.of(
        sig,
        symbol=name,
        dataset=dataset,
        dates=dates,
        applies_to=[*dates[1:], next_day],
        annualization=ann.periods,
        spec=spec,
        window=window,
        refit_every=refit_every,
        history=history,
        definition=SIGNAL_DEFINITION,
    )


def _next_date(index: pd.Index, periods: int) -> str:
    if not isinstance(index, pd.DatetimeIndex) or not len(index):
        return "next"
    step = pd.Timedelta(days=1) if periods >= 365 else pd.offsets.BDay(1)
    return str((index[-1] + step).date())


def signal_cache_get(catalog: Catalog, key: tuple[Any, ...]) -> S.SignalResponse | None:
    """The cached signal response for ``key`` (request parameters) on ``catalog``'s data, if any."""
    return catalog.cached("garch:signal", key)


def signal_cache_put(catalog: Catalog, key: tuple[Any, ...], value: S.SignalResponse) -> None:
    """Cache ``value`` for ``key``, dropping the least recently used beyond :data:`SIGNAL_CACHE_SIZE`."""
    catalog.cache("garch:signal", key, value, keep=SIGNAL_CACHE_SIZE)


def signal_cache_entries(catalog: Catalog) -> int:
    """How many signal responses are cached for ``catalog`` (for ``/status``)."""
    return catalog.derived_count("garch:signal")


# --- listings -------------------------------------------------------------------------------------
def symbols_listing(catalog: Catalog) -> S.SymbolsResponse:
    out = []
    for ds in DAILY_DATASETS:
        prices = catalog.close_prices(ds)
        ann = detect_annualization(prices.index)
        out.append(
            S.DatasetSymbols(
                dataset=ds,
                count=prices.shape[1],
                annualization=ann.periods,
                calendar=ann.source,
                start=str(prices.index[0].date()) if len(prices) else None,
                end=str(prices.index[-1].date()) if len(prices) else None,
                symbols=[str(c) for c in prices.columns],
            )
        )
    return S.SymbolsResponse(datasets=out)


def rolling_variance(r: pd.Series, window: int) -> pd.Series:
    """Sample variance (ddof 1) of the last ``window`` returns at each date (the course's "variance")."""
    return r.rolling(window).var(ddof=1).dropna()
