"""HTTP routes: ``router`` (the ``/v1/intraday`` API) and ``legacy_router`` (the seed's paths)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
import ray
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import ValidationError

from services.core.app import get_platform, require_ray, run_blocking
from services.core.clients import get_json
from services.core.errors import DomainError, ProblemError
from services.core.jobs import JobAccepted, accepted
from services.core.metrics import engine_timed
from services.core.names import SIM, SINGLE_SYMBOL_DATASETS, Dataset
from services.core.parallel import n_chunks_for
from services.core.readers import read_bars_csv
from services.core.reports import ReportFlag, html_responses, report_answer
from services.core.routing import route
from services.intraday import engine as E
from services.intraday import report as R
from services.intraday import schemas as S
from services.intraday import service as svc
from services.intraday import tasks

log = logging.getLogger("services.intraday")
router = APIRouter(prefix="/v1/intraday", tags=["intraday"])
legacy_router = APIRouter(tags=["legacy"])

SYNC_MAX_BAR_EVALS = 300_000_000
"""Above this many bar evaluations (see :func:`_bar_evals`) a request in ``mode=auto`` runs as a job and
one in ``mode=sync`` is refused (413): about 17,600 sma_cross combinations on 17,000 bars, a few seconds
on 2 cores."""
FOLD_OVERHEAD_EVALS = 1_000_000
"""Fixed cost of one walk-forward fold in bar evaluations (~10 ms: its Ray round trip, the ranking and the
out-of-sample backtest)."""
MAX_SIGNAL_ROWS = 100_000
JOB_COMMAND = "raysvc job intraday sweep --params-file SPEC.json"
WALK_FORWARD_COMMAND = "raysvc job intraday walk-forward --params-file SPEC.json"


# --- shared steps -------------------------------------------------------------------------------------
async def _bars(req: S.DataIn) -> tuple[E.BarData, str]:
    p = get_platform()
    return await asyncio.to_thread(svc.bars_for, req, p.catalog, max_rows=p.settings.max_inline_rows)


async def _daily(req: S.DataIn, strategy: E.StrategyName) -> pd.Series | None:
    """The daily signal for ``garch_rsi_bb``: sent inline, or fetched from the GARCH service."""
    if strategy is not E.StrategyName.garch_rsi_bb:
        return None
    if req.daily_signal is not None:
        return svc.daily_series(req.daily_signal)
    if req.bars is not None:
        raise ProblemError.invalid(
            "body.daily_signal", "garch_rsi_bb on inline bars needs the daily signal inline"
        )
    settings = get_platform().settings
    dataset = Dataset.DAILY if req.dataset in SINGLE_SYMBOL_DATASETS else req.dataset
    bars, _ = await _bars(req)
    days = int((bars.index[-1] - bars.index[0]).days) + 10
    body = await get_json(
        "garch",
        settings.garch_url,
        "/v1/volatility/signal",
        {
            "symbol": req.symbol or SIM,
            "dataset": dataset,
            "date": str(bars.index[-1].date()),
            "history": days,
        },
    )
    return await run_blocking(svc.parse_garch_signal, body)


async def _bars_ref(req: S.DataIn, bars: E.BarData) -> Any:
    key = svc.bars_key(req)
    p = get_platform()
    if key is None:
        return await asyncio.to_thread(ray.put, bars)
    return await asyncio.to_thread(p.catalog.put, key, lambda: bars)


def _bar_evals(strategy: E.StrategyName, n_combos: int, n_bars: int) -> int:
    """Work of ``n_combos`` combinations on ``n_bars`` bars, in sma_cross bar evaluations."""
    return int(n_combos * n_bars * E.STRATEGIES[strategy].bar_cost)


def _runs_as_job(req: S.SweepRequest, evals: int, batch_command: str) -> bool:
    """Whether ``req`` becomes a job; a forced ``mode=sync`` over the interactive size is a 413."""
    if req.mode == "sync" and evals > SYNC_MAX_BAR_EVALS:
        raise ProblemError.too_large(
            f"{evals:,} bar evaluations exceed the interactive limit of {SYNC_MAX_BAR_EVALS:,}; "
            'send "mode": "auto" or "job"',
            batch_command=batch_command,
        )
    return req.mode == "job" or (req.mode == "auto" and evals > SYNC_MAX_BAR_EVALS)


async def _submit(command: str, req: S.SweepRequest, daily: pd.Series | None) -> JobAccepted:
    """Submit ``req`` as a job. Off the event loop: the body may hold 500,000 inline bars to dump, and
    JobManager.submit blocks (HTTP to the Jobs API, retry sleeps)."""
    jobs = get_platform().jobs
    return await run_blocking(lambda: jobs.submit(command, _job_params(req, daily)))


def _job_params(req: S.SweepRequest, daily: pd.Series | None) -> dict[str, Any]:
    params = req.model_dump(mode="json", exclude={"mode"})
    if daily is not None:
        params["daily_signal"] = {
            "dates": [d.isoformat() for d in daily.index],
            "signal": daily.astype(int).tolist(),
        }
    return params


# --- /v1/intraday -------------------------------------------------------------------------------------
@router.get("/strategies", response_model=list[S.StrategyInfo])
async def strategies() -> list[S.StrategyInfo]:
    """The strategies, their parameters with defaults, and whether they close at session end."""
    return [
        S.StrategyInfo(
            name=name,
            description=(cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            params=E.strategy_params(name),
            flat_at_session_end=cls.flat_at_session_end,
        )
        for name, cls in E.STRATEGIES.items()
    ]


@router.post("/signals", response_model=S.SignalsResponse)
async def signals(req: S.SignalsRequest) -> S.SignalsResponse:
    """Per-bar indicator values, the target position decided at each close and the position held."""
    bars, source = await _bars(req)
    if len(bars) > MAX_SIGNAL_ROWS:
        raise ProblemError.too_large(
            f"{len(bars):,} bars of per-bar output exceed {MAX_SIGNAL_ROWS:,}; narrow start/end",
            batch_command=JOB_COMMAND,
        )
    daily = await _daily(req, req.strategy.name)
    return await asyncio.to_thread(svc.run_signals, req, bars, source, daily)


@router.post(
    "/backtest",
    response_model=S.BacktestResponse,
    response_model_by_alias=True,
    responses=html_responses("the equity curve, drawdown, metrics and latest trades"),
)
async def backtest(
    req: S.BacktestRequest, request: Request, report: ReportFlag = False
) -> S.BacktestResponse | Response:
    """One backtest: trades, the equity curve (downsampled on request) and metrics.

    Orders fill at the next bar's open (no look-ahead) with commission and slippage; see docs/intraday.md.
    """
    if report:
        req = R.backtest_request(req)
    bars, source = await _bars(req)
    daily = await _daily(req, req.strategy.name)
    res = await asyncio.to_thread(svc.run_backtest, req, bars, source, daily)
    return await report_answer(request, R.backtest_report, res) if report else res


async def _sweep(req: S.SweepRequest, response: Response, request: Request) -> S.SweepResponse | JobAccepted:
    p = get_platform()
    bars, source = await _bars(req)
    daily = await _daily(req, req.strategy)
    grid = await asyncio.to_thread(svc.grid_of, req, daily, p.settings.max_grid)
    evals = _bar_evals(req.strategy, len(grid.combos), len(bars))
    if _runs_as_job(req, evals, JOB_COMMAND):
        return accepted(response, request, await _submit("sweep", req, daily))
    where = route(svc.sweep_work_ms(evals))  # small and idle: in this process; else chunks on Ray
    costs, execution = svc.costs_of(req.costs), svc.execution_of(req.execution)
    t0 = time.perf_counter()
    n_chunks = None
    if where.on_ray:
        p = require_ray()
        ref = await _bars_ref(req, bars)
        res = await tasks.sweep_on_ray_async(
            bars, ref, grid, costs, execution, chunks_per_cpu=p.settings.chunks_per_cpu
        )
        n_chunks = n_chunks_for(
            len(grid.combos), chunks_per_cpu=p.settings.chunks_per_cpu, min_chunk=tasks.MIN_COMBOS_PER_TASK
        )
    else:
        res = await asyncio.to_thread(engine_timed(E.sweep), bars, grid, costs, execution)
    return await asyncio.to_thread(
        svc.sweep_response, req, res, bars, source, time.perf_counter() - t0, n_chunks, where
    )


@router.post(
    "/sweep",
    response_model=S.SweepResponse | JobAccepted,
    responses={
        **html_responses("the Sharpe heat map and the ranking"),
        202: {"model": JobAccepted, "description": "large grid: running as a job"},
        413: {"description": "grid over the limit, or over the interactive size with `mode=sync`"},
    },
)
async def sweep(
    req: S.SweepRequest, response: Response, request: Request, report: ReportFlag = False
) -> S.SweepResponse | JobAccepted | Response:
    """All combinations of a parameter grid (invalid ones such as fast ≥ slow skipped and counted), ranked.

    The grid is cut into chunks over the Ray workers with the bars put into the object store once; a grid
    over the interactive size (or ``mode=job``) runs as a job: 202 and `GET /v1/jobs/{id}` for progress
    (with `report=true`, `GET /v1/jobs/{id}/report` draws it once finished).
    """
    res = await _sweep(R.sweep_request(req) if report else req, response, request)
    if report and isinstance(res, S.SweepResponse):
        return await report_answer(request, R.sweep_report, res)
    return res


@router.post(
    "/walk-forward",
    response_model=S.WalkForwardResponse | JobAccepted,
    responses={
        **html_responses("the out-of-sample equity per fold and the parameters each fold chose"),
        202: {"model": JobAccepted, "description": "large: running as a job"},
        413: {"description": "grid over the limit, or over the interactive size with `mode=sync`"},
    },
)
async def walk_forward(
    req: S.WalkForwardRequest, response: Response, request: Request, report: ReportFlag = False
) -> S.WalkForwardResponse | JobAccepted | Response:
    """Walk-forward: per fold the best in-sample parameters and their out-of-sample result, plus the
    stitched out-of-sample equity curve.

    Every fold evaluates the whole grid on all the bars, so the size is folds × combinations × bars: over
    the interactive size (or ``mode=job``) it runs as a job: 202 and `GET /v1/jobs/{id}` (with
    `report=true`, `GET /v1/jobs/{id}/report` draws it once finished)."""
    res = await _walk_forward(R.walk_forward_request(req) if report else req, response, request)
    if report and isinstance(res, S.WalkForwardResponse):
        return await report_answer(request, R.walk_forward_report, res)
    return res


async def _walk_forward(
    req: S.WalkForwardRequest, response: Response, request: Request
) -> S.WalkForwardResponse | JobAccepted:
    p = get_platform()
    bars, source = await _bars(req)
    daily = await _daily(req, req.strategy)
    n = E.grid_size(req.grid)
    if n > p.settings.max_grid:
        raise ProblemError.too_large(
            f"the grid has {n:,} combinations; the limit is {p.settings.max_grid:,}",
            batch_command=WALK_FORWARD_COMMAND,
        )
    # every fold evaluates the whole grid on all the bars (indicators are computed over the full series)
    n_folds = len(await run_blocking(E.fold_bounds, bars, req.train_days, req.test_days))
    evals = n_folds * (_bar_evals(req.strategy, n, len(bars)) + FOLD_OVERHEAD_EVALS)
    if _runs_as_job(req, evals, WALK_FORWARD_COMMAND):
        return accepted(response, request, await _submit("walk-forward", req, daily))
    where = route(svc.sweep_work_ms(evals))
    stats_fn = None  # in this process
    if where.on_ray:
        require_ray()
        ref = await _bars_ref(req, bars)
        stats_fn = tasks.ray_stats_fn(ref, chunks_per_cpu=p.settings.chunks_per_cpu)
    return await asyncio.to_thread(
        svc.run_walk_forward, req, bars, source, daily, stats_fn, p.settings.max_grid, where
    )


# --- uploaded CSV -------------------------------------------------------------------------------------
async def _upload(file: UploadFile, request_json: str, model: type[S.DataIn]) -> tuple[S.DataIn, E.BarData]:
    p = get_platform()
    limit = p.settings.max_body_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ProblemError.too_large(f"the uploaded file exceeds {limit:,} bytes", batch_command=JOB_COMMAND)
    try:
        req = model.model_validate_json(request_json or "{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ProblemError.invalid("form.request." + ".".join(map(str, first["loc"])), first["msg"]) from None
    frame = await asyncio.to_thread(read_bars_csv, data)
    if len(frame) > p.settings.max_inline_rows:
        raise ProblemError.too_large(
            f"{len(frame):,} bars exceed the limit of {p.settings.max_inline_rows:,}",
            batch_command=JOB_COMMAND,
        )
    session = E.SessionSpec(req.timezone, req.session_open, req.session_close)
    bars = await asyncio.to_thread(
        lambda: E.prepare_bars(svc.slice_bars(frame, req.start, req.end), req.calendar, session)
    )
    return req, bars


@router.post("/backtest/csv", response_model=S.BacktestResponse, response_model_by_alias=True)
async def backtest_csv(
    file: Annotated[
        UploadFile,
        File(description="bars as CSV: `datetime,open,low,high,close,volume` (5-minute bars) or ISO stamps"),
    ],
    request: Annotated[
        str,
        Form(
            description="the backtest request as JSON, without `symbol`/`bars`",
            json_schema_extra={"contentMediaType": "application/json"},
        ),
    ],
) -> S.BacktestResponse:
    """:func:`backtest` on an uploaded CSV (size-limited: 413 beyond `RAYSVC_MAX_BODY_BYTES`)."""
    req, bars = await _upload(file, request, S.BacktestRequest)
    assert isinstance(req, S.BacktestRequest)
    daily = svc.daily_series(req.daily_signal)
    if req.strategy.name is E.StrategyName.garch_rsi_bb and daily is None:
        raise ProblemError.invalid(
            "form.request.daily_signal", "garch_rsi_bb on uploaded bars needs the daily signal"
        )
    return await asyncio.to_thread(svc.run_backtest, req, bars, f"upload:{file.filename}", daily)


@router.post("/sweep/csv", response_model=S.SweepResponse)
async def sweep_csv(
    file: Annotated[UploadFile, File(description="bars as CSV")],
    request: Annotated[
        str,
        Form(
            description="the sweep request as JSON, without `symbol`/`bars`",
            json_schema_extra={"contentMediaType": "application/json"},
        ),
    ],
) -> S.SweepResponse:
    """:func:`sweep` on an uploaded CSV (always interactive; 413 beyond the grid or size limits)."""
    p = require_ray()
    req, bars = await _upload(file, request, S.SweepRequest)
    assert isinstance(req, S.SweepRequest)
    daily = svc.daily_series(req.daily_signal)
    grid = await asyncio.to_thread(svc.grid_of, req, daily, p.settings.max_grid)
    t0 = time.perf_counter()
    ref = await asyncio.to_thread(ray.put, bars)
    res = await tasks.sweep_on_ray_async(
        bars, ref, grid, svc.costs_of(req.costs), svc.execution_of(req.execution)
    )
    return await asyncio.to_thread(
        svc.sweep_response, req, res, bars, f"upload:{file.filename}", time.perf_counter() - t0
    )


# --- seed-compatible paths ------------------------------------------------------------------------------
LEGACY_NAMES, LEGACY_CHOICES = S.LEGACY_NAMES, S.LEGACY_CHOICES


def _legacy_strategy(name: str, field: str) -> E.StrategyName:
    try:
        return E.StrategyName(LEGACY_NAMES.get(name, name))
    except ValueError:
        raise ProblemError.invalid(field, f"unknown strategy {name!r}; use one of {LEGACY_CHOICES}") from None


def _legacy_data(symbol: str, start: datetime | None = None, end: datetime | None = None) -> S.DataIn:
    if symbol == SIM:
        return S.DataIn(symbol=SIM, dataset=Dataset.INTRADAY, start=start, end=end)
    return S.DataIn(symbol=symbol, dataset=Dataset.PRICES, start=start, end=end)


def _legacy_result(label: str, symbol: str, bars: E.BarData, name: E.StrategyName) -> dict[str, Any]:
    """A backtest with default parameters and 1 bp + 1 bp costs, in the legacy response shape (blocking)."""
    res = E.backtest(bars, E.make_strategy(name), E.Costs(1, 1))
    m = svc.metrics_out(res.metrics).model_dump()
    return {
        "strategy": label,
        "symbol": symbol,
        **m,
        "sharpe_ratio": m["sharpe"],
        "buy_signals": int((res.targets == 1).sum()),
        "sell_signals": int((res.targets == -1).sum()),
        "hold_signals": int((res.targets == 0).sum()),
        "data_points": len(bars),
        "start_date": str(bars.index[0]),
        "end_date": str(bars.index[-1]),
        "initial_price": float(bars.close[0]),
        "final_price": float(bars.close[-1]),
        "buy_and_hold_return": float(bars.close[-1] / bars.close[0] - 1),
    }


@legacy_router.post("/calculate-intraday-signals")
async def calculate_intraday_signals(
    body: S.LegacyIntradaySignalsRequest | None = None,
    daily_signal: int | None = Query(None, json_schema_extra={"enum": [-1, 0, 1]}),
) -> dict[str, Any]:
    """The course rule on the latest 5-minute bar of `SIM`: RSI(20) and Bollinger(20, 2) give the
    intraday signal; with the given daily signal it yields the position (contrarian: +1 day and an
    overbought bar → short)."""
    d = daily_signal if daily_signal is not None else (body.daily_signal if body else 1)
    if d not in (-1, 0, 1):
        raise ProblemError.invalid("query.daily_signal", f"must be -1, 0 or 1, got {d}")
    bars, source = await _bars(S.DataIn(symbol=SIM))
    return await run_blocking(_latest_bar_signal, bars, source, d)


def _latest_bar_signal(bars: E.BarData, source: str, d: int) -> dict[str, Any]:
    """The legacy body of :func:`calculate_intraday_signals` (indicators over all bars: blocking)."""
    cache = E.IndicatorCache(bars)
    r = float(cache.rsi(20)[-1])
    lo, mid, up = E.bollinger(bars.close[-200:], 20, 2.0)
    price = float(bars.close[-1])
    intraday = 1 if r > 70 and price > up[-1] else -1 if r < 30 and price < lo[-1] else 0
    combined = -1 if (d == 1 and intraday == 1) else 1 if (d == -1 and intraday == -1) else 0
    return {
        "message": "intraday signal from the latest bar of the 5-minute data",
        "data_info": {
            "total_records": len(bars),
            "date_range": f"{bars.index[0]} to {bars.index[-1]}",
            "source": source,
        },
        "signals": {"daily_signal": d, "intraday_signal": intraday, "combined_signal": combined},
        "indicators": {
            "rsi": r,
            "current_price": price,
            "sma": float(mid[-1]),
            "upper_band": float(up[-1]),
            "lower_band": float(lo[-1]),
            "bollinger_position": "ABOVE" if price > up[-1] else "BELOW" if price < lo[-1] else "WITHIN",
        },
        "interpretation": {
            "rsi_condition": "OVERBOUGHT" if r > 70 else "OVERSOLD" if r < 30 else "NEUTRAL",
            "final_action": "BUY" if combined > 0 else "SELL" if combined < 0 else "HOLD",
        },
    }


@legacy_router.post("/execute-strategies")
async def execute_strategies(req: S.LegacyStrategiesRequest) -> dict[str, Any]:
    """Backtest each strategy (default parameters, 1 bp costs) on each symbol (default `SIM`).

    A symbol that cannot be backtested (unknown, too few bars) fails its combinations only: they are counted
    in ``failed_executions`` and listed in ``failures`` with the problem; if every combination fails, the
    answer is the first symbol's problem."""
    t0 = time.perf_counter()
    symbols = req.symbols or [SIM]
    names = [(n, _legacy_strategy(n, f"body.strategies[{i}]")) for i, n in enumerate(req.strategies)]
    results: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    first_problem: ProblemError | None = None
    for i, symbol in enumerate(symbols):
        try:
            bars, _ = await _bars(_legacy_data(symbol))
            for label, name in names:
                results.append(await run_blocking(_legacy_result, label, symbol, bars, name))
        except (ProblemError, DomainError) as exc:
            problem = exc if isinstance(exc, ProblemError) else ProblemError.from_domain(exc)
            if problem.status >= 500:
                raise
            first_problem = first_problem or problem
            failures += [
                {
                    "strategy": label,
                    "symbol": symbol,
                    "status": problem.status,
                    "detail": problem.detail,
                    "field": f"body.symbols[{i}]",
                }
                for label, _ in names
            ]
    if not results and first_problem is not None:
        raise first_problem
    by_strategy: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_strategy.setdefault(r["strategy"], []).append(r)
    best = max(results, key=lambda r: -np.inf if r["sharpe"] is None else r["sharpe"])
    return {
        "message": f"executed {len(names)} strategies on {len(symbols)} symbols",
        "execution_summary": {
            "strategies_executed": len(names),
            "symbols_analyzed": len(symbols),
            "total_combinations": len(results) + len(failures),
            "successful_executions": len(results),
            "failed_executions": len(failures),
        },
        "results_by_strategy": by_strategy,
        "failures": failures,
        "best_performer": best,
        "performance_metrics": {"total_processing_time": time.perf_counter() - t0},
    }


@legacy_router.post("/generate-signals")
async def generate_signals(req: S.LegacySignalRequest) -> dict[str, Any]:
    """The current target position of a strategy on each symbol's latest bar."""
    name = _legacy_strategy(req.strategy_type, "body.strategy_type")
    out = []
    for symbol in req.symbols:
        bars, _ = await _bars(_legacy_data(symbol))
        out.append(await run_blocking(_current_signal, symbol, req.strategy_type, bars, name))
    groups = {
        "buy": [r for r in out if r["current_signal"] == 1],
        "sell": [r for r in out if r["current_signal"] == -1],
        "hold": [r for r in out if r["current_signal"] == 0],
    }
    return {
        "message": f"signals for {len(out)} symbols",
        "strategy_type": req.strategy_type,
        "signal_summary": {"total_symbols": len(out), **{f"{k}_signals": len(v) for k, v in groups.items()}},
        "signals": groups,
    }


def _current_signal(symbol: str, label: str, bars: E.BarData, name: E.StrategyName) -> dict[str, Any]:
    """One symbol's row of :func:`generate_signals` (the strategy over all bars: blocking)."""
    target = E.make_strategy(name).targets(E.IndicatorCache(bars))
    first = int(np.flatnonzero(bars.session_first)[-1])
    return {
        "symbol": symbol,
        "strategy_type": label,
        "current_signal": int(target[-1]),
        "current_price": float(bars.close[-1]),
        "price_change_pct": float((bars.close[-1] / bars.open[first] - 1) * 100),
        "timestamp": str(bars.index[-1]),
        "data_points": len(bars),
    }


@legacy_router.post("/backtest-strategy")
async def backtest_strategy(req: S.LegacyBacktestRequest) -> dict[str, Any]:
    """A backtest of one strategy (default parameters, 1 bp costs) on one symbol."""
    t0 = time.perf_counter()
    name = _legacy_strategy(req.strategy_name, "body.strategy_name")
    try:
        bars, _ = await _bars(_legacy_data(req.symbol, req.start_date, req.end_date))
    except DomainError as exc:  # the range cut names `start`: here the field is `start_date`
        field = "start_date" if exc.field == "start" else exc.field
        raise ProblemError.invalid(f"body.{field}", str(exc)) from None
    result = await run_blocking(_legacy_result, req.strategy_name, req.symbol, bars, name)
    return {
        "message": f"backtest of {req.strategy_name} on {req.symbol}",
        "backtest_result": result,
        "processing_time": time.perf_counter() - t0,
    }
