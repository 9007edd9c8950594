"""Readers for the seed's three file formats, quirks included, and the real S&P 500 prices skfolio ships.

| file | quirks |
|---|---|
| ``sentiment_data.csv`` | ISO dates; blank ``twitterSentiment`` values (kept as NaN, counted by users) |
| ``simulated_daily_data.csv`` | ``m/d/YYYY`` dates; a trailing empty column; ``Adj Close`` |
| ``simulated_5min_data.csv`` | ``m/d/YYYY H:MM``; lower case, ``low`` before ``high``; trailing empty column |

Every reader returns a frame with a sorted, duplicate-free ``DatetimeIndex`` and float columns, and raises
:class:`~services.core.errors.DomainError` naming the rows when the file breaks that.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import pandas as pd

from services.core.checks import check_increasing
from services.core.exceptions import DomainError

SENTIMENT_COLUMNS = [
    "date",
    "symbol",
    "twitterPosts",
    "twitterComments",
    "twitterLikes",
    "twitterImpressions",
    "twitterSentiment",
]
DAILY_COLUMNS = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
FIVE_MIN_COLUMNS = ["datetime", "open", "low", "high", "close", "volume"]


def _drop_trailing_empty(df: pd.DataFrame) -> pd.DataFrame:
    """Drop the unnamed, all-empty columns a trailing comma leaves behind."""
    empty = [c for c in df.columns if str(c).startswith("Unnamed") and df[c].isna().all()]
    return df.drop(columns=empty)


def _require(df: pd.DataFrame, columns: list[str], path: object) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DomainError(f"{path}: missing column(s) {missing}; found {list(df.columns)}", field="columns")


def _check_index(index: pd.DatetimeIndex, path: str) -> None:
    try:
        check_increasing(index, index.name or "date")
    except DomainError as exc:
        raise DomainError(f"{path}: {exc}", field=exc.field, rows=exc.rows) from None


def read_sentiment_csv(path: Path | str) -> pd.DataFrame:
    """Read ``sentiment_data.csv``: one row per (date, symbol); blank sentiment stays NaN.

    Returns columns ``date`` (datetime64), ``symbol`` (str) and the five float ``twitter*`` columns,
    sorted by symbol then date.
    """
    df = _drop_trailing_empty(pd.read_csv(path))
    _require(df, SENTIMENT_COLUMNS, path)
    df = df[SENTIMENT_COLUMNS].copy()
    df["date"] = pd.to_datetime(df["date"], format="ISO8601")
    df["symbol"] = df["symbol"].astype(str)
    for col in SENTIMENT_COLUMNS[2:]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def read_daily_csv(path: Path | str) -> pd.DataFrame:
    """Read ``simulated_daily_data.csv`` (m/d/YYYY dates, trailing empty column).

    Returns a frame indexed by ``date`` with float ``open, high, low, close, adj_close, volume``.
    """
    df = _drop_trailing_empty(pd.read_csv(path))
    _require(df, DAILY_COLUMNS, path)
    df.index = pd.DatetimeIndex(pd.to_datetime(df["Date"], format="%m/%d/%Y"), name="date")
    out = df[DAILY_COLUMNS[1:]].astype("float64")
    out.columns = ["open", "high", "low", "close", "adj_close", "volume"]
    _check_index(out.index, str(path))
    return out


def read_5min_csv(path: Path | str | IO[bytes]) -> pd.DataFrame:
    """Read ``simulated_5min_data.csv`` (m/d/YYYY H:MM, lower-case, low before high, trailing column).

    Returns a frame indexed by ``datetime`` with float ``open, high, low, close, volume`` (the usual
    OHLCV order).
    """
    df = _drop_trailing_empty(pd.read_csv(path))
    _require(df, FIVE_MIN_COLUMNS, path)
    df.index = pd.DatetimeIndex(pd.to_datetime(df["datetime"], format="%m/%d/%Y %H:%M"), name="datetime")
    out = df[["open", "high", "low", "close", "volume"]].astype("float64")
    _check_index(out.index, str(path))
    return out


def read_prices_csv(path: Path | str) -> pd.DataFrame:
    """Read a wide daily price panel (``date`` then one column per symbol), as written by datagen."""
    df = _drop_trailing_empty(pd.read_csv(path))
    _require(df, ["date"], path)
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("date"), format="ISO8601"), name="date")
    out = df.astype("float64")
    _check_index(out.index, str(path))
    return out


def load_sp500() -> pd.DataFrame:
    """The real daily prices of 20 S&P 500 stocks (1990–2022) that skfolio ships (no download)."""
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().astype("float64")
    prices.index = pd.DatetimeIndex(prices.index, name="date")
    return prices


def read_bars_csv(data: bytes) -> pd.DataFrame:
    """OHLC(V) bars from CSV bytes (an upload).

    The seed's 5-minute format (``datetime,open,low,high,close,volume,`` with m/d/YYYY H:MM) or any CSV
    with a ``datetime``/``date``/``timestamp`` column and OHLC(V) columns.
    """
    head = data[:200].decode("utf-8", "replace").splitlines()[0].strip().rstrip(",").lower() if data else ""
    try:
        if head.split(",") == FIVE_MIN_COLUMNS and "/" in data[:400].decode("utf-8", "replace"):
            return read_5min_csv(io.BytesIO(data))
        df = pd.read_csv(io.BytesIO(data))
    except DomainError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is the caller's file
        raise DomainError(f"cannot read the CSV: {type(exc).__name__}: {exc}", field="file") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.drop(columns=[c for c in df.columns if c.startswith("unnamed") and df[c].isna().all()])
    stamp = next((c for c in ("datetime", "date", "timestamp", "time") if c in df.columns), None)
    if stamp is None:
        raise DomainError(f"no datetime column among {list(df.columns)}", field="file")
    try:
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop(stamp), format="mixed"), name="datetime")
    except (ValueError, TypeError) as exc:
        raise DomainError(f"unreadable timestamps: {exc}", field="file") from None
    return df
