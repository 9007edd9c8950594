"""One model fit with arch on a return series: parameters in the returns' own units and the forecast path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from arch import arch_model
from scipy import stats

from services.core.exceptions import DomainError

from ._arch import Criteria, fit_arch, fitted_nobs, quiet_arch
from ._optimize import arch_forecast_variance, forecast_method
from ._returns import Annualization, check_series, detect_annualization, require_obs
from ._spec import SCALE, ModelSpec, Vol

__all__ = ["FitResult", "fit_model", "quiet_arch", "unscale", "unscale_matrix"]


@dataclass(frozen=True)
class FitResult:
    """A fitted model and its forecast, every number in the units of the returns as sent.

    ``loglik``/``aic``/``bic`` are those of the returns as sent: arch's values on the ×100 scaled returns
    plus ``nobs * ln(100)`` (the Jacobian of the scaling), so they rank models exactly as arch's do.
    ``forecast_variance[h-1]`` is the variance of the return h periods after ``end``;
    ``forecast_vol_annualized[h-1] = sqrt(forecast_variance[h-1] * annualization)``.
    """

    spec: ModelSpec
    nobs: int
    start: str | None
    end: str | None
    params: dict[str, float]
    std_errors: dict[str, float]
    pvalues: dict[str, float]
    loglik: float
    aic: float
    bic: float
    converged: bool
    message: str
    annualization: int
    annualization_source: str
    last_conditional_vol: float
    last_conditional_vol_annualized: float
    realized_vol_annualized: float
    horizon: int
    forecast_variance: tuple[float, ...]
    forecast_vol_annualized: tuple[float, ...]
    forecast_method: str
    simulations: int | None = None
    seed: int | None = None


def unscale_matrix(names: list[str], spec: ModelSpec, scale: float = SCALE) -> np.ndarray:
    """Jacobian ``J`` mapping arch's parameters on ``scale``-times returns to the returns' own units.

    The map is linear: ``theta = J @ theta_scaled``, except EGARCH's ``omega`` which also shifts by
    ``-ln(scale**2)`` (see :func:`unscale`). Mean terms (``mu``, ``Const``) divide by ``scale``; GARCH/GJR
    ``omega`` by ``scale**2``; EGARCH ``omega`` (log-variance intercept) gains ``ln(scale**2) * beta[j]``.
    ARCH/GARCH coefficients, AR coefficients and distribution shape parameters are scale-free.
    """
    jac = np.eye(len(names))
    log_s2 = np.log(scale**2)
    for i, name in enumerate(names):
        if name in ("mu", "Const"):
            jac[i, i] = 1.0 / scale
        elif name == "omega" and spec.vol is not Vol.EGARCH:
            jac[i, i] = 1.0 / scale**2
        elif name == "omega":
            for j, other in enumerate(names):
                if other.startswith("beta["):
                    jac[i, j] = log_s2
    return jac


def unscale(
    names: list[str], params: np.ndarray, cov: np.ndarray | None, spec: ModelSpec, scale: float = SCALE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameters, standard errors and two-sided normal p-values (as arch computes them) in return units."""
    jac = unscale_matrix(names, spec, scale)
    out = jac @ params
    if spec.vol is Vol.EGARCH:
        out[names.index("omega")] -= np.log(scale**2)
    if cov is None:
        nan = np.full(len(names), np.nan)
        return out, nan, nan
    var = np.diag(jac @ cov @ jac.T)
    se = np.sqrt(np.where(var >= 0, var, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        pv = 2.0 * stats.norm.sf(np.abs(out / se))
    return out, se, pv


def _date(index: pd.Index, pos: int) -> str | None:
    return str(index[pos].date()) if isinstance(index, pd.DatetimeIndex) and len(index) else None


def fit_model(
    returns: pd.Series,
    spec: ModelSpec | None = None,
    *,
    horizon: int = 1,
    annualization: int | None = None,
    simulations: int = 1000,
    seed: int = 0,
    field: str = "series",
) -> FitResult:
    """Fit ``spec`` to ``returns`` (natural units, e.g. 0.01 = 1 %) with arch and forecast 1..``horizon``.

    The fit is ``arch_model(100 * returns, ...).fit(disp="off")``; standard errors are arch's robust
    (Bollerslev–Wooldridge) ones. A fit that fails or does not converge is returned with
    ``converged=False`` and the optimiser's message, never raised. EGARCH beyond one step forecasts by
    simulation (``simulations`` paths, reproducible through ``seed``).

    Raises
    ------
    DomainError
        non-finite returns, non-increasing dates, too few observations, horizon < 1.
    """
    spec = spec or ModelSpec()
    returns = check_series(returns, field)
    require_obs(len(returns), spec.min_obs, spec.label, field)
    if horizon < 1:
        raise DomainError(f"horizon={horizon} must be at least 1", field="horizon")
    ann: Annualization = detect_annualization(returns.index, annualization)
    y = SCALE * returns.to_numpy()
    model = arch_model(y, **spec.arch_kwargs())
    names = model._all_parameter_names()
    nobs = fitted_nobs(len(y), spec)
    realized = float(np.std(returns.to_numpy(), ddof=1) * np.sqrt(ann.periods))
    method = forecast_method(spec, horizon)
    common: dict[str, Any] = {
        "spec": spec,
        "start": _date(returns.index, 0),
        "end": _date(returns.index, -1),
        "annualization": ann.periods,
        "annualization_source": ann.source,
        "realized_vol_annualized": realized,
        "horizon": horizon,
        "forecast_method": method,
        "simulations": simulations if method == "simulation" else None,
        "seed": seed if method == "simulation" else None,
    }
    res, failure = fit_arch(model)
    if res is None:
        return _failed(names, nobs, failure, common)

    cov = None
    try:
        with quiet_arch():
            cov = np.asarray(res.param_cov, dtype=float)
    except (ValueError, np.linalg.LinAlgError):
        pass
    params, se, pv = unscale(names, res.params.to_numpy(), cov, spec)
    nobs = int(res.nobs)
    scores = Criteria.of(res.loglikelihood, nobs, len(names))
    with quiet_arch():
        var = (
            arch_forecast_variance(
                res.model, res.params.to_numpy(), horizon, spec, simulations=simulations, seed=seed
            )
            / SCALE**2
        )
    last_vol = float(res.conditional_volatility[-1]) / SCALE
    return FitResult(
        nobs=nobs,
        params=dict(zip(names, params.tolist(), strict=True)),
        std_errors=dict(zip(names, se.tolist(), strict=True)),
        pvalues=dict(zip(names, pv.tolist(), strict=True)),
        loglik=scores.loglik,
        aic=scores.aic,
        bic=scores.bic,
        converged=bool(res.convergence_flag == 0),
        message=str(res.optimization_result.message),
        last_conditional_vol=last_vol,
        last_conditional_vol_annualized=last_vol * float(np.sqrt(ann.periods)),
        forecast_variance=tuple(float(v) for v in var),
        forecast_vol_annualized=tuple(float(np.sqrt(v * ann.periods)) for v in var),
        **common,
    )


def _failed(names: list[str], nobs: int, message: str, common: dict[str, Any]) -> FitResult:
    nan = float("nan")
    h = int(common["horizon"])
    scores = Criteria.failed()
    return FitResult(
        nobs=nobs,
        params=dict.fromkeys(names, nan),
        std_errors=dict.fromkeys(names, nan),
        pvalues=dict.fromkeys(names, nan),
        loglik=scores.loglik,
        aic=scores.aic,
        bic=scores.bic,
        converged=False,
        message=message,
        last_conditional_vol=nan,
        last_conditional_vol_annualized=nan,
        forecast_variance=(nan,) * h,
        forecast_vol_annualized=(nan,) * h,
        **common,
    )
