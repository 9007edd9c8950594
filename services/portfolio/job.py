"""Batch entrypoint of the portfolio service: ``python -m services.portfolio.job {backtest,frontier} ...``.

``raysvc job portfolio backtest`` and ``ray job submit -- python -m services.portfolio.job backtest`` land
here. Each command takes the HTTP request body (``--request-json`` or ``--params-file`` with
``{"request": {...}}``) or the common flags, runs the same service code as the API on the connected Ray
(without the interactive size limits) and returns the same body::

    raysvc job portfolio backtest --strategy optimized --objective max_sharpe --rebalance W --start 2013-01-01
    python -m services.portfolio.job frontier --symbols AAPL,MSFT,KO,XOM --n-points 2000 --result-json f.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from services.core.catalog import Catalog
from services.core.jobrun import JobCommand, JobContext, job_main
from services.core.settings import get_settings
from services.portfolio import schemas as S
from services.portfolio import service as svc


def _request(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    if "request" in params:
        return params["request"]
    body = {k: params[k] for k in keys if params.get(k) is not None}
    if isinstance(body.get("symbols"), str):
        body["symbols"] = [s for s in body["symbols"].split(",") if s]
    return body


def run_backtest(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """A walk-forward backtest (the ``POST /v1/portfolio/backtest`` body). A batch job gives the full
    detail by default: the equity curves and every rebalance, unless the body says ``include``."""
    keys = (
        "strategy",
        "symbols",
        "dataset",
        "rebalance",
        "lookback",
        "objective",
        "covariance",
        "top_n",
        "optimize_picks",
        "costs_bps",
        "start",
        "end",
        "benchmark",
        "risk_free_rate",
        "include",
        "equity_points",
    )
    body = _request(params, keys)
    body.setdefault("include", ["equity", "rebalances"])
    req = S.BacktestRequest.model_validate(body)
    ctx.progress(0.05, "deciding rebalance weights")
    catalog = Catalog(get_settings())
    return svc.backtest_blocking(catalog, req).model_dump(mode="json")


def run_frontier(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """An efficient frontier of any size (the ``POST /v1/portfolio/frontier`` body)."""
    keys = ("symbols", "dataset", "start", "end", "covariance", "n_points", "risk_free_rate")
    req = S.FrontierRequest.model_validate(_request(params, keys))
    ctx.progress(0.05, f"{req.n_points} frontier points")
    catalog = Catalog(get_settings())
    return svc.frontier_blocking(catalog, req).model_dump(mode="json")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--request-json", help="the HTTP request body as JSON (overrides the flags)")
    p.add_argument("--symbols", help="comma-separated symbols")
    p.add_argument("--dataset", choices=svc.DATASETS)
    p.add_argument("--start")
    p.add_argument("--end")
    p.add_argument("--covariance", choices=["sample", "ledoit_wolf", "oas", "ewma", "denoised"])
    p.add_argument("--risk-free-rate", type=float)


def _backtest_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument(
        "--strategy", choices=["optimized", "equal_weight", "sentiment_top_n"], default="optimized"
    )
    p.add_argument("--rebalance", default="M", help="M, W or Q")
    p.add_argument("--lookback", type=int)
    p.add_argument("--objective")
    p.add_argument("--top-n", type=int)
    p.add_argument("--optimize-picks", action="store_true", default=None)
    p.add_argument("--costs-bps", type=float)
    p.add_argument("--benchmark")


def _frontier_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--n-points", type=int, default=100)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    raw = {
        k: v for k, v in vars(args).items() if k not in {"command", "params_file", "job_dir", "result_json"}
    }
    if raw.get("request_json"):
        return {"request": json.loads(raw["request_json"])}
    raw.pop("request_json", None)
    return raw


COMMANDS = [
    JobCommand(
        "backtest",
        "walk-forward backtest (optimized, equal_weight, sentiment_top_n)",
        run_backtest,
        _backtest_args,
        _params,
    ),
    JobCommand(
        "frontier", "mean-variance efficient frontier of any size", run_frontier, _frontier_args, _params
    ),
]


def main(argv: list[str] | None = None) -> int:
    return job_main("portfolio", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
