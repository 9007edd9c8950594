"""GARCH engine: pure numpy/pandas/arch (no Ray, no HTTP).

spec (`ModelSpec`) → fit (`fit_model`, `run_rolling`, `score_model`) → frozen-dataclass results.
"""

from ._dates import origin_bounds, window_dates
from ._evaluate import Evaluation, MincerZarnowitz, evaluate, mincer_zarnowitz, mse, qlike
from ._fit import FitResult, fit_model, unscale, unscale_matrix
from ._optimize import WindowFit, fit_window, forecast_method, forecast_variance, window_model
from ._returns import (
    CALENDAR_DAYS,
    EXCHANGE_DAYS,
    Annualization,
    check_returns,
    check_series,
    detect_annualization,
    require_obs,
    to_returns,
)
from ._rolling import (
    DEFAULT_WINDOW,
    RollingPlan,
    RollingResult,
    concat_rolling,
    evaluate_rolling,
    plan_rolling,
    realized_squared,
    run_rolling,
)
from ._select import Candidate, Criterion, check_grid, default_grid, rank_candidates, score_model
from ._signal import THRESHOLD, RegimeSignal, regime_signal
from ._spec import SCALE, Dist, Mean, ModelSpec, ReturnKind, Vol

__all__ = [
    "CALENDAR_DAYS",
    "DEFAULT_WINDOW",
    "EXCHANGE_DAYS",
    "SCALE",
    "THRESHOLD",
    "Annualization",
    "Candidate",
    "Criterion",
    "Dist",
    "Evaluation",
    "FitResult",
    "Mean",
    "MincerZarnowitz",
    "ModelSpec",
    "RegimeSignal",
    "ReturnKind",
    "RollingPlan",
    "RollingResult",
    "Vol",
    "WindowFit",
    "check_grid",
    "check_returns",
    "check_series",
    "concat_rolling",
    "default_grid",
    "detect_annualization",
    "evaluate",
    "evaluate_rolling",
    "fit_model",
    "fit_window",
    "forecast_method",
    "forecast_variance",
    "mincer_zarnowitz",
    "mse",
    "origin_bounds",
    "plan_rolling",
    "qlike",
    "rank_candidates",
    "realized_squared",
    "regime_signal",
    "require_obs",
    "run_rolling",
    "score_model",
    "to_returns",
    "unscale",
    "unscale_matrix",
    "window_dates",
    "window_model",
]
