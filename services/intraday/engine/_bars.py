"""Bars: validation and the array form every engine function consumes (:class:`BarData`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum

import numpy as np
import pandas as pd

from services.core.checks import validate_bars as check_bars

from ._errors import BarsError, DomainError

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = (*PRICE_COLUMNS, "volume")
DAYS_PER_YEAR = {"continuous": 365.0, "session": 252.0}


class Calendar(StrEnum):
    """Trading calendar: ``continuous`` = a 24/7 market (365 days a year), ``session`` = exchange hours."""

    continuous = "continuous"
    session = "session"


@dataclass(frozen=True)
class SessionSpec:
    """Exchange session for ``Calendar.session``: bars stamped in ``[open, close)`` local time are kept."""

    timezone: str = "America/New_York"
    open: time = time(9, 30)
    close: time = time(16, 0)

    def __post_init__(self) -> None:
        if self.close <= self.open:
            raise BarsError(f"session close {self.close} must be after open {self.open}", field="session")

    @property
    def minutes(self) -> float:
        return (self.close.hour * 60 + self.close.minute) - (self.open.hour * 60 + self.open.minute)


def validate_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Normalise OHLCV bars to a float frame indexed by time, then check them.

    The checks are core's :func:`services.core.checks.validate_bars`.

    Parameters
    ----------
    bars : DataFrame, shape (n_bars, >= 4)
        ``open, high, low, close`` and optionally ``volume`` (zeros if absent), indexed by a
        ``DatetimeIndex`` or with a ``datetime`` column.

    Returns
    -------
    DataFrame, shape (n_bars, 5)
        Columns ``open, high, low, close, volume`` (float64), same index.

    Raises
    ------
    BarsError
        Naming the field and the rows: missing columns, non-numeric or non-finite values, duplicate or
        unsorted timestamps, non-positive prices, ``high < low``, open/close outside ``[low, high]``,
        negative volume.
    """
    df = bars
    if not isinstance(df.index, pd.DatetimeIndex):
        if "datetime" not in df.columns:
            raise BarsError("bars need a DatetimeIndex or a `datetime` column", field="datetime")
        try:
            stamps = pd.DatetimeIndex(pd.to_datetime(df["datetime"]), name="datetime")
        except (ValueError, TypeError) as exc:
            raise BarsError(f"unreadable timestamps: {exc}", field="datetime") from None
        df = df.set_index(stamps)
    missing = [c for c in PRICE_COLUMNS if c not in df.columns]
    if missing:
        raise BarsError(f"missing column(s) {missing}; found {list(map(str, df.columns))}", field="columns")
    if len(df) < 2:
        raise BarsError(f"need at least 2 bars, got {len(df)}", field="bars")
    out = pd.DataFrame(index=df.index.rename("datetime"))
    for col in COLUMNS:
        out[col] = pd.to_numeric(df[col], errors="coerce") if col in df.columns else 0.0
    out = out.astype("float64")
    try:
        check_bars(out)
    except DomainError as exc:
        raise BarsError(str(exc), field=exc.field, rows=exc.rows) from None
    return out


@dataclass(frozen=True)
class BarData:
    """Validated bars as contiguous arrays plus the calendar facts the kernel needs.

    Attributes
    ----------
    index : DatetimeIndex, shape (n,)
        Bar stamps (local exchange time for ``Calendar.session``).
    open, high, low, close, volume : ndarray of float64, shape (n,)
    session : ndarray of int64, shape (n,)
        Session (local calendar day) number of each bar.
    session_last : ndarray of bool, shape (n,)
        True on the last bar of each session (and on the last bar overall).
    calendar : Calendar
    bar_minutes : float
        Median spacing of bars inside a session.
    periods_per_year : float
        Bars per year used to annualise: ``days_per_year * bars_per_day`` with 365 days for a 24/7 market
        and 252 days of ``session.minutes / bar_minutes`` bars for an exchange session.
    """

    index: pd.DatetimeIndex
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    session: np.ndarray
    session_last: np.ndarray
    calendar: Calendar
    bar_minutes: float
    periods_per_year: float

    def __len__(self) -> int:
        return len(self.close)

    @property
    def session_first(self) -> np.ndarray:
        """True on the first bar of each session, shape (n,)."""
        return np.r_[True, self.session[1:] != self.session[:-1]]

    def session_dates(self) -> pd.DatetimeIndex:
        """Return the local calendar date of each bar (midnight stamps, tz-naive), shape (n,)."""
        idx = self.index.tz_localize(None) if self.index.tz is not None else self.index
        return idx.normalize()

    def frame(self) -> pd.DataFrame:
        """Return the bars as an OHLCV frame."""
        return pd.DataFrame({c: getattr(self, c) for c in COLUMNS}, index=self.index.rename("datetime"))


def localize(local: pd.DatetimeIndex, timezone: str, *, daily: bool = False) -> pd.DatetimeIndex:
    """Turn exchange wall-clock stamps into aware stamps in ``timezone``, shape (n,).

    The DST edges are resolved on purpose (pandas would raise):

    * a wall time the clock shows twice (fall back, e.g. 01:30 in New York in November) is read as its
      first occurrence, daylight time: naive stamps hold each wall time once, so the series stays
      increasing;
    * a wall time the clock skips (spring forward, e.g. 02:30 in March) stamped no real intraday bar: it
      becomes ``NaT`` (the caller drops the bar); a daily bar there is only a date and moves to the
      first instant after the gap, on the same day.
    """
    return local.tz_localize(
        timezone,
        ambiguous=np.ones(len(local), dtype=bool),
        nonexistent="shift_forward" if daily else "NaT",
    )


def prepare_bars(
    bars: pd.DataFrame,
    calendar: Calendar | str = Calendar.continuous,
    session: SessionSpec | None = None,
) -> BarData:
    """Validate ``bars`` and build :class:`BarData`.

    For ``Calendar.session`` naive stamps are read as exchange-local time (see :func:`localize` for the
    DST edges; aware ones are converted to ``session.timezone``) and only intraday bars inside
    ``[session.open, session.close)`` are kept; daily or coarser bars are kept as they are. Sessions are
    local calendar days in both calendars.
    """
    calendar = Calendar(calendar)
    session = session or SessionSpec()
    df = validate_bars(bars)
    idx = df.index
    if calendar is Calendar.session and idx.tz is not None:
        idx = idx.tz_convert(session.timezone)
        df = df.set_axis(idx)
    local = idx.tz_localize(None) if idx.tz is not None else idx
    day = local.normalize()
    step = np.diff(local.asi8) / 60e9
    same_day = day[1:] == day[:-1]
    bar_minutes = float(np.median(step[same_day])) if same_day.any() else float(np.median(step))
    if calendar is Calendar.session and bar_minutes < 1440:
        minute = local.hour * 60 + local.minute
        keep = (minute >= session.open.hour * 60 + session.open.minute) & (
            minute < session.close.hour * 60 + session.close.minute
        )
        if not keep.any():
            raise BarsError(
                f"no bar lies inside the session {session.open}–{session.close} {session.timezone}",
                field="datetime",
            )
        df, local, day = df[keep], local[keep], day[keep]
    if calendar is Calendar.session and df.index.tz is None:
        aware = localize(local, session.timezone, daily=bar_minutes >= 1440)
        real = aware.notna()
        df, day = df[real].set_axis(aware[real]), day[real]
    if len(df) < 2:
        raise BarsError(f"need at least 2 bars, got {len(df)}", field="bars")
    bars_per_day = (session.minutes if calendar is Calendar.session else 1440.0) / bar_minutes
    if bar_minutes >= 1440:
        bars_per_day = 1440.0 / bar_minutes
    sess = (day.asi8 // (86_400 * 10**9)).astype(np.int64)
    last = np.r_[sess[1:] != sess[:-1], True]
    return BarData(
        index=df.index,
        open=np.ascontiguousarray(df["open"].to_numpy()),
        high=np.ascontiguousarray(df["high"].to_numpy()),
        low=np.ascontiguousarray(df["low"].to_numpy()),
        close=np.ascontiguousarray(df["close"].to_numpy()),
        volume=np.ascontiguousarray(df["volume"].to_numpy()),
        session=sess,
        session_last=last,
        calendar=calendar,
        bar_minutes=bar_minutes,
        periods_per_year=DAYS_PER_YEAR[calendar.value] * bars_per_day,
    )
