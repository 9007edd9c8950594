"""Domain errors of the intraday engine (the app maps every :class:`DomainError` to a 422)."""

from __future__ import annotations

from services.core.exceptions import DomainError


class BarsError(DomainError):
    """The bars break an invariant (duplicate/unsorted stamps, non-positive prices, high < low…)."""


class StrategyError(DomainError):
    """Unknown strategy, unknown parameter, or a parameter value out of its range."""


__all__ = ["BarsError", "DomainError", "StrategyError"]
