"""The requests the report tests draw (small: a few seconds each on 2 cores), and the JSON request that
answers with the numbers each report draws (the report asks for the long series the JSON default omits)."""

from __future__ import annotations

import importlib
import json
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.core.reports import include_choices
from services.intraday import schemas as I
from services.portfolio import schemas as P
from tests.utils.browser import serve

SIX = ["AAPL", "JNJ", "JPM", "KO", "MSFT", "XOM"]
SIM_RANGE = {"symbol": "SIM", "start": "2023-08-01", "end": "2023-08-15"}


@dataclass(frozen=True)
class Case:
    name: str
    service: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: changes to ``body`` that give the JSON answer with the report's numbers
    detail: dict[str, Any] = field(default_factory=dict)
    #: figures the page draws
    n_figures: int = 1
    #: the request model, when every option of its ``include`` list (if it has one) is part of the detail
    model: type[BaseModel] | None = None

    def json_request(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.path, "params": self.params, "json": self._json_body()}

    def _json_body(self) -> dict[str, Any] | None:
        if self.body is None:
            return None
        include = (
            {"include": include_choices(self.model)} if self.model and include_choices(self.model) else {}
        )
        return {**self.body, **include, **self.detail}

    def report_request(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.path,
            "params": {**self.params, "report": "true"},
            "json": self.body,
        }


CASES = [
    Case(
        "intraday-backtest",
        "intraday",
        "POST",
        "/v1/intraday/backtest",
        {**SIM_RANGE, "strategy": {"name": "sma_cross", "params": {"fast": 12, "slow": 48}}},
        detail={"include": ["equity", "trades"], "equity_points": 3000},
        n_figures=2,
    ),
    Case(
        "intraday-sweep",
        "intraday",
        "POST",
        "/v1/intraday/sweep",
        {
            **SIM_RANGE,
            "strategy": "sma_cross",
            "grid": {"fast": [5, 10, 15, 20], "slow": [30, 40, 50, 60, 80]},
        },
        detail={"top": 10_000},
    ),
    Case(
        "intraday-walk-forward",
        "intraday",
        "POST",
        "/v1/intraday/walk-forward",
        {
            **SIM_RANGE,
            "strategy": "breakout",
            "grid": {"lookback": [12, 48, 96]},
            "train_days": 4,
            "test_days": 3,
        },
        detail={"equity_points": 3000},
        n_figures=3,
        model=I.WalkForwardRequest,
    ),
    Case(
        "portfolio-frontier",
        "portfolio",
        "POST",
        "/v1/portfolio/frontier",
        {"symbols": SIX, "n_points": 30, "start": "2018-01-01", "end": "2022-12-28"},
        n_figures=2,
    ),
    Case(
        "portfolio-backtest",
        "portfolio",
        "POST",
        "/v1/portfolio/backtest",
        {
            "strategy": "optimized",
            "symbols": SIX,
            "rebalance": "M",
            "start": "2019-01-01",
            "end": "2021-12-31",
            "benchmark": "equal_weight",
        },
        n_figures=2,
        model=P.BacktestRequest,
    ),
    Case(
        "garch-rolling",
        "garch",
        "POST",
        "/v1/volatility/rolling",
        {
            "symbol": "SIM",
            "model": {"vol": "garch", "p": 1, "q": 1, "dist": "t"},
            "window": 180,
            "horizon": 2,
            "start": "2023-03-01",
            "end": "2023-04-15",
        },
        n_figures=2,
    ),
    Case("sentiment-rankings", "sentiment", "GET", "/v1/sentiment/rankings", params={"top": 10}, n_figures=2),
]


class Services:
    """One service app at a time on a loopback port (the apps share a process-wide platform, so two cannot
    serve in one process at once): :meth:`url` starts the one asked for, stopping the previous."""

    def __init__(self) -> None:
        self._name: str | None = None
        self._stack = ExitStack()
        self._url = ""

    def url(self, service: str) -> str:
        if service != self._name:
            self.close()
            self._url = self._stack.enter_context(
                serve(importlib.import_module(f"services.{service}.app").app)
            )
            self._name = service
        return self._url

    def close(self) -> None:
        self._stack.close()
        self._name = None


def fake_job(results_dir: Path, service: str, command: str, *, result: Any = None, error: Any = None) -> str:
    """A job folder as a job's entrypoint leaves it (no Ray job behind it: the Jobs API answers 404)."""
    job_id = f"raysvc-{service}-{command}-{uuid.uuid4().hex[:12]}"
    folder = results_dir / job_id
    folder.mkdir(parents=True)
    spec = {
        "service": service,
        "owner": service,
        "command": command,
        "params": {},
        "submitted_at": time.time(),
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    if result is not None:
        (folder / "result.json").write_text(json.dumps(result))
    if error is not None:
        (folder / "error.json").write_text(json.dumps(error))
    return job_id
