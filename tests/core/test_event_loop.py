"""No route holds a service's event loop: every operation of every service's OpenAPI document is called
(twice: the first call warms caches and compiled kernels) on an event loop in asyncio's debug mode, and any
callback that runs longer than ``SLOW_CALLBACK_S`` on the loop fails the test, naming the route.

Compute, file and Ray calls belong in a worker thread (``run_blocking``); a synchronous call on the loop stalls
every other request of the service meanwhile. Job submission is replaced by a blocking stand-in that sleeps
``SUBMIT_S``: a route that submits on the loop shows up at once, without starting a Ray job.

The loop runs on a 2-core, noisy machine: a callback that overruns once is called again, and only one that
overruns on every try fails.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time

import httpx
import pytest

from services import SERVICES
from services.core.jobs import JobAccepted, JobManager

pytestmark = pytest.mark.slow

#: Longest a callback may hold the loop (seconds). Request validation and response serialisation of these
#: small bodies take 1-5 ms, the largest default response here (a daily backtest's equity curve) about 20.
SLOW_CALLBACK_S = 0.025
SUBMIT_S = 0.3
TRIES = 3

SIM_RANGE = {"symbol": "SIM", "start": "2023-08-01", "end": "2023-08-15"}
BARS_CSV = b"datetime,open,high,low,close,volume\n" + b"".join(
    f"2024-01-02 {9 + (i + 6) // 12:02d}:{(i + 6) % 12 * 5:02d},{100 + i % 7},{101 + i % 7},{99 + i % 7},"
    f"{100.5 + i % 7},1000\n".encode()
    for i in range(78)
)
FOUR = ["AAPL", "MSFT", "KO", "XOM"]
TRAIN = {
    "kind": "ml:fast",
    "texts": [f"{w} quarter number {i}" for i in range(4) for w in ("strong", "flat", "weak")],
    "labels": ["positive", "neutral", "negative"] * 4,
    "C": [1.0],
    "class_weight": [None],
    "folds": 2,
}
WALK_FORWARD_JOB = {
    "symbol": "SIM",
    "strategy": "breakout",
    "grid": {"lookback": [12]},
    "train_days": 1,
    "test_days": 1,
    "mode": "job",
}

#: One call per operation: (method, path, httpx request kwargs, the status it must answer). ``{symbol}``
#: and ``{job_id}`` are filled in. 202s go through the blocking submit stand-in; 503s are the portfolio
#: routes that need the sentiment service, which does not run here.
CALLS: dict[str, list[tuple[str, str, dict, int]]] = {
    "sentiment": [
        ("POST", "/v1/sentiment/score", {"json": {"texts": ["Profit rose 12%", "Shares slump"]}}, 200),
        ("GET", "/v1/sentiment/models", {}, 200),
        ("POST", "/v1/sentiment/train", {"json": TRAIN}, 202),
        ("GET", "/v1/sentiment/symbols", {}, 200),
        ("GET", "/v1/sentiment/symbols/{symbol}", {}, 200),
        ("GET", "/v1/sentiment/rankings", {"params": {"top": 5}}, 200),
        (
            "POST",
            "/analyze-sentiment",
            {"json": {"texts": ["$AAPL beats estimates", "Fed minutes due"]}},
            200,
        ),
        ("POST", "/analyze-tickers", {"json": {"tickers": ["{symbol}"]}}, 200),
        ("GET", "/available-tickers", {}, 200),
    ],
    "garch": [
        ("GET", "/v1/volatility/symbols", {}, 200),
        ("POST", "/v1/volatility/forecast", {"json": {"symbols": ["SIM"], "horizon": 5}}, 200),
        (
            "POST",
            "/v1/volatility/rolling",
            {"json": {"symbol": "SIM", "start": "2023-06-01", "mode": "job"}},
            202,
        ),
        ("POST", "/v1/volatility/select", {"json": {"symbol": "SIM"}}, 200),
        ("GET", "/v1/volatility/signal", {"params": {"symbol": "SIM", "history": 5, "std_window": 30}}, 200),
        ("POST", "/predict-volatility", {"json": {"window_size": 200}}, 200),
        ("GET", "/load-market-data", {}, 200),
        (
            "GET",
            "/calculate-rolling-variance",
            {"params": {"window": 30, "limit": 10, "n_simulations": 5}},
            200,
        ),
    ],
    "portfolio": [
        ("POST", "/v1/portfolio/optimize", {"json": {"symbols": FOUR}}, 200),
        ("POST", "/v1/portfolio/frontier", {"json": {"symbols": FOUR, "points": 5}}, 200),
        ("POST", "/v1/portfolio/metrics", {"json": {"weights": {"AAPL": 0.5, "MSFT": 0.5}}}, 200),
        ("POST", "/v1/portfolio/backtest", {"json": {"symbols": FOUR[:3], "start": "2018-01-01"}}, 200),
        ("GET", "/select-top-stocks", {"params": {"limit": 3}}, 503),
        ("GET", "/portfolio-performance", {}, 503),
        (
            "POST",
            "/calculate-portfolio-metrics",
            {"json": {"tickers": ["AAPL", "MSFT"], "weights": [0.5, 0.5]}},
            200,
        ),
        ("POST", "/optimize-portfolio", {"json": {"assets": FOUR, "target_return": 0.12}}, 200),
    ],
    "intraday": [
        ("GET", "/v1/intraday/strategies", {}, 200),
        ("POST", "/v1/intraday/signals", {"json": {**SIM_RANGE, "strategy": {"name": "momentum"}}}, 200),
        ("POST", "/v1/intraday/backtest", {"json": {**SIM_RANGE, "strategy": {"name": "sma_cross"}}}, 200),
        (
            "POST",
            "/v1/intraday/sweep",
            {"json": {**SIM_RANGE, "strategy": "breakout", "grid": {"lookback": [12, 48]}}},
            200,
        ),
        ("POST", "/v1/intraday/walk-forward", {"json": WALK_FORWARD_JOB}, 202),
        (
            "POST",
            "/v1/intraday/backtest/csv",
            {
                "files": {"file": ("b.csv", BARS_CSV)},
                "data": {"request": '{"strategy": {"name": "breakout"}}'},
            },
            200,
        ),
        (
            "POST",
            "/v1/intraday/sweep/csv",
            {
                "files": {"file": ("b.csv", BARS_CSV)},
                "data": {"request": '{"strategy": "breakout", "grid": {"lookback": [5, 10]}}'},
            },
            200,
        ),
        ("POST", "/calculate-intraday-signals", {"json": {"daily_signal": 1}}, 200),
        ("POST", "/execute-strategies", {"json": {"strategies": ["momentum"], "symbols": ["SIM"]}}, 200),
        ("POST", "/generate-signals", {"json": {"symbols": ["SIM"]}}, 200),
        (
            "POST",
            "/backtest-strategy",
            {
                "json": {
                    "strategy_name": "mean_reversion",
                    "symbol": "SIM",
                    "start_date": "2023-08-01",
                    "end_date": "2023-08-08",
                }
            },
            200,
        ),
    ],
}
#: The operations every service shares (health, status, the job API; the job id is unknown: 404).
COMMON = [
    ("GET", "/healthz", {}, 200),
    ("GET", "/readyz", {}, 200),
    ("GET", "/status", {}, 200),
    ("GET", "/metrics", {}, 200),
    ("GET", "/v1/jobs", {}, 200),
    ("GET", "/v1/jobs/{job_id}", {}, 404),
    ("DELETE", "/v1/jobs/{job_id}", {}, 404),
    ("GET", "/v1/jobs/{job_id}/report", {}, 404),
]


class _SlowCallbacks(logging.Handler):
    """Collects asyncio's debug-mode "Executing <callback> took N seconds" warnings."""

    PATTERN = re.compile(r"Executing (.*) took (\d+\.\d+) seconds")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if m := self.PATTERN.search(record.getMessage()):
            self.seen.append((m.group(1)[:200], float(m.group(2))))


def _blocking_submit(
    self: JobManager, command: str, params: dict, *, service: str | None = None
) -> JobAccepted:
    time.sleep(SUBMIT_S)  # as the real one does when it waits for the Jobs API
    job_id = f"raysvc-{service or self.service}-{command}-{0:012x}"
    return JobAccepted(job_id=job_id, status_url=f"/v1/jobs/{job_id}", submitted_at=time.time())


async def _exercise(service: str, slow: _SlowCallbacks) -> dict[str, float]:
    """Call every operation of ``service``; return the worst callback time of each one that overran."""
    app = importlib.import_module(f"services.{service}.app").app
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_S
    overran: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=300) as client:
            deadline = time.monotonic() + 180
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, f"{service} not ready"
                await asyncio.sleep(0.5)
            symbol = (
                (await client.get("/available-tickers")).json()["tickers"][0]
                if service == "sentiment"
                else ""
            )
            fill = {"{symbol}": symbol, "{job_id}": f"raysvc-{service}-none-{0:012x}"}
            for method, path, kwargs, status in COMMON + CALLS[service]:
                url = path
                for key, value in fill.items():
                    url = url.replace(key, value)
                if "json" in kwargs:
                    kwargs = {**kwargs, "json": _fill(kwargs["json"], fill)}
                route = f"{method} {path}"
                for attempt in range(TRIES):
                    await client.request(method, url, **kwargs)  # warm-up
                    slow.seen.clear()
                    response = await client.request(method, url, **kwargs)
                    assert response.status_code == status, (route, response.status_code, response.text[:300])
                    await asyncio.sleep(0)  # let the response's last callbacks run
                    if not slow.seen:
                        overran.pop(route, None)
                        break
                    overran[route] = max(t for _, t in slow.seen)
                    print(
                        f"{route}: try {attempt + 1} held the loop {overran[route] * 1e3:.0f} ms: {slow.seen[0][0]}"
                    )
    return overran


def _fill(body: object, fill: dict[str, str]) -> object:
    if isinstance(body, dict):
        return {k: _fill(v, fill) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, fill) for v in body]
    return fill.get(body, body) if isinstance(body, str) else body


def _operations(service: str) -> set[str]:
    doc = importlib.import_module(f"services.{service}.app").app.openapi()
    return {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_operation_is_called(service: str) -> None:
    """The table above covers each service's whole OpenAPI document: a new route must be added to it."""
    called = {f"{m} {p}" for m, p, _, _ in COMMON + CALLS[service]}
    assert called == _operations(service)


@pytest.mark.parametrize("service", list(SERVICES))
def test_no_route_holds_the_event_loop(
    service: str, data_dir, ray_local, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JobManager, "submit", _blocking_submit)
    slow = _SlowCallbacks()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(slow)
    try:
        overran = asyncio.run(_exercise(service, slow))
    finally:
        asyncio_log.removeHandler(slow)
    assert not overran, {route: f"{t * 1e3:.0f} ms" for route, t in overran.items()}
