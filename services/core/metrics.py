"""Prometheus metrics of a service process, served on ``GET /metrics`` (text format, prometheus-client).

Every series carries ``service``; the other labels come from closed sets, so their number stays bounded
whatever the traffic: a route *template* (``/v1/jobs/{job_id}``, never the id; ``<unmatched>`` for a path no
route has), a method, a status code, a job command and final status, a dataset name, a model name. Nothing
takes a job id, a symbol or a text. The dashboards and alerts under ``helm/ray-services/files`` query these
names; ``docs/observability.md`` lists them.

``RAYSVC_METRICS=false`` turns the request middleware and ``/metrics`` off (the benchmark's baseline).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
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

REQUESTS = Counter(
    "raysvc_http_requests",
    "HTTP requests answered, by route template and status code",
    ["service", "method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "raysvc_http_request_duration_seconds",
    "Time from a request's arrival to its response's last byte, by route template",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "raysvc_http_requests_in_flight", "Requests being served now", ["service"], registry=REGISTRY
)
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
COMPUTED = Counter(
    "raysvc_computations",
    "Requests' computations by where they ran: on the Ray cluster or in the service process",
    ["service", "operation", "computed_on"],
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


#: Routes that compute nothing (probes, docs, the job API): not counted in ``raysvc_computations_total``.
NOT_COMPUTATIONS = frozenset(
    {"/healthz", "/readyz", "/status", "/metrics", "/docs", "/redoc", "/openapi.json"}
)

#: Where the current request's computation ran: the middleware puts a fresh list here per request and the
#: Ray fan-out helpers append to it (a list, because ``asyncio.to_thread`` runs in a copy of the context).
_ran_on: ContextVar[list[str] | None] = ContextVar("raysvc_ran_on", default=None)


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


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request by its route template and status.

    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware`` (which runs the app in a task and buffers
    streams). The template is read from ``scope["route"]``, which FastAPI's router sets while it routes.
    """

    def __init__(self, app: Any, service: str) -> None:
        self.app, self.service = app, service
        self.in_flight = IN_FLIGHT.labels(service)
        # the labelled children, looked up once per label set (``labels()`` costs more than ``inc()``); the
        # label sets are bounded, so these are too
        self._timed: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._computed: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        ran_on: list[str] = []
        token = _ran_on.set(ran_on)
        self.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.in_flight.dec()
            _ran_on.reset(token)
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED
            method = scope.get("method", "") if scope.get("method") in METHODS else "other"
            timed = self._timed.get((method, template, status))
            if timed is None:
                timed = self._timed[method, template, status] = (
                    REQUESTS.labels(self.service, method, template, str(status)),
                    LATENCY.labels(self.service, method, template),
                )
            timed[0].inc()
            timed[1].observe(time.perf_counter() - start)
            if status < 400 and status != 202 and template != UNMATCHED and _computes(template):
                where = ran_on[0] if ran_on else "in_process"
                computed = self._computed.get((template, where))
                if computed is None:
                    computed = self._computed[template, where] = COMPUTED.labels(
                        self.service, template, where
                    )
                computed.inc()


def _computes(template: str) -> bool:
    return template not in NOT_COMPUTATIONS and not template.startswith(("/v1/jobs", "/docs"))
