"""Fixtures of the sentiment tests: the shared Twitter Financial News split and the seed social file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def twitter_dir(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "twitter_financial_news"
    if not (path / "sent_valid.csv").is_file():
        pytest.skip(f"Twitter Financial News split not found at {path}")
    return path


@pytest.fixture(scope="session")
def twitter_valid(twitter_dir: Path) -> pd.DataFrame:
    return pd.read_csv(twitter_dir / "sent_valid.csv")


@pytest.fixture(scope="session")
def twitter_train(twitter_dir: Path) -> pd.DataFrame:
    return pd.read_csv(twitter_dir / "sent_train.csv")


@pytest.fixture(scope="session")
def seed_social_path(seed_dir: Path) -> Path:
    path = seed_dir / "sentiment_data.csv"
    if not path.is_file():
        pytest.skip(f"seed sentiment_data.csv not found at {path}")
    return path
