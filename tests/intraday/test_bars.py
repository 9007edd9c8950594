"""Bars validation (errors naming the rows) and the calendar facts of :class:`BarData`."""

from __future__ import annotations

from datetime import time

import numpy as np
import pandas as pd
import pytest

from services.core.errors import DomainError
from services.intraday.engine import BarsError, Calendar, SessionSpec, prepare_bars, validate_bars

from .conftest import random_walk_bars, session_bars


def broken(kind: str) -> pd.DataFrame:
    df = random_walk_bars(50, seed=1)
    if kind == "duplicate":
        idx = df.index.tolist()
        idx[7] = idx[6]
        df.index = pd.DatetimeIndex(idx)
    elif kind == "unsorted":
        idx = df.index.tolist()
        idx[10], idx[11] = idx[11], idx[10]
        df.index = pd.DatetimeIndex(idx)
    elif kind == "negative":
        df.iloc[12, df.columns.get_loc("low")] = -1.0
    elif kind == "high_below_low":
        df.iloc[20, df.columns.get_loc("high")] = df["low"].iloc[20] - 0.5
    elif kind == "close_above_high":
        df.iloc[25, df.columns.get_loc("close")] = df["high"].iloc[25] * 1.01
    elif kind == "nan":
        df.iloc[30, df.columns.get_loc("close")] = np.nan
    return df


@pytest.mark.parametrize(
    "kind,row,field",
    [
        ("duplicate", 7, "datetime"),
        ("unsorted", 11, "datetime"),
        ("negative", 12, "bars"),
        ("high_below_low", 20, "high"),
        ("nan", 30, "bars"),
        ("close_above_high", 25, "bars"),
    ],
    ids=["duplicate", "unsorted", "negative", "high-below-low", "nan", "close-above-high"],
)
def test_bad_bars_name_the_rows(kind, row, field):
    with pytest.raises(BarsError) as err:
        validate_bars(broken(kind))
    assert isinstance(err.value, DomainError)
    assert err.value.rows[0] == row and err.value.field == field
    assert f"rows [{row}" in str(err.value)


def test_missing_columns_and_datetime_column():
    with pytest.raises(BarsError, match="missing column"):
        validate_bars(random_walk_bars(10).drop(columns="high"))
    df = random_walk_bars(10).reset_index()
    out = validate_bars(df)
    assert isinstance(out.index, pd.DatetimeIndex) and list(out.columns) == [
        "open",
        "high",
        "low",
        "close",
        "volume",
    ]


def test_continuous_calendar_facts(bars):
    assert bars.bar_minutes == 5.0
    assert bars.periods_per_year == 365 * 288
    # sessions are calendar days; the last bar of each day is flagged
    days = bars.index.normalize()
    assert (bars.session_last == np.r_[days[1:] != days[:-1], True]).all()


def test_session_calendar_keeps_exchange_hours_and_annualises_with_252_days():
    df = session_bars(5)
    extra = df.iloc[:3].copy()
    extra.index = extra.index - pd.Timedelta("2h")  # pre-market bars are dropped
    b = prepare_bars(pd.concat([extra, df]).sort_index(), Calendar.session)
    assert len(b) == 5 * 78
    assert b.periods_per_year == 252 * 78
    assert b.session_last.sum() == 5 and b.session_first.sum() == 5
    assert str(b.index.tz) == "America/New_York"


def test_session_calendar_converts_utc_stamps():
    df = session_bars(2)
    df.index = df.index.tz_convert("UTC")
    b = prepare_bars(df, Calendar.session, SessionSpec())
    assert b.index[0].hour == 9 and b.index[0].minute == 30


def test_daily_bars_annualise_per_day():
    df = random_walk_bars(100, freq="D")
    assert prepare_bars(df).periods_per_year == 365
    assert prepare_bars(df, "session").periods_per_year == 252


def test_seed_daily_file_through_core_reader(seed_dir):
    from services.core.readers import read_daily_csv

    b = prepare_bars(read_daily_csv(seed_dir / "simulated_daily_data.csv"))
    assert len(b) == 3289 and b.periods_per_year == 365


def test_session_calendar_resolves_dst_edges_of_naive_stamps():
    # 24/7 naive stamps (like SIM) read as New York wall time over both 2022 clock changes
    df = random_walk_bars(288 * 250, start="2022-03-12")
    b = prepare_bars(df, Calendar.session, SessionSpec(open=time(0, 0), close=time(23, 59)))
    assert b.index.is_monotonic_increasing and b.index.is_unique
    # 02:00–02:55 on 13 March never showed on the clock: those 12 bars are dropped
    march13 = b.index[b.index.normalize() == pd.Timestamp("2022-03-13", tz="America/New_York")]
    assert len(march13) == 288 - 12 and not (march13.hour == 2).any()
    # 01:00–01:55 on 6 November showed twice: read as the first time round (daylight time, UTC−4)
    repeated = b.index[(b.index.strftime("%Y-%m-%d %H") == "2022-11-06 01")]
    assert len(repeated) == 12 and {t.utcoffset() for t in repeated} == {pd.Timedelta(hours=-4)}
    assert len(b) == len(df) - 12


def test_session_calendar_keeps_a_daily_bar_on_a_skipped_midnight():
    # Havana skipped 00:00–00:59 on 13 March 2022: the daily bar keeps its date, at the first real instant
    df = random_walk_bars(10, freq="D", start="2022-03-10")
    b = prepare_bars(df, Calendar.session, SessionSpec(timezone="America/Havana"))
    assert len(b) == 10
    assert b.index[3] == pd.Timestamp("2022-03-13 01:00", tz="America/Havana")
    assert (b.session_dates() == df.index.normalize()).all()
