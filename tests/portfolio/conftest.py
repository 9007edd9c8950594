"""Shared fixtures of the portfolio tests: skfolio's real S&P 500 prices (20 stocks, 1990–2022, offline)."""

from __future__ import annotations

import pandas as pd
import pytest
from skfolio.datasets import load_sp500_dataset

from services.portfolio.engine import prices_to_returns


@pytest.fixture(scope="session")
def sp500_prices() -> pd.DataFrame:
    """Daily adjusted closes of 20 S&P 500 stocks, 1990-01-02 to 2022-12-28."""
    return load_sp500_dataset()


@pytest.fixture(scope="session")
def sp500_returns(sp500_prices: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns of :func:`sp500_prices`."""
    return prices_to_returns(sp500_prices)


@pytest.fixture(scope="session")
def recent(sp500_returns: pd.DataFrame) -> pd.DataFrame:
    """The last five years (2018-2022) of the 20 stocks."""
    return sp500_returns.loc["2018":"2022"]
