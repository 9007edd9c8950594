"""pandas in → the services' inline JSON shapes (services.core.shapes), and JSON out → pandas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["bars_in", "panel_in", "series_in", "stamps", "to_index"]


def _stamp(value: Any) -> str:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None and ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return ts.isoformat()


def stamps(index: Iterable[Any]) -> list[str]:
    """ISO 8601 strings for a date or datetime index (``YYYY-MM-DD`` for midnight without a zone)."""
    return [_stamp(v) for v in index]


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype="float64").ravel()]


def series_in(series: pd.Series, kind: Literal["prices", "returns"] = "prices") -> dict[str, Any]:
    """A date-indexed series → ``{"dates": [...], "prices"|"returns": [...]}`` (:class:`SeriesIn`)."""
    if isinstance(series, pd.DataFrame):
        if series.shape[1] != 1:
            raise ValueError(f"one series is expected, got a frame of {series.shape[1]} columns")
        series = series.iloc[:, 0]
    if kind not in ("prices", "returns"):
        raise ValueError(f"kind must be 'prices' or 'returns', not {kind!r}")
    return {"dates": stamps(series.index), kind: _floats(series.to_numpy())}


def panel_in(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows = dates, one column per symbol → ``{"dates", "columns", "values"}`` (:class:`PanelIn`)."""
    return {
        "dates": stamps(frame.index),
        "columns": [str(c) for c in frame.columns],
        "values": np.asarray(frame.to_numpy(), dtype="float64").tolist(),
    }


def bars_in(frame: pd.DataFrame) -> dict[str, Any]:
    """OHLCV bars indexed by time (or with a ``datetime`` column) → :class:`BarsIn`'s shape."""
    if "datetime" in frame.columns:
        frame = frame.set_index("datetime")
    lower = {str(c).lower(): c for c in frame.columns}
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in lower]
    if missing:
        raise ValueError(f"bars need columns open, high, low, close, volume; missing {missing}")
    out: dict[str, Any] = {"datetime": [pd.Timestamp(v).isoformat() for v in frame.index]}
    for c in ("open", "high", "low", "close", "volume"):
        out[c] = _floats(frame[lower[c]].to_numpy())
    return out


def to_index(values: Iterable[Any], name: str = "date") -> pd.DatetimeIndex:
    """ISO strings from a response → a DatetimeIndex (kept timezone-aware where they carry an offset)."""
    return pd.DatetimeIndex(pd.to_datetime(list(values)), name=name)


def weights_of(weights: Mapping[str, float] | pd.Series) -> dict[str, float]:
    """A Series or mapping of weights → ``{symbol: weight}``."""
    items = weights.items() if isinstance(weights, (pd.Series, Mapping)) else weights
    return {str(k): float(v) for k, v in items}
