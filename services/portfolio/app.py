"""The portfolio service (port 8007): ``raysvc serve portfolio`` serves ``services.portfolio.app:app``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from services.core.app import Platform, create_app
from services.core.settings import get_settings
from services.portfolio import service as svc
from services.portfolio import tasks
from services.portfolio.engine import Decision, performance_metrics, simulate
from services.portfolio.routes import legacy_router, router

DATASETS = list(svc.DATASETS)


def _on_ready(platform: Platform) -> None:
    """Compute each price dataset's returns once, put them into the object store, warm the workers and
    the metrics path (its arrays per dataset and its compiled pass) and the backtest's compiled holding
    pass, so a first request pays none of it."""
    for ds in DATASETS:
        svc.returns_ref(platform.catalog, ds)
        svc.dataset_arrays(platform.catalog, ds)
    performance_metrics(np.array([0.01, -0.02, 0.005]))
    tiny = pd.DataFrame({"A": [0.0, 0.01]}, index=pd.date_range("2020-01-01", periods=2))
    simulate(tiny, [Decision(tiny.index[0], {"A": 1.0}, "warm-up")])
    tasks.warm_up()

    def status() -> dict[str, Any]:
        return {
            "objectives": "min_variance, max_sharpe (compiled Clarabel QP, skfolio's answer), max_return, "
            "min_cvar, risk_parity, hrp, herc, inverse_volatility, equal_weight (skfolio)",
            "covariance": "sample, ledoit_wolf, oas, ewma, denoised",
            "interactive_limits": {
                "frontier_points": svc.INLINE_MAX_POINTS,
                "rebalance_dates": svc.INLINE_MAX_REBALANCES,
            },
            "sentiment_rankings": get_settings().sentiment_url.rstrip("/") + svc.RANKINGS_PATH,
        }

    platform.state["status"] = status


app = create_app(
    "portfolio",
    routers=[router],
    legacy_router=legacy_router,
    datasets=DATASETS,
    description=(
        "Portfolio optimisation with skfolio (mean-variance, CVaR, risk parity, HRP, HERC…), exact risk and "
        "performance measures, efficient frontiers and walk-forward backtests (optimised, equal-weight and the "
        "sentiment top-N strategy) whose expensive parts run as Ray tasks. See docs/portfolio.md."
    ),
    on_ready=_on_ready,
)
