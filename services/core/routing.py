"""Where a request's computation runs: in the service process or on the Ray cluster, by work and by load.

A service is one Python process: work done in it runs on one core, one request at a time, but starts at
once; work sent to Ray pays a fixed cost per call (a few ms on a local cluster, tens through Ray Client)
and then has every worker's cores. So a request runs on Ray when

* its estimated work reaches :data:`RAY_MIN_WORK_MS` (the fixed cost is small beside it), or
* its work reaches :data:`BUSY_MIN_WORK_MS` and the service is already serving another request: done
  in-process it would queue behind that one on the same core, while the cluster's cores are free;

and in-process otherwise (idle service and small work: the lowest latency). Work estimates come from
per-unit costs measured by each service (docs/bench.md, "Routing costs"). The decision is counted in
``raysvc_computations_total{computed_on}`` and returned in responses as ``computed_on``. Work run in-process
where Ray workers would run it single-threaded goes through :func:`single_threaded_blas`, so both paths
give the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Literal

from threadpoolctl import ThreadpoolController

from services.core.metrics import REQUEST_STATS, current_service

__all__ = ["BUSY_MIN_WORK_MS", "RAY_MIN_WORK_MS", "ComputedOn", "Route", "route", "single_threaded_blas"]

ComputedOn = Literal["ray", "in_process"]
"""Where a request's computation ran: the ``computed_on`` field of the responses that route."""

RAY_MIN_WORK_MS = 50.0
"""From this much estimated work on, a request runs on Ray however idle the service is."""
BUSY_MIN_WORK_MS = 5.0
"""From this much work on, a request runs on Ray when the service is serving others (below it, the work is
about Ray's own cost per call)."""


@dataclass(frozen=True)
class Route:
    """A routing decision and its inputs."""

    on_ray: bool
    work_ms: float
    in_flight: int
    reason: Literal["large", "busy", "idle", "small"]

    @property
    def computed_on(self) -> ComputedOn:
        return "ray" if self.on_ray else "in_process"


def route(work_ms: float, service: str | None = None) -> Route:
    """Decide where ``work_ms`` of estimated work runs; ``service``: whose in-flight requests count as load
    (default: the service of the request being served; outside a request, in a batch job or a benchmark,
    size alone decides)."""
    service = service or current_service()
    in_flight = REQUEST_STATS.in_flight.get(service, 0) if service else 0
    if work_ms >= RAY_MIN_WORK_MS:
        return Route(True, work_ms, in_flight, "large")
    if in_flight > 1:  # the middleware counts this request too
        if work_ms >= BUSY_MIN_WORK_MS:
            return Route(True, work_ms, in_flight, "busy")
        return Route(False, work_ms, in_flight, "small")
    return Route(False, work_ms, in_flight, "idle")


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # scans the loaded libraries once (~1 ms); limiting through it costs ~10 µs


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS/OpenMP on one thread, as in Ray workers (``OMP_NUM_THREADS=1``): the in-process path of work
    whose results depend, in the last digits, on the number of BLAS threads (e.g. arch's fits)."""
    with _blas().limit(limits=1):
        yield
