"""The project's own datasets, simulated deterministically (fixed seeds) in the seed's three file formats.

Model (documented in ``data/README.md``):

* ``simulated_daily_data.csv`` and ``simulated_5min_data.csv`` — one 24/7 asset (symbol ``SIM``).
  Daily variance follows a GARCH(1,1) with Student-t(5) shocks (about 60 % annualised volatility);
  each day is 288 five-minute bars whose returns carry that day's variance, a U-shaped intraday
  seasonality and t(5) noise. Daily bars are the exact aggregation of the 5-minute bars (first open,
  max high, min low, last close, summed volume); the 5-minute file holds the last two years.
* ``prices.csv`` — daily closes of the 85 symbols of the sentiment data on exchange days (Mon–Fri):
  a one-factor market model with GARCH(1,1) market volatility, five sector factors, betas drawn
  around 1, and t(5) idiosyncratic noise.
* ``sentiment_data.csv`` — daily social-media counts per symbol with heavy tails (log-normal
  popularity per symbol, negative-binomial daily posts), comment/like ratios that differ by symbol,
  sentiment in [0, 0.82] and about 15 % blank sentiment values, as in the seed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from services.core.names import Dataset

log = logging.getLogger("services.datagen")

SEED = 20_241_118
BARS_PER_DAY = 288
SYMBOLS = (
    "A AAL AAP AAPL ABBV ABT AEP AES ALB AMD AMZN ATVI AVGO BA BIIB BKR BMY C CB CCL CMG CRM CVX D DAL DD "
    "DG DIS DLTR DVN EA EBAY EL ENPH ES F FCX GILD GOOG GOOGL GS HBAN HON ILMN INTC J JNJ JPM K KEY KO L "
    "LMT LUV MA MDT META MNST MO MPC MRNA MRO MSFT MU NCLH NFLX NKE NUE NVDA OXY PEP PFE PG PM PYPL RCL "
    "REGN SLB STZ T TMO TSLA TSN V XOM"
).split()
FILES: dict[str, str] = {
    Dataset.SENTIMENT: "sentiment_data.csv",
    Dataset.DAILY: "simulated_daily_data.csv",
    Dataset.INTRADAY: "simulated_5min_data.csv",
    Dataset.PRICES: "prices.csv",
}


def _garch_path(rng: np.random.Generator, n: int, omega: float, alpha: float, beta: float) -> np.ndarray:
    """Conditional standard deviations of a GARCH(1,1) driven by unit-variance t(5) shocks."""
    z = rng.standard_t(5, size=n) / np.sqrt(5 / 3)
    var = np.empty(n)
    var[0] = omega / (1 - alpha - beta)
    for t in range(1, n):
        var[t] = omega + alpha * var[t - 1] * z[t - 1] ** 2 + beta * var[t - 1]
    return np.sqrt(var)


def simulate_24x7(
    start: str = "2014-09-17", end: str = "2023-09-18", *, seed: int = SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate 5-minute bars of a 24/7 asset and their exact daily aggregation.

    Returns ``(bars_5min, daily)``; both indexed by time, columns ``open, high, low, close, volume``.
    """
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, end, freq="D")
    n_days = len(days)
    # daily variance (log-return units): 60 % annualised over 365 days ≈ 3.1 % a day
    daily_sd = _garch_path(rng, n_days, omega=2.0e-5, alpha=0.08, beta=0.90)
    season = 1.0 + 0.5 * np.cos(np.linspace(0, 2 * np.pi, BARS_PER_DAY, endpoint=False)) ** 2
    season /= np.sqrt(np.mean(season**2))
    shocks = rng.standard_t(5, size=(n_days, BARS_PER_DAY)) / np.sqrt(5 / 3)
    drift = 0.0004 / BARS_PER_DAY
    r = drift + shocks * season[None, :] * (daily_sd[:, None] / np.sqrt(BARS_PER_DAY))
    log_close = np.log(116.0) + np.cumsum(r.ravel())
    close = np.exp(log_close)
    open_ = np.empty_like(close)
    open_[0] = 116.0
    open_[1:] = close[:-1]
    wick = np.abs(rng.standard_normal((2, close.size))) * (
        daily_sd.repeat(BARS_PER_DAY) / np.sqrt(BARS_PER_DAY)
    )
    high = np.maximum(open_, close) * np.exp(0.3 * wick[0])
    low = np.minimum(open_, close) * np.exp(-0.3 * wick[1])
    volume = np.round(rng.lognormal(mean=9.0, sigma=0.6, size=close.size) * np.tile(season, n_days))
    index = pd.date_range(days[0], periods=close.size, freq="5min", name="datetime")
    bars = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
    grouped = bars.groupby(bars.index.floor("D"))
    daily = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    daily.index.name = "date"
    return bars, daily


def simulate_prices(
    start: str = "2013-01-02", end: str = "2023-09-29", *, seed: int = SEED + 1
) -> pd.DataFrame:
    """Daily closes of :data:`SYMBOLS` on exchange days from a sector factor model (see module doc)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, end, name="date")
    n, k = len(dates), len(SYMBOLS)
    market_sd = _garch_path(rng, n, omega=2.0e-6, alpha=0.09, beta=0.89)  # ≈ 16 % a year
    market = 0.0003 + market_sd * rng.standard_t(5, size=n) / np.sqrt(5 / 3)
    sectors = rng.standard_normal((n, 5)) * 0.006
    sector_of = rng.integers(0, 5, size=k)
    beta = rng.normal(1.0, 0.3, size=k).clip(0.3, 2.0)
    gamma = rng.uniform(0.5, 1.5, size=k)
    idio_sd = rng.uniform(0.008, 0.025, size=k)
    idio = rng.standard_t(5, size=(n, k)) / np.sqrt(5 / 3) * idio_sd
    alpha = rng.normal(0.0001, 0.0002, size=k)
    r = alpha + market[:, None] * beta + sectors[:, sector_of] * gamma + idio
    r[0] = 0.0
    start_px = rng.uniform(20, 300, size=k)
    prices = start_px * np.exp(np.cumsum(r, axis=0))
    return pd.DataFrame(prices.round(4), index=dates, columns=SYMBOLS)


def simulate_sentiment(
    start: str = "2021-11-18", end: str = "2023-01-04", *, seed: int = SEED + 2
) -> pd.DataFrame:
    """Daily social-media counts per symbol in the seed's ``sentiment_data.csv`` layout."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, end, freq="D")
    k = len(SYMBOLS)
    popularity = rng.lognormal(mean=3.5, sigma=1.4, size=k)  # mean posts a day, heavy-tailed
    comment_ratio = rng.lognormal(mean=-1.2, sigma=0.7, size=k)  # comments per like
    likes_per_post = rng.lognormal(mean=2.0, sigma=0.8, size=k)
    rows = []
    for i, sym in enumerate(SYMBOLS):
        n = len(dates)
        mean_posts = popularity[i] * rng.lognormal(0.0, 0.35, size=n)
        posts = rng.negative_binomial(2, 2 / (2 + mean_posts))
        likes = np.round(posts * likes_per_post[i] * rng.lognormal(0.0, 0.5, size=n))
        comments = np.round(likes * comment_ratio[i] * rng.lognormal(0.0, 0.4, size=n))
        impressions = np.round(posts * rng.lognormal(8.5, 0.7, size=n))
        sentiment = rng.beta(4, 5, size=n) * 0.82
        sentiment[rng.random(n) < 0.15] = np.nan
        rows.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "symbol": sym,
                    "twitterPosts": posts.astype(float),
                    "twitterComments": comments,
                    "twitterLikes": likes,
                    "twitterImpressions": impressions,
                    "twitterSentiment": sentiment.round(4),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True).sort_values(["date", "symbol"], kind="stable")
    return out.reset_index(drop=True)


# --- writers in the seed's formats --------------------------------------------------------------------
def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_daily_csv(daily: pd.DataFrame, path: Path) -> None:
    """``Date,Open,High,Low,Close,Adj Close,Volume,`` with m/d/YYYY dates and a trailing empty column."""
    out = pd.DataFrame(
        {
            "Date": [f"{d.month}/{d.day}/{d.year}" for d in daily.index],
            "Open": daily["open"].round(7),
            "High": daily["high"].round(7),
            "Low": daily["low"].round(7),
            "Close": daily["close"].round(7),
            "Adj Close": daily["close"].round(7),
            "Volume": daily["volume"].astype("int64"),
            "": "",
        }
    )
    _atomic_write(path, lambda p: out.to_csv(p, index=False))


def write_5min_csv(bars: pd.DataFrame, path: Path) -> None:
    """``datetime,open,low,high,close,volume,`` with m/d/YYYY H:MM and a trailing empty column."""
    idx = bars.index
    stamps = [
        f"{m}/{d}/{y} {h}:{mi:02d}"
        for m, d, y, h, mi in zip(idx.month, idx.day, idx.year, idx.hour, idx.minute, strict=True)
    ]
    out = pd.DataFrame(
        {
            "datetime": stamps,
            "open": bars["open"].round(6),
            "low": bars["low"].round(6),
            "high": bars["high"].round(6),
            "close": bars["close"].round(6),
            "volume": bars["volume"].astype("int64"),
            "": "",
        }
    )
    _atomic_write(path, lambda p: out.to_csv(p, index=False))


def generate(out_dir: Path | str, *, force: bool = False, only: list[str] | None = None) -> dict[str, Path]:
    """Write the generated datasets into ``out_dir`` (skipping files that exist unless ``force``).

    Returns dataset name → path for every dataset present afterwards.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(only or FILES)
    todo = {name for name in wanted if force or not (out / FILES[name]).exists()}
    if todo & {Dataset.DAILY, Dataset.INTRADAY}:
        log.info("simulating the 24/7 asset (5-minute and daily bars)")
        bars, daily = simulate_24x7()
        # the 5-minute file holds the last two years, like the seed's (2021-09-29 on)
        if Dataset.DAILY in todo:
            write_daily_csv(daily, out / FILES[Dataset.DAILY])
        if Dataset.INTRADAY in todo:
            write_5min_csv(bars.loc["2021-09-29":], out / FILES[Dataset.INTRADAY])
    if Dataset.PRICES in todo:
        log.info("simulating the multi-asset daily prices")
        prices = simulate_prices()
        _atomic_write(out / FILES[Dataset.PRICES], lambda p: prices.to_csv(p, date_format="%Y-%m-%d"))
    if Dataset.SENTIMENT in todo:
        log.info("simulating the social-media sentiment data")
        sent = simulate_sentiment()
        _atomic_write(
            out / FILES[Dataset.SENTIMENT], lambda p: sent.to_csv(p, index=False, date_format="%Y-%m-%d")
        )
    return {name: out / FILES[name] for name in wanted if (out / FILES[name]).exists()}
