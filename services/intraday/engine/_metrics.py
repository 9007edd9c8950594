"""Performance measures from the kernel's one-pass statistics (plain functions over rows of stats).

Definitions (``r`` = per-bar simple returns of the equity marked at each close, ``n`` bars, ``P`` bars per
year, equity starting at 1):

* ``total_return = E_n - 1``; ``annual_return = E_n ** (P / n) - 1`` (-1 once equity is gone)
* ``volatility = std(r, ddof=1) * sqrt(P)``; ``sharpe = mean(r) / std(r, ddof=1) * sqrt(P)`` (risk-free 0)
* ``sortino = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(P)``
* ``max_drawdown = min(E_t / max(1, E_1..E_t) - 1)`` (≤ 0; the starting equity counts as a peak)
* ``calmar = annual_return / |max_drawdown|``
* ``win_rate``, ``avg_trade`` (mean trade return) and ``profit_factor`` (gross profit / gross loss in
  equity units) over closed trades; ``n_trades`` counts closed trades plus a position still open at the
  end; ``exposure`` = share of bars closing with a position.

Undefined values (no variance, no closed trade, no loss) are NaN; the API turns them into ``null``.
"""

from __future__ import annotations

import numpy as np

from . import _kernel as k

METRICS = (
    "total_return",
    "annual_return",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
    "avg_trade",
    "exposure",
    "n_trades",
)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def metrics_table(stats: np.ndarray, periods_per_year: float) -> dict[str, np.ndarray]:
    """Measures for each row of kernel statistics.

    Parameters
    ----------
    stats : ndarray of float64, shape (n_runs, 13)
        Rows returned by :func:`~services.intraday.engine._kernel.simulate`.
    periods_per_year : float
        Bars per year (from :class:`~services.intraday.engine.BarData`).

    Returns
    -------
    dict of str to ndarray, each shape (n_runs,)
        Keyed by :data:`METRICS`.
    """
    s = np.atleast_2d(np.asarray(stats, dtype=np.float64))
    n = s[:, k.S_BARS]
    eq = s[:, k.S_EQUITY]
    root = np.sqrt(periods_per_year)
    std = np.sqrt(_ratio(s[:, k.S_M2], n - 1))
    down = np.sqrt(_ratio(s[:, k.S_DOWN2], n))
    mean = s[:, k.S_MEAN]
    annual = np.full(eq.shape, -1.0)
    alive = (eq > 0) & (n > 0)
    with np.errstate(over="ignore"):  # a huge return over a few bars annualises to inf, not an error
        annual[alive] = np.power(eq[alive], periods_per_year / n[alive]) - 1.0
    max_dd = s[:, k.S_MAXDD]
    closed = s[:, k.S_CLOSED]
    return {
        "total_return": eq - 1.0,
        "annual_return": annual,
        "volatility": std * root,
        "sharpe": _ratio(mean, std) * root,
        "sortino": _ratio(mean, down) * root,
        "max_drawdown": max_dd,
        "calmar": _ratio(annual, -max_dd),
        "win_rate": _ratio(s[:, k.S_WINS], closed),
        "profit_factor": _ratio(s[:, k.S_GROSS_PROFIT], s[:, k.S_GROSS_LOSS]),
        "avg_trade": _ratio(s[:, k.S_SUM_RET], closed),
        "exposure": _ratio(s[:, k.S_IN_MARKET], n),
        "n_trades": closed + s[:, k.S_OPEN],
    }


def metrics_dict(stats: np.ndarray, periods_per_year: float) -> dict[str, float]:
    """:func:`metrics_table` for one run, as plain floats."""
    return {name: float(v[0]) for name, v in metrics_table(stats, periods_per_year).items()}
