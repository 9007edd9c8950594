"""The data catalog: named datasets loaded once per process and put into the Ray object store once.

| name | file (in ``RAYSVC_DATA_DIR``) | frame |
|---|---|---|
| ``sentiment`` | ``sentiment_data.csv`` | long: date, symbol, twitter* |
| ``daily`` | ``simulated_daily_data.csv`` | OHLCV of symbol ``SIM`` (24/7 calendar) |
| ``intraday`` | ``simulated_5min_data.csv`` | 5-minute OHLCV of symbol ``SIM`` (24/7) |
| ``prices`` | ``prices.csv`` | wide daily closes of 85 symbols (exchange days) |
| ``sp500`` | bundled with skfolio | wide daily prices of 20 real S&P 500 stocks, 1990–2022 |

Files the project generates (everything but ``sp500``) are simulated on first use when missing and
``RAYSVC_AUTO_GENERATE_DATA`` is on. Requests never read files: they use :meth:`Catalog.frame` (the
in-process copy) or :meth:`Catalog.ref` (the object-store copy for Ray tasks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from services.core import datagen, readers
from services.core.errors import ProblemError
from services.core.names import DAILY_DATASETS, SIM, Dataset
from services.core.settings import Settings

T = TypeVar("T")

log = logging.getLogger("services.catalog")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    load: Callable[[Path], pd.DataFrame]
    generated: bool = True  # simulated by datagen when missing


def _file_loader(name: str, reader: Callable[[Path], pd.DataFrame]) -> Callable[[Path], pd.DataFrame]:
    return lambda data_dir: reader(data_dir / datagen.FILES[name])


SPECS: dict[str, DatasetSpec] = {
    Dataset.SENTIMENT: DatasetSpec(
        Dataset.SENTIMENT,
        "daily social-media counts and sentiment per symbol",
        _file_loader(Dataset.SENTIMENT, readers.read_sentiment_csv),
    ),
    Dataset.DAILY: DatasetSpec(
        Dataset.DAILY,
        f"daily OHLCV of the 24/7 asset {SIM}",
        _file_loader(Dataset.DAILY, readers.read_daily_csv),
    ),
    Dataset.INTRADAY: DatasetSpec(
        Dataset.INTRADAY,
        f"5-minute OHLCV of the 24/7 asset {SIM}",
        _file_loader(Dataset.INTRADAY, readers.read_5min_csv),
    ),
    Dataset.PRICES: DatasetSpec(
        Dataset.PRICES,
        "daily closes of the sentiment data's 85 symbols (simulated)",
        _file_loader(Dataset.PRICES, readers.read_prices_csv),
    ),
    Dataset.SP500: DatasetSpec(
        Dataset.SP500,
        "real daily prices of 20 S&P 500 stocks, 1990-2022 (skfolio)",
        lambda _dir: readers.load_sp500(),
        generated=False,
    ),
}


@dataclass
class LoadedDataset:
    name: str
    frame: pd.DataFrame
    source: str
    loaded_at: float
    seconds: float


class Catalog:
    """Datasets of this process (thread-safe, each loaded at most once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loaded: dict[str, LoadedDataset] = {}
        self._refs: dict[str, Any] = {}
        self._derived: dict[Hashable, OrderedDict[Hashable, Any]] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.RLock()

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.data_dir).expanduser().resolve()

    def load(self, name: str) -> pd.DataFrame:
        """Load ``name`` if not loaded yet and return its frame."""
        if name not in SPECS:
            raise ProblemError.not_found("dataset", name, available=sorted(SPECS))
        with self._lock:
            if name in self._loaded:
                return self._loaded[name].frame
            spec = SPECS[name]
            start = time.perf_counter()
            try:
                if spec.generated and self.settings.auto_generate_data:
                    path = self.data_dir / datagen.FILES[name]
                    if not path.exists():
                        log.info("dataset %s missing at %s: generating it", name, path)
                        datagen.generate(self.data_dir, only=[name])
                frame = spec.load(self.data_dir)
            except Exception as exc:
                self._errors[name] = f"{type(exc).__name__}: {exc}"[:500]
                log.error("cannot load dataset %s: %s", name, self._errors[name])
                raise
            seconds = time.perf_counter() - start
            source = "skfolio" if not spec.generated else str(self.data_dir / datagen.FILES[name])
            self._loaded[name] = LoadedDataset(name, frame, source, time.time(), seconds)
            self._errors.pop(name, None)
            log.info("loaded dataset %s: %d rows in %.2fs from %s", name, len(frame), seconds, source)
            return frame

    def load_all(self, names: list[str] | tuple[str, ...]) -> dict[str, str]:
        """Load every dataset named; return name → error for those that failed."""
        for name in names:
            try:
                self.load(name)
            except Exception:  # noqa: BLE001 - reported via readiness
                pass
        return {n: self._errors[n] for n in names if n in self._errors}

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` is loaded in this process."""
        return name in self._loaded

    def frame(self, name: str) -> pd.DataFrame:
        """The in-process frame of ``name`` (loading it on first use). Do not mutate it."""
        loaded = self._loaded.get(name)
        return loaded.frame if loaded is not None else self.load(name)

    def ref(self, name: str) -> Any:
        """An object-store reference to the frame of ``name``, put once per Ray connection."""
        import ray

        with self._lock:
            if name not in self._refs:
                self._refs[name] = ray.put(self.frame(name))
            return self._refs[name]

    def put(self, key: str, make: Callable[[], Any]) -> Any:
        """Put a derived object (e.g. a returns panel) into the object store once, under ``key``."""
        import ray

        with self._lock:
            if key not in self._refs:
                self._refs[key] = ray.put(make())
            return self._refs[key]

    def derived(self, kind: str, key: Hashable, make: Callable[[], T], *, keep: int | None = None) -> T:
        """A value derived from the datasets (returns, bars, signals…), made once per process under
        ``(kind, key)``; with ``keep``, only the ``keep`` most recently used of that kind stay. ``make`` runs
        outside the lock (two threads may both make a value the first time; one is kept)."""
        hit = self.cached(kind, key)
        return hit if hit is not None else self.cache(kind, key, make(), keep=keep)

    def cached(self, kind: str, key: Hashable) -> Any:
        """The derived value under ``(kind, key)``, or None (see :meth:`derived`)."""
        with self._lock:
            cache = self._derived.get(kind)
            if cache is None or key not in cache:
                return None
            cache.move_to_end(key)
            return cache[key]

    def cache(self, kind: str, key: Hashable, value: T, *, keep: int | None = None) -> T:
        """Keep ``value`` under ``(kind, key)`` unless a value is there already; return the one kept."""
        with self._lock:
            cache = self._derived.setdefault(kind, OrderedDict())
            value = cache.setdefault(key, value)
            while keep is not None and len(cache) > keep:
                cache.popitem(last=False)
            return value

    def derived_count(self, kind: str) -> int:
        """How many values of ``kind`` this process holds."""
        with self._lock:
            return len(self._derived.get(kind, ()))

    def forget_refs(self) -> None:
        """Drop object-store refs (after a reconnect the old cluster's objects are gone)."""
        with self._lock:
            self._refs.clear()

    # --- views -------------------------------------------------------------------------------------
    def close_prices(self, dataset: str) -> pd.DataFrame:
        """Wide daily close prices (date × symbol) of a daily dataset (``prices``, ``daily``, ``sp500``)."""
        if dataset not in DAILY_DATASETS:
            raise ProblemError.invalid(
                "dataset", f"{dataset!r} is not a daily price dataset; use one of {list(DAILY_DATASETS)}"
            )
        frame = self.frame(dataset)
        if dataset == Dataset.DAILY:
            return frame[["close"]].rename(columns={"close": SIM})
        return frame

    def symbols(self, dataset: str) -> list[str]:
        """Symbols of a dataset."""
        if dataset == Dataset.SENTIMENT:
            return sorted(self.frame(Dataset.SENTIMENT)["symbol"].unique().tolist())
        if dataset == Dataset.INTRADAY:
            return [SIM]
        return list(self.close_prices(dataset).columns)

    def load_stats(self) -> list[tuple[str, int, float]]:
        """``(name, rows, load seconds)`` of every loaded dataset (for the metrics)."""
        return [(name, len(d.frame), d.seconds) for name, d in sorted(self._loaded.items())]

    def summary(self) -> list[dict[str, Any]]:
        """What is loaded (for ``/status``)."""
        out = []
        for name, d in sorted(self._loaded.items()):
            idx = (
                d.frame.index
                if isinstance(d.frame.index, pd.DatetimeIndex)
                else pd.DatetimeIndex(d.frame["date"])
            )
            out.append(
                {
                    "name": name,
                    "rows": len(d.frame),
                    "columns": int(d.frame.shape[1]),
                    "start": idx.min().isoformat() if len(idx) else None,
                    "end": idx.max().isoformat() if len(idx) else None,
                    "source": d.source,
                    "load_seconds": round(d.seconds, 3),
                    "in_object_store": name in self._refs,
                }
            )
        return out

    def errors(self) -> dict[str, str]:
        return dict(self._errors)
