"""Model specification: the closed choices and their mapping onto `arch.arch_model` arguments."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.core.exceptions import DomainError

MAX_ORDER = 5
SCALE = 100.0
"""Returns are multiplied by this before they reach arch's optimiser (percent units); every output is
scaled back to the units of the returns as sent."""


class Vol(StrEnum):
    """Volatility process."""

    GARCH = "garch"
    GJR = "gjr"
    EGARCH = "egarch"


class Dist(StrEnum):
    """Distribution of the standardised residuals."""

    NORMAL = "normal"
    T = "t"
    SKEWT = "skewt"


class Mean(StrEnum):
    """Mean model."""

    CONSTANT = "constant"
    ZERO = "zero"
    AR1 = "ar1"


class ReturnKind(StrEnum):
    """How prices become returns."""

    LOG = "log"
    SIMPLE = "simple"


_MEAN_PARAMS = {Mean.CONSTANT: 1, Mean.ZERO: 0, Mean.AR1: 2}
_DIST_PARAMS = {Dist.NORMAL: 0, Dist.T: 1, Dist.SKEWT: 2}


@dataclass(frozen=True)
class ModelSpec:
    """A univariate volatility model: ``vol(p, o, q)`` with ``dist`` errors and a ``mean`` model.

    ``o`` is the number of asymmetric terms: 0 for GARCH, at least 1 for GJR-GARCH, any for EGARCH.
    """

    vol: Vol = Vol.GARCH
    p: int = 1
    o: int = 0
    q: int = 1
    dist: Dist = Dist.NORMAL
    mean: Mean = Mean.CONSTANT

    def __post_init__(self) -> None:
        for name, enum in (("vol", Vol), ("dist", Dist), ("mean", Mean)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, enum(value))
            except ValueError:
                choices = ", ".join(e.value for e in enum)
                raise DomainError(f"{value!r} is not one of {choices}", field=f"model.{name}") from None
        for name in ("p", "o", "q"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= MAX_ORDER:
                raise DomainError(
                    f"{name}={value!r} must be an integer in 0..{MAX_ORDER}", field=f"model.{name}"
                )
        if self.p < 1:
            raise DomainError(f"p={self.p} must be at least 1", field="model.p")
        if self.vol is Vol.GARCH and self.o:
            raise DomainError(f"o={self.o}: asymmetric terms need vol='gjr' (or 'egarch')", field="model.o")
        if self.vol is Vol.GJR and self.o < 1:
            raise DomainError("vol='gjr' needs o >= 1 asymmetric term", field="model.o")

    @property
    def n_params(self) -> int:
        """Number of estimated parameters (mean + volatility + distribution)."""
        return _MEAN_PARAMS[self.mean] + 1 + self.p + self.o + self.q + _DIST_PARAMS[self.dist]

    @property
    def min_obs(self) -> int:
        """Fewest observations this service fits the model on: 10 per parameter and at least 50."""
        return max(50, 10 * self.n_params)

    @property
    def label(self) -> str:
        """Readable name, e.g. ``GJR(1,1,1)-t, constant mean``."""
        orders = f"{self.p},{self.o},{self.q}" if self.vol is not Vol.GARCH else f"{self.p},{self.q}"
        return f"{self.vol.value.upper()}({orders})-{self.dist.value}, {self.mean.value} mean"

    def arch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`arch.arch_model` (without ``y``)."""
        mean = {Mean.CONSTANT: "Constant", Mean.ZERO: "Zero", Mean.AR1: "AR"}[self.mean]
        kwargs: dict[str, Any] = {
            "mean": mean,
            "vol": "EGARCH" if self.vol is Vol.EGARCH else "GARCH",
            "p": self.p,
            "o": self.o,
            "q": self.q,
            "dist": {Dist.NORMAL: "normal", Dist.T: "t", Dist.SKEWT: "skewt"}[self.dist],
            "rescale": False,
        }
        if self.mean is Mean.AR1:
            kwargs["lags"] = 1
        return kwargs
