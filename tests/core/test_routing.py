"""Where work runs (services.core.routing): by estimated work and by the service's requests in flight."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from services.core.metrics import REQUEST_STATS
from services.core.routing import BUSY_MIN_WORK_MS, RAY_MIN_WORK_MS, route, single_threaded_blas


@pytest.fixture
def load():
    """Set the in-flight requests of a test service; restored afterwards."""
    name = "routing-test"

    def set_load(n: int) -> str:
        REQUEST_STATS.in_flight[name] = n
        return name

    yield set_load
    REQUEST_STATS.in_flight.pop(name, None)


@pytest.mark.parametrize(
    ("work", "in_flight", "on_ray", "reason"),
    [
        (RAY_MIN_WORK_MS, 1, True, "large"),  # large work: Ray however idle
        (RAY_MIN_WORK_MS - 0.1, 1, False, "idle"),  # only this request: in-process
        (BUSY_MIN_WORK_MS, 2, True, "busy"),  # another request in flight: the cluster's cores
        (BUSY_MIN_WORK_MS - 0.1, 8, False, "small"),  # about Ray's own cost: never worth it
        (0.0, 0, False, "idle"),
    ],
)
def test_route_by_work_and_load(load, work, in_flight, on_ray, reason):
    r = route(work, load(in_flight))
    assert (r.on_ray, r.reason, r.in_flight, r.work_ms) == (on_ray, reason, in_flight, work)
    assert r.computed_on == ("ray" if on_ray else "in_process")


def test_outside_a_request_size_alone_decides(load):
    load(50)  # a busy service elsewhere in the process does not count for a job or a benchmark
    assert route(10.0).in_flight == 0 and not route(10.0).on_ray and route(60.0).on_ray


def test_single_threaded_blas_limits_and_restores():
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    with single_threaded_blas():
        assert all(lib["num_threads"] == 1 for lib in threadpool_info() if lib["user_api"] == "blas")
        np.linalg.svd(np.ones((4, 4)))
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before
