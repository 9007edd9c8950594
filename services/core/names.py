"""Names every layer shares: the catalog's datasets and the simulated series' symbol (one definition each)."""

from __future__ import annotations

from enum import StrEnum


class Dataset(StrEnum):
    """A dataset of the catalog (:mod:`services.core.catalog`)."""

    SENTIMENT = "sentiment"
    DAILY = "daily"
    INTRADAY = "intraday"
    PRICES = "prices"
    SP500 = "sp500"


SIM = "SIM"
"""The symbol of the simulated 24/7 asset: the ``daily`` and ``intraday`` datasets hold only it."""

DAILY_DATASETS: tuple[str, ...] = (Dataset.PRICES.value, Dataset.DAILY.value, Dataset.SP500.value)
"""Datasets with daily close prices per symbol (see :meth:`Catalog.close_prices`)."""
SINGLE_SYMBOL_DATASETS: tuple[str, ...] = (Dataset.DAILY.value, Dataset.INTRADAY.value)
"""Datasets of the one simulated symbol :data:`SIM`."""
