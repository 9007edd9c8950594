"""Per-symbol social-media analytics on the seed's ``sentiment_data.csv`` format.

Rows are daily: ``date, symbol, twitterPosts, twitterComments, twitterLikes, twitterImpressions,
twitterSentiment`` with blank cells allowed. Definitions:

- engagement ratio of a day = ``twitterComments / twitterLikes`` (undefined, so left out, when likes are 0);
- monthly aggregates: sums of posts, comments, likes and impressions; mean ``twitterSentiment`` over
  the days where it is present (blanks excluded and counted in ``sentiment_missing``); engagement
  ratio = the mean of the daily ratios (the statistic the ranking uses, before its filters);
- monthly ranking (the selection rule of the portfolio service's sentiment strategy): keep days with
  ``likes > min_likes`` and ``comments > min_comments`` (strict, as in the original strategy), take
  each symbol's mean daily engagement ratio within the calendar month, and rank descending
  (rank 1 = most engaged; ties broken by symbol name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.core.exceptions import DomainError

__all__ = [
    "SOCIAL_COLUMNS",
    "SymbolAggregates",
    "UnknownSymbolError",
    "monthly_rankings",
    "parse_month",
    "prepare_social",
    "symbol_aggregates",
    "symbols_summary",
]

#: The social data the engine reads, in the file's order (``services.core.readers`` reads that file; a test
#: holds the two lists equal).
SOCIAL_COLUMNS: tuple[str, ...] = (
    "date",
    "symbol",
    "twitterPosts",
    "twitterComments",
    "twitterLikes",
    "twitterImpressions",
    "twitterSentiment",
)
_COUNTS = {
    "twitterPosts": "posts",
    "twitterComments": "comments",
    "twitterLikes": "likes",
    "twitterImpressions": "impressions",
}
MONTH_PATTERN = r"^(\d{4})-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


class UnknownSymbolError(LookupError):
    """A symbol that is not in the data."""


def prepare_social(raw: pd.DataFrame) -> pd.DataFrame:
    """Validate and type a ``sentiment_data.csv`` frame: tidy columns, sorted by symbol and date.

    Returns columns ``date`` (datetime64), ``symbol`` (upper-case str), ``posts, comments, likes,
    impressions`` (float, NaN for blanks), ``sentiment`` (float, NaN for blanks), ``month`` (``YYYY-MM``).
    """
    missing = [c for c in SOCIAL_COLUMNS if c not in raw.columns]
    if missing:
        raise DomainError(f"social data lacks columns {missing}; expected {list(SOCIAL_COLUMNS)}")
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(raw["date"], errors="coerce"),
            "symbol": raw["symbol"].astype(str).str.strip().str.upper(),
        }
    )
    bad = df["date"].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DomainError(
            f"social data row {i}: date {raw['date'].iloc[i]!r} is not a date", field="date", rows=[i]
        )
    for src, dst in _COUNTS.items():
        df[dst] = pd.to_numeric(raw[src], errors="coerce").astype(float)
    df["sentiment"] = pd.to_numeric(raw["twitterSentiment"], errors="coerce").astype(float)
    df["month"] = df["date"].dt.strftime("%Y-%m")
    return df.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def symbols_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per symbol: ``symbol, rows, start, end`` (dates as ``YYYY-MM-DD``), sorted by symbol."""
    g = df.groupby("symbol", sort=True)["date"]
    out = pd.DataFrame(
        {"rows": g.size(), "start": g.min().dt.strftime("%Y-%m-%d"), "end": g.max().dt.strftime("%Y-%m-%d")}
    )
    return out.reset_index()


@dataclass(frozen=True, eq=False)
class SymbolAggregates:
    """Daily and monthly aggregates of one symbol (see the module docstring for definitions)."""

    symbol: str
    daily: pd.DataFrame
    monthly: pd.DataFrame


def _engagement(comments: pd.Series, likes: pd.Series) -> pd.Series:
    return (comments / likes.where(likes > 0)).astype(float)


def symbol_aggregates(
    df: pd.DataFrame, symbol: str, start: str | None = None, end: str | None = None
) -> SymbolAggregates:
    """Daily and monthly aggregates of ``symbol`` between ``start`` and ``end`` (inclusive ISO dates)."""
    key = symbol.strip().upper()
    rows = df[df["symbol"] == key]
    if rows.empty:
        raise UnknownSymbolError(f"unknown symbol {symbol!r}")
    lo, hi = (_parse_date(v, name) for v, name in ((start, "start"), (end, "end")))
    if lo is not None and hi is not None and lo > hi:
        raise DomainError(f"start {start!r} is after end {end!r}", field="start")
    if lo is not None:
        rows = rows[rows["date"] >= lo]
    if hi is not None:
        rows = rows[rows["date"] <= hi]
    counts = list(_COUNTS.values())
    # built-in (cythonised) groupby reductions: lambdas per group made this ~40 ms for a symbol's 400 days
    by_day = rows.groupby("date", sort=True)
    daily = by_day[counts].sum(min_count=1)
    daily["sentiment"] = by_day["sentiment"].mean()
    daily["sentiment_missing"] = (
        rows["sentiment"].isna().groupby(rows["date"], sort=True).sum().astype("int64")
    )
    daily["engagement_ratio"] = _engagement(daily["comments"], daily["likes"])
    daily = daily.reset_index()
    daily.insert(1, "month", daily["date"].dt.strftime("%Y-%m"))
    by_month = daily.groupby("month", sort=True)
    monthly = pd.concat(
        [
            by_month.size().rename("days"),
            by_month[counts].sum(min_count=1),
            by_month[["sentiment"]].mean(),
            by_month[["sentiment_missing"]].sum(),
            by_month[["engagement_ratio"]].mean(),
        ],
        axis=1,
    ).reset_index()
    daily["date"] = daily["date"].dt.strftime("%Y-%m-%d")
    return SymbolAggregates(key, daily, monthly)


def parse_month(month: str) -> str:
    """Validate a ``YYYY-MM`` month string (returned unchanged)."""
    if not isinstance(month, str) or not _MONTH.match(month.strip()):
        raise DomainError(f"month must be YYYY-MM (e.g. 2022-06), got {month!r}", field="month")
    return month.strip()


def monthly_rankings(
    df: pd.DataFrame,
    month: str | None = None,
    top: int | None = None,
    min_likes: float = 20,
    min_comments: float = 10,
) -> pd.DataFrame:
    """Symbols ranked by mean daily engagement ratio per month, after the likes/comments filters.

    Returns
    -------
    pandas.DataFrame
        ``month, rank, symbol, engagement_ratio, days, mean_comments, mean_likes`` sorted by month
        then rank; only the ``top`` best per month when given; only ``month`` when given (an empty
        frame if no symbol passes the filters that month).
    """
    if top is not None and (isinstance(top, bool) or int(top) != top or top < 1):
        raise DomainError(f"top must be a positive integer, got {top!r}", field="top")
    for name, value in (("min_likes", min_likes), ("min_comments", min_comments)):
        if not np.isfinite(value) or value < 0:
            raise DomainError(f"{name} must be a non-negative number, got {value!r}", field=name)
    rows = df
    if month is not None:
        rows = rows[rows["month"] == parse_month(month)]
    rows = rows[(rows["likes"] > min_likes) & (rows["comments"] > min_comments)]
    rows = rows.assign(ratio=_engagement(rows["comments"], rows["likes"]))
    agg = (
        rows.groupby(["month", "symbol"], sort=True)
        .agg(
            engagement_ratio=("ratio", "mean"),
            days=("ratio", "size"),
            mean_comments=("comments", "mean"),
            mean_likes=("likes", "mean"),
        )
        .reset_index()
    )
    agg = agg.sort_values(
        ["month", "engagement_ratio", "symbol"], ascending=[True, False, True], kind="stable"
    )
    agg.insert(1, "rank", agg.groupby("month").cumcount() + 1)
    if top is not None:
        agg = agg[agg["rank"] <= int(top)]
    return agg.reset_index(drop=True)


def _parse_date(value: str | None, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or pd.isna(stamp) or stamp.tzinfo is not None:  # NaT (""), or an offset the dates lack
        raise DomainError(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}", field=name)
    return stamp
