"""Domain errors raised by engines (no FastAPI here: engines stay free of HTTP)."""

from __future__ import annotations


class DomainError(ValueError):
    """Bad input found by an engine: the app maps it to 422.

    ``field`` names the offending input (e.g. ``"prices"``, ``"bars.high"``) and ``rows`` optional indices.
    """

    def __init__(self, message: str, *, field: str | None = None, rows: list[int] | None = None):
        super().__init__(message)
        self.field = field
        self.rows = rows
