"""Guards on the private internals of other libraries the code leans on: each fails loudly, naming what
changed, when an upgrade moves it (instead of a wrong number or a silent slowdown somewhere else)."""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pytest


def test_arch_private_fit_machinery_is_what_the_garch_engine_calls() -> None:
    """``services/garch/engine/_optimize.py`` maximises ``ARCHModel._loglikelihood`` itself after
    ``_adjust_sample``; ``_rolling.py`` reads ``_fit_indices``. At arch's optimum the private objective must
    be arch's own negative log-likelihood."""
    from arch import arch_model
    from arch.univariate.base import ARCHModel

    params = list(inspect.signature(ARCHModel._loglikelihood).parameters)
    assert params[:5] == ["self", "parameters", "sigma2", "backcast", "var_bounds"], (
        f"arch changed _loglikelihood: {params}"
    )
    y = np.random.default_rng(7).standard_t(6, 600)
    model = arch_model(y, vol="GARCH", p=1, q=1, dist="t")
    model._adjust_sample(None, None)
    assert tuple(model._fit_indices) == (0, 600), (
        f"arch changed _adjust_sample/_fit_indices: {model._fit_indices}"
    )
    res = model.fit(disp="off")
    resids = model.resids(model.starting_values())  # as arch (and the engine) take the backcast
    vol = model.volatility
    sigma2 = np.zeros(resids.shape[0])
    value = model._loglikelihood(
        res.params.to_numpy(), sigma2, vol.backcast(resids), vol.variance_bounds(resids)
    )
    assert value == pytest.approx(-res.loglikelihood, rel=1e-9), (
        "arch's _loglikelihood no longer returns −loglik"
    )


def test_ray_params_still_default_the_dashboard_agent_port() -> None:
    """``services/core/ray_conn.py`` moves the embedded Ray's agent off a taken port by rewriting this default."""
    from ray._private import parameter

    init = parameter.RayParams.__init__
    names = [
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.default is not inspect.Parameter.empty
    ]
    assert "dashboard_agent_listen_port" in names and init.__defaults__, "Ray changed RayParams.__init__"
    assert len(init.__defaults__) == len(names)


def test_logging_still_has_the_srcfile_switch() -> None:
    """``services/core/logs.py`` sets ``logging._srcfile = None`` to skip the caller lookup (the logging
    HOWTO's documented optimisation)."""
    assert hasattr(logging, "_srcfile"), (
        "logging dropped _srcfile: the access log pays for a stack walk again"
    )
