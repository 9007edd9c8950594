"""Rolling out-of-sample forecasts: a plan of forecast origins, chunks of it as units of work, the refits."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from services.core.exceptions import DomainError

from ._arch import returns_loglik
from ._evaluate import Evaluation, evaluate
from ._fit import unscale
from ._optimize import fit_window, forecast_variance, window_model
from ._spec import SCALE, ModelSpec

DEFAULT_WINDOW = 180
"""Observations per fitting window (and per realised-variance window) unless a request says otherwise:
about nine months of exchange days, six of a 24/7 calendar."""


@dataclass(frozen=True)
class RollingPlan:
    """Forecast origins of a rolling forecast and which of them refit the model.

    The origins ``t`` are positions in the return array; each window is ``returns[t-window+1 : t+1]``,
    forecasting ``t+1..t+horizon``. The origins that do not refit reuse the last refit's parameters on
    their own window.
    """

    window: int
    horizon: int
    origins: np.ndarray
    refit: np.ndarray

    @property
    def n_refits(self) -> int:
        """Number of model fits the plan needs."""
        return int(self.refit.sum())

    def blocks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` row ranges, one per refit: the refit and the origins reusing its parameters."""
        pos = [*np.flatnonzero(self.refit).tolist(), self.origins.size]
        return list(itertools.pairwise(pos))

    def rows(self, start: int, stop: int) -> RollingPlan:
        """Rows ``start:stop`` of the plan (``start`` should be a refit)."""
        return RollingPlan(self.window, self.horizon, self.origins[start:stop], self.refit[start:stop])


def plan_rolling(
    n_obs: int,
    spec: ModelSpec,
    *,
    window: int = DEFAULT_WINDOW,
    refit_every: int = 1,
    horizon: int = 1,
    first: int | None = None,
    last: int | None = None,
) -> RollingPlan:
    """Origins from ``max(window-1, first)`` to ``min(n_obs-1, last)``; a refit every ``refit_every``.

    Raises
    ------
    DomainError
        window too short for the model, longer than the data, or no origin in range.
    """
    if window < spec.min_obs:
        raise DomainError(
            f"window={window} is too short for {spec.label}: need at least {spec.min_obs}", field="window"
        )
    if refit_every < 1:
        raise DomainError(f"refit_every={refit_every} must be at least 1", field="refit_every")
    if horizon < 1:
        raise DomainError(f"horizon={horizon} must be at least 1", field="horizon")
    if n_obs < window:
        raise DomainError(f"{n_obs} returns are fewer than window={window}", field="window")
    lo = max(window - 1, 0 if first is None else first)
    hi = n_obs - 1 if last is None else min(n_obs - 1, last)
    if hi < lo:
        raise DomainError(
            "no forecast origin between start and end once the first window is filled", field="start"
        )
    origins = np.arange(lo, hi + 1)
    refit = (origins - lo) % refit_every == 0
    return RollingPlan(window, horizon, origins, refit)


@dataclass(frozen=True)
class RollingResult:
    """Rolling forecasts, every number in the units of the returns as sent.

    Row ``i`` belongs to origin ``origins[i]``: ``variance[i, h-1]`` forecasts the variance of
    ``returns[origins[i] + h]``; ``params[i]`` are the parameters used (its last refit's); ``loglik[i]``
    is the refit's log-likelihood of the returns as sent (NaN on non-refit rows); ``converged[i]`` the
    flag of the refit whose parameters it uses.
    """

    spec: ModelSpec
    window: int
    horizon: int
    origins: np.ndarray
    refit: np.ndarray
    variance: np.ndarray
    params: np.ndarray
    param_names: tuple[str, ...]
    loglik: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    warm: np.ndarray
    messages: tuple[tuple[int, str], ...]

    @property
    def n_refits(self) -> int:
        """Number of refits behind these forecasts."""
        return int(self.refit.sum())

    def rows(self, start: int, stop: int) -> RollingResult:
        """Rows ``start:stop`` as a result of their own."""
        lo = int(self.origins[start]) if stop > start else 0
        hi = int(self.origins[stop - 1]) if stop > start else -1
        return dataclasses.replace(
            self,
            origins=self.origins[start:stop],
            refit=self.refit[start:stop],
            variance=self.variance[start:stop],
            params=self.params[start:stop],
            loglik=self.loglik[start:stop],
            converged=self.converged[start:stop],
            iterations=self.iterations[start:stop],
            warm=self.warm[start:stop],
            messages=tuple(m for m in self.messages if lo <= m[0] <= hi),
        )


def run_rolling(
    returns: np.ndarray,
    spec: ModelSpec,
    plan: RollingPlan,
    *,
    warm_start: bool = False,
    initial_params: np.ndarray | None = None,
    simulations: int = 1000,
    seed: int = 0,
) -> RollingResult:
    """Fit and forecast every origin of ``plan`` (one chunk or a whole plan) over ``returns`` (natural units).

    A refit on origin ``t`` equals ``arch_model(100 * returns[t-window+1:t+1]).fit()`` within the
    optimiser's tolerance (see :mod:`._optimize`). With ``warm_start`` each refit starts from the previous
    refit's estimates (the chunk's first from ``initial_params`` if given, else arch's starting values); a
    warm fit that fails to converge is retried cold. Warm starts cut the optimiser's iterations by about
    half, but where a window's likelihood has two modes they follow the previous window's (docs/garch.md).
    Simulation forecasts (EGARCH, horizon > 1) seed origin ``t`` with ``(seed, t)``, so results do not
    depend on chunking. BLAS runs single-threaded here (as in Ray workers, which set OMP_NUM_THREADS=1):
    multi-threaded OpenBLAS rounds differently and moves SLSQP's stopping point by up to ~2e-4 relative,
    so pinning it makes the driver and every worker give bit-identical forecasts for cold fits.
    """
    with threadpool_limits(1):
        return _run_rolling(returns, spec, plan, warm_start, initial_params, simulations, seed)


def _run_rolling(
    returns: np.ndarray,
    spec: ModelSpec,
    plan: RollingPlan,
    warm_start: bool,
    initial_params: np.ndarray | None,
    simulations: int,
    seed: int,
) -> RollingResult:
    y = SCALE * np.asarray(returns, dtype=float)
    k, h, w = plan.origins.size, plan.horizon, plan.window
    names: list[str] = window_model(y[:w], spec)._all_parameter_names()
    variance = np.full((k, h), np.nan)
    params = np.full((k, len(names)), np.nan)
    loglik = np.full(k, np.nan)
    converged = np.zeros(k, dtype=bool)
    iterations = np.zeros(k, dtype=int)
    warm = np.zeros(k, dtype=bool)
    messages: list[tuple[int, str]] = []
    current: np.ndarray | None = None
    ok = False
    prev = initial_params if warm_start else None
    for i, (t, refit) in enumerate(zip(plan.origins, plan.refit, strict=True)):
        model = window_model(y[t - w + 1 : t + 1], spec)
        if refit or current is None:
            fit = fit_window(model, prev)
            if fit.warm and not fit.converged:
                fit = fit_window(model, None)
            current, ok = fit.params, fit.converged
            loglik[i] = returns_loglik(fit.loglik, model._fit_indices[1] - model._fit_indices[0])
            iterations[i], warm[i] = fit.iterations, fit.warm
            if not ok:
                messages.append((int(t), fit.message))
            elif warm_start:
                prev = current
        variance[i] = forecast_variance(model, current, h, spec, simulations=simulations, seed=[seed, int(t)])
        params[i] = current
        converged[i] = ok
    real, _, _ = unscale(names, params.T, None, spec)  # (n_params, k): unscale works column-wise
    return RollingResult(
        spec=spec,
        window=w,
        horizon=h,
        origins=plan.origins.copy(),
        refit=plan.refit.copy(),
        variance=variance / SCALE**2,
        params=np.asarray(real).T.copy(),
        param_names=tuple(names),
        loglik=loglik,
        converged=converged,
        iterations=iterations,
        warm=warm,
        messages=tuple(messages),
    )


def concat_rolling(parts: list[RollingResult]) -> RollingResult:
    """Join chunk results (in any order) into one result ordered by origin."""
    if not parts:
        raise ValueError("no rolling results to join")
    parts = sorted(parts, key=lambda p: int(p.origins[0]) if p.origins.size else -1)
    first = parts[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return RollingResult(
        spec=first.spec,
        window=first.window,
        horizon=first.horizon,
        origins=cat("origins"),
        refit=cat("refit"),
        variance=cat("variance"),
        params=cat("params"),
        param_names=first.param_names,
        loglik=cat("loglik"),
        converged=cat("converged"),
        iterations=cat("iterations"),
        warm=cat("warm"),
        messages=tuple(m for p in parts for m in p.messages),
    )


def realized_squared(result: RollingResult, returns: np.ndarray) -> np.ndarray:
    """``r[t+h]**2`` aligned with ``result.variance`` (NaN where ``t+h`` is past the data)."""
    r = np.asarray(returns, dtype=float)
    idx = result.origins[:, None] + np.arange(1, result.horizon + 1)[None, :]
    out = np.full(idx.shape, np.nan)
    inside = idx < r.size
    out[inside] = r[idx[inside]] ** 2
    return out


def evaluate_rolling(result: RollingResult, returns: np.ndarray) -> tuple[Evaluation, ...]:
    """MSE, QLIKE and Mincer–Zarnowitz of each forecast step against realised squared returns."""
    real = realized_squared(result, returns)
    return tuple(evaluate(result.variance[:, j], real[:, j], step=j + 1) for j in range(result.horizon))
