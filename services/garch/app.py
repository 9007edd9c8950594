"""The GARCH volatility service (port 8006): ``raysvc serve garch`` serves ``services.garch.app:app``."""

from __future__ import annotations

from typing import Any

from services.core.app import Platform, create_app
from services.core.names import Dataset
from services.garch import service as svc
from services.garch.routes import legacy_router, router

DATASETS = [Dataset.DAILY, Dataset.PRICES]


def _on_ready(platform: Platform) -> None:
    """Compute the preloaded datasets' returns once and put them into the object store."""
    for ds in DATASETS:
        svc.returns_ref(platform.catalog, ds, "log")

    def status() -> dict[str, Any]:
        return {
            "models": "GARCH/GJR/EGARCH × normal/t/skewt × constant/zero/AR(1) mean (arch)",
            "interactive_refit_limit": svc.INLINE_MAX_REFITS,
            "signal_cache_entries": svc.signal_cache_entries(platform.catalog),
        }

    platform.state["status"] = status


app = create_app(
    "garch",
    routers=[router],
    legacy_router=legacy_router,
    datasets=DATASETS,
    description=(
        "Volatility models fitted with arch (GARCH, GJR-GARCH, EGARCH; normal, t, skew-t errors), forecasts "
        "in the returns' own units, rolling out-of-sample refits spread over Ray, model selection by BIC/AIC "
        "and the daily regime signal. See docs/garch.md."
    ),
    on_ready=_on_ready,
)
