"""Model selection: fit a grid of specifications on one series and rank them by BIC (and AIC)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from arch import arch_model

from services.core.exceptions import DomainError

from ._arch import Criteria, fit_arch, fitted_nobs
from ._returns import check_series, require_obs
from ._spec import SCALE, Dist, Mean, ModelSpec, Vol


class Criterion(StrEnum):
    """Information criterion that ranks candidates (lower is better)."""

    BIC = "bic"
    AIC = "aic"


@dataclass(frozen=True)
class Candidate:
    """One fitted grid point; ``loglik``/``aic``/``bic`` of the returns as sent (see ``FitResult``)."""

    spec: ModelSpec
    nobs: int
    n_params: int
    loglik: float
    aic: float
    bic: float
    converged: bool
    message: str


def default_grid(mean: Mean | str = Mean.CONSTANT) -> list[ModelSpec]:
    """27 candidates: GARCH(p,q), GJR(p,1,q), EGARCH(p,1,q) for (p,q) in (1,1),(1,2),(2,1) × 3 distributions."""
    out = []
    for vol, (p, q), dist in itertools.product(Vol, ((1, 1), (1, 2), (2, 1)), Dist):
        out.append(ModelSpec(vol=vol, p=p, o=0 if vol is Vol.GARCH else 1, q=q, dist=dist, mean=Mean(mean)))
    return out


def check_grid(specs: list[ModelSpec]) -> None:
    """Check that the candidates share one mean model.

    The AR(1) mean fits one observation fewer, so its likelihood is not comparable with the others'.
    """
    if not specs:
        raise DomainError("the grid is empty", field="grid")
    means = {s.mean for s in specs}
    if len(means) > 1:
        raise DomainError(f"grid mixes mean models {sorted(m.value for m in means)}; use one", field="grid")


def score_model(returns: pd.Series, spec: ModelSpec, field: str = "series") -> Candidate:
    """Fit ``spec`` with arch (``arch_model(100 * returns).fit(disp="off")``) and score it.

    Never raises on a failing fit (reported as not converged).
    """
    returns = check_series(returns, field)
    require_obs(len(returns), spec.min_obs, spec.label, field)
    y = SCALE * returns.to_numpy()
    k = spec.n_params
    res, failure = fit_arch(arch_model(y, **spec.arch_kwargs()))
    if res is None:
        n, scores, converged, message = fitted_nobs(len(y), spec), Criteria.failed(), False, failure
    else:
        n = int(res.nobs)
        scores = Criteria.of(res.loglikelihood, n, k)
        converged, message = bool(res.convergence_flag == 0), str(res.optimization_result.message)
    return Candidate(
        spec=spec,
        nobs=n,
        n_params=k,
        loglik=scores.loglik,
        aic=scores.aic,
        bic=scores.bic,
        converged=converged,
        message=message,
    )


def rank_candidates(candidates: list[Candidate], by: Criterion | str = Criterion.BIC) -> list[Candidate]:
    """Converged candidates first, each group by ascending ``by`` (NaN last); stable for ties."""
    key = Criterion(by).value

    def order(c: Candidate) -> tuple[int, float]:
        value = getattr(c, key)
        return (0 if c.converged and np.isfinite(value) else 1, value if np.isfinite(value) else np.inf)

    return sorted(candidates, key=order)
