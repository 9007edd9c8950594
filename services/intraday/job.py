"""Batch entrypoint of the intraday service.

    raysvc job intraday sweep --symbols SIM,AAPL --dataset prices --strategy sma_cross \\
        --grid '{"fast": [5, 10, 20], "slow": [50, 100, 200]}' --output sweep.parquet
    ray job submit -- python -m services.intraday.job sweep ...

``sweep`` runs symbols × grid (each grid cut into chunks over Ray, each symbol's bars put once) and writes
every row (symbol, parameters, metrics) to Parquet or CSV (by the file suffix) with a progress bar; an
HTTP-submitted sweep (one symbol or inline bars) returns exactly the body `POST /v1/intraday/sweep`
returns. ``walk-forward`` does the same for `POST /v1/intraday/walk-forward`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import ray

from services.core.catalog import Catalog
from services.core.jobrun import JobCommand, JobContext, job_main
from services.core.names import SIM, Dataset
from services.core.settings import get_settings
from services.intraday import schemas as S
from services.intraday import service as svc
from services.intraday import tasks


def _write(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)


def run_sweep(params: dict[str, Any], ctx: JobContext) -> Any:
    """Sweep one symbol (the HTTP body) or several (``symbols``); every row optionally to ``output``."""
    params = dict(params)
    symbols = params.pop("symbols", None)
    output = params.pop("output", None)
    settings = get_settings()
    catalog = Catalog(settings)
    requests = (
        [S.SweepRequest.model_validate({**params, "symbol": s}) for s in symbols]
        if symbols
        else [S.SweepRequest.model_validate(params)]
    )
    tables, bodies = [], {}
    for k, req in enumerate(requests):
        bars, source = svc.bars_for(req, catalog)
        daily = svc.daily_series(req.daily_signal)
        grid = svc.grid_of(req, daily)
        label = req.symbol or source
        t0 = time.perf_counter()

        def progress(done: int, total: int, k: int = k, label: str = label) -> None:
            ctx.progress((k + done / max(total, 1)) / len(requests), f"{label}: {done}/{total} combinations")

        res = tasks.sweep_on_ray(
            bars,
            grid,
            svc.costs_of(req.costs),
            svc.execution_of(req.execution),
            bars_ref=ray.put(bars),
            progress=progress,
        )
        bodies[label] = svc.sweep_response(req, res, bars, source, time.perf_counter() - t0).model_dump(
            mode="json"
        )
        table = res.table()
        table.insert(0, "symbol", label)
        tables.append(table)
    if output:
        _write(pd.concat(tables, ignore_index=True), Path(output))
    if not symbols:
        body = next(iter(bodies.values()))
        return {**body, "output": output} if output else body
    return {"output": output, "symbols": bodies}


def run_walk_forward(params: dict[str, Any], ctx: JobContext) -> Any:
    """The body of `POST /v1/intraday/walk-forward` for ``params``; a batch job includes the stitched equity
    curve unless ``params`` say ``include``."""
    req = S.WalkForwardRequest.model_validate({"include": ["equity"], **params})
    bars, source = svc.bars_for(req, Catalog(get_settings()))
    ctx.progress(0.05, "bars loaded")
    stats_fn = tasks.ray_stats_fn(ray.put(bars))
    return svc.run_walk_forward(req, bars, source, svc.daily_series(req.daily_signal), stats_fn).model_dump(
        mode="json"
    )


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--symbols", help="comma-separated symbols (default SIM)")
    p.add_argument(
        "--dataset",
        default=Dataset.INTRADAY.value,
        choices=[d.value for d in Dataset if d != Dataset.SENTIMENT],
    )
    p.add_argument("--strategy", default="sma_cross")
    p.add_argument(
        "--grid", required=False, help='JSON object, e.g. \'{"fast": [5, 10], "slow": [50, 100]}\''
    )
    p.add_argument("--commission-bps", type=float, default=1.0)
    p.add_argument("--slippage-bps", type=float, default=1.0)
    p.add_argument("--rank-by", default="sharpe")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--start")
    p.add_argument("--end")
    p.add_argument("--output", help="write every row here (.parquet or .csv)")


def _sweep_params(args: argparse.Namespace) -> dict[str, Any]:
    grid = json.loads(args.grid) if args.grid else {"fast": list(range(5, 51)), "slow": list(range(20, 201))}
    out: dict[str, Any] = {
        "dataset": args.dataset,
        "strategy": args.strategy,
        "grid": grid,
        "rank_by": args.rank_by,
        "top": args.top,
        "costs": {"commission_bps": args.commission_bps, "slippage_bps": args.slippage_bps},
        "start": args.start,
        "end": args.end,
        "output": args.output
        or str(Path(get_settings().results_dir) / f"intraday-sweep-{int(time.time())}.parquet"),
    }
    if args.symbols:
        out["symbols"] = [s.strip() for s in args.symbols.split(",") if s.strip()]
    else:
        out["symbols"] = [SIM]
    return out


COMMANDS = [
    JobCommand(
        "sweep",
        "parameter sweep of symbols x grid (results to Parquet/CSV)",
        run_sweep,
        add_arguments=_sweep_args,
        params_from_args=_sweep_params,
    ),
    JobCommand("walk-forward", "walk-forward optimisation (params: the HTTP request body)", run_walk_forward),
]


def main(argv: list[str] | None = None) -> int:
    return job_main("intraday", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
