"""Portfolio optimisation: a spec, a skfolio estimator built from it, and a frozen result.

Every objective is a skfolio estimator (``MeanRisk``, ``RiskBudgeting``, ``HierarchicalRiskParity``,
``HierarchicalEqualRiskContribution``, ``InverseVolatility``, ``EqualWeighted``) fed with a skfolio
prior (sample mean and the chosen covariance estimator). This module adds only what skfolio leaves to
the caller: annual units in and out, per-symbol constraints, a feasibility check that names the
constraint at fault, and weights rescaled to the budget exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from skfolio import RiskMeasure
from skfolio.exceptions import NonPositiveVarianceError, OptimizationError
from skfolio.moments import OAS, DenoiseCovariance, EmpiricalCovariance, EmpiricalMu, EWCovariance, LedoitWolf
from skfolio.optimization import (
    EqualWeighted,
    HierarchicalEqualRiskContribution,
    HierarchicalRiskParity,
    InverseVolatility,
    MeanRisk,
    ObjectiveFunction,
    RiskBudgeting,
)
from skfolio.prior import EmpiricalPrior

from ._enums import CovarianceMethod, Objective
from ._returns import MIN_OBSERVATIONS, TRADING_DAYS, check_panel
from .exceptions import InfeasibleConstraintError, PortfolioError, UnsupportedConstraintError

WEIGHT_TOL = 1e-9
"""Weights are rescaled so they sum to the budget within this tolerance."""

_FEAS_TOL = 1e-12
_CONVEX = frozenset({Objective.MIN_VARIANCE, Objective.MAX_SHARPE, Objective.MAX_RETURN, Objective.MIN_CVAR})
_SUPPORTED: dict[Objective, frozenset[str]] = {
    **{o: frozenset({"min_weight", "max_weight", "budget", "max_turnover"}) for o in _CONVEX},
    Objective.RISK_PARITY: frozenset({"min_weight", "max_weight"}),
    Objective.HRP: frozenset({"min_weight", "max_weight"}),
    Objective.HERC: frozenset({"min_weight", "max_weight"}),
    Objective.INVERSE_VOLATILITY: frozenset(),
    Objective.EQUAL_WEIGHT: frozenset(),
}
"""Which constraints each objective honours; setting any other one raises ``UnsupportedConstraintError``."""

Bound = float | Mapping[str, float]


@dataclass(frozen=True)
class Constraints:
    """Linear constraints on the weights.

    Parameters
    ----------
    min_weight, max_weight : float or mapping of symbol to float
        Per-asset bounds. A mapping sets the listed symbols; the others keep the default (0 and 1).
        A negative ``min_weight`` allows a bounded short position (long-only when all are >= 0).
    budget : float
        Sum of the weights (default 1: fully invested).
    max_turnover : float, optional
        Upper bound on each asset's absolute weight change ``|w_i - w0_i|`` from ``current_weights``
        (skfolio's per-asset definition); needs ``current_weights``.
    current_weights : mapping of symbol to float, optional
        The portfolio held now; symbols left out are held at 0.
    """

    min_weight: Bound = 0.0
    max_weight: Bound = 1.0
    budget: float = 1.0
    max_turnover: float | None = None
    current_weights: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.budget) and self.budget > 0):
            raise PortfolioError(
                f"budget must be a positive number, got {self.budget}", field="constraints.budget"
            )
        if self.max_turnover is not None:
            if not (math.isfinite(self.max_turnover) and self.max_turnover >= 0):
                raise PortfolioError(
                    f"max_turnover must be >= 0, got {self.max_turnover}", field="constraints.max_turnover"
                )
            if self.current_weights is None:
                raise PortfolioError(
                    "max_turnover needs current_weights to measure the change from",
                    field="constraints.current_weights",
                )

    def active(self) -> set[str]:
        """Names of the constraints set away from their defaults."""
        out = set()
        if self.min_weight != 0.0:
            out.add("min_weight")
        if self.max_weight != 1.0:
            out.add("max_weight")
        if self.budget != 1.0:
            out.add("budget")
        if self.max_turnover is not None:
            out.add("max_turnover")
        return out

    def bounds(self, symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-asset ``(min, max)`` arrays of shape (n_assets,) in the order of ``symbols``."""
        return _expand(self.min_weight, symbols, 0.0, "min_weight"), _expand(
            self.max_weight, symbols, 1.0, "max_weight"
        )

    def current(self, symbols: list[str]) -> np.ndarray | None:
        """Return the current weights of shape (n_assets,), or None."""
        if self.current_weights is None:
            return None
        return _expand(dict(self.current_weights), symbols, 0.0, "current_weights")


def _expand(value: Bound, symbols: list[str], default: float, name: str) -> np.ndarray:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(symbols))
        if unknown:
            raise PortfolioError(
                f"{name} names symbols outside the universe: {unknown}", field=f"constraints.{name}"
            )
        out = np.array([float(value.get(s, default)) for s in symbols])
    else:
        out = np.full(len(symbols), float(value))
    if not np.isfinite(out).all():
        raise PortfolioError(f"{name} must be finite, got {value}", field=f"constraints.{name}")
    return out


@dataclass(frozen=True)
class OptimizationSpec:
    """What to optimise and how.

    Parameters
    ----------
    objective : Objective
        ``max_return`` needs ``target_volatility``; ``min_cvar`` uses ``cvar_confidence``.
    covariance : CovarianceMethod
        Covariance estimator (the expected returns are always the sample mean).
    constraints : Constraints
    risk_free_rate : float
        Annual risk-free rate (simple), used by ``max_sharpe`` and the reported Sharpe ratio.
    target_volatility : float, optional
        Annual volatility cap of ``max_return``.
    cvar_confidence : float
        Confidence level of ``min_cvar``, in (0, 1).
    ewma_half_life : float
        Half-life in observations of the ``ewma`` covariance.
    periods_per_year : int
        Observations per year of the returns (252 for exchange days, 365 for a 24/7 market).
    """

    objective: Objective = Objective.MIN_VARIANCE
    covariance: CovarianceMethod = CovarianceMethod.SAMPLE
    constraints: Constraints = field(default_factory=Constraints)
    risk_free_rate: float = 0.0
    target_volatility: float | None = None
    cvar_confidence: float = 0.95
    ewma_half_life: float = 40.0
    periods_per_year: int = TRADING_DAYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "objective", Objective(self.objective))
        object.__setattr__(self, "covariance", CovarianceMethod(self.covariance))
        if self.objective is Objective.MAX_RETURN:
            if self.target_volatility is None or not self.target_volatility > 0:
                raise PortfolioError(
                    f"max_return needs a positive target_volatility, got {self.target_volatility}",
                    field="target_volatility",
                )
        if not 0 < self.cvar_confidence < 1:
            raise PortfolioError(
                f"cvar_confidence must lie in (0, 1), got {self.cvar_confidence}", field="cvar_confidence"
            )
        if not self.ewma_half_life > 0:
            raise PortfolioError(
                f"ewma_half_life must be > 0, got {self.ewma_half_life}", field="ewma_half_life"
            )
        if not self.periods_per_year > 0:
            raise PortfolioError(
                f"periods_per_year must be > 0, got {self.periods_per_year}", field="periods_per_year"
            )
        if not math.isfinite(self.risk_free_rate) or abs(self.risk_free_rate) >= 1:
            raise PortfolioError(
                f"risk_free_rate must lie in (-1, 1), got {self.risk_free_rate}", field="risk_free_rate"
            )
        unsupported = sorted(self.constraints.active() - _SUPPORTED[self.objective])
        if unsupported:
            raise UnsupportedConstraintError(
                f"objective {self.objective.value!r} does not support constraint(s) {unsupported}; "
                f"it honours {sorted(_SUPPORTED[self.objective]) or 'none'}",
                field=f"constraints.{unsupported[0]}",
            )

    @property
    def rf_per_period(self) -> float:
        """Risk-free rate per observation."""
        return self.risk_free_rate / self.periods_per_year


@dataclass(frozen=True)
class OptimizationResult:
    """An optimised portfolio and its in-sample statistics (annualised from the estimated moments).

    Attributes
    ----------
    weights : dict of symbol to float
        Sums to the budget within ``WEIGHT_TOL``.
    expected_return, volatility, sharpe : float
        ``ppy * mu.w``, ``sqrt(ppy * w'Sigma w)`` and ``(expected_return - rf) / volatility`` with the
        sample mean ``mu`` and the chosen covariance ``Sigma`` of the window.
    status : str
        The convex solver's status (``optimal``, ``optimal_inaccurate``) or ``closed_form`` for the
        hierarchical and naive allocations.
    turnover : float or None
        ``sum |w - w0|`` against the current weights, when given.
    solver : str
        What computed the weights: ``skfolio`` (its estimator, through CVXPY for the convex objectives)
        or ``clarabel`` (:class:`MeanVarianceProgram`, the compiled QP giving skfolio's answer).
    """

    weights: dict[str, float]
    expected_return: float
    volatility: float
    sharpe: float
    status: str
    objective: Objective
    covariance: CovarianceMethod
    n_observations: int
    start: pd.Timestamp
    end: pd.Timestamp
    turnover: float | None = None
    solver: str = "skfolio"

    def weight_array(self, symbols: list[str] | None = None) -> np.ndarray:
        """Weights in the order of ``symbols`` (default: the result's own order); absent symbols are 0."""
        symbols = list(self.weights) if symbols is None else symbols
        return np.array([self.weights.get(s, 0.0) for s in symbols])


def build_prior(spec: OptimizationSpec) -> EmpiricalPrior:
    """Unfitted skfolio prior: sample mean and the spec's covariance estimator."""
    cov = {
        CovarianceMethod.SAMPLE: lambda: EmpiricalCovariance(),
        CovarianceMethod.LEDOIT_WOLF: lambda: LedoitWolf(),
        CovarianceMethod.OAS: lambda: OAS(),
        CovarianceMethod.EWMA: lambda: EWCovariance(half_life=spec.ewma_half_life),
        CovarianceMethod.DENOISED: lambda: DenoiseCovariance(),
    }[spec.covariance]()
    return EmpiricalPrior(mu_estimator=EmpiricalMu(), covariance_estimator=cov)


@contextmanager
def zero_variance_named(spec: OptimizationSpec) -> Iterator[None]:
    """Turn skfolio's refusal of an asset without variance into a :class:`PortfolioError` naming the assets.

    Such an asset has a constant price over the window, so the covariance is singular. The shrinkage
    estimators (ledoit_wolf, oas) keep such a matrix invertible, and skfolio accepts it from them.
    """
    try:
        yield
    except NonPositiveVarianceError as err:
        raise PortfolioError(
            f"{err}, i.e. a constant price over the window, so the {spec.covariance.value} covariance is "
            "singular: leave those assets out or use covariance ledoit_wolf or oas",
            field="returns",
        ) from err


def build_estimator(spec: OptimizationSpec, symbols: list[str], **mean_risk_params: object):
    """Unfitted skfolio estimator for ``spec`` over ``symbols``.

    ``mean_risk_params`` override ``MeanRisk`` parameters (the frontier passes ``min_return``).
    """
    lo, hi = spec.constraints.bounds(symbols)
    prior = build_prior(spec)
    o = spec.objective
    if o in _CONVEX:
        params: dict[str, object] = dict(
            prior_estimator=prior,
            min_weights=lo,
            max_weights=hi,
            budget=spec.constraints.budget,
            risk_free_rate=spec.rf_per_period,
            save_problem=True,
        )
        if spec.constraints.max_turnover is not None:
            params.update(
                max_turnover=spec.constraints.max_turnover, previous_weights=spec.constraints.current(symbols)
            )
        if o is Objective.MIN_VARIANCE:
            params.update(
                objective_function=ObjectiveFunction.MINIMIZE_RISK, risk_measure=RiskMeasure.VARIANCE
            )
        elif o is Objective.MAX_SHARPE:
            params.update(
                objective_function=ObjectiveFunction.MAXIMIZE_RATIO, risk_measure=RiskMeasure.VARIANCE
            )
        elif o is Objective.MAX_RETURN:
            assert spec.target_volatility is not None  # the spec checks it on construction
            params.update(
                objective_function=ObjectiveFunction.MAXIMIZE_RETURN,
                max_standard_deviation=spec.target_volatility / math.sqrt(spec.periods_per_year),
            )
        else:
            params.update(
                objective_function=ObjectiveFunction.MINIMIZE_RISK,
                risk_measure=RiskMeasure.CVAR,
                cvar_beta=spec.cvar_confidence,
            )
        params.update(mean_risk_params)
        return MeanRisk(**params)
    if mean_risk_params:
        raise PortfolioError(f"objective {o.value!r} has no efficient frontier", field="objective")
    if o in (Objective.RISK_PARITY, Objective.HRP, Objective.HERC) and (lo < 0).any():
        raise UnsupportedConstraintError(
            f"objective {o.value!r} is long-only; min_weight must be >= 0", field="constraints.min_weight"
        )
    if o is Objective.RISK_PARITY:
        return RiskBudgeting(
            risk_measure=RiskMeasure.VARIANCE,
            prior_estimator=prior,
            min_weights=lo,
            max_weights=hi,
            save_problem=True,
        )
    if o is Objective.HRP:
        return HierarchicalRiskParity(
            risk_measure=RiskMeasure.VARIANCE, prior_estimator=prior, min_weights=lo, max_weights=hi
        )
    if o is Objective.HERC:
        return HierarchicalEqualRiskContribution(
            risk_measure=RiskMeasure.VARIANCE, prior_estimator=prior, min_weights=lo, max_weights=hi
        )
    if o is Objective.INVERSE_VOLATILITY:
        return InverseVolatility(prior_estimator=prior)
    return EqualWeighted()


def check_feasible(spec: OptimizationSpec, symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Raise :class:`InfeasibleConstraintError` naming the constraint when no weights can satisfy them.

    The weight box ``[min, max]``, narrowed by ``|w - w0| <= max_turnover``, must be non-empty for every
    asset and its sum range must contain the budget. Returns the narrowed ``(lo, hi)`` arrays.
    """
    c = spec.constraints
    lo, hi = c.bounds(symbols)
    crossed = np.flatnonzero(lo > hi + _FEAS_TOL)
    if crossed.size:
        i = crossed[0]
        raise InfeasibleConstraintError(
            f"min_weight {lo[i]} exceeds max_weight {hi[i]} for {symbols[i]}", field="constraints.min_weight"
        )
    if spec.objective not in _CONVEX and spec.objective not in (
        Objective.INVERSE_VOLATILITY,
        Objective.EQUAL_WEIGHT,
    ):
        budget = 1.0
    else:
        budget = c.budget
    if lo.sum() > budget + _FEAS_TOL:
        raise InfeasibleConstraintError(
            f"the minimum weights sum to {lo.sum():.6g}, above the budget {budget}",
            field="constraints.min_weight",
        )
    if hi.sum() < budget - _FEAS_TOL:
        raise InfeasibleConstraintError(
            f"the maximum weights sum to {hi.sum():.6g}, below the budget {budget}",
            field="constraints.max_weight",
        )
    w0 = c.current(symbols)
    if c.max_turnover is not None and w0 is not None:
        lo, hi = np.maximum(lo, w0 - c.max_turnover), np.minimum(hi, w0 + c.max_turnover)
        crossed = np.flatnonzero(lo > hi + _FEAS_TOL)
        if crossed.size:
            i = crossed[0]
            raise InfeasibleConstraintError(
                f"max_turnover {c.max_turnover} cannot move {symbols[i]} from its current weight {w0[i]} "
                "into its weight bounds",
                field="constraints.max_turnover",
            )
        if not lo.sum() - _FEAS_TOL <= budget <= hi.sum() + _FEAS_TOL:
            raise InfeasibleConstraintError(
                f"with max_turnover {c.max_turnover} around the current weights the weights can sum to "
                f"[{lo.sum():.6g}, {hi.sum():.6g}] only, not the budget {budget}",
                field="constraints.max_turnover",
            )
    return lo, hi


def _annualised(
    spec: OptimizationSpec, mu: np.ndarray, cov: np.ndarray, w: np.ndarray
) -> tuple[float, float, float]:
    ppy = spec.periods_per_year
    ret = float(ppy * mu @ w)
    vol = float(math.sqrt(max(ppy * w @ cov @ w, 0.0)))
    sharpe = (ret - spec.risk_free_rate) / vol if vol > 0 else float("nan")
    return ret, vol, sharpe


def clean_weights(w: np.ndarray, lo: np.ndarray, hi: np.ndarray, budget: float) -> np.ndarray:
    """Clip solver noise to the bounds and rescale so the weights sum to ``budget`` exactly."""
    w = np.clip(np.asarray(w, dtype=float), lo, hi)
    total = w.sum()
    if not abs(total) > 0:
        raise PortfolioError("the optimiser returned weights summing to 0", field="constraints")
    return w * (budget / total)


def _explain_failure(spec: OptimizationSpec, returns: pd.DataFrame, err: Exception) -> PortfolioError:
    """Turn a solver failure into an error naming the input at fault."""
    if spec.objective is Objective.MAX_RETURN:
        assert spec.target_volatility is not None  # the spec checks it on construction
        floor = OptimizationSpec(
            objective=Objective.MIN_VARIANCE,
            covariance=spec.covariance,
            constraints=spec.constraints,
            ewma_half_life=spec.ewma_half_life,
            periods_per_year=spec.periods_per_year,
        )
        try:
            min_vol = optimize(returns, floor).volatility
        except PortfolioError:
            min_vol = None
        if min_vol is not None and min_vol > spec.target_volatility:
            return InfeasibleConstraintError(
                f"target_volatility {spec.target_volatility} is below the lowest volatility "
                f"{min_vol:.6g} reachable under the constraints",
                field="target_volatility",
            )
    if spec.objective is Objective.MAX_SHARPE:
        mu = returns.mean().to_numpy() * spec.periods_per_year
        if mu.max() <= spec.risk_free_rate:
            return InfeasibleConstraintError(
                f"no asset's expected return (max {mu.max():.6g}) exceeds the risk_free_rate {spec.risk_free_rate}",
                field="risk_free_rate",
            )
    return InfeasibleConstraintError(
        f"the {spec.objective.value} problem has no solution under the constraints: {err}",
        field="constraints",
    )


def check_estimation_window(returns: pd.DataFrame) -> None:
    """Reject a returns panel :func:`optimize` cannot estimate from (bad frame, too short, missing values)."""
    check_panel(returns)
    if len(returns) < MIN_OBSERVATIONS:
        raise PortfolioError(
            f"{len(returns)} return observations; at least {MIN_OBSERVATIONS} needed", field="returns"
        )
    if returns.isna().to_numpy().any():
        raise PortfolioError("returns contain missing values", field="returns")


def optimize(returns: pd.DataFrame, spec: OptimizationSpec | None = None) -> OptimizationResult:
    """Optimise a portfolio of the columns of ``returns``.

    Parameters
    ----------
    returns : DataFrame of shape (n_observations, n_assets)
        Simple returns, date index, one column per symbol, no missing values.
    spec : OptimizationSpec, optional
        Defaults to long-only minimum variance with the sample covariance.

    Returns
    -------
    OptimizationResult

    Raises
    ------
    InfeasibleConstraintError
        The constraints admit no portfolio; ``field`` names the constraint at fault.
    PortfolioError
        Bad returns or spec.
    """
    spec = spec or OptimizationSpec()
    check_estimation_window(returns)
    symbols = [str(s) for s in returns.columns]
    lo, hi = spec.constraints.bounds(symbols)
    check_feasible(spec, symbols)
    with zero_variance_named(spec):
        prior = build_prior(spec).fit(returns)
    dist = prior.return_distribution_
    model = build_estimator(spec, symbols)
    try:
        with zero_variance_named(spec):
            model.fit(returns)
    except OptimizationError as err:
        raise _explain_failure(spec, returns, err) from err
    status = getattr(model, "problem_", None)
    status = str(status.status) if status is not None else "closed_form"
    budget = spec.constraints.budget if spec.objective in _CONVEX else 1.0
    w = clean_weights(model.weights_, lo, hi, budget)
    ret, vol, sharpe = _annualised(spec, dist.mu, dist.covariance, w)
    w0 = spec.constraints.current(symbols)
    return OptimizationResult(
        weights=dict(zip(symbols, w.tolist(), strict=True)),
        expected_return=ret,
        volatility=vol,
        sharpe=sharpe,
        status=status,
        objective=spec.objective,
        covariance=spec.covariance,
        n_observations=len(returns),
        start=returns.index[0],
        end=returns.index[-1],
        turnover=float(np.abs(w - w0).sum()) if w0 is not None else None,
    )
