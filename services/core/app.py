"""The FastAPI app factory every service uses: Ray connection, data catalog, jobs, health, errors, logging.

    app = create_app("garch", routers=[router], legacy_router=legacy_router, datasets=["daily", "prices"])

Inside routes, :func:`get_platform` gives the process's :class:`Platform` (settings, Ray connection,
catalog, job manager); :func:`require_ray` raises a 503 problem when Ray is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ray
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

import services
from services.core.auth import OPEN_PATHS, BearerAuth, KeyStore
from services.core.catalog import Catalog
from services.core.clients import close_client
from services.core.docs import install_docs
from services.core.errors import (
    PROBLEM_JSON,
    RETRY_AFTER_S,
    ProblemError,
    document_problems,
    install_error_handlers,
    problem_response,
)
from services.core.jobs import JobManager, jobs_router
from services.core.logs import install_request_id, setup_logging
from services.core.metrics import (
    PLATFORMS,
    RequestMetrics,
    exposition,
    set_build_info,
)
from services.core.ray_conn import RayConnection
from services.core.reports import install_report_assets
from services.core.settings import Settings, get_settings

T = TypeVar("T")

log = logging.getLogger("services.app")

#: Seconds between start-up attempts: datasets a cluster's loader is still writing, a Ray cluster that went
#: away during the connect or the service's warm-up.
STARTUP_RETRY_S = 5.0


@dataclass
class Platform:
    """Everything a service process shares across requests."""

    service: str
    settings: Settings
    ray: RayConnection
    catalog: Catalog
    jobs: JobManager
    datasets: tuple[str, ...]
    started_at: float = field(default_factory=time.time)
    startup_done: threading.Event = field(default_factory=threading.Event)
    startup_error: str | None = None
    state: dict[str, Any] = field(default_factory=dict)  # service-owned objects (models, refs…)

    def readiness(self) -> list[str]:
        """Reasons this service is not ready (empty when ready)."""
        reasons = []
        if not self.ray.state.connected:
            reasons.append(
                f"Ray at {self.ray.state.address} not reachable: {self.ray.state.error or 'connecting'}"
            )
        for name, err in self.catalog.errors().items():
            reasons.append(f"dataset {name} failed to load: {err}")
        missing = [
            d for d in self.datasets if not self.catalog.is_loaded(d) and d not in self.catalog.errors()
        ]
        if missing:
            reasons.append(f"datasets still loading: {missing}")
        if self.startup_error:
            reasons.append(f"start-up failed (retrying): {self.startup_error}")
        elif not self.startup_done.is_set():
            reasons.append("start-up still running")
        return reasons


_platform: Platform | None = None


def get_platform() -> Platform:
    """The running service's platform (set by the app's lifespan)."""
    if _platform is None:
        raise ProblemError.unavailable("service", "not started")
    return _platform


def require_ray() -> Platform:
    """The platform, or a 503 problem if Ray is not reachable now."""
    p = get_platform()
    if not p.ray.state.connected:
        raise ProblemError.unavailable("Ray", p.ray.state.error or f"not connected to {p.ray.state.address}")
    return p


async def run_blocking(fn: Callable[..., T], *args: Any, on_loop: bool = False) -> T:
    """``fn(*args)`` for an ``async`` route: in a worker thread, or on the event loop itself when the caller
    knows the work is well under a millisecond (``on_loop``) — the hop to a thread and back costs ~0.4 ms
    of latency and contends for the GIL under load, more than a light request's work."""
    if on_loop:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def health_router(service: str, metrics: bool = True) -> APIRouter:
    """``/healthz``, ``/readyz``, ``/status`` and ``/metrics`` — served by every service from here."""
    router = APIRouter(tags=["health"])

    if metrics:

        @router.get(
            "/metrics",
            summary="Metrics",
            response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
        )
        async def metrics_endpoint() -> Response:
            """Prometheus metrics of this process: requests by route template and status, latency
            histograms, in-flight requests, Ray connection, jobs, where work ran, datasets, build info
            (docs/observability.md). Never needs an API key."""
            body, content_type = await asyncio.to_thread(exposition)  # ~1-30 ms of formatting: off the loop
            return Response(body, media_type=content_type)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (no Ray call)."""
        return {"status": "ok", "service": service}

    @router.get("/readyz", responses={503: {"description": "not ready; `detail` says why"}})
    async def readyz() -> Any:
        """Readiness: Ray reachable, datasets loaded, start-up done; else 503 with the reasons."""
        p = get_platform()
        reasons = p.readiness()
        if reasons:
            body = ProblemError(503, "; ".join(reasons), title="Service Unavailable").body()
            body["reasons"] = reasons
            return JSONResponse(
                body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": str(RETRY_AFTER_S)}
            )
        return {"status": "ready", "service": service}

    @router.get("/status")
    async def status() -> dict[str, Any]:
        """Service name and version, the Ray connection (address, nodes, CPUs), datasets with row counts."""
        p = get_platform()
        return {
            "service": service,
            "version": services.__version__,
            "status": "ready" if not p.readiness() else "not ready",
            "uptime_s": round(time.time() - p.started_at, 1),
            # times `raysvc up` restarted this service after a crash (its supervisor sets it)
            "restarts": int(os.environ.get("RAYSVC_RESTARTS") or 0),
            "ray": {
                "mode": p.ray.state.mode,
                "address": p.ray.state.address,
                "connected": p.ray.state.connected,
                "nodes": p.ray.state.nodes,
                "cpus": p.ray.state.cpus,
                "dashboard": p.ray.state.dashboard_url,
                "jobs_address": p.ray.jobs_address(),
                "error": p.ray.state.error,
            },
            "datasets": p.catalog.summary(),
            **({"details": p.state["status"]()} if callable(p.state.get("status")) else {}),
        }

    return router


MAX_URL_BYTES = 8192
"""Longest path + query string a service reads (nginx's default header buffer); longer → 414. Beyond ~64 KiB
uvicorn's parser (httptools) refuses the request line itself, with a plain-text 400, before the app runs."""


class _SizeLimits:
    """413 problem for a request body larger than ``RAYSVC_MAX_BODY_BYTES``: as declared (``Content-Length``)
    or as received — a chunked body is counted as it arrives, and cut off at the limit. 414 problem for a URL
    longer than ``MAX_URL_BYTES``."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def _reject_url(self, scope: dict[str, Any], receive: Any, send: Any, size: int) -> None:
        err = ProblemError.uri_too_long(size, MAX_URL_BYTES)
        response = JSONResponse(
            err.body(instance=scope.get("path", "")[:200]), status_code=414, media_type=PROBLEM_JSON
        )
        await response(scope, receive, send)

    async def _reject(self, scope: dict[str, Any], receive: Any, send: Any, size: str) -> None:
        err = ProblemError.too_large(
            f"request body of {size} bytes exceeds the limit of {self.limit:,}",
            batch_command="raysvc job <service> --help",
        )
        response = JSONResponse(
            err.body(instance=scope.get("path")), status_code=413, media_type=PROBLEM_JSON
        )
        await response(scope, receive, send)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_bytes = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(
            scope.get("query_string", b"")
        )
        if url_bytes > MAX_URL_BYTES:
            await self._reject_url(scope, receive, send, url_bytes)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send, f"{int(declared):,}")
            return
        received, started, rejected = 0, False, False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    rejected = True
                    if not started:
                        await self._reject(scope, receive, send, f"more than {self.limit:,}")
                    # the app stops reading as if the client had gone, and its answer to that is dropped
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if rejected:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


#: What a route's Ray call raises when the cluster is gone (Ray Client: ``ConnectionError``; a driver: the
#: raylet or a node died, an RPC failed, a ``ray.get`` timed out): a 503 with ``Retry-After``, never a 500.
CLUSTER_GONE: tuple[type[Exception], ...] = (
    ConnectionError,
    ray.exceptions.RaySystemError,
    ray.exceptions.LocalRayletDiedError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.RpcError,
    ray.exceptions.GetTimeoutError,
)


async def _cluster_gone(request: Request, exc: Exception) -> JSONResponse:
    log.warning(
        "Ray unavailable during %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc
    )
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else 'no detail'}"
    return problem_response(request, ProblemError.unavailable("Ray", reason))


def _install_metrics(platform: Platform) -> None:
    """Export this platform's state (Ray connection, datasets) and build info; a service sets ``MODEL_INFO``
    for its models in ``on_ready``. The app's shutdown takes the platform out again."""
    set_build_info(platform.service, services.__version__)
    PLATFORMS.platforms[platform.service] = platform


def create_app(
    service: str,
    *,
    routers: Sequence[APIRouter] = (),
    legacy_router: APIRouter | None = None,
    datasets: Sequence[str] = (),
    description: str = "",
    on_ready: Callable[[Platform], None] | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """Build a service app.

    ``on_ready(platform)`` runs once Ray is connected and the datasets are loaded (in a worker thread), e.g.
    to load models and put them into the object store; readiness waits for it.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        global _platform
        setup_logging(service, settings.log_level, settings.log_json)
        conn = RayConnection(settings)
        catalog = Catalog(settings)
        conn.on_connect.append(catalog.forget_refs)
        platform = Platform(
            service, settings, conn, catalog, JobManager(settings, conn, service), tuple(datasets)
        )
        _platform = app.state.platform = platform
        if settings.metrics:
            _install_metrics(platform)

        def _start() -> None:
            # Data first: it needs no Ray. On a cluster the loader Job may still be writing the data volume.
            while failed := catalog.load_all(list(datasets)):
                log.warning("datasets not loadable yet, retrying in %.0fs: %s", STARTUP_RETRY_S, failed)
                time.sleep(STARTUP_RETRY_S)
            # Then Ray and the service's warm-up on it, until both work: the cluster can go away in the middle
            # (a head replaced during an upgrade), and a failure here is no reason to stay unready for good.
            while True:
                try:
                    if not conn.connect_with_retry():
                        raise ConnectionError(
                            f"Ray at {conn.state.address} not reachable: {conn.state.error}"
                        )
                    if on_ready is not None:
                        on_ready(platform)
                    platform.startup_error = None
                    break
                except Exception as exc:  # reported by /readyz, retried
                    platform.startup_error = f"{type(exc).__name__}: {exc}"[:500]
                    log.exception("start-up of %s failed; retrying in %.0fs", service, STARTUP_RETRY_S)
                    time.sleep(STARTUP_RETRY_S)
            platform.startup_done.set()
            conn.start_watcher()

        thread = threading.Thread(target=_start, name=f"{service}-startup", daemon=True)
        thread.start()
        # serve as soon as start-up is done, or after the wait (then /readyz tells why we are not ready)
        await asyncio.to_thread(platform.startup_done.wait, settings.ray_connect_timeout_s)
        log.info("%s serving (ready: %s)", service, not platform.readiness())
        try:
            yield
        finally:
            # leave Ray connected: the process is about to exit (Ray's exit hook disconnects), and a test
            # process reuses one embedded cluster across apps instead of paying ~5-15 s per start
            conn.close(shutdown=False)
            await close_client()
            if PLATFORMS.platforms.get(service) is platform:
                del PLATFORMS.platforms[service]
            _platform = None

    app = FastAPI(
        title=f"Ray Services — {service}",
        version=services.__version__,
        description=description,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # services.core.docs serves them without a CDN
        redoc_url=None,
    )
    install_report_assets(app)  # before the docs: their assets' mount would take its path
    install_docs(app)
    install_error_handlers(app)
    document_problems(app, open_paths=OPEN_PATHS, auth=settings.api_keys_file is not None)
    for exc_type in CLUSTER_GONE:
        app.add_exception_handler(exc_type, _cluster_gone)
    install_request_id(app)
    app.add_middleware(_SizeLimits, limit=settings.max_body_bytes)
    if settings.api_keys_file is not None:  # before the body: none is read for a request without a valid key
        app.add_middleware(BearerAuth, store=KeyStore(settings.api_keys_file))
    if settings.metrics:  # outermost: a 401, 413 or 414 is counted too (a 401 before routing as <unmatched>)
        app.add_middleware(RequestMetrics, service=service)
    app.include_router(health_router(service, settings.metrics))
    app.include_router(jobs_router(lambda: get_platform().jobs))
    for router in routers:
        app.include_router(router)
    if legacy_router is not None:
        app.include_router(legacy_router)
    return app
