"""Social analytics on the seed's sentiment_data.csv against independent pandas computations."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.core.exceptions import DomainError
from services.core.readers import read_sentiment_csv
from services.sentiment.engine import (
    UnknownSymbolError,
    monthly_rankings,
    prepare_social,
    symbol_aggregates,
    symbols_summary,
)


@pytest.fixture(scope="module")
def raw(seed_social_path):
    return pd.read_csv(seed_social_path)


@pytest.fixture(scope="module")
def social(seed_social_path):
    return prepare_social(read_sentiment_csv(seed_social_path))


def _reference_rankings(raw: pd.DataFrame, min_likes: float, min_comments: float) -> pd.Series:
    """The original strategy's code path: filter days, mean ratio per calendar month and symbol."""
    df = raw.assign(date=pd.to_datetime(raw["date"])).set_index("date")
    df["engagement_ratio"] = df["twitterComments"] / df["twitterLikes"]
    df = df[(df["twitterLikes"] > min_likes) & (df["twitterComments"] > min_comments)]
    return df.groupby([pd.Grouper(freq="MS"), "symbol"])["engagement_ratio"].mean()


@pytest.mark.parametrize(
    ("min_likes", "min_comments"),
    [(20, 10), (0, 0), (500, 100)],
    ids=["default-filters", "no-filters", "strict-filters"],
)
def test_rankings_match_reference(raw, social, min_likes, min_comments):
    ref = _reference_rankings(raw, min_likes, min_comments)
    got = monthly_rankings(social, min_likes=min_likes, min_comments=min_comments)
    ref_idx = [(d.strftime("%Y-%m"), s) for d, s in ref.index]
    got = got.set_index(["month", "symbol"]).loc[ref_idx]
    assert len(got) == len(ref) > 0
    assert_allclose(got["engagement_ratio"].to_numpy(), ref.to_numpy(), rtol=1e-12)
    # rank 1 is the largest mean ratio of the month (pandas' own descending rank, no ties in this data)
    ref_rank = ref.groupby(level=0).rank(ascending=False, method="first").to_numpy()
    assert_allclose(got["rank"].to_numpy(), ref_rank, rtol=0)


def test_top_and_month(social, raw):
    top5 = monthly_rankings(social, month="2022-06", top=5)
    ref = _reference_rankings(raw, 20, 10).loc[pd.Timestamp("2022-06-01")].sort_values(ascending=False)
    assert top5["symbol"].tolist() == ref.index[:5].tolist()
    assert top5["rank"].tolist() == [1, 2, 3, 4, 5]
    assert set(top5["month"]) == {"2022-06"}
    assert monthly_rankings(social, month="1999-01").empty


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"month": "2022-13"}, "month"),
        ({"month": "June"}, "month"),
        ({"top": 0}, "top"),
        ({"min_likes": -1}, "min_likes"),
    ],
    ids=["month-13", "month-word", "top-zero", "negative-filter"],
)
def test_rankings_reject(social, kwargs, field):
    with pytest.raises(DomainError) as info:
        monthly_rankings(social, **kwargs)
    assert info.value.field == field


def test_symbols_summary(raw, social):
    got = symbols_summary(social).set_index("symbol")
    ref = raw.groupby("symbol")["date"].agg(["size", "min", "max"])
    assert got.index.tolist() == sorted(ref.index)
    assert got["rows"].tolist() == ref["size"].tolist()
    assert got["start"].tolist() == ref["min"].tolist() and got["end"].tolist() == ref["max"].tolist()
    assert got["rows"].sum() == len(raw)


def test_symbol_aggregates_match_reference(raw, social):
    agg = symbol_aggregates(social, "aapl", start="2022-01-15", end="2022-04-10")
    ref = raw[(raw["symbol"] == "AAPL") & (raw["date"] >= "2022-01-15") & (raw["date"] <= "2022-04-10")]
    ref = ref.assign(month=ref["date"].str[:7])
    assert agg.symbol == "AAPL"
    assert agg.daily["date"].tolist() == ref["date"].tolist()
    assert_allclose(agg.daily["engagement_ratio"], ref["twitterComments"] / ref["twitterLikes"], rtol=1e-12)
    m = ref.groupby("month")
    assert agg.monthly["month"].tolist() == sorted(ref["month"].unique())
    assert_allclose(agg.monthly["likes"], m["twitterLikes"].sum(), rtol=1e-12)
    assert_allclose(agg.monthly["impressions"], m["twitterImpressions"].sum(), rtol=1e-12)
    # blanks are excluded from the mean and counted
    assert_allclose(agg.monthly["sentiment"], m["twitterSentiment"].mean(), rtol=1e-12, equal_nan=True)
    assert (
        agg.monthly["sentiment_missing"].tolist()
        == m["twitterSentiment"].apply(lambda s: s.isna().sum()).tolist()
    )
    assert agg.monthly["sentiment_missing"].sum() > 0  # the seed has blanks in this window
    ratios = (ref["twitterComments"] / ref["twitterLikes"]).groupby(ref["month"]).mean()
    assert_allclose(agg.monthly["engagement_ratio"], ratios, rtol=1e-12)


def test_symbol_aggregates_errors(social):
    with pytest.raises(UnknownSymbolError):
        symbol_aggregates(social, "NOPE")
    with pytest.raises(DomainError) as info:
        symbol_aggregates(social, "AAPL", start="2022-05-01", end="2022-01-01")
    assert info.value.field == "start"
    with pytest.raises(DomainError) as info:
        symbol_aggregates(social, "AAPL", end="yesterday-ish")
    assert info.value.field == "end"


def test_prepare_social_rejects_missing_columns(raw):
    with pytest.raises(DomainError, match="twitterLikes"):
        prepare_social(raw.drop(columns=["twitterLikes"]))
    assert np.isnan(prepare_social(raw)["sentiment"]).sum() == raw["twitterSentiment"].isna().sum()
