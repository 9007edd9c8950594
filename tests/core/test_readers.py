"""The readers on the seed's own files (quirks included; generated ones in their formats where the shared
folder is absent) and on the project's generated files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.core import datagen, readers
from services.core.errors import DomainError
from tests.utils.shared import require_shared


def test_sentiment_seed_file(seed_dir: Path) -> None:
    """The seed's file, or the project's generated one in its format: blank sentiment values stay blank."""
    path = seed_dir / "sentiment_data.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(readers.SENTIMENT_COLUMNS)
    blanks = sum(line.endswith(",") for line in lines[1:])
    assert blanks > 0  # the quirk is in the file
    df = readers.read_sentiment_csv(path)
    assert len(df) == len(lines) - 1
    assert df["symbol"].nunique() == 85
    assert str(df["date"].dtype) == "datetime64[ns]"
    assert df["twitterSentiment"].isna().sum() == blanks  # blanks stay blank (NaN), not 0
    assert 0 < df["twitterSentiment"].max() < 0.82
    assert all(df[c].dtype == np.float64 for c in readers.SENTIMENT_COLUMNS[2:])
    assert df["date"].min() == pd.Timestamp("2021-11-18") and df["date"].max() == pd.Timestamp("2023-01-04")


def test_sentiment_seed_file_counts() -> None:
    path = require_shared("data", "seed", "sentiment_data.csv", why="asserts its exact row and blank counts")
    df = readers.read_sentiment_csv(path)
    assert len(df) == 27_235
    assert df["twitterSentiment"].isna().sum() == 4_240
    assert df["twitterSentiment"].max() == pytest.approx(0.814, abs=5e-4)


def test_daily_seed_file(seed_dir: Path) -> None:
    """The seed's file, or the project's generated one in its format (m/d/YYYY, trailing empty column)."""
    path = seed_dir / "simulated_daily_data.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(readers.DAILY_COLUMNS) + "," and lines[1].startswith("9/17/2014,")
    df = readers.read_daily_csv(path)
    assert len(df) == 3_289
    assert list(df.columns) == [
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
    ]  # trailing column dropped
    assert df.index[0] == pd.Timestamp("2014-09-17") and df.index[-1] == pd.Timestamp("2023-09-18")
    assert (df.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()  # every calendar day (24/7)
    assert (df["high"] >= df["low"]).all()


def test_daily_seed_file_values() -> None:
    path = require_shared("data", "seed", "simulated_daily_data.csv", why="asserts its first close")
    df = readers.read_daily_csv(path)
    assert df.loc["2014-09-17", "close"] == pytest.approx(114.3335037)


def test_5min_reader_handles_the_seed_layout() -> None:
    text = (
        "datetime,open,low,high,close,volume,\n"
        "9/29/2021 0:00,100.0,99.5,100.8,100.2,1200,\n"
        "9/29/2021 0:05,100.2,100.0,100.9,100.7,900,\n"
        "9/29/2021 13:10,100.7,100.1,101.0,100.3,1000,\n"
    )
    df = readers.read_5min_csv(io.StringIO(text))
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]  # low/high swapped back
    assert df["high"].tolist() == [100.8, 100.9, 101.0]
    assert df.index[2] == pd.Timestamp("2021-09-29 13:10")


def test_5min_reader_names_duplicate_rows() -> None:
    text = "datetime,open,low,high,close,volume,\n1/2/2022 0:00,1,1,1,1,1,\n1/2/2022 0:00,1,1,1,1,1,\n"
    with pytest.raises(DomainError, match=r"rows \[1\]"):
        readers.read_5min_csv(io.StringIO(text))


def test_generated_files_read_back(data_dir: Path) -> None:
    daily = readers.read_daily_csv(data_dir / datagen.FILES["daily"])
    bars = readers.read_5min_csv(data_dir / datagen.FILES["intraday"])
    prices = readers.read_prices_csv(data_dir / datagen.FILES["prices"])
    sent = readers.read_sentiment_csv(data_dir / datagen.FILES["sentiment"])
    assert len(bars) % datagen.BARS_PER_DAY == 0 and bars.index[0] == pd.Timestamp("2021-09-29")
    assert prices.shape[1] == 85 and (prices.index.dayofweek < 5).all()
    assert set(sent["symbol"]) == set(prices.columns) == set(datagen.SYMBOLS)
    assert 0.10 < sent["twitterSentiment"].isna().mean() < 0.20
    # daily bars are the exact aggregation of the 5-minute bars (to the files' rounding)
    agg = bars.groupby(bars.index.floor("D")).agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    sub = daily.loc[agg.index]
    for col in ("open", "high", "low", "close"):
        np.testing.assert_allclose(agg[col], sub[col], rtol=0, atol=1e-5)
    np.testing.assert_allclose(agg["volume"], sub["volume"], rtol=1e-9)


def test_generation_is_deterministic() -> None:
    a = datagen.simulate_prices(end="2014-01-31")
    b = datagen.simulate_prices(end="2014-01-31")
    pd.testing.assert_frame_equal(a, b)
    _, daily = datagen.simulate_24x7(end="2015-09-16")
    vol = np.log(daily["close"]).diff().std() * np.sqrt(365)
    assert 0.35 < vol < 0.9  # documented ~60 % annualised


def test_sp500_is_real_data() -> None:
    prices = readers.load_sp500()
    assert prices.shape[1] == 20 and {"AAPL", "JPM", "XOM"} <= set(prices.columns)
    assert prices.index[0].year == 1990 and prices.index[-1].year == 2022
