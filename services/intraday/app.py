"""The intraday service app (port 8008): ``raysvc serve intraday`` imports ``services.intraday.app:app``."""

from __future__ import annotations

from services.core.app import Platform, create_app
from services.core.names import Dataset
from services.intraday.engine import STRATEGIES
from services.intraday.routes import legacy_router, router


def _on_ready(platform: Platform) -> None:
    platform.state["status"] = lambda: {"available_strategies": [s.value for s in STRATEGIES]}


app = create_app(
    "intraday",
    routers=[router],
    legacy_router=legacy_router,
    datasets=[Dataset.INTRADAY],
    description=(
        "Indicators, signals, compiled backtests, Ray parameter sweeps and walk-forward on 5-minute bars."
    ),
    on_ready=_on_ready,
)
