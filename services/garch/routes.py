"""HTTP routes of the GARCH service: ``router`` (``/v1/volatility/...``) and ``legacy_router`` (seed paths)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pandas as pd
from fastapi import APIRouter, Body, Query, Request, Response

from services.core.app import get_platform, require_ray
from services.core.errors import DomainError, ProblemError, Responses
from services.core.fields import Day
from services.core.jobs import JobAccepted, accepted
from services.core.names import SIM, Dataset
from services.core.reports import ReportFlag, html_responses, report_answer
from services.garch import report as R
from services.garch import schemas as S
from services.garch import service as svc
from services.garch import tasks
from services.garch.engine import (
    DEFAULT_WINDOW,
    THRESHOLD,
    Dist,
    Mean,
    ModelSpec,
    Vol,
    detect_annualization,
    rank_candidates,
)

log = logging.getLogger("services.garch")
router = APIRouter(prefix="/v1/volatility", tags=["volatility"])
legacy_router = APIRouter(tags=["legacy"])
BATCH = "raysvc job garch rolling --help  (or: ray job submit -- python -m services.garch.job rolling ...)"
FORECAST_BATCH = (
    'raysvc job garch forecast --params-file SPEC.json  (SPEC: {"request": <this body>}; '
    "or --symbols/--all --dataset; ray job submit -- python -m services.garch.job forecast ...)"
)
NOT_FOUND: Responses = {404: {"description": "unknown symbol or dataset"}}
INVALID: Responses = {422: {"description": "invalid input; the problem body names the field"}}


async def _fit_pairs(req: S.ForecastRequest) -> S.ForecastResponse:
    return await asyncio.to_thread(svc.forecast_fits, require_ray().catalog, req)


@router.get("/symbols", response_model=S.SymbolsResponse)
async def symbols() -> S.SymbolsResponse:
    """The daily symbols available per dataset, with each dataset's calendar and annualisation."""
    return await asyncio.to_thread(svc.symbols_listing, get_platform().catalog)


@router.post(
    "/forecast",
    response_model=S.ForecastResponse,
    responses={**NOT_FOUND, **INVALID, 413: {"description": "too many symbols"}},
)
async def forecast(req: S.ForecastRequest) -> S.ForecastResponse:
    """Fit the model to each symbol (in parallel Ray tasks) or to an inline series, and forecast 1..H.

    Parameters are named as arch names them and are in the units of the returns as sent; a fit that
    fails is returned with ``converged: false`` and the optimiser's message.
    """
    if req.symbols and len(req.symbols) > svc.MAX_SYMBOLS_INLINE:
        raise ProblemError.too_large(
            f"{len(req.symbols)} symbols exceed {svc.MAX_SYMBOLS_INLINE} per request",
            batch_command=FORECAST_BATCH,
        )
    return await _fit_pairs(req)


@router.post(
    "/rolling",
    response_model=S.RollingResponse | JobAccepted,
    responses={
        **html_responses("the forecast against the realised volatility and the evaluation"),
        **NOT_FOUND,
        **INVALID,
        202: {"model": JobAccepted, "description": "long request: running as a job"},
        413: {"description": "too many refits inline"},
    },
)
async def rolling(
    req: S.RollingRequest, request: Request, response: Response, report: ReportFlag = False
) -> Any:
    """Rolling out-of-sample forecasts (fit on data up to t, forecast t+1..t+H) and their evaluation.

    Refits are cut into contiguous chunks per CPU and run as Ray tasks. Requests with more than
    ``INLINE_MAX_REFITS`` refits run as an async job (202 + ``Location``; poll ``/v1/jobs/{id}``, and with
    ``report=true`` ``/v1/jobs/{id}/report`` once finished) unless ``mode="inline"`` (then 413);
    ``mode="job"`` always submits a job.
    """
    p = require_ray()
    inputs = await asyncio.to_thread(svc.rolling_inputs, p.catalog, req)
    plan = inputs.plan
    too_many = plan.n_refits > svc.INLINE_MAX_REFITS
    if req.mode == "job" or (too_many and req.mode == "auto"):
        job = await asyncio.to_thread(p.jobs.submit, "rolling", {"request": req.model_dump(mode="json")})
        return accepted(response, request, job)
    if too_many:
        raise ProblemError.too_large(
            f"{plan.n_refits} refits exceed the interactive limit of {svc.INLINE_MAX_REFITS}",
            batch_command=BATCH,
        )
    res = await svc.run_rolling_async(req, inputs)
    return await report_answer(request, R.rolling_report, res) if report else res


@router.post("/select", response_model=S.SelectResponse, responses={**NOT_FOUND, **INVALID})
async def select(req: S.SelectRequest) -> S.SelectResponse:
    """Fit a grid of models in parallel, rank by BIC (or AIC), and return the best with its forecast."""
    p = require_ray()
    name, dataset, r, specs = await asyncio.to_thread(svc.select_inputs, p.catalog, req)
    ranked = rank_candidates(await tasks.score_grid_async(specs, r), req.criterion)
    best = ranked[0].spec
    fit = (await tasks.fit_many_async(["series"], {"series": r}, best, **svc.fit_options(req)))[0]
    return S.SelectResponse(
        symbol=name,
        dataset=dataset,
        criterion=req.criterion,
        ranking=[S.CandidateOut.of(i + 1, c) for i, c in enumerate(ranked)],
        best=S.FitOut.of(fit, name, dataset),
    )


@router.get("/signal", response_model=S.SignalResponse, responses={**NOT_FOUND, **INVALID})
async def signal(
    symbol: str = Query(SIM, description="a daily symbol"),
    dataset: S.DailyDataset | None = Query(None),
    date: Day | None = Query(None, description="as-of date within the data (default: the last date)"),
    vol: S.VolIn = Vol.GARCH,
    p: int = Query(1, ge=1, le=5),
    o: int | None = Query(None, ge=0, le=5),
    q: int = Query(1, ge=0, le=5),
    dist: S.DistIn = Dist.T,
    mean: S.MeanIn = Mean.CONSTANT,
    window: int = Query(
        DEFAULT_WINDOW, ge=20, le=5000, description="fitting window of the rolling forecasts"
    ),
    realized_window: int = Query(
        DEFAULT_WINDOW, ge=2, le=5000, description="window of the realised variance"
    ),
    std_window: int = Query(
        DEFAULT_WINDOW, ge=2, le=5000, description="window of the premium's standard deviation"
    ),
    threshold: float = Query(THRESHOLD, gt=0, le=10),
    refit_every: int = Query(1, ge=1, le=250),
    history: int = Query(
        750, ge=1, le=5000, description="signal days returned (750 covers two years of 5-minute bars)"
    ),
    warm_start: bool = Query(False),
) -> S.SignalResponse:
    """The daily volatility regime signal (−1/0/+1) from rolling one-step forecasts vs realised variance.

    ``premium = (forecast − realised) / realised``; ``zscore = premium / std(premium, std_window)``;
    signal +1 if ``zscore > threshold``, −1 if ``< −threshold``, else 0 (docs/garch.md). Cached per process.
    """
    plat = require_ray()
    try:
        spec = S.ModelIn(vol=vol, p=p, o=o, q=q, dist=dist, mean=mean).to_spec()
    except DomainError as exc:  # named `model.o` in a body; here each is a query parameter
        raise ProblemError.invalid(f"query.{(exc.field or 'vol').removeprefix('model.')}", str(exc)) from None
    key = (
        symbol,
        dataset,
        date,
        spec,
        window,
        realized_window,
        std_window,
        threshold,
        refit_every,
        history,
        warm_start,
    )
    hit = svc.signal_cache_get(plat.catalog, key)
    if hit is not None:
        return hit
    req = S.RollingRequest(symbol=symbol, dataset=dataset)
    name, ds, r = await asyncio.to_thread(svc.resolve, plat.catalog, req, symbol)
    first, last = r.index[0].date(), r.index[-1].date()
    if date is not None and not first <= date <= last:
        raise ProblemError.invalid(
            "query.date",
            f"{date} is outside the data of {name}: {first} to {last}",
            data_start=str(first),
            data_end=str(last),
        )
    try:
        plan = svc.signal_plan(
            r,
            spec,
            window=window,
            realized_window=realized_window,
            std_window=std_window,
            history=history,
            refit_every=refit_every,
            end=date,
        )
    except DomainError as exc:
        raise ProblemError.from_domain(exc, prefix="query") from None
    if plan.n_refits > 4 * svc.INLINE_MAX_REFITS:
        raise ProblemError.too_large(f"{plan.n_refits} refits exceed the signal limit", batch_command=BATCH)
    res = (await tasks.rolling_many_async({name: r.to_numpy()}, {name: plan}, spec, warm_start=warm_start))[
        name
    ]
    out = await asyncio.to_thread(
        svc.signal_response,
        name,
        ds,
        r,
        res,
        spec,
        window=window,
        realized_window=realized_window,
        std_window=std_window,
        threshold=threshold,
        refit_every=refit_every,
        history=history,
        annualization=None,
    )
    svc.signal_cache_put(plat.catalog, key, out)
    return out


# --- seed-compatible paths ------------------------------------------------------------------------
LEGACY_SPEC = ModelSpec(dist=Dist.T)  # GARCH(1,1)-t, constant mean, log returns


@legacy_router.post("/predict-volatility", responses={**NOT_FOUND, **INVALID})
async def predict_volatility(
    body: S.LegacyPredictBody | None = Body(None),
    window_size: int | None = Query(
        None, ge=20, le=20_000, description="legacy query form: fitting window (observations)"
    ),
    assets: str | None = Query(None, description="legacy query form: comma-separated symbols"),
) -> dict[str, Any]:
    """Legacy volatility prediction, with real fits (GARCH(1,1)-t on log returns).

    ``{"ticker", "periods"}``: fit on the ticker's whole history, forecast ``periods`` days.
    ``{"window_size", "assets"}`` (body or query): fit each asset on its last ``window_size`` returns and
    forecast one day. No body: ``SIM`` (the daily dataset) with a 180-day window.
    """
    body = body or S.LegacyPredictBody()
    if body.ticker:
        req = S.ForecastRequest(
            symbols=[body.ticker], model=S.ModelIn(dist=Dist.T), horizon=body.periods or 30
        )
        fit = (await _fit_pairs(req)).results[0]
        return {
            "ticker": body.ticker,
            "periods": req.horizon,
            "model": fit.model.label,
            "predicted_volatility": fit.forecast_vol_annualized[0],
            "forecast_vol_annualized": fit.forecast_vol_annualized,
            "forecast_variance": fit.forecast_variance,
            "current_volatility": fit.last_conditional_vol_annualized,
            "historical_volatility": fit.realized_vol_annualized,
            "annualization": fit.annualization,
            "params": fit.params,
            "converged": fit.converged,
            "fit": fit.model_dump(),
        }
    size = body.window_size or window_size or DEFAULT_WINDOW
    raw = body.assets if body.assets is not None else assets
    names = [a.strip() for a in (raw.split(",") if isinstance(raw, str) else raw or [SIM]) if a.strip()]
    if not names:
        raise ProblemError.invalid("body.assets", "no asset named")
    plat = require_ray()
    pairs = []
    for name in names:
        ds = await asyncio.to_thread(svc.find_dataset, plat.catalog, name, None)
        idx = (await asyncio.to_thread(svc.dataset_returns, plat.catalog, ds, "log"))[name].index
        pairs.append((name, str(idx[max(0, len(idx) - size)].date())))
    results = []
    for name, start in pairs:
        req = S.ForecastRequest(symbols=[name], model=S.ModelIn(dist=Dist.T), horizon=1, start=start)
        results.append((await _fit_pairs(req)).results[0])
    return {
        "window_size": size,
        "model": LEGACY_SPEC.label,
        "results": [
            {
                "asset": f.symbol,
                "dataset": f.dataset,
                "observations_used": f.nobs,
                "window_size": size,
                "historical_volatility": f.realized_vol_annualized,
                "current_volatility": f.last_conditional_vol_annualized,
                "predicted_volatility": f.forecast_vol_annualized[0],
                "annualization": f.annualization,
                "converged": f.converged,
                "params": f.params,
            }
            for f in results
        ],
    }


@legacy_router.get("/load-market-data")
async def load_market_data() -> dict[str, Any]:
    """What is loaded (from memory, not a re-parse): datasets, the daily series' range and calendar."""
    plat = get_platform()

    def summary() -> dict[str, Any]:
        daily = plat.catalog.frame(Dataset.DAILY)
        ann = detect_annualization(daily.index)
        r = svc.dataset_returns(plat.catalog, Dataset.DAILY, "log")[SIM]
        return {
            "message": "market data loaded once per process and shared through the Ray object store",
            "datasets": plat.catalog.summary(),
            "daily_data": {
                "symbol": SIM,
                "records": len(daily),
                "columns": [str(c) for c in daily.columns],
                "date_range": f"{daily.index[0].date()} to {daily.index[-1].date()}",
                "annualization": ann.periods,
                "calendar": ann.source,
                "realized_volatility_annualized": float(r.std(ddof=1) * ann.periods**0.5),
            },
        }

    return await asyncio.to_thread(summary)


@legacy_router.get("/calculate-rolling-variance", responses={**NOT_FOUND, **INVALID})
async def calculate_rolling_variance(
    window: int = Query(DEFAULT_WINDOW, ge=2, le=20_000),
    symbol: str = Query(SIM),
    dataset: S.DailyDataset | None = Query(None),
    limit: int = Query(250, ge=1, le=100_000, description="last points returned"),
    n_simulations: int | None = Query(
        None, description="accepted for compatibility and ignored: the variance comes from the data"
    ),
) -> dict[str, Any]:
    """Rolling sample variance (ddof 1) of the symbol's log returns over ``window`` days, annualised too."""
    plat = get_platform()
    req = S.RollingRequest(symbol=symbol, dataset=dataset)
    name, ds, r = await asyncio.to_thread(svc.resolve, plat.catalog, req, symbol)
    if len(r) < window:
        raise ProblemError.invalid("query.window", f"{len(r)} returns are fewer than window={window}")

    def series() -> dict[str, Any]:  # up to 100,000 points: off the event loop
        ann = detect_annualization(r.index)
        var = svc.rolling_variance(r, window).iloc[-limit:]
        return {
            "symbol": name,
            "dataset": ds,
            "window": window,
            "annualization": ann.periods,
            "points": len(var),
            "latest": {
                "date": str(var.index[-1].date()),
                "variance": float(var.iloc[-1]),
                "vol_annualized": float((var.iloc[-1] * ann.periods) ** 0.5),
            },
            "series": [
                {
                    "date": str(d.date()),
                    "variance": float(v),
                    "vol_annualized": float((v * ann.periods) ** 0.5),
                }
                for d, v in zip(pd.DatetimeIndex(var.index), var.to_numpy(), strict=True)
            ],
        }

    return await asyncio.to_thread(series)
