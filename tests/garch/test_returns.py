"""Returns, validation and the annualisation factor read off the calendar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.core.errors import DomainError
from services.garch.engine import ReturnKind, detect_annualization, to_returns


def test_log_and_simple_returns():
    prices = pd.Series([100.0, 110.0, 99.0], index=pd.date_range("2024-01-01", periods=3))
    assert_allclose(to_returns(prices, ReturnKind.LOG), np.log([1.1, 0.9]), rtol=1e-12)
    assert_allclose(to_returns(prices, "simple"), [0.1, -0.1], rtol=1e-12)


def test_non_positive_price_is_named():
    with pytest.raises(DomainError, match="positive") as err:
        to_returns(pd.Series([1.0, 0.0, 2.0]), field="series.values")
    assert err.value.field == "series.values" and err.value.rows == [1]


@pytest.mark.parametrize(
    ("index", "periods"),
    [
        (pd.date_range("2020-01-01", periods=400, freq="D"), 365),
        (pd.bdate_range("2020-01-01", periods=400), 252),
        (pd.RangeIndex(400), 252),
    ],
    ids=["calendar-days", "business-days", "no-dates"],
)
def test_detect_annualization(index, periods):
    assert detect_annualization(index).periods == periods


def test_seed_daily_is_a_7_day_calendar(seed_returns):
    ann = detect_annualization(seed_returns.index)
    assert ann.periods == 365 and "7-day" in ann.source
    assert detect_annualization(seed_returns.index, 252).periods == 252


def test_bad_override():
    with pytest.raises(DomainError):
        detect_annualization(pd.RangeIndex(3), 0)
