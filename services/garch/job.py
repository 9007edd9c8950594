"""Batch entrypoint of the GARCH service: ``python -m services.garch.job rolling ...``.

``raysvc job garch rolling`` and ``ray job submit -- python -m services.garch.job rolling`` land here, and
so do the async HTTP jobs (``POST /v1/volatility/rolling`` over the interactive limit), which pass the
request as ``--params-file`` and get the same body the HTTP API returns.

From the command line it runs a universe: symbols × refit dates on the connected cluster, with a progress
bar, writing one row per (symbol, origin, step) to Parquet or CSV::

    raysvc job garch rolling --dataset prices --all --window 180 --out rolling.parquet
    python -m services.garch.job rolling --symbols SIM --dist t --start 2020-01-01 --out sim.csv
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.core.catalog import Catalog
from services.core.errors import DomainError
from services.core.jobrun import JobCommand, JobContext, job_main
from services.core.names import DAILY_DATASETS, SIM
from services.core.settings import get_settings
from services.garch import schemas as S
from services.garch import service as svc
from services.garch import tasks
from services.garch.engine import (
    DEFAULT_WINDOW,
    detect_annualization,
    evaluate_rolling,
    origin_bounds,
    plan_rolling,
    realized_squared,
)

log = logging.getLogger("services.garch")


def run_rolling_job(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """One HTTP rolling request (``params["request"]``) or a universe (the command-line flags)."""
    catalog = Catalog(get_settings())
    if "request" in params:
        req = S.RollingRequest.model_validate(params["request"])
        return svc.run_rolling_blocking(catalog, req, progress=ctx.counter(0, "refits")).model_dump(
            mode="json"
        )
    return run_universe(catalog, params, ctx)


def _symbols(catalog: Catalog, params: dict[str, Any]) -> list[str]:
    """The symbols the flags name: ``--all`` of ``--dataset``, or ``--symbols`` (default SIM)."""
    if params.get("all"):
        if not params.get("dataset"):
            raise DomainError("--all needs --dataset", field="dataset")
        return catalog.symbols(params["dataset"])
    return [s for s in str(params.get("symbols") or SIM).split(",") if s]


def run_universe(catalog: Catalog, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Rolling refits for every symbol × refit date; rows written to ``params["out"]`` (Parquet or CSV)."""
    start_time = time.perf_counter()
    model = S.ModelIn(
        **{k: params[k] for k in ("vol", "p", "o", "q", "dist", "mean") if params.get(k) is not None}
    )
    spec = model.to_spec()
    kind = params.get("returns", "log")
    dataset = params.get("dataset")
    symbols = _symbols(catalog, params)
    arrays, plans, series, skipped = {}, {}, {}, []
    for sym in symbols:
        ds = svc.find_dataset(catalog, sym, dataset)
        r = svc.dataset_returns(catalog, ds, kind)[sym]
        first, last = origin_bounds(r.index, params.get("start"), params.get("end"))
        try:
            plans[sym] = plan_rolling(
                len(r),
                spec,
                window=int(params.get("window", DEFAULT_WINDOW)),
                refit_every=int(params.get("refit_every", 1)),
                horizon=int(params.get("horizon", 1)),
                first=first,
                last=last,
            )
        except DomainError as exc:
            skipped.append({"symbol": sym, "reason": str(exc)})
            continue
        arrays[sym], series[sym] = r.to_numpy(), (ds, r)
    total = sum(p.n_refits for p in plans.values())
    log.info("rolling %s on %d symbols: %d refits", spec.label, len(plans), total)
    results = tasks.rolling_many(
        arrays,
        plans,
        spec,
        progress=ctx.counter(total, f"{total} refits"),
        warm_start=bool(params.get("warm_start", False)),
        seed=int(params.get("seed", 0)),
        chunks_per_cpu=int(params.get("chunks_per_cpu") or tasks.ROLLING_CHUNKS_PER_CPU),
    )
    frames, summary = [], []
    for sym, res in results.items():
        ds, r = series[sym]
        ann = detect_annualization(r.index)
        real = realized_squared(res, r.to_numpy())
        steps = np.tile(np.arange(1, res.horizon + 1), res.origins.size)
        frames.append(
            pd.DataFrame(
                {
                    "symbol": sym,
                    "dataset": ds,
                    "date": np.repeat(r.index[res.origins].to_numpy(), res.horizon),
                    "step": steps,
                    "refit": np.repeat(res.refit, res.horizon),
                    "converged": np.repeat(res.converged, res.horizon),
                    "variance": res.variance.ravel(),
                    "vol_annualized": np.sqrt(res.variance.ravel() * ann.periods),
                    "realized_squared": real.ravel(),
                }
            )
        )
        ev = [S.EvaluationOut.of(e).model_dump() for e in evaluate_rolling(res, r.to_numpy())]
        summary.append(
            {
                "symbol": sym,
                "dataset": ds,
                "n_origins": int(res.origins.size),
                "n_refits": res.n_refits,
                "n_failed": len(res.messages),
                "annualization": ann.periods,
                "evaluation": ev,
            }
        )
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out = params.get("out")
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False) if path.suffix.lower() == ".csv" else table.to_parquet(
            path, index=False
        )
    return {
        "model": S.ModelOut.of(spec).model_dump(),
        "symbols": len(results),
        "refits": total,
        "rows": len(table),
        "output": str(Path(out).resolve()) if out else None,
        "seconds": round(time.perf_counter() - start_time, 3),
        "skipped": skipped,
        "per_symbol": summary,
    }


def _spelled(field: str) -> Any:
    """An argparse type taking a model name as the API does (any case, arch's aliases); the canonical value."""

    def canonical(text: str) -> str:
        try:
            return str(getattr(S.ModelIn.model_validate({field: text}), field).value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {field} {text!r}") from None

    return canonical


def _symbols_and_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--symbols", help="comma-separated symbols (default SIM)")
    p.add_argument("--dataset", choices=DAILY_DATASETS, help="dataset of the symbols")
    p.add_argument("--all", action="store_true", help="every symbol of --dataset")
    p.add_argument("--vol", type=_spelled("vol"), choices=["garch", "gjr", "egarch"], default="garch")
    p.add_argument("--p", type=int, default=1)
    p.add_argument("--o", type=int)
    p.add_argument("--q", type=int, default=1)
    p.add_argument("--dist", type=_spelled("dist"), choices=["normal", "t", "skewt"], default="t")
    p.add_argument("--mean", type=_spelled("mean"), choices=["constant", "zero", "ar1"], default="constant")


def _rolling_args(p: argparse.ArgumentParser) -> None:
    _symbols_and_model_args(p)
    p.add_argument("--returns", choices=["log", "simple"], default="log")
    p.add_argument("--window", type=int, default=DEFAULT_WINDOW)
    p.add_argument("--refit-every", type=int, default=1)
    p.add_argument("--horizon", type=int, default=1)
    p.add_argument("--start", help="first forecast origin (date)")
    p.add_argument("--end", help="last forecast origin (date)")
    p.add_argument("--warm-start", action="store_true", help="start each refit from the previous estimates")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunks-per-cpu", type=int)
    p.add_argument("--out", help="output file: .parquet (default) or .csv")


def run_forecast_job(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """A forecast request of any size: ``params["request"]`` (the HTTP body) or the command-line flags; the
    HTTP body back (``results``), one fit per symbol in the request's order."""
    catalog = Catalog(get_settings())
    if "request" in params:
        req = S.ForecastRequest.model_validate(params["request"])
    else:
        model = {k: params[k] for k in ("vol", "p", "o", "q", "dist", "mean") if params.get(k) is not None}
        req = S.ForecastRequest(
            symbols=_symbols(catalog, params),
            dataset=params.get("dataset"),
            model=model,
            horizon=int(params.get("horizon", 10)),
            start=params.get("start"),
            end=params.get("end"),
        )
    ctx.progress(0.0, f"fitting {len(req.symbols or ['series'])} series")
    return svc.forecast_fits(catalog, req).model_dump(mode="json")


def _forecast_args(p: argparse.ArgumentParser) -> None:
    _symbols_and_model_args(p)
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--start", help="first date used (YYYY-MM-DD)")
    p.add_argument("--end", help="last date used (YYYY-MM-DD)")


COMMANDS = [
    JobCommand(
        "rolling", "rolling out-of-sample GARCH refits over symbols × dates", run_rolling_job, _rolling_args
    ),
    JobCommand(
        "forecast",
        "fit and forecast many symbols (the /v1/volatility/forecast body, any size)",
        run_forecast_job,
        _forecast_args,
    ),
]


def main(argv: list[str] | None = None) -> int:
    return job_main("garch", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
