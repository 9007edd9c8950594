"""What a client method sends (a :class:`Call`), base URLs from the settings, the retry rules, and the map of
every route to the client method that calls it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

import httpx
from pydantic import BaseModel, ValidationError

from services import SERVICES
from services.client._errors import from_validation_error
from services.core.settings import Settings

T = TypeVar("T")

#: The longest pause between retries, whatever ``Retry-After`` says.
MAX_RETRY_DELAY_S = 10.0
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Transport errors raised before any byte of the request left: safe to retry for every method.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer: ``parse(json_body, job_id)``."""

    service: str
    method: str
    path: str
    parse: Callable[[Any, str | None], T]
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    files: Any = None
    data: Any = None
    headers: Mapping[str, str] | None = None
    text: bool = False


def _response_model(result: Any) -> type[BaseModel]:
    for base in getattr(result, "__orig_bases__", ()):
        args = get_args(base)
        if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return args[0]
    raise TypeError(f"{result!r}: give the response model")


def build(
    service: str,
    path: str,
    request: type[BaseModel],
    payload: Mapping[str, Any],
    result: Callable[..., T],
    *,
    validate: bool = True,
    response: type[BaseModel] | None = None,
) -> Call[T]:
    """A POST of ``payload`` as the service's ``request`` model, read into ``result(raw, job_id=, source=)``
    where ``raw`` is the service's ``response`` model (by default the one ``result`` is generic over).

    With ``validate`` the payload is checked against ``request`` first (a :class:`ValidationProblem` naming
    the field as the service would) and sent as the model dumps it; without, it is sent as given."""
    if validate:
        try:
            model = request.model_validate(dict(payload))
        except ValidationError as exc:
            raise from_validation_error(exc, service) from None
        body: Any = model.model_dump(mode="json", exclude_unset=True, by_alias=True)
    else:
        body = dict(payload)
    out = response or _response_model(result)
    source = (service, path, body)

    def parse(raw: Any, job_id: str | None) -> T:
        return result(out.model_validate(raw), job_id=job_id, source=source)

    return Call(service, "POST", path, parse=parse, json_body=body)


def retryable(method: str, exc: Exception | None) -> bool:
    """Whether a failed call may be sent again: idempotent methods always; others only when the request
    never left (the connection failed)."""
    return method.upper() in IDEMPOTENT or isinstance(exc, NOT_SENT)


def backoff_delay(base: float, attempt: int, retry_after: str | None = None) -> float:
    """Exponential backoff ``base * 2**attempt``, or the server's ``Retry-After`` (capped)."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_DELAY_S)
        except ValueError:
            pass
    return float(min(base * 2**attempt, MAX_RETRY_DELAY_S))


def service_urls(
    overrides: Mapping[str, str] | None = None, settings: Settings | None = None
) -> dict[str, str]:
    """Base URL of each service: ``overrides``, else the settings the services use to reach each other
    (``RAYSVC_SENTIMENT_URL``, ``RAYSVC_GARCH_URL``), else ``http://RAYSVC_HOST:RAYSVC_<SERVICE>_PORT``."""
    s = settings or Settings()
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
    urls: dict[str, str] = {}
    for name in SERVICES:
        explicit = f"{name}_url" in s.model_fields_set
        urls[name] = getattr(s, f"{name}_url") if explicit else f"http://{host}:{s.port_of(name)}"
    unknown = set(overrides or {}) - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown services {sorted(unknown)}; known: {sorted(SERVICES)}")
    urls.update(overrides or {})
    return {k: v.rstrip("/") for k, v in urls.items()}


def url_of(urls: Mapping[str, str], service: str, path: str) -> str:
    return urls[service] + path


_JOB_ID = re.compile(r"^raysvc-([a-z]+)-")


def job_service(job_id: str) -> str:
    """The service a job belongs to, from its id (``raysvc-<service>-<command>-<hex>``)."""
    m = _JOB_ID.match(job_id)
    if not m or m.group(1) not in SERVICES:
        raise ValueError(f"not a job id of these services: {job_id!r}")
    return m.group(1)


#: Every route of every service → the client method (on :class:`Client` and :class:`AsyncClient`) that calls
#: it. ``*``: the route every service has. tests/client/test_coverage.py walks the services' OpenAPI documents
#: and fails on a route missing here.
ROUTES: dict[tuple[str, str, str], str] = {
    ("*", "GET", "/healthz"): "health",
    ("*", "GET", "/readyz"): "ready",
    ("*", "GET", "/status"): "status",
    ("*", "GET", "/metrics"): "metrics",
    ("*", "GET", "/v1/jobs"): "jobs.list",
    ("*", "GET", "/v1/jobs/{job_id}"): "jobs.get",
    ("*", "DELETE", "/v1/jobs/{job_id}"): "jobs.stop",
    ("*", "GET", "/v1/jobs/{job_id}/report"): "jobs.report",
    ("sentiment", "POST", "/v1/sentiment/score"): "sentiment.score",
    ("sentiment", "GET", "/v1/sentiment/models"): "sentiment.models",
    ("sentiment", "POST", "/v1/sentiment/train"): "sentiment.train",
    ("sentiment", "GET", "/v1/sentiment/symbols"): "sentiment.symbols",
    ("sentiment", "GET", "/v1/sentiment/symbols/{symbol}"): "sentiment.symbol",
    ("sentiment", "GET", "/v1/sentiment/rankings"): "sentiment.rankings",
    ("sentiment", "POST", "/analyze-sentiment"): "legacy.analyze_sentiment",
    ("sentiment", "POST", "/analyze-tickers"): "legacy.analyze_tickers",
    ("sentiment", "GET", "/available-tickers"): "legacy.available_tickers",
    ("garch", "GET", "/v1/volatility/symbols"): "garch.symbols",
    ("garch", "POST", "/v1/volatility/forecast"): "garch.forecast",
    ("garch", "POST", "/v1/volatility/rolling"): "garch.rolling",
    ("garch", "POST", "/v1/volatility/select"): "garch.select",
    ("garch", "GET", "/v1/volatility/signal"): "garch.signal",
    ("garch", "POST", "/predict-volatility"): "legacy.predict_volatility",
    ("garch", "GET", "/load-market-data"): "legacy.load_market_data",
    ("garch", "GET", "/calculate-rolling-variance"): "legacy.calculate_rolling_variance",
    ("portfolio", "POST", "/v1/portfolio/optimize"): "portfolio.optimize",
    ("portfolio", "POST", "/v1/portfolio/frontier"): "portfolio.frontier",
    ("portfolio", "POST", "/v1/portfolio/metrics"): "portfolio.metrics",
    ("portfolio", "POST", "/v1/portfolio/backtest"): "portfolio.backtest",
    ("portfolio", "GET", "/select-top-stocks"): "legacy.select_top_stocks",
    ("portfolio", "GET", "/portfolio-performance"): "legacy.portfolio_performance",
    ("portfolio", "POST", "/calculate-portfolio-metrics"): "legacy.calculate_portfolio_metrics",
    ("portfolio", "POST", "/optimize-portfolio"): "legacy.optimize_portfolio",
    ("intraday", "GET", "/v1/intraday/strategies"): "intraday.strategies",
    ("intraday", "POST", "/v1/intraday/signals"): "intraday.signals",
    ("intraday", "POST", "/v1/intraday/backtest"): "intraday.backtest",
    ("intraday", "POST", "/v1/intraday/sweep"): "intraday.sweep",
    ("intraday", "POST", "/v1/intraday/walk-forward"): "intraday.walk_forward",
    ("intraday", "POST", "/v1/intraday/backtest/csv"): "intraday.backtest_csv",
    ("intraday", "POST", "/v1/intraday/sweep/csv"): "intraday.sweep_csv",
    ("intraday", "POST", "/calculate-intraday-signals"): "legacy.calculate_intraday_signals",
    ("intraday", "POST", "/execute-strategies"): "legacy.execute_strategies",
    ("intraday", "POST", "/generate-signals"): "legacy.generate_signals",
    ("intraday", "POST", "/backtest-strategy"): "legacy.backtest_strategy",
}


def method_for(service: str, method: str, path: str) -> str | None:
    """The client method for a route, or None when the client has none."""
    return ROUTES.get((service, method.upper(), path)) or ROUTES.get(("*", method.upper(), path))
