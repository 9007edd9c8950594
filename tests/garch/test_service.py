"""The service layer's own state and lookups: derived data per catalog, the signal cache's public count,
dataset lookup (404 problems) outside the Ray tasks, and the blocking/async task entrypoints' parity."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from services.core.catalog import Catalog
from services.core.errors import ProblemError
from services.core.settings import get_settings
from services.garch import service as svc
from services.garch import tasks


@pytest.fixture
def catalogs(data_dir):
    return Catalog(get_settings()), Catalog(get_settings())


def test_dataset_returns_are_computed_once_per_catalog(catalogs):
    a, b = catalogs
    first = svc.dataset_returns(a, "daily", "log")
    assert svc.dataset_returns(a, "daily", "log") is first  # cached
    other = svc.dataset_returns(b, "daily", "log")
    assert other is not first  # another catalog (possibly another data directory) never shares an entry
    assert_array_equal(other["SIM"].to_numpy(), first["SIM"].to_numpy())


def test_signal_cache_is_per_catalog_bounded_and_counted(catalogs, monkeypatch):
    a, b = catalogs
    monkeypatch.setattr(svc, "SIGNAL_CACHE_SIZE", 3)
    values = [object() for _ in range(4)]
    for i, v in enumerate(values):
        svc.signal_cache_put(a, ("SIM", i), v)
    assert svc.signal_cache_entries(a) == 3 and svc.signal_cache_entries(b) == 0
    assert svc.signal_cache_get(a, ("SIM", 0)) is None  # least recently used dropped
    assert svc.signal_cache_get(a, ("SIM", 3)) is values[3]
    assert svc.signal_cache_get(b, ("SIM", 3)) is None


def test_find_dataset_lives_in_the_service_and_answers_404(catalogs):
    a, _ = catalogs
    assert svc.find_dataset(a, "SIM") == "daily"
    assert svc.find_dataset(a, "AAPL", "prices") == "prices"
    with pytest.raises(ProblemError) as exc:
        svc.find_dataset(a, "NOPE")
    assert exc.value.status == 404
    with pytest.raises(ProblemError) as exc:
        svc.find_dataset(a, "SIM", "intraday")
    assert exc.value.status == 404
    for name in ("find_dataset", "dataset_returns", "ProblemError", "Catalog"):
        assert not hasattr(tasks, name), f"tasks.py is Ray code only; {name} belongs to the service"


@pytest.mark.slow
def test_blocking_and_async_entrypoints_run_the_same_plan(ray_local, catalogs):
    from services.garch.engine import ModelSpec, plan_rolling

    r = svc.dataset_returns(catalogs[0], "daily", "log")["SIM"].to_numpy()[-260:]
    spec = ModelSpec(dist="t")
    plan = plan_rolling(r.size, spec, window=200, refit_every=2, horizon=2)
    blocking = tasks.rolling_many({"x": r}, {"x": plan}, spec, warm_start=True)["x"]
    awaited = asyncio.run(tasks.rolling_many_async({"x": r}, {"x": plan}, spec, warm_start=True))["x"]
    assert_array_equal(blocking.origins, plan.origins)
    for name in ("variance", "params", "loglik", "converged", "iterations", "warm"):
        assert_array_equal(getattr(blocking, name), getattr(awaited, name))
    assert np.isfinite(blocking.variance).all()

    returns = {"SIM": svc.dataset_returns(catalogs[0], "daily", "log")["SIM"].iloc[-300:]}
    fits = tasks.fit_many(["SIM"], returns, spec, horizon=2)
    fits_async = asyncio.run(tasks.fit_many_async(["SIM"], returns, spec, horizon=2))
    assert fits[0].forecast_variance == fits_async[0].forecast_variance and fits[0].bic == fits_async[0].bic


def test_the_job_uses_the_engine_s_realized_squared():
    from services.garch import engine, job

    assert job.realized_squared is engine.realized_squared
