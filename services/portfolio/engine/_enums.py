"""Closed choices of the portfolio engine, as lower-case string enums (JSON and pydantic take them as is)."""

from __future__ import annotations

from enum import StrEnum


class Objective(StrEnum):
    """What the optimiser maximises or minimises."""

    MIN_VARIANCE = "min_variance"
    MAX_SHARPE = "max_sharpe"
    MAX_RETURN = "max_return"
    MIN_CVAR = "min_cvar"
    RISK_PARITY = "risk_parity"
    HRP = "hrp"
    HERC = "herc"
    INVERSE_VOLATILITY = "inverse_volatility"
    EQUAL_WEIGHT = "equal_weight"


class CovarianceMethod(StrEnum):
    """Covariance estimator fed to the optimiser (skfolio ``moments`` estimators)."""

    SAMPLE = "sample"
    LEDOIT_WOLF = "ledoit_wolf"
    OAS = "oas"
    EWMA = "ewma"
    DENOISED = "denoised"


class Rebalance(StrEnum):
    """Rebalancing calendar of a walk-forward backtest; also accepts the pandas letters ``M``, ``W``, ``Q``."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"

    @classmethod
    def _missing_(cls, value: object) -> Rebalance | None:
        letters = {
            "W": cls.WEEKLY,
            "M": cls.MONTHLY,
            "ME": cls.MONTHLY,
            "Q": cls.QUARTERLY,
            "QE": cls.QUARTERLY,
        }
        if isinstance(value, str):
            return letters.get(value.upper()) or next((m for m in cls if m.value == value.lower()), None)
        return None

    @property
    def pandas_freq(self) -> str:
        """Period alias whose last trading day is a rebalance date."""
        return {"weekly": "W-FRI", "monthly": "M", "quarterly": "Q"}[self.value]


class Strategy(StrEnum):
    """How a backtest picks its weights at each rebalance date."""

    OPTIMIZED = "optimized"
    EQUAL_WEIGHT = "equal_weight"
    SENTIMENT_TOP_N = "sentiment_top_n"


class VarMethod(StrEnum):
    """How a value at risk / conditional value at risk is estimated."""

    HISTORICAL = "historical"
    GAUSSIAN = "gaussian"
    CORNISH_FISHER = "cornish_fisher"
