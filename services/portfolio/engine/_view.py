"""Which part of a returns panel a request reads, cut the same way wherever it runs (service, Ray task)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class View:
    """Which part of a returns panel a request reads.

    ``symbols`` (None: all) between ``start`` and ``end``; with ``complete``, only the rows where every
    chosen symbol has a return (for estimation windows).
    """

    symbols: tuple[str, ...] | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    complete: bool = False

    def cut(self, returns: pd.DataFrame) -> pd.DataFrame:
        """Cut this view out of ``returns`` (a no-op for an already cut frame)."""
        out = returns if self.symbols is None else returns.loc[:, list(self.symbols)]
        out = out.loc[self.start : self.end]
        return out.dropna(how="any") if self.complete else out
