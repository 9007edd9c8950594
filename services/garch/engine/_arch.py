"""What every arch fit of the engine shares: its warnings, its failures and its likelihood in return units.

One home for the pieces the full fit (`_fit.fit_model`) and the selection grid (`_select.score_model`)
both need: which warnings are noise, which exceptions mean "this fit failed" (and the message reported
then), how many observations arch fits, and the log-likelihood/AIC/BIC of the returns as sent.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from arch.univariate.base import ARCHModel, ARCHModelResult
from arch.utility.exceptions import (
    ConvergenceWarning,
    DataScaleWarning,
    InitialValueWarning,
    StartingValueWarning,
)

from ._spec import SCALE, Mean, ModelSpec

ARCH_NOISE: tuple[type[Warning], ...] = (
    ConvergenceWarning,
    DataScaleWarning,
    StartingValueWarning,
    InitialValueWarning,
    RuntimeWarning,
)
"""What arch, scipy and numpy warn about while fitting or forecasting a window: a fit that did not converge is
reported in the result (``converged``, ``message``), and degenerate windows' overflow/invalid values end as
NaN. Any other warning (a deprecation, a new category) stays visible."""

FIT_ERRORS: tuple[type[Exception], ...] = (ValueError, FloatingPointError, np.linalg.LinAlgError)
"""Exceptions of a fit on a degenerate series or window: reported as a failed fit, never raised."""


@contextmanager
def quiet_arch() -> Iterator[None]:
    """Silence :data:`ARCH_NOISE` only."""
    with warnings.catch_warnings():
        for category in ARCH_NOISE:
            warnings.simplefilter("ignore", category)
        yield


def fit_arch(model: ARCHModel) -> tuple[ARCHModelResult | None, str]:
    """Run arch's own ``model.fit(disp="off")`` with :data:`ARCH_NOISE` silenced.

    Returns ``(result, "")``, or ``(None, message)`` when the fit raises one of :data:`FIT_ERRORS` (see
    :func:`failure_message`).
    """
    try:
        with quiet_arch():
            return model.fit(disp="off", show_warning=False), ""
    except FIT_ERRORS as exc:
        return None, failure_message(exc)


def fitted_nobs(n_returns: int, spec: ModelSpec) -> int:
    """Observations arch fits out of ``n_returns`` (the AR(1) mean loses the first one)."""
    return n_returns - (1 if spec.mean is Mean.AR1 else 0)


def failure_message(exc: BaseException) -> str:
    """Return the ``message`` of a fit that raised one of :data:`FIT_ERRORS`."""
    return f"fit failed: {type(exc).__name__}: {exc}"


def returns_loglik(scaled_loglik: float, nobs: int) -> float:
    """Convert arch's log-likelihood on ``SCALE``-times returns to that of the returns as sent.

    It adds ``nobs * ln(SCALE)`` (the Jacobian of the scaling), so it ranks models exactly as arch's does.
    """
    return scaled_loglik + nobs * np.log(SCALE)


@dataclass(frozen=True)
class Criteria:
    """Log-likelihood, AIC and BIC of the returns as sent."""

    loglik: float
    aic: float
    bic: float

    @classmethod
    def of(cls, scaled_loglik: float, nobs: int, n_params: int) -> Criteria:
        """From arch's log-likelihood on the scaled returns, ``nobs`` fitted observations, ``n_params``."""
        llf = returns_loglik(float(scaled_loglik), nobs)
        return cls(
            loglik=llf,
            aic=-2.0 * llf + 2.0 * n_params,
            bic=-2.0 * llf + n_params * np.log(nobs),
        )

    @classmethod
    def failed(cls) -> Criteria:
        """Those of a failed fit: NaN."""
        nan = float("nan")
        return cls(nan, nan, nan)
