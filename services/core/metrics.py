"""Prometheus metrics of a service process, served on ``GET /metrics`` (text format, prometheus-client).

Every series carries ``service``; the other labels come from closed sets, so their number stays bounded
whatever the traffic: a route *template* (``/v1/jobs/{job_id}``, never the id; ``<unmatched>`` for a path no
route has), a method, a status code, a job command and final status, a dataset name, a model name. Nothing
takes a job id, a symbol or a text. The dashboards and alerts under ``helm/ray-services/files`` query these
names; ``docs/observability.md`` lists them.

``RAYSVC_METRICS=false`` turns the request middleware and ``/metrics`` off (the benchmark's baseline).
"""

from __future__ import annotations

import functools
import platform
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import accumulate
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

#: One registry for the process (not prometheus-client's global one, which a library may also write to),
#: with the process, platform and garbage-collector collectors a Python exporter usually has.
REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

#: From a ~1 ms metrics call or health probe up to a multi-second frontier or sweep.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Batch jobs: seconds to an hour.
JOB_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
UNMATCHED = "<unmatched>"
#: Methods counted by name; any other (a client may send ``FOO``) is counted as ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

JOBS_SUBMITTED = Counter(
    "raysvc_jobs_submitted", "Batch jobs submitted to Ray Jobs", ["service", "command"], registry=REGISTRY
)
JOBS_FINISHED = Counter(
    "raysvc_jobs_finished",
    "Batch jobs seen to end, by final status (SUCCEEDED, FAILED, STOPPED)",
    ["service", "command", "status"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "raysvc_job_duration_seconds",
    "Submission to end of a batch job, by command and final status",
    ["service", "command", "status"],
    buckets=JOB_BUCKETS,
    registry=REGISTRY,
)
PLATFORM_HELP = {
    "raysvc_ray_connected": "1 while the service's Ray connection is up",
    "raysvc_ray_connects": "Connections this service made to Ray (the first, then each reconnect)",
    "raysvc_ray_cluster_cpus": "CPUs of the connected Ray cluster",
    "raysvc_dataset_load_seconds": "Time the last load of a dataset took",
    "raysvc_dataset_rows": "Rows of a loaded dataset",
}
TEXTS_SCORED = Counter(
    "raysvc_texts_scored", "Texts scored, by sentiment model", ["service", "model"], registry=REGISTRY
)
BUILD_INFO = Gauge(
    "raysvc_build_info",
    "Always 1: the service's version, Ray and Python versions",
    ["service", "version", "ray_version", "python_version"],
    registry=REGISTRY,
)
MODEL_INFO = Gauge(
    "raysvc_model_info",
    "Always 1 per served model version",
    ["service", "model", "version"],
    registry=REGISTRY,
)

P = ParamSpec("P")
R = TypeVar("R")


#: Routes that compute nothing (probes, docs, the job API): not counted in ``raysvc_computations_total``.
NOT_COMPUTATIONS = frozenset(
    {"/healthz", "/readyz", "/status", "/metrics", "/docs", "/redoc", "/openapi.json"}
)

#: Where the current request's computation ran: the middleware puts a fresh list here per request and the
#: Ray fan-out helpers append to it (a list, because ``asyncio.to_thread`` runs in a copy of the context).
_ran_on: ContextVar[list[str] | None] = ContextVar("raysvc_ran_on", default=None)
#: The service serving the current request (None outside a request: jobs, benchmarks).
_service: ContextVar[str | None] = ContextVar("raysvc_service", default=None)


def current_service() -> str | None:
    """Name of the service whose request is being served in this context, if any."""
    return _service.get()


#: Seconds of engine work of the current request done in this process (a one-item list, shared with the
#: worker threads of ``asyncio.to_thread`` like ``_ran_on``); the middleware reports it in ``Server-Timing``.
_engine_s: ContextVar[list[float] | None] = ContextVar("raysvc_engine_s", default=None)


@contextmanager
def engine_timer() -> Iterator[None]:
    """Time the computation proper of a request (the engine call, no validation or serialisation): it is
    added to the response's ``Server-Timing: engine;dur=<ms>``, so a client can tell the platform's own
    overhead (``app`` and its round trip minus ``engine``) from the work (``raysvc bench http``)."""
    acc = _engine_s.get()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if acc is not None:
            acc[0] += time.perf_counter() - t0


def engine_timed(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` under :func:`engine_timer` (for calls handed to a thread or ``run_blocking``)."""

    @functools.wraps(fn)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        with engine_timer():
            return fn(*args, **kwargs)

    return timed


def ran_on_ray() -> None:
    """Note that the current request sent work to the Ray cluster (called where Ray tasks are submitted)."""
    ran = _ran_on.get()
    if ran is not None and not ran:
        ran.append("ray")


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def set_build_info(service: str, version: str) -> None:
    import ray

    BUILD_INFO.labels(service, version, ray.__version__, platform.python_version()).set(1)


DATASET_LOAD, DATASET_ROWS = "raysvc_dataset_load_seconds", "raysvc_dataset_rows"


class PlatformCollector(Collector):
    """What each service platform of this process knows, read at scrape time: its Ray connection (up,
    connections made, cluster CPUs) and its loaded datasets (rows, load time; one loaded later by a request
    shows up too). One per process (a test process may run several apps); the app adds and removes its own."""

    def __init__(self) -> None:
        self.platforms: dict[str, Any] = {}  # service → Platform (its .ray and .catalog)

    def collect(self) -> Iterator[Metric]:
        platforms = dict(self.platforms)
        families = {
            name: kind(name, PLATFORM_HELP[name], labels=labels)
            for name, kind, labels in (
                ("raysvc_ray_connected", GaugeMetricFamily, ["service"]),
                ("raysvc_ray_connects", CounterMetricFamily, ["service"]),
                ("raysvc_ray_cluster_cpus", GaugeMetricFamily, ["service"]),
                (DATASET_LOAD, GaugeMetricFamily, ["service", "dataset"]),
                (DATASET_ROWS, GaugeMetricFamily, ["service", "dataset"]),
            )
        }
        for service, p in platforms.items():
            state = p.ray.state
            families["raysvc_ray_connected"].add_metric([service], float(state.connected))
            families["raysvc_ray_connects"].add_metric([service], float(state.connects))
            families["raysvc_ray_cluster_cpus"].add_metric([service], float(state.cpus or 0))
            for name, n_rows, seconds in p.catalog.load_stats():
                families[DATASET_LOAD].add_metric([service, name], seconds)
                families[DATASET_ROWS].add_metric([service, name], n_rows)
        yield from families.values()


PLATFORMS = PlatformCollector()
REGISTRY.register(PLATFORMS)


class RequestStats(Collector):
    """Request counts, latency histograms, in-flight requests and where computations ran, kept as plain numbers
    by :class:`RequestMetrics` and exported at scrape time as ``raysvc_http_requests_total``,
    ``raysvc_http_request_duration_seconds``, ``raysvc_http_requests_in_flight`` and
    ``raysvc_computations_total``.

    Own code rather than prometheus-client's ``Counter``/``Histogram``/``Gauge`` objects, because it is
    measurably cheaper on the hot path: each of their updates takes a lock and each ``labels()`` lookup builds
    and checks a label tuple, ~15 µs of CPU per request in all, where dictionary updates from the one
    event-loop thread that serves requests need no lock (scripts/bench_metrics_overhead.py measures the
    middleware's cost per request). The registry's text format is still prometheus-client's.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str, int], int] = {}  # (service, method, route, status) → requests
        # (service, method, route) → [count per bucket of LATENCY_BUCKETS, then above the last, then the sum]
        self.latency: dict[tuple[str, str, str], list[float]] = {}
        self.in_flight: dict[str, int] = {}
        self.computed: dict[tuple[str, str, str], int] = {}  # (service, operation, computed_on) → requests

    def observe(self, service: str, method: str, route: str, status: int, seconds: float) -> None:
        key = (service, method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        hist = self.latency.get(key[:3])
        if hist is None:
            hist = self.latency[key[:3]] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        hist[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        hist[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "raysvc_http_requests",
            "HTTP requests answered, by route template and status code",
            labels=["service", "method", "route", "status"],
        )
        for (service, method, route, status), n in list(self.counts.items()):
            requests.add_metric([service, method, route, str(status)], n)
        latency = HistogramMetricFamily(
            "raysvc_http_request_duration_seconds",
            "Time from a request's arrival to its response's last byte, by route template",
            labels=["service", "method", "route"],
        )
        for labels, hist in list(self.latency.items()):
            cumulative = list(accumulate(hist[:-1]))
            bounds = [*(str(b) for b in LATENCY_BUCKETS), "+Inf"]
            latency.add_metric(list(labels), list(zip(bounds, cumulative, strict=True)), hist[-1])
        in_flight = GaugeMetricFamily(
            "raysvc_http_requests_in_flight", "Requests being served now", labels=["service"]
        )
        for service, n in list(self.in_flight.items()):
            in_flight.add_metric([service], n)
        computed = CounterMetricFamily(
            "raysvc_computations",
            "Requests' computations by where they ran: on the Ray cluster or in the service process",
            labels=["service", "operation", "computed_on"],
        )
        for labels3, n in list(self.computed.items()):
            computed.add_metric(list(labels3), n)
        yield from (requests, latency, in_flight, computed)


REQUEST_STATS = RequestStats()
REGISTRY.register(REQUEST_STATS)


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request by its route template and status, into
    :data:`REQUEST_STATS`.

    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware`` (which runs the app in a task and buffers
    streams). The template is read from ``scope["route"]``, which FastAPI's router sets while it routes.
    """

    def __init__(self, app: Any, service: str) -> None:
        self.app, self.service = app, service
        REQUEST_STATS.in_flight.setdefault(service, 0)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        engine = [0.0]

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), _server_timing(start, engine[0])]
            await send(message)

        ran_on: list[str] = []
        token, service_token = _ran_on.set(ran_on), _service.set(self.service)
        engine_token = _engine_s.set(engine)
        stats, service = REQUEST_STATS, self.service
        stats.in_flight[service] += 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            stats.in_flight[service] -= 1
            _ran_on.reset(token)
            _service.reset(service_token)
            _engine_s.reset(engine_token)
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED
            method = scope["method"] if scope.get("method") in METHODS else "other"
            stats.observe(service, method, template, status, time.perf_counter() - start)
            if status < 400 and status != 202 and template != UNMATCHED and _computes(template):
                key = (service, template, ran_on[0] if ran_on else "in_process")
                stats.computed[key] = stats.computed.get(key, 0) + 1


def _server_timing(start: float, engine_s: float) -> tuple[bytes, bytes]:
    """``Server-Timing`` (W3C): ``app``, the server's time until the response starts; ``engine``, the part
    of it spent in the engine in this process (absent when none ran here, e.g. the work ran on Ray)."""
    app_ms = (time.perf_counter() - start) * 1e3
    value = f"app;dur={app_ms:.2f}" + (f", engine;dur={engine_s * 1e3:.2f}" if engine_s else "")
    return b"server-timing", value.encode()


def _computes(template: str) -> bool:
    return template not in NOT_COMPUTATIONS and not template.startswith(("/v1/jobs", "/docs"))
