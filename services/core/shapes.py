"""Request shapes for data sent inline, shared by every service (validated here, once).

* a series: ``{"dates": [...], "prices": [...]}`` or ``{"dates": [...], "returns": [...]}``
* a panel: ``{"dates": [...], "columns": [...], "values": [[...], ...]}`` (rows = dates)
* 5-minute bars: ``{"datetime": [...], "open": [...], "high": [...], "low": [...], "close": [...],
  "volume": [...]}``

NaN, inf and nulls are rejected by the field type (the error names the index, e.g. ``body.series.prices[3]``);
unequal lengths, unsorted or duplicate dates and impossible bars are rejected by validators naming the field
and the rows.
"""

from __future__ import annotations

from collections.abc import Sized
from datetime import datetime
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.core.checks import check_increasing, rows_where, validate_bars
from services.core.exceptions import DomainError


def thin(n: int, points: int | None) -> np.ndarray:
    """Positions of about ``points`` evenly spaced values of a series of ``n`` (all when ``points`` is None
    or ≥ n), always keeping the first and the last: the downsampling of long curves for plotting."""
    if points is None or n <= points:
        return np.arange(n)
    return np.unique(np.r_[np.linspace(0, n - 1, points).round().astype(int), n - 1])


def _date_text(v: object) -> object:
    # pydantic reads a number as Unix seconds; a JSON date here is an ISO 8601 string (or a datetime in Python)
    if isinstance(v, (bool, int, float)):
        raise ValueError("give an ISO 8601 date string, not a number")
    return v


# the JSON types the schema declares, no coercion: a boolean or a string is no number, a number no date
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Stamp = Annotated[datetime, BeforeValidator(_date_text)]


def _same_length(values: Sized, info: ValidationInfo, against: str) -> None:
    ref = info.data.get(against)
    if ref is not None and len(values) != len(ref):
        raise ValueError(f"has {len(values)} values but {against} has {len(ref)}")


class SeriesIn(BaseModel):
    """One price or return series sent inline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"dates": ["2024-01-02", "2024-01-03", "2024-01-04"], "prices": [100.0, 101.5, 100.7]}
            ]
        }
    )

    dates: list[Stamp] = Field(
        min_length=2,
        description="strictly increasing dates or timestamps",
        json_schema_extra={"uniqueItems": True},
    )
    prices: list[Finite] | None = Field(default=None, description="positive prices, one per date")
    returns: list[Finite] | None = Field(
        default=None, description="simple or log returns (decimals), one per date"
    )

    @field_validator("dates")
    @classmethod
    def _increasing(cls, v: list[datetime]) -> list[datetime]:
        try:
            check_increasing(v)
        except DomainError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("prices")
    @classmethod
    def _prices(cls, v: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if v is None:
            return v
        _same_length(v, info, "dates")
        bad = rows_where(np.asarray(v) <= 0)
        if bad:
            raise ValueError(f"prices must be positive; rows {bad}")
        return v

    @field_validator("returns")
    @classmethod
    def _returns(cls, v: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if v is not None:
            _same_length(v, info, "dates")
            bad = rows_where(np.asarray(v) <= -1)
            if bad:
                raise ValueError(f"a return of -100 % or less is impossible; rows {bad}")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> SeriesIn:
        if (self.prices is None) == (self.returns is None):
            raise ValueError("send exactly one of `prices` or `returns`")
        return self

    def to_series(self, name: str = "series") -> pd.Series:
        """The values as a float series indexed by date (prices or returns, whichever was sent)."""
        values = self.prices if self.prices is not None else self.returns
        return pd.Series(
            np.asarray(values, dtype="float64"), index=pd.DatetimeIndex(self.dates, name="date"), name=name
        )

    @property
    def kind(self) -> str:
        return "prices" if self.prices is not None else "returns"


class PanelIn(BaseModel):
    """A panel (rows = dates, one column per symbol) sent inline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dates": ["2024-01-02", "2024-01-03"],
                    "columns": ["AAA", "BBB"],
                    "values": [[0.01, -0.002], [0.003, 0.004]],
                }
            ]
        }
    )

    dates: list[Stamp] = Field(min_length=2, json_schema_extra={"uniqueItems": True})
    columns: list[str] = Field(min_length=1)
    values: list[list[Finite]] = Field(description="one row per date, one value per column")

    @field_validator("dates")
    @classmethod
    def _increasing(cls, v: list[datetime]) -> list[datetime]:
        return SeriesIn._increasing(v)

    @field_validator("columns")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        dup = [c for c in v if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
        if dup:
            raise ValueError(f"duplicate columns {sorted(set(dup))}")
        return v

    @field_validator("values")
    @classmethod
    def _shape(cls, v: list[list[float]], info: ValidationInfo) -> list[list[float]]:
        _same_length(v, info, "dates")
        cols = info.data.get("columns")
        if cols is not None:
            bad = [i for i, row in enumerate(v) if len(row) != len(cols)]
            if bad:
                raise ValueError(f"rows {bad[:10]} do not have {len(cols)} values (one per column)")
        return v

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            np.asarray(self.values, dtype="float64"),
            index=pd.DatetimeIndex(self.dates, name="date"),
            columns=self.columns,
        )


class BarsIn(BaseModel):
    """OHLCV bars sent inline (5-minute or any other fixed frequency)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "datetime": ["2024-01-02T09:30:00", "2024-01-02T09:35:00"],
                    "open": [100.0, 100.2],
                    "high": [100.4, 100.5],
                    "low": [99.9, 100.1],
                    "close": [100.2, 100.4],
                    "volume": [1200, 900],
                }
            ]
        }
    )

    datetime: list[Stamp] = Field(min_length=2)
    open: list[Finite]
    high: list[Finite]
    low: list[Finite]
    close: list[Finite]
    volume: list[Finite]

    @field_validator("open", "high", "low", "close", "volume")
    @classmethod
    def _length(cls, v: list[float], info: ValidationInfo) -> list[float]:
        _same_length(v, info, "datetime")
        return v

    @model_validator(mode="after")
    def _bars(self) -> BarsIn:
        try:
            validate_bars(self._frame())
        except DomainError as exc:
            raise ValueError(f"{exc.field}: {exc}") from None
        return self

    def _frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                k: np.asarray(getattr(self, k), dtype="float64")
                for k in ("open", "high", "low", "close", "volume")
            },
            index=pd.DatetimeIndex(self.datetime, name="datetime"),
        )

    def to_frame(self) -> pd.DataFrame:
        """Bars as a frame indexed by time with float ``open, high, low, close, volume``."""
        return self._frame()
