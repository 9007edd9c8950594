"""The Ray connection: ``RAY_ADDRESS`` decides where work runs.

* unset (or ``local``): an embedded local Ray inside this process, sized to the machine;
* ``ray://host:10001``: a remote cluster through Ray Client (what the Kubernetes Deployments use);
* ``auto`` or ``host:6379``: join a cluster whose raylet runs on this host, as a driver (job drivers).

:class:`RayConnection` connects once at start-up, watches the connection from a background thread,
reconnects when the cluster comes back, and reports its state for ``/readyz`` and ``/status``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any

import ray

from services.core.metrics import ran_on_ray
from services.core.settings import Settings

log = logging.getLogger("services.ray")


@dataclass
class RayState:
    """What this process knows about its Ray connection."""

    mode: str
    address: str
    connected: bool = False
    error: str | None = None
    nodes: int = 0
    cpus: float = 0.0
    dashboard_url: str | None = None
    connected_since: float | None = None
    connects: int = 0
    checked_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _init_kwargs(settings: Settings, dashboard: bool = True) -> dict[str, Any]:
    """``ray.init`` arguments for the configured mode."""
    common: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if settings.ray_mode == "embedded":
        # An embedded cluster listens on loopback only and dies with this process; Ray's own default
        # token auth would make the Jobs API of it demand a token nobody was told about.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if dashboard:
            _free_agent_port_if_default_taken()
        return {
            **common,
            "address": "local",
            "num_cpus": settings.ray_num_cpus,
            "include_dashboard": dashboard,  # the Ray Jobs API for async jobs lives in the dashboard
            "dashboard_host": "127.0.0.1",
            # Ray reports 8265 even when another Ray holds it (its dashboard then fails to bind, and jobs
            # would go to the other cluster): take a free port in that case
            "dashboard_port": _free_port_if_taken(8265) if dashboard else None,
        }
    if settings.ray_mode == "client":
        return {"address": settings.ray_address, "logging_level": logging.WARNING}
    return {**common, "address": settings.ray_address}


PROBE_FAILURES_BEFORE_RECONNECT = 3
_dashboard_url: str | None = None  # of the cluster this process connected to
_cpus_cache: tuple[float, float] = (0.0, 0.0)  # (checked at, cpus)


class _RayOwner:
    """A process-lifetime thread that makes every ``ray.init``/``ray.shutdown`` call off the main thread.

    Ray starts the embedded GCS and raylet with ``PR_SET_PDEATHSIG``, which Linux ties to the *thread*
    that forked them: a ``ray.init`` in a short-lived thread (a start-up thread, a test client's portal)
    kills the embedded cluster as soon as that thread ends. Calls from the main thread run directly.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Any, Future[Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _loop(self) -> None:
        while True:
            fn, fut = self._queue.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                fut.set_exception(exc)

    def call(self, fn: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            return fn()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ray-owner", daemon=True)
                self._thread.start()
        fut: Future[Any] = Future()
        self._queue.put((fn, fut))
        return fut.result()


_owner = _RayOwner()


def _free_port_if_taken(port: int) -> int:
    """``port`` if it is free on loopback, else a free one."""
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_agent_port_if_default_taken() -> None:
    """Give an embedded Ray's dashboard agent a free port when Ray's fixed default (52365) is taken.

    ``ray.init`` has no argument for that port, and a second Ray on the same machine (another service,
    a test cluster) otherwise leaves this one without a job agent ("No available agent to submit job").
    The default lives in ``RayParams.__init__``'s signature, so that default is what is changed.
    """
    import inspect

    from ray._private import parameter, ray_constants

    default = ray_constants.DEFAULT_DASHBOARD_AGENT_LISTEN_PORT
    port = _free_port_if_taken(default)
    if port == default:
        return
    init = parameter.RayParams.__init__
    names = [
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.default is not inspect.Parameter.empty
    ]
    if init.__defaults__ and "dashboard_agent_listen_port" in names:
        defaults = list(init.__defaults__)
        defaults[names.index("dashboard_agent_listen_port")] = port
        init.__defaults__ = tuple(defaults)
        log.info("default dashboard agent port taken; the embedded Ray's agent uses %d", port)


def forget_cluster_size() -> None:
    """Drop the cached CPU count (after starting or stopping a cluster in this process)."""
    global _cpus_cache
    _cpus_cache = (0.0, 0.0)


def cluster_cpus(max_age_s: float = 5.0) -> float:
    """CPUs of the connected cluster (1.0 if unknown), cached for ``max_age_s`` (sizing chunks per request
    must not cost a GCS round trip each time)."""
    global _cpus_cache
    now = time.monotonic()
    if now - _cpus_cache[0] < max_age_s:
        return _cpus_cache[1]
    try:
        cpus = float(ray.cluster_resources().get("CPU", 1.0)) or 1.0
    except Exception:  # noqa: BLE001 - never let a sizing question fail a request
        return 1.0
    _cpus_cache = (now, cpus)
    return cpus


def drop_half_open_client() -> None:
    """Forget a Ray Client connection that failed half-way (the server answered, then its initialisation
    failed, e.g. when the head is replaced during the connect). Ray keeps such a context registered, and
    every later ``ray.init("ray://...")`` then fails with "already connected ... allow_multiple=True", so the
    service would never reconnect (seen on Kubernetes during a rolling upgrade). Runs on the owner thread:
    Ray Client contexts are per thread."""
    from ray.util import client as ray_client

    if ray_client.ray.is_connected() or ray_client.num_connected_contexts() == 0:
        return
    try:
        ray_client.ray.disconnect()
    except Exception:  # noqa: BLE001 - a closed channel may refuse to close again
        pass
    if ray_client.num_connected_contexts():
        with ray_client._lock:  # what disconnect() does when no context raises on the way
            ray_client._all_contexts.clear()
    log.info("dropped a half-open Ray Client connection")


class RayConnection:
    """Connect once, watch, reconnect, report."""

    def __init__(self, settings: Settings, *, dashboard: bool = True) -> None:
        self.settings = settings
        self.dashboard = dashboard
        self.state = RayState(mode=settings.ray_mode, address=settings.ray_address or "local")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._failures = 0
        self._started = False  # whether this connection's ray.init made the process's Ray session
        self.on_connect: list[Any] = []  # callbacks run after every (re)connect, e.g. re-put datasets

    # -- connect ---------------------------------------------------------------------------------
    def connect(self) -> bool:
        """Connect (or verify the connection); return whether Ray is reachable now."""
        global _dashboard_url
        with self._lock:
            if ray.is_initialized() and self._probe():
                self._failures = 0
                if self.state.dashboard_url is None:  # a connection made earlier in this process
                    self.state.dashboard_url = _dashboard_url
                if not self.state.connected_since:
                    self.state.connected_since = time.time()
                return True
            if ray.is_initialized():
                # a slow answer under load is not a lost cluster: reconnect (which restarts an embedded
                # cluster and drops its objects) only after several failed probes in a row
                self._failures += 1
                if self._failures < PROBE_FAILURES_BEFORE_RECONNECT:
                    log.warning("Ray probe failed (%d in a row): %s", self._failures, self.state.error)
                    return False
                log.warning("Ray connection lost (%s); reconnecting", self.state.error)
                try:
                    _owner.call(ray.shutdown)
                except Exception:  # noqa: BLE001 - the old session is gone either way
                    pass
            try:
                kwargs = _init_kwargs(self.settings, self.dashboard)
                ctx = _owner.call(lambda: ray.init(**kwargs))
            except Exception as exc:  # noqa: BLE001 - reported through /readyz, retried by the watcher
                self.state.connected = False
                self.state.error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("cannot reach Ray at %s: %s", self.state.address, self.state.error)
                if self.settings.ray_mode == "client":
                    _owner.call(drop_half_open_client)
                return False
            self._started = True
            dash = getattr(ctx, "dashboard_url", None)
            _dashboard_url = f"http://{dash}" if dash and not dash.startswith("http") else dash
            self.state.dashboard_url = _dashboard_url
            self._failures = 0
            forget_cluster_size()
            self.state.connects += 1
            self.state.connected_since = time.time()
            ok = self._probe()
            if ok:
                log.info(
                    "connected to Ray (%s, %s): %d node(s), %.0f CPU(s)",
                    self.state.mode,
                    self.state.address,
                    self.state.nodes,
                    self.state.cpus,
                )
        if ok:
            for callback in self.on_connect:
                try:
                    callback()
                except Exception:
                    log.exception("on-connect callback failed")
        return ok

    def _probe(self) -> bool:
        try:
            nodes = [n for n in ray.nodes() if n.get("Alive")]
            self.state.nodes = len(nodes)
            self.state.cpus = float(sum(n.get("Resources", {}).get("CPU", 0.0) for n in nodes))
            self.state.connected = True
            self.state.error = None
        except Exception as exc:  # noqa: BLE001 - reported through /readyz, retried by the watcher
            self.state.connected = False
            self.state.error = f"{type(exc).__name__}: {exc}"[:500]
        self.state.checked_at = time.time()
        return self.state.connected

    def connect_with_retry(self, timeout_s: float | None = None) -> bool:
        """Block until connected or ``timeout_s`` passes, logging each retry."""
        deadline = time.monotonic() + (timeout_s or self.settings.ray_connect_timeout_s)
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            if self.connect():
                return True
            if time.monotonic() > deadline:
                return False
            log.info("waiting for Ray at %s (attempt %d)", self.state.address, attempt)
            self._stop.wait(min(2.0 * attempt, self.settings.ray_reconnect_interval_s))
        return False

    # -- watch -----------------------------------------------------------------------------------
    def start_watcher(self) -> None:
        """Connect in the background and keep the connection alive (reconnects when it drops)."""
        if self._watcher is not None:
            return

        def _watch() -> None:
            while not self._stop.is_set():
                self.connect()
                self._stop.wait(self.settings.ray_reconnect_interval_s)

        watcher = threading.Thread(target=_watch, name="ray-watcher", daemon=True)
        watcher.start()
        # published once started: a close() on another thread (a shutdown during start-up) joins only a
        # started thread ("cannot join thread before it is started" on a busy machine otherwise)
        self._watcher = watcher

    def close(self, shutdown: bool = True) -> None:
        """Stop watching and, with ``shutdown``, end the Ray session this connection started (an embedded
        cluster shuts down with it). A session found already running (another connection's, e.g. a batch job
        run inside a service or a test process) is left alone."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if shutdown:
            with self._lock:
                if self._started and ray.is_initialized():
                    _owner.call(ray.shutdown)
                self._started = False
                self.state.connected = False

    def jobs_address(self) -> str | None:
        """The Ray Jobs API address: from settings, else the connected cluster's dashboard."""
        return self.settings.jobs_address or self.state.dashboard_url


async def resolve(refs: Any) -> Any:
    """Await Ray object refs without blocking the event loop (never ``ray.get`` in ``async def``).

    Works the same with a local driver and with Ray Client, whose refs are resolved in a worker thread.
    """
    ran_on_ray()
    if isinstance(refs, list):
        if not refs:
            return []
        if _client_mode():
            return await asyncio.to_thread(ray.get, refs)
        return list(await asyncio.gather(*refs))
    if _client_mode():
        return await asyncio.to_thread(ray.get, refs)
    return await refs


def _client_mode() -> bool:
    try:
        return bool(ray.util.client.ray.is_connected())
    except Exception:  # noqa: BLE001 - no Ray Client in this process
        return False
