"""HTTP routes of the portfolio service: ``router`` (``/v1/portfolio/...``) and ``legacy_router`` (seed paths)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response

from services.core.app import get_platform, require_ray, run_blocking
from services.core.errors import DomainError, ProblemError, Responses
from services.core.names import Dataset
from services.core.reports import ReportFlag, html_responses, report_answer
from services.core.routing import BUSY_MIN_WORK_MS
from services.portfolio import report as R
from services.portfolio import schemas as S
from services.portfolio import service as svc
from services.portfolio import tasks
from services.portfolio.engine import (
    Objective,
    OptimizationSpec,
    Strategy,
    frontier_points,
    frontier_targets,
    optimize_compiled,
)

log = logging.getLogger("services.portfolio")
router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])
legacy_router = APIRouter(tags=["legacy"])
INVALID: Responses = {
    422: {"description": "invalid input or infeasible constraints; the problem body names the field"}
}
NOT_FOUND: Responses = {404: {"description": "unknown symbol or dataset"}}
SENTIMENT_DOWN: Responses = {
    503: {"description": "the sentiment service (or Ray) is unreachable; the problem names it"}
}


@router.post("/optimize", response_model=S.OptimizeResponse, responses={**INVALID, **NOT_FOUND})
async def optimize_portfolio(req: S.OptimizeRequest) -> S.OptimizeResponse:
    """Optimise a portfolio: min_variance, max_sharpe, max_return (at ``target_volatility``), min_cvar,
    risk_parity, hrp, herc, inverse_volatility or equal_weight, with the chosen covariance estimator and
    constraints. Infeasible constraints give 422 naming the constraint. min_variance and max_sharpe are
    solved by a compiled Clarabel QP (~1 ms; skfolio's answer, its objective at least as good), the
    others by skfolio (20-40 ms); ``status`` is the solver's either way."""
    return await asyncio.to_thread(svc.optimize_blocking, get_platform().catalog, req)


FRONTIER_DOC = f"""Mean-variance efficient frontier of ``n_points`` portfolios (return, volatility, Sharpe,
weights). Blocks of points run as parallel Ray tasks when their estimated work (points × a measured cost per
point for this many assets) reaches {tasks.RAY_MIN_WORK_MS:g} ms, or {BUSY_MIN_WORK_MS:g} ms while the service
serves other requests (``services.core.routing``); else in-process. The response's ``computed_on`` says which."""
BACKTEST_DOC = f"""Walk-forward backtest without look-ahead: at each rebalance date (last trading day of the week,
month or quarter) the strategy sees only data up to that date; blocks of dates run as Ray tasks when their
estimated work (dates × a measured cost per decision for the strategy) reaches {tasks.RAY_MIN_WORK_MS:g} ms,
or {BUSY_MIN_WORK_MS:g} ms while the service serves other requests, else in-process (the response's
``computed_on``). ``sentiment_top_n`` reads the sentiment service's monthly
rankings over HTTP (503 naming it when it is down). The response says which dataset priced the backtest."""


@router.post(
    "/frontier",
    response_model=S.FrontierResponse,
    responses={
        **html_responses("the frontier with the chosen portfolio marked and its weights"),
        **INVALID,
        **NOT_FOUND,
        413: {"description": "too many points: use the batch job"},
    },
    description=FRONTIER_DOC,
)
async def frontier(
    req: S.FrontierRequest, request: Request, report: ReportFlag = False
) -> S.FrontierResponse | Response:
    """Efficient frontier (OpenAPI text: :data:`FRONTIER_DOC`, which states the Ray threshold in use)."""
    p = require_ray()
    res = await svc.frontier_async(p.catalog, req)
    return await report_answer(request, R.frontier_report, res) if report else res


@router.post("/metrics", response_model=S.MetricsResponse, responses={**INVALID, **NOT_FOUND})
async def metrics(req: S.MetricsRequest) -> S.MetricsResponse:
    """Risk and performance measures of a return series or of fixed weights on a dataset: annualised
    return and volatility, Sharpe, Sortino, maximum drawdown and its dates, Calmar, VaR and CVaR at 95 %
    and 99 % (historical, Gaussian, Cornish–Fisher), skew, excess kurtosis, and against a benchmark:
    beta, alpha, tracking error, information ratio. Definitions: docs/portfolio.md."""
    return await run_blocking(
        svc.metrics_blocking, get_platform().catalog, req, on_loop=svc.metrics_on_loop(req)
    )


@router.post(
    "/backtest",
    response_model=S.BacktestResponse,
    responses={
        **html_responses("the equity curve, drawdown, metrics and rebalances"),
        **INVALID,
        **NOT_FOUND,
        **SENTIMENT_DOWN,
        413: {"description": "too many rebalance dates: use the batch job"},
    },
    description=BACKTEST_DOC,
)
async def backtest(
    req: S.BacktestRequest, request: Request, report: ReportFlag = False
) -> S.BacktestResponse | Response:
    """Walk-forward backtest (OpenAPI text: :data:`BACKTEST_DOC`, which states the Ray threshold in use)."""
    p = require_ray()
    res = await svc.backtest_async(p.catalog, R.backtest_request(req) if report else req)
    return await report_answer(request, R.backtest_report, res) if report else res


# --- seed-compatible paths ------------------------------------------------------------------------
@legacy_router.get("/select-top-stocks", responses=SENTIMENT_DOWN)
async def select_top_stocks(limit: int = Query(5, ge=1, le=100)) -> dict[str, Any]:
    """The top ``limit`` symbols of the latest monthly engagement ranking (from the sentiment service)."""
    rankings, source = await svc.fetch_rankings(20, 10)
    if rankings.empty:
        raise ProblemError.unavailable("sentiment service", f"{source} returned no ranking")

    def top() -> dict[str, Any]:  # pandas work: off the event loop
        latest = rankings[rankings["date"] == rankings["date"].max()].sort_values("rank").head(limit)
        month = str(latest["date"].iloc[0].strftime("%Y-%m"))
        return {
            "message": f"Top {len(latest)} stocks of {month} by engagement ratio",
            "top_stocks": [
                {"ticker": s, "rank": int(r), "month": month}
                for s, r in zip(latest["symbol"], latest["rank"], strict=True)
            ],
            "total_analyzed": int((rankings["date"] == rankings["date"].max()).sum()),
            "selection_criteria": "engagement_ratio (comments / likes), likes > 20 and comments > 10",
            "source": source,
        }

    return await run_blocking(top)


@legacy_router.get("/portfolio-performance", responses=SENTIMENT_DOWN)
async def portfolio_performance() -> dict[str, Any]:
    """Performance of the sentiment strategy (top 5 by engagement, equal weight, monthly, generated
    prices) against the equal-weighted universe, from a walk-forward backtest."""
    p = require_ray()
    req = S.BacktestRequest(
        strategy=Strategy.SENTIMENT_TOP_N,
        top_n=5,
        dataset=Dataset.PRICES,
        benchmark="equal_weight",
        lookback=20,
        include=["equity"],  # the win rate counts rising days
    )
    res = await svc.backtest_async(p.catalog, req)
    m = res.metrics
    assert res.equity is not None
    wins = np.diff(np.asarray(res.equity.values)) > 0
    return {
        "message": "Walk-forward performance of the sentiment top-5 strategy",
        "performance": {
            "portfolio_return": m.annualised_return,
            "volatility": m.annualised_volatility,
            "sharpe_ratio": m.sharpe,
            "max_drawdown": -m.max_drawdown.value,
            "win_rate": float(wins.mean()) if wins.size else None,
            "current_stocks": res.latest_rebalance.picks if res.latest_rebalance else [],
        },
        "benchmark_comparison": {
            "benchmark": "equal-weighted universe of the dataset",
            "excess_annual_return": None if m.benchmark is None else m.benchmark.alpha,
            "information_ratio": None if m.benchmark is None else m.benchmark.information_ratio,
        },
        "dataset": res.dataset,
        "period": {"start": m.start, "end": m.end},
        "backtest": "POST /v1/portfolio/backtest with strategy=sentiment_top_n for the full result",
    }


@legacy_router.post("/calculate-portfolio-metrics", responses={**INVALID, **NOT_FOUND})
async def calculate_portfolio_metrics(req: S.LegacyMetricsRequest) -> dict[str, Any]:
    """Measures of fixed weights on the tickers over the last three years (lists of unequal length → 422)."""
    body = S.MetricsRequest(
        weights=dict(zip(req.tickers, req.weights, strict=True)),
        dataset=req.dataset,
        risk_free_rate=req.risk_free_rate,
    )
    catalog = get_platform().catalog

    def run() -> S.MetricsResponse:
        ds = svc.pick_dataset(catalog, req.tickers, req.dataset, field="tickers")
        idx = svc.dataset_returns(catalog, ds)[req.tickers].dropna().index
        body.start = idx[max(0, len(idx) - svc.DEFAULT_WINDOW)].date()
        return svc.metrics_blocking(catalog, body)

    m = await asyncio.to_thread(run)
    var95 = next(
        t.value for t in m.var_cvar if (t.measure, t.method, t.confidence) == ("var", "historical", 0.95)
    )
    return {
        "portfolio_return": m.annualised_return,
        "portfolio_risk": m.annualised_volatility,
        "sharpe_ratio": m.sharpe,
        "max_drawdown": m.max_drawdown.value,
        "value_at_risk": var95,
        "assets_count": len(req.tickers),
        "dataset": m.source,
        "period": {"start": m.start, "end": m.end},
        "metrics": m.model_dump(mode="json"),
    }


LEGACY_METHOD = {
    "clarabel": "max_sharpe (Clarabel QP, skfolio MeanRisk's answer)",
    "skfolio": "max_sharpe (skfolio MeanRisk)",
}
"""``optimization_method`` of ``/optimize-portfolio`` without a target, by the solver that ran."""


@legacy_router.post("/optimize-portfolio", responses={**INVALID, **NOT_FOUND})
async def optimize_portfolio_legacy(req: S.LegacyOptimizeRequest) -> dict[str, Any]:
    """The minimum-variance portfolio earning at least ``target_return`` a year (or, without a target,
    the maximum-Sharpe portfolio), long-only, on the last three years of daily returns. Both are solved
    by the compiled Clarabel QP (~1 ms; skfolio's answer); ``optimization_method`` says which ran."""
    catalog = get_platform().catalog

    def run() -> dict[str, Any]:
        uni = S.OptimizeRequest(symbols=req.assets, dataset=req.dataset)
        window, dataset = svc.estimation_window(catalog, uni)
        if req.target_return is None:
            r = optimize_compiled(window, OptimizationSpec(objective=Objective.MAX_SHARPE))
            weights, ret, vol, method = (
                r.weights,
                r.expected_return,
                r.volatility,
                LEGACY_METHOD[r.solver],
            )
        else:
            spec = OptimizationSpec()
            low, high = frontier_targets(window, spec, 2)
            if req.target_return > high:
                raise DomainError(
                    f"target_return {req.target_return} is above the highest reachable expected return {high:.4f}",
                    field="target_return",
                )
            pt = frontier_points(window, spec, np.array([max(req.target_return, low)]))[0]
            weights, ret, vol, method = (
                pt.weights,
                pt.expected_return,
                pt.volatility,
                "min_variance at the target return",
            )
        return {
            "assets": req.assets,
            "optimized_weights": weights,
            "expected_return": ret,
            "expected_risk": vol,
            "target_return": req.target_return,
            "optimization_method": method,
            "dataset": dataset,
            "period": {"start": str(window.index[0].date()), "end": str(window.index[-1].date())},
        }

    return await asyncio.to_thread(run)
