"""The service layer's own state and texts: derived data kept by its catalog (no aliasing across catalogs,
gone with its catalog) and OpenAPI descriptions that state the routing threshold the code uses."""

from __future__ import annotations

import gc
import weakref

import pandas as pd

from services.core.catalog import Catalog
from services.core.settings import get_settings
from services.portfolio import service as svc
from services.portfolio import tasks


def test_derived_returns_are_per_catalog_and_go_with_it(data_dir):
    a, b = Catalog(get_settings()), Catalog(get_settings())
    returns = svc.dataset_returns(a, "prices")
    assert svc.dataset_returns(a, "prices") is returns  # made once, kept by the catalog
    assert svc.dataset_arrays(a, "prices")[1] is svc.dataset_arrays(a, "prices")[1]
    assert a.derived_count(svc.RETURNS) == a.derived_count(svc.ARRAYS) == 1
    assert b.derived_count(svc.RETURNS) == 0
    other = svc.dataset_returns(b, "prices")
    assert other is not returns  # a second catalog never reads the first one's data
    pd.testing.assert_frame_equal(other, returns)
    gone = weakref.ref(returns)
    del a, returns
    gc.collect()
    assert gone() is None  # the derived data went with its catalog
    assert svc.dataset_returns(b, "prices") is other


def test_openapi_states_the_ray_threshold_in_use():
    from services.portfolio.app import app

    paths = app.openapi()["paths"]
    for path in ("/v1/portfolio/frontier", "/v1/portfolio/backtest"):
        text = paths[path]["post"]["description"]
        assert f"reaches {tasks.RAY_MIN_WORK_MS:g} ms" in text, text
        assert "computed_on" in text and "on_ray" not in text, text  # the response field's real name
