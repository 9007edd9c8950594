"""Shared fixtures for the GARCH tests: a documented simulated series and the seed daily file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from arch.univariate import GARCH, ConstantMean, StudentsT

SIM_PARAMS = [0.05, 0.05, 0.06, 0.08, 0.86, 7.0]
"""GJR(1,1,1)-t in percent units: mu, omega, alpha[1], gamma[1], beta[1], nu (unconditional vol ~1 %/day)."""


def simulate_returns(nobs: int = 1500, seed: int = 42) -> pd.Series:
    """Daily returns (natural units) simulated by arch from ``SIM_PARAMS`` on business days from 2015."""
    model = ConstantMean(None, volatility=GARCH(1, 1, 1), distribution=StudentsT(seed=seed))
    sim = model.simulate(SIM_PARAMS, nobs, burn=500)
    index = pd.bdate_range("2015-01-02", periods=nobs, name="date")
    return pd.Series(sim["data"].to_numpy() / 100.0, index=index, name="SIM")


@pytest.fixture(scope="session")
def sim_returns() -> pd.Series:
    """1,500 simulated exchange-day returns (see :func:`simulate_returns`)."""
    return simulate_returns()


@pytest.fixture(scope="session")
def seed_daily(seed_dir: Path) -> pd.DataFrame:
    """The seed's ``simulated_daily_data.csv`` read by core's reader (the generated one where the shared folder
    is absent: the same format and dates)."""
    from services.core.readers import read_daily_csv

    return read_daily_csv(seed_dir / "simulated_daily_data.csv")


@pytest.fixture(scope="session")
def seed_returns(seed_daily: pd.DataFrame) -> pd.Series:
    """Log returns of the seed daily close (a 24/7 series: 3,288 returns)."""
    from services.garch.engine import to_returns

    return to_returns(seed_daily["close"].rename("SEED"))
