"""Benchmark workloads of the GARCH service (called by the ``raysvc bench`` harness).

Shape (the same for every workload in :data:`WORKLOADS`)::

    WORKLOADS: dict[str, Workload]
    Workload.build(size) -> inputs            # size in SIZES; builds data, starts nothing
    Workload.variants[name](inputs) -> result # name in {"sequential", "ray", "peer"}
    Workload.same_result(a, b) -> bool        # results agree within Workload.tolerance

Workload ``rolling`` — the issue's benchmark: rolling 180-day GARCH(1,1)-t refits (constant mean, log
returns ×100 for the optimiser), one refit per day, one-step variance forecasts, over the seed-format
daily series (the seed's ``simulated_daily_data.csv`` when ``../shared`` is there, else the project's
generated ``daily`` dataset in the same format). The result of every variant is the ``(n_origins,)`` array
of one-step variance forecasts (returns' units).

* ``peer`` — the plain sequential loop a user would write with arch:
  ``arch_model(100 * window, vol="GARCH", p=1, q=1, dist="t").fit(disp="off").forecast(horizon=1)``
  per window (the baseline the targets are measured against);
* ``sequential`` — the service's engine path in this process (lean fit driver, no Ray, cold starts);
* ``ray`` — the service's Ray path (:func:`services.garch.tasks.rolling_many`, refit blocks cut into
  chunks per CPU) on whatever Ray the caller connected; run it on 1 CPU and on all CPUs. Call
  :func:`warm_up` untimed first, or the first timing includes arch's import in each worker.

Sizes (refits): tiny 40, small 300, medium 1,150 (the course's count), large all 3,108 of the series.
Tolerance: forecasts agree to 1e-3 relative (arch's SLSQP stops at a function change of 1e-6; the lean
driver's forecasts match arch's to ~1e-5 with the same BLAS thread count; every variant runs BLAS on one
thread, as Ray workers do).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from services.bench.spec import Workload, shared_file

SIZES = ("tiny", "small", "medium", "large")
_REFITS = {"tiny": 40, "small": 300, "medium": 1150, "large": None}
WINDOW = 180
TOLERANCE = {"forecast_rtol": 1e-3}


def _seed_file() -> Path | None:
    return shared_file("data", "seed", "simulated_daily_data.csv")


def daily_returns() -> tuple[np.ndarray, str]:
    """Log returns of the seed daily close (or of the generated daily dataset) and their source."""
    from services.core import datagen, readers
    from services.garch.engine import to_returns

    path = _seed_file()
    if path is None:
        _, daily = datagen.simulate_24x7()
        source = "generated daily dataset (seed format)"
    else:
        daily = readers.read_daily_csv(path)
        source = str(path)
    return to_returns(daily["close"]).to_numpy(), source


def build_rolling(size: str) -> dict[str, Any]:
    """Inputs: returns, the plan of the last ``n`` origins, the model."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    from services.garch.engine import Dist, ModelSpec, plan_rolling

    r, source = daily_returns()
    spec = ModelSpec(dist=Dist.T)
    n = _REFITS[size]
    first = None if n is None else r.size - n
    plan = plan_rolling(r.size, spec, window=WINDOW, refit_every=1, horizon=1, first=first)
    return {"returns": r, "plan": plan, "spec": spec, "source": source, "refits": plan.n_refits}


def rolling_sequential(inputs: dict[str, Any]) -> np.ndarray:
    from services.garch.engine import run_rolling

    return run_rolling(inputs["returns"], inputs["spec"], inputs["plan"]).variance[:, 0]


def rolling_ray(inputs: dict[str, Any]) -> np.ndarray:
    from services.garch.tasks import rolling_many

    return rolling_many({"x": inputs["returns"]}, {"x": inputs["plan"]}, inputs["spec"])["x"].variance[:, 0]


def rolling_peer(inputs: dict[str, Any]) -> np.ndarray:
    """The plain arch loop (a fresh model and full ``fit()`` per window), BLAS on one thread like the
    service: arch's SLSQP fit itself lands on a different local optimum in ~3 of 1,150 seed windows when
    only the BLAS thread count changes (rounding), so comparing across thread counts is not like for like."""
    from arch import arch_model
    from threadpoolctl import threadpool_limits

    r, out = inputs["returns"], []
    with threadpool_limits(1):
        for t in inputs["plan"].origins:
            res = arch_model(100 * r[t - WINDOW + 1 : t + 1], vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
            out.append(res.forecast(horizon=1).variance.to_numpy()[-1, 0] / 100**2)
    return np.asarray(out)


def rolling_same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=TOLERANCE["forecast_rtol"], atol=0))


def warm_up() -> None:
    """Import the engine and arch in every Ray worker (one tiny untimed rolling run)."""
    inputs = build_rolling("tiny")
    rolling_ray(inputs)


WORKLOADS: dict[str, Workload] = {
    "rolling": Workload(
        name="rolling",
        build=build_rolling,
        variants={"sequential": rolling_sequential, "ray": rolling_ray, "peer": rolling_peer},
        same_result=rolling_same,
        tolerance=TOLERANCE,
    )
}
