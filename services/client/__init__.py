"""A Python client for the four services (sentiment, garch, portfolio, intraday) and their jobs.

pandas in, pandas out: price and return series go in as Series/DataFrames, results come back as objects that
keep the service's own response model (``.raw``) and offer ``to_frame()``-style accessors and ``.plot()``.
A request the service turns into a job (202) is followed to its result; problem+json errors become typed
exceptions. See docs/client.md.

>>> from services.client import Client
>>> with Client() as c:  # doctest: +SKIP
...     c.garch.forecast(["AAA", "BBB"], horizon=20).plot()
"""

from services.client._async import AsyncClient
from services.client._calls import ROUTES, method_for, service_urls
from services.client._errors import (
    ApiError,
    JobFailed,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TransportError,
    ValidationProblem,
)
from services.client._results import (
    BacktestResult,
    ForecastResult,
    FrontierResult,
    IntradayBacktestResult,
    Listing,
    MetricsResult,
    OptimizeResult,
    Result,
    RollingResult,
    ScoreResult,
    SelectResult,
    SignalResult,
    SignalsResult,
    SweepResult,
    SymbolDetailResult,
    TrainResult,
    WalkForwardResult,
)
from services.client._sync import Client

__all__ = [
    "ROUTES",
    "ApiError",
    "AsyncClient",
    "BacktestResult",
    "Client",
    "ForecastResult",
    "FrontierResult",
    "IntradayBacktestResult",
    "JobFailed",
    "JobTimeout",
    "Listing",
    "MetricsResult",
    "NotFound",
    "OptimizeResult",
    "PayloadTooLarge",
    "Result",
    "RollingResult",
    "ScoreResult",
    "SelectResult",
    "ServiceUnavailable",
    "SignalResult",
    "SignalsResult",
    "SweepResult",
    "SymbolDetailResult",
    "TrainResult",
    "TransportError",
    "ValidationProblem",
    "WalkForwardResult",
    "method_for",
    "service_urls",
]
