"""Fixtures of the sentiment tests: the Twitter Financial News split and the seed social file — the shared
folder's, or generated ones in the same formats when it is absent (see :mod:`tests.utils.shared`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.utils.shared import TWITTER_FILES, has_shared, shared_path, write_twitter_split


@pytest.fixture(scope="session")
def twitter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared Twitter Financial News split, or a small generated one (``text,label``, three labels)."""
    if has_shared("data", "twitter_financial_news", files=TWITTER_FILES):
        return shared_path("data", "twitter_financial_news")
    return write_twitter_split(tmp_path_factory.mktemp("twitter_financial_news"))


@pytest.fixture(scope="session")
def twitter_valid(twitter_dir: Path) -> pd.DataFrame:
    return pd.read_csv(twitter_dir / "sent_valid.csv")


@pytest.fixture(scope="session")
def twitter_train(twitter_dir: Path) -> pd.DataFrame:
    return pd.read_csv(twitter_dir / "sent_train.csv")


@pytest.fixture(scope="session")
def seed_social_path(seed_dir: Path) -> Path:
    return seed_dir / "sentiment_data.csv"
