"""The blocking client, GENERATED from ``_async.py`` (``python -m services.client._unasync``)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import httpx
import pandas as pd
from pydantic import TypeAdapter

from services.client import _results as R
from services.client._calls import (
    Call,
    backoff_delay,
    build,
    job_service,
    retryable,
    service_urls,
    url_of,
)
from services.client._errors import (
    ApiError,
    JobFailed,
    JobTimeout,
    TransportError,
    from_response,
    problem_error,
)
from services.client._frames import bars_in, panel_in, series_in, weights_of
from services.client._progress import JobProgress
from services.core.jobs import FINAL, JobAccepted, JobInfo, JobStatus
from services.garch import schemas as G
from services.intraday import schemas as I
from services.portfolio import schemas as P
from services.sentiment import schemas as S

Kind = Literal["prices", "returns"]
ServiceName = Literal["sentiment", "garch", "portfolio", "intraday"]


class Client:
    """One client for the four services and their jobs.

    Parameters
    ----------
    urls : mapping, optional
        Service name → base URL, overriding the settings (``RAYSVC_SENTIMENT_URL``, ``RAYSVC_GARCH_URL``,
        ``RAYSVC_HOST`` and ``RAYSVC_<SERVICE>_PORT``: what the services themselves use).
    api_key : str, optional
        Sent as ``Authorization: Bearer <key>`` (services with API keys on).
    timeout : float
        Seconds per HTTP request.
    job_timeout : float
        Seconds to wait for a job a request turned into (202) before :class:`JobTimeout`.
    progress : bool, optional
        A progress bar while following a job; default: when stderr is a terminal.
    retries, backoff : int, float
        Retries of idempotent calls (GET, DELETE; any call whose connection failed before it was sent)
        and the base of their exponential backoff in seconds. A POST that was sent is never retried.
    validate : bool
        Check requests against the services' own schemas before sending (errors name the field like the
        service does).
    transport : httpx transport, optional
        For tests and custom networking.
    """

    def __init__(
        self,
        urls: Mapping[str, str] | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        job_timeout: float = 900.0,
        poll_interval: float = 0.5,
        progress: bool | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        validate: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.urls = service_urls(urls)
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval
        self.progress = progress
        self.retries = retries
        self.backoff = backoff
        self.validate = validate
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers, transport=transport)
        self.sentiment = Sentiment(self)
        self.garch = Garch(self)
        self.portfolio = Portfolio(self)
        self.intraday = Intraday(self)
        self.jobs = Jobs(self)
        self.legacy = Legacy(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport ----------------------------------------------------------------------------------
    def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        files: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One HTTP call with the retry policy: idempotent methods are retried on transport errors and on
        502/503/504 (after ``Retry-After`` when given); any method when the connection failed before the
        request was sent; a sent POST never."""
        url = url_of(self.urls, service, path)
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, url, params=params, json=json_body, files=files, data=data, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt < self.retries and retryable(method, exc):
                    time.sleep(backoff_delay(self.backoff, attempt))
                    attempt += 1
                    continue
                raise TransportError(
                    f"{service}: {method} {url} failed: {type(exc).__name__}: {exc}", service=service
                ) from exc
            if response.status_code in (502, 503, 504) and attempt < self.retries and retryable(method, None):
                time.sleep(backoff_delay(self.backoff, attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            return response

    def run(self, call: Call[Any]) -> Any:
        """Send ``call``; follow a 202 to its job's result; raise the typed error of a problem answer."""
        response = self.send(
            call.service,
            call.method,
            call.path,
            params=call.params,
            json_body=call.json_body,
            files=call.files,
            data=call.data,
            headers=call.headers,
        )
        if response.status_code == 202:
            accepted = JobAccepted.model_validate(response.json())
            info = self.jobs.wait(accepted.job_id)
            return call.parse(info.result, accepted.job_id)
        if response.status_code >= 400:
            raise from_response(response, call.service)
        if call.text:
            return response.text
        return call.parse(response.json(), None)

    # -- every service ------------------------------------------------------------------------------
    def health(self, service: ServiceName) -> dict[str, Any]:
        """``GET /healthz``: the process is up."""
        return dict(self.run(Call(service, "GET", "/healthz", parse=_json)))

    def ready(self, service: ServiceName) -> dict[str, Any]:
        """``GET /readyz``: Ray connected and the data loaded (503 → :class:`ServiceUnavailable`)."""
        return dict(self.run(Call(service, "GET", "/readyz", parse=_json)))

    def status(self, service: ServiceName) -> dict[str, Any]:
        """``GET /status``: version, Ray connection, datasets."""
        return dict(self.run(Call(service, "GET", "/status", parse=_json)))

    def metrics(self, service: ServiceName) -> str:
        """``GET /metrics``: the Prometheus text."""
        return str(self.run(Call(service, "GET", "/metrics", parse=_json, text=True)))

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every service answers ``/readyz`` with 200."""
        deadline = time.monotonic() + timeout
        pending = set(self.urls)
        while pending:
            for name in sorted(pending):
                try:
                    if (self._http.get(url_of(self.urls, name, "/readyz"))).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TransportError(f"not ready after {timeout:.0f}s: {sorted(pending)}")
            if pending:
                time.sleep(0.5)

    def report(self, result: R.Result[Any]) -> str:
        """The HTML report of ``result``: its job's report, or the request sent again asking for HTML."""
        if result.job_id is not None:
            return self.jobs.report(result.job_id)
        if result.source is None:
            raise ApiError("this result does not know the request that made it")
        service, path, body = result.source
        response = self.send(
            service, "POST", path, params={"report": "true"}, json_body=body, headers={"Accept": "text/html"}
        )
        if response.status_code >= 400:
            raise from_response(response, service)
        if "html" not in response.headers.get("content-type", ""):
            raise ApiError(
                f"{service} {path} has no HTML report", status=response.status_code, service=service
            )
        return response.text


def _json(body: Any, job_id: str | None) -> Any:
    return body


class _Namespace:
    service: str

    def __init__(self, client: Client) -> None:
        self._client = client

    def _build(self, model: Any, path: str, payload: dict[str, Any], result: Any, **extra: Any) -> Call[Any]:
        return build(self.service, path, model, payload, result, validate=self._client.validate, **extra)


class Sentiment(_Namespace):
    """``/v1/sentiment``: score texts, models, training, social-data symbols and rankings."""

    service = "sentiment"

    def score(
        self, texts: Sequence[str] | pd.Series, *, model: str | None = None, version: str | None = None
    ) -> R.ScoreResult:
        """Score ``texts`` (a list, or a Series whose index the result's frame keeps)."""
        index = texts.index if isinstance(texts, pd.Series) else None
        items = [str(t) for t in texts]
        payload = _drop_none({"texts": items, "model": model, "version": version})
        call = self._build(
            S.ScoreRequest,
            "/v1/sentiment/score",
            payload,
            lambda raw, job_id, source: R.ScoreResult(
                raw, job_id=job_id, source=source, texts=tuple(items), index=index
            ),
            response=S.ScoreResponse,
        )
        return self._client.run(call)

    def models(self) -> R.Listing:
        """The model versions (builtin and trained)."""
        return self._client.run(
            Call(self.service, "GET", "/v1/sentiment/models", parse=_listing(S.ModelsResponse))
        )

    def train(self, **options: Any) -> R.TrainResult:
        """Train a model version (always a job: followed to its result). ``options``: TrainRequest's fields."""
        call = self._build(S.TrainRequest, "/v1/sentiment/train", options, R.TrainResult)
        return self._client.run(call)

    def symbols(self) -> R.Listing:
        """Symbols of the social dataset."""
        return self._client.run(
            Call(self.service, "GET", "/v1/sentiment/symbols", parse=_listing(S.SymbolsResponse))
        )

    def symbol(
        self, symbol: str, *, start: str | None = None, end: str | None = None
    ) -> R.SymbolDetailResult:
        """Daily and monthly social data of ``symbol``."""
        call = Call(
            self.service,
            "GET",
            f"/v1/sentiment/symbols/{symbol}",
            params=_drop_none({"start": start, "end": end}),
            parse=_model(S.SymbolDetail, R.SymbolDetailResult),
        )
        return self._client.run(call)

    def rankings(self, **params: Any) -> R.Listing:
        """Monthly engagement rankings (``month``, ``top``, ``min_likes``, ``min_comments``)."""
        call = Call(
            self.service,
            "GET",
            "/v1/sentiment/rankings",
            params=_drop_none(params),
            parse=_listing(S.RankingsResponse),
        )
        return self._client.run(call)


class Garch(_Namespace):
    """``/v1/volatility``: GARCH-family forecasts, rolling refits, model selection, the regime signal."""

    service = "garch"

    def symbols(self) -> R.Listing:
        """The daily datasets and their symbols."""
        call = Call(
            self.service, "GET", "/v1/volatility/symbols", parse=_listing(G.SymbolsResponse, "datasets")
        )
        return self._client.run(call)

    def forecast(
        self,
        symbols: str | Sequence[str] | None = None,
        *,
        series: pd.Series | None = None,
        kind: Kind = "prices",
        horizon: int | None = None,
        model: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> R.ForecastResult:
        """Fit and forecast: dataset ``symbols`` or one ``series`` of prices or returns (``kind``)."""
        payload = _source(symbols=symbols, series=series, kind=kind, horizon=horizon, model=model, **options)
        call = self._build(G.ForecastRequest, "/v1/volatility/forecast", payload, R.ForecastResult)
        return self._client.run(call)

    def rolling(
        self,
        symbol: str | None = None,
        *,
        series: pd.Series | None = None,
        kind: Kind = "prices",
        model: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> R.RollingResult:
        """Rolling out-of-sample refits (``window``, ``refit_every``, ``horizon``, ``mode``); a long one runs
        as a job, followed to its result."""
        payload = _source(symbol=symbol, series=series, kind=kind, model=model, **options)
        call = self._build(G.RollingRequest, "/v1/volatility/rolling", payload, R.RollingResult)
        return self._client.run(call)

    def select(
        self,
        symbol: str | None = None,
        *,
        series: pd.Series | None = None,
        kind: Kind = "prices",
        **options: Any,
    ) -> R.SelectResult:
        """Rank models by BIC/AIC and fit the best."""
        payload = _source(symbol=symbol, series=series, kind=kind, **options)
        call = self._build(G.SelectRequest, "/v1/volatility/select", payload, R.SelectResult)
        return self._client.run(call)

    def signal(self, symbol: str = "SIM", **params: Any) -> R.SignalResult:
        """The daily regime signal of ``symbol`` (query parameters of ``GET /v1/volatility/signal``)."""
        call = Call(
            self.service,
            "GET",
            "/v1/volatility/signal",
            params=_drop_none({"symbol": symbol, **params}),
            parse=_model(G.SignalResponse, R.SignalResult),
        )
        return self._client.run(call)


class Portfolio(_Namespace):
    """``/v1/portfolio``: optimisation, frontier, metrics and backtests."""

    service = "portfolio"

    def optimize(
        self, returns: pd.DataFrame | None = None, *, symbols: Sequence[str] | None = None, **options: Any
    ) -> R.OptimizeResult:
        """Optimal weights for ``returns`` (rows = dates, one column per symbol) or dataset ``symbols``."""
        payload = _universe(returns, symbols, options)
        call = self._build(P.OptimizeRequest, "/v1/portfolio/optimize", payload, R.OptimizeResult)
        return self._client.run(call)

    def frontier(
        self, returns: pd.DataFrame | None = None, *, symbols: Sequence[str] | None = None, **options: Any
    ) -> R.FrontierResult:
        """The efficient frontier (``n_points``)."""
        payload = _universe(returns, symbols, options)
        call = self._build(P.FrontierRequest, "/v1/portfolio/frontier", payload, R.FrontierResult)
        return self._client.run(call)

    def metrics(
        self,
        returns: pd.Series | None = None,
        *,
        weights: Mapping[str, float] | pd.Series | None = None,
        benchmark: str | pd.Series | None = None,
        **options: Any,
    ) -> R.MetricsResult:
        """Risk and return metrics of a return series, or of ``weights`` priced on a dataset."""
        payload: dict[str, Any] = dict(options)
        if returns is not None:
            payload["returns"] = series_in(returns, "returns")
        if weights is not None:
            payload["weights"] = weights_of(weights)
        if isinstance(benchmark, pd.Series):
            payload["benchmark"] = series_in(benchmark, "returns")
        elif benchmark is not None:
            payload["benchmark"] = benchmark
        call = self._build(P.MetricsRequest, "/v1/portfolio/metrics", payload, R.MetricsResult)
        return self._client.run(call)

    def backtest(
        self,
        symbols: Sequence[str] | None = None,
        *,
        include: Sequence[str] = ("equity", "rebalances"),
        **options: Any,
    ) -> R.BacktestResult:
        """Backtest a rebalanced strategy (``strategy``, ``rebalance``, ``lookback``, ``costs_bps`` …), with
        the equity curves and every rebalance unless ``include=()`` (the service's summary)."""
        payload = _drop_none(
            {"symbols": list(symbols) if symbols is not None else None, "include": list(include), **options}
        )
        call = self._build(P.BacktestRequest, "/v1/portfolio/backtest", payload, R.BacktestResult)
        return self._client.run(call)


class Intraday(_Namespace):
    """``/v1/intraday``: strategies on 5-minute bars: signals, backtests, sweeps, walk-forward."""

    service = "intraday"

    def strategies(self) -> R.Listing:
        """The strategies and their parameters."""
        call = Call(self.service, "GET", "/v1/intraday/strategies", parse=_listing(list[I.StrategyInfo]))
        return self._client.run(call)

    def signals(
        self,
        strategy: str,
        params: Mapping[str, Any] | None = None,
        *,
        symbol: str | None = None,
        bars: pd.DataFrame | None = None,
        **options: Any,
    ) -> R.SignalsResult:
        """A strategy's indicators, targets and positions bar by bar."""
        payload = _data(
            symbol, bars, {"strategy": {"name": strategy, "params": dict(params or {})}, **options}
        )
        call = self._build(I.SignalsRequest, "/v1/intraday/signals", payload, R.SignalsResult)
        return self._client.run(call)

    def backtest(
        self,
        strategy: str,
        params: Mapping[str, Any] | None = None,
        *,
        symbol: str | None = None,
        bars: pd.DataFrame | None = None,
        include: Sequence[str] = ("equity", "trades"),
        **options: Any,
    ) -> R.IntradayBacktestResult:
        """Backtest one parameter set (with the equity curve and trades unless ``include=()``)."""
        payload = _data(
            symbol,
            bars,
            {
                "strategy": {"name": strategy, "params": dict(params or {})},
                "include": list(include),
                **options,
            },
        )
        call = self._build(I.BacktestRequest, "/v1/intraday/backtest", payload, R.IntradayBacktestResult)
        return self._client.run(call)

    def sweep(
        self,
        strategy: str,
        grid: Mapping[str, Sequence[Any]],
        *,
        symbol: str | None = None,
        bars: pd.DataFrame | None = None,
        **options: Any,
    ) -> R.SweepResult:
        """Every combination of ``grid`` (``rank_by``, ``top``, ``mode``: a large one runs as a job)."""
        payload = _data(symbol, bars, {"strategy": strategy, "grid": _grid(grid), **options})
        call = self._build(I.SweepRequest, "/v1/intraday/sweep", payload, R.SweepResult)
        return self._client.run(call)

    def walk_forward(
        self,
        strategy: str,
        grid: Mapping[str, Sequence[Any]],
        *,
        train_days: int,
        test_days: int,
        symbol: str | None = None,
        bars: pd.DataFrame | None = None,
        include: Sequence[str] = ("equity",),
        **options: Any,
    ) -> R.WalkForwardResult:
        """Walk-forward optimisation: choose on ``train_days`` sessions, trade the next ``test_days`` (with
        the stitched out-of-sample curve unless ``include=()``)."""
        body = {
            "strategy": strategy,
            "grid": _grid(grid),
            "train_days": train_days,
            "test_days": test_days,
            "include": list(include),
        }
        payload = _data(symbol, bars, {**body, **options})
        call = self._build(I.WalkForwardRequest, "/v1/intraday/walk-forward", payload, R.WalkForwardResult)
        return self._client.run(call)

    def backtest_csv(
        self, csv: str | Path | bytes, strategy: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> R.IntradayBacktestResult:
        """:meth:`backtest` on a CSV file of bars (a path or its bytes), uploaded."""
        request = {"strategy": {"name": strategy, "params": dict(params or {})}, **options}
        call = _upload(
            self, "/v1/intraday/backtest/csv", I.BacktestRequest, request, csv, R.IntradayBacktestResult
        )
        return self._client.run(call)

    def sweep_csv(
        self, csv: str | Path | bytes, strategy: str, grid: Mapping[str, Sequence[Any]], **options: Any
    ) -> R.SweepResult:
        """:meth:`sweep` on a CSV file of bars, uploaded."""
        request = {"strategy": strategy, "grid": _grid(grid), **options}
        call = _upload(self, "/v1/intraday/sweep/csv", I.SweepRequest, request, csv, R.SweepResult)
        return self._client.run(call)


class Jobs:
    """``/v1/jobs`` of every service: a job id names its service (``raysvc-<service>-…``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, service: ServiceName, *, limit: int = 50) -> list[JobInfo]:
        """``service``'s jobs, newest first."""
        response = self._client.send(service, "GET", "/v1/jobs", params={"limit": limit})
        if response.status_code >= 400:
            raise from_response(response, service)
        return [JobInfo.model_validate(j) for j in response.json()["data"]]

    def get(self, job_id: str) -> JobInfo:
        """Status, progress and result (or problem) of ``job_id``."""
        return self._job("GET", job_id)

    def stop(self, job_id: str) -> JobInfo:
        """Stop ``job_id`` (idempotent: a finished job is left as it is)."""
        return self._job("DELETE", job_id)

    def report(self, job_id: str) -> str:
        """The HTML report of a finished job (``GET /v1/jobs/{job_id}/report``)."""
        service = job_service(job_id)
        response = self._client.send(
            service, "GET", f"/v1/jobs/{job_id}/report", headers={"Accept": "text/html"}
        )
        if response.status_code >= 400:
            raise from_response(response, service)
        return response.text

    def wait(self, job_id: str, *, timeout: float | None = None, progress: bool | None = None) -> JobInfo:
        """Poll ``job_id`` until it ends; its info when it succeeded, else :class:`JobFailed` (or
        :class:`JobTimeout` after ``timeout`` seconds, the client's ``job_timeout`` by default)."""
        client = self._client
        deadline = time.monotonic() + (client.job_timeout if timeout is None else timeout)
        show = client.progress if progress is None else progress
        with JobProgress(job_id, show) as bar:
            while True:
                info = self.get(job_id)
                bar.update(info)
                if info.status in FINAL:
                    break
                if time.monotonic() > deadline:
                    raise JobTimeout(f"job {job_id} still {info.status.value} after the timeout", job=info)
                time.sleep(client.poll_interval)
        if info.status != JobStatus.SUCCEEDED:
            status = info.problem.get("status") if info.problem else None
            cause = problem_error(info.problem, status=status, service=info.service) if info.problem else None
            raise JobFailed(
                f"job {job_id} {info.status.value}" + (f": {cause}" if cause else ""),
                job=info,
                status=status,
                problem=cause.problem if cause else None,
                body=info.problem,
                service=info.service,
            )
        return info

    def _job(self, method: str, job_id: str) -> JobInfo:
        service = job_service(job_id)
        response = self._client.send(service, method, f"/v1/jobs/{job_id}")
        if response.status_code >= 400:
            raise from_response(response, service)
        return JobInfo.model_validate(response.json())


class Legacy:
    """The seed-compatible routes, answered as raw JSON (new code: use the ``/v1`` methods)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _call(self, service: str, method: str, path: str, body: Any, params: Mapping[str, Any]) -> Any:
        call = Call(service, method, path, params=_drop_none(dict(params)), json_body=body, parse=_json)
        return self._client.run(call)

    def analyze_sentiment(self, texts: Sequence[str]) -> Any:
        return self._call("sentiment", "POST", "/analyze-sentiment", {"texts": list(texts)}, {})

    def analyze_tickers(self, tickers: Sequence[str]) -> Any:
        return self._call("sentiment", "POST", "/analyze-tickers", {"tickers": list(tickers)}, {})

    def available_tickers(self) -> Any:
        return self._call("sentiment", "GET", "/available-tickers", None, {})

    def predict_volatility(self, body: Mapping[str, Any] | None = None, **params: Any) -> Any:
        return self._call("garch", "POST", "/predict-volatility", body, params)

    def load_market_data(self) -> Any:
        return self._call("garch", "GET", "/load-market-data", None, {})

    def calculate_rolling_variance(self, **params: Any) -> Any:
        return self._call("garch", "GET", "/calculate-rolling-variance", None, params)

    def select_top_stocks(self, limit: int = 5) -> Any:
        return self._call("portfolio", "GET", "/select-top-stocks", None, {"limit": limit})

    def portfolio_performance(self) -> Any:
        return self._call("portfolio", "GET", "/portfolio-performance", None, {})

    def calculate_portfolio_metrics(self, body: Mapping[str, Any]) -> Any:
        return self._call("portfolio", "POST", "/calculate-portfolio-metrics", body, {})

    def optimize_portfolio(self, body: Mapping[str, Any]) -> Any:
        return self._call("portfolio", "POST", "/optimize-portfolio", body, {})

    def calculate_intraday_signals(self, body: Mapping[str, Any] | None = None, **params: Any) -> Any:
        return self._call("intraday", "POST", "/calculate-intraday-signals", body, params)

    def execute_strategies(self, body: Mapping[str, Any]) -> Any:
        return self._call("intraday", "POST", "/execute-strategies", body, {})

    def generate_signals(self, body: Mapping[str, Any]) -> Any:
        return self._call("intraday", "POST", "/generate-signals", body, {})

    def backtest_strategy(self, body: Mapping[str, Any]) -> Any:
        return self._call("intraday", "POST", "/backtest-strategy", body, {})


# --- request helpers (shared with the sync client through the generated module) ------------------------
def _drop_none(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _listing(model: Any, key: str = "data") -> Any:
    adapter = TypeAdapter(model)
    return lambda body, job: R.Listing(adapter.validate_python(body), key=key)


def _model(model: Any, result: Any) -> Any:
    return lambda body, job: result(model.model_validate(body), job_id=job)


def _source(*, series: pd.Series | None, kind: Kind, symbols: Any = None, **fields: Any) -> dict[str, Any]:
    payload = _drop_none(fields)
    if symbols is not None:
        payload["symbols"] = [symbols] if isinstance(symbols, str) else list(symbols)
    if series is not None:
        payload["series"] = series_in(series, kind)
    if isinstance(payload.get("model"), Mapping):
        payload["model"] = dict(payload["model"])
    return payload


def _universe(
    returns: pd.DataFrame | None, symbols: Sequence[str] | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    payload = _drop_none(options)
    if returns is not None:
        payload["returns"] = panel_in(returns)
    if symbols is not None:
        payload["symbols"] = list(symbols)
    return payload


def _data(symbol: str | None, bars: pd.DataFrame | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    payload = _drop_none(fields)
    if symbol is not None:
        payload["symbol"] = symbol
    if bars is not None:
        payload["bars"] = bars_in(bars)
    return payload


def _grid(grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    return {k: [v.item() if hasattr(v, "item") else v for v in values] for k, values in grid.items()}


def _upload(
    ns: _Namespace, path: str, model: Any, request: Mapping[str, Any], csv: str | Path | bytes, result: Any
) -> Call[Any]:
    content = csv if isinstance(csv, bytes) else Path(csv).read_bytes()
    name = "bars.csv" if isinstance(csv, bytes) else Path(csv).name
    call = ns._build(model, path, dict(request), result)
    return Call(
        ns.service,
        "POST",
        path,
        files={"file": (name, content, "text/csv")},
        data={"request": json.dumps(call.json_body)},
        parse=call.parse,
    )


__all__ = ["Client"]
