"""Domain errors of the portfolio engine (bad input, infeasible constraints); the app maps them to 422.

They subclass the platform's :class:`~services.core.errors.DomainError` (a :class:`ValueError` with a
``field``), so the app and the batch job map them to 422 problems naming the field, and Ray never retries
them (``retry_exceptions`` allow-lists transient errors only).
"""

from __future__ import annotations

from services.core.exceptions import DomainError


class PortfolioError(DomainError):
    """Invalid input to the portfolio engine.

    Parameters
    ----------
    message : str
        What is wrong, showing the bad value.
    field : str, optional
        The input at fault, e.g. ``"constraints.max_weight"`` or ``"returns"``.
    rows : list of int, optional
        The rows at fault, where the input has rows.
    """

    def __init__(self, message: str, *, field: str | None = None, rows: list[int] | None = None) -> None:
        super().__init__(message, field=field, rows=rows)


class InfeasibleConstraintError(PortfolioError):
    """No portfolio satisfies the constraints; ``field`` names the constraint that cannot be met."""


class UnsupportedConstraintError(PortfolioError):
    """A constraint was set that the chosen objective cannot honour (e.g. turnover with HRP)."""
