"""Result objects: the service's own response model (``raw``) plus pandas accessors and ``plot()``.

Every ``plot`` draws on ``ax`` (a new figure when None) with matplotlib and returns the Axes; it works
headless (Agg).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel

from services.client._frames import to_index
from services.garch import schemas as G
from services.intraday import schemas as I
from services.portfolio import schemas as P
from services.sentiment import schemas as S

if TYPE_CHECKING:
    from matplotlib.axes import Axes

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "BacktestResult",
    "ForecastResult",
    "FrontierResult",
    "IntradayBacktestResult",
    "Listing",
    "MetricsResult",
    "OptimizeResult",
    "Result",
    "RollingResult",
    "ScoreResult",
    "SelectResult",
    "SignalResult",
    "SignalsResult",
    "SweepResult",
    "SymbolDetailResult",
    "TrainResult",
    "WalkForwardResult",
]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(8, 4))
    return new


@dataclass(frozen=True)
class Result(Generic[M]):
    """A response: ``raw`` is the service's response model; ``job_id`` is set when it came from a job."""

    raw: M
    job_id: str | None = field(default=None, kw_only=True)
    #: (service, path, JSON body) of the request, to ask for its HTML report
    source: tuple[str, str, Any] | None = field(default=None, kw_only=True, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The response as JSON-able data (what the HTTP call returned)."""
        return self.raw.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class Listing:
    """A list answer (symbols, models, rankings, strategies): ``raw`` is the service's response model (or the
    list of models, for a route answering a JSON array); ``items`` the rows, ``key`` the field holding them."""

    raw: Any
    key: str = "data"

    @property
    def items(self) -> list[Any]:
        return list(self.raw if isinstance(self.raw, list) else getattr(self.raw, self.key))

    def to_frame(self) -> pd.DataFrame:
        """One row per item (its fields as the JSON has them)."""
        return pd.DataFrame(
            [i.model_dump(mode="json") if isinstance(i, BaseModel) else i for i in self.items]
        )

    def __len__(self) -> int:
        return len(self.items)


# --- sentiment -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreResult(Result[S.ScoreResponse]):
    """Scores of texts, in the order sent; ``index`` is the index of the texts Series sent, if any."""

    texts: tuple[str, ...] = ()
    index: pd.Index | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per text: ``text, label, score, negative, neutral, positive``."""
        rows = [
            {
                "text": t,
                "label": r.label.value if hasattr(r.label, "value") else str(r.label),
                "score": r.score,
                "negative": r.probabilities.negative,
                "neutral": r.probabilities.neutral,
                "positive": r.probabilities.positive,
            }
            for t, r in zip(self.texts or [""] * len(self.raw.results), self.raw.results, strict=True)
        ]
        frame = pd.DataFrame(rows)
        if self.index is not None:
            frame.index = self.index
        return frame

    def plot(self, ax: Axes | None = None) -> Axes:
        """A bar per text: its score in [-1, 1]."""
        ax = _axes(ax)
        frame = self.to_frame()
        colors = ["tab:green" if s > 0 else "tab:red" for s in frame["score"]]
        ax.bar(range(len(frame)), frame["score"], color=colors)
        names = frame.index if self.index is not None else frame["text"].str.slice(0, 24)
        ax.set_xticks(range(len(frame)), [str(n) for n in names], rotation=60, ha="right")
        ax.set_ylim(-1, 1)
        ax.set_ylabel("score")
        ax.set_title(f"sentiment ({self.raw.model.value} {self.raw.version})")
        return ax


@dataclass(frozen=True)
class TrainResult(Result[S.TrainResponse]):
    def metrics(self) -> pd.Series:
        return pd.Series(self.raw.metrics, name=self.raw.version)


@dataclass(frozen=True)
class SymbolDetailResult(Result[S.SymbolDetail]):
    def to_frame(self) -> pd.DataFrame:
        """Daily rows indexed by date."""
        frame = pd.DataFrame([r.model_dump() for r in self.raw.daily])
        if frame.empty:
            return frame
        return frame.set_index(to_index(frame.pop("date")))

    def monthly(self) -> pd.DataFrame:
        return pd.DataFrame([r.model_dump() for r in self.raw.monthly]).set_index("month")

    def plot(self, ax: Axes | None = None) -> Axes:
        ax = _axes(ax)
        ax.plot(self.to_frame()["sentiment"], label=self.raw.symbol)
        ax.set_ylabel("twitter sentiment")
        ax.legend()
        return ax


# --- garch -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ForecastResult(Result[G.ForecastResponse]):
    def to_frame(self, annualized: bool = True) -> pd.DataFrame:
        """Forecast volatility, one column per symbol, indexed by the step ``h`` = 1..horizon (annualised
        volatility by default; ``annualized=False``: the per-period variance)."""
        data = {
            r.symbol: (r.forecast_vol_annualized if annualized else r.forecast_variance)
            for r in self.raw.results
        }
        frame = pd.DataFrame({k: pd.Series(v, dtype="float64") for k, v in data.items()})
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="h")
        return frame

    def params(self) -> pd.DataFrame:
        """Fitted parameters, one row per symbol."""
        return pd.DataFrame({r.symbol: r.params for r in self.raw.results}).T.rename_axis("symbol")

    def summary(self) -> pd.DataFrame:
        """Per symbol: model, nobs, loglik, aic, bic, last and realised annualised volatility."""
        keys = ("nobs", "loglik", "aic", "bic", "last_conditional_vol_annualized", "realized_vol_annualized")
        rows = {
            r.symbol: {"model": r.model.label, **{k: getattr(r, k) for k in keys}} for r in self.raw.results
        }
        return pd.DataFrame(rows).T.rename_axis("symbol")

    def plot(self, ax: Axes | None = None) -> Axes:
        """One line per symbol: the annualised volatility forecast by step."""
        ax = _axes(ax)
        frame = self.to_frame()
        for col in frame:
            ax.plot(frame.index, frame[col], marker="o", ms=3, label=col)
        ax.set_xlabel("steps ahead")
        ax.set_ylabel("annualised volatility")
        ax.legend()
        return ax


@dataclass(frozen=True)
class RollingResult(Result[G.RollingResponse]):
    def to_frame(self, step: int = 1) -> pd.DataFrame:
        """Per forecast origin (date): ``variance``, ``vol_annualized``, ``realized_squared`` of step ``step``,
        and ``refit``/``converged``."""
        i = step - 1
        pts = self.raw.forecasts
        return pd.DataFrame(
            {
                "variance": [p.variance[i] for p in pts],
                "vol_annualized": [p.vol_annualized[i] for p in pts],
                "realized_squared": [p.realized_squared[i] for p in pts],
                "refit": [p.refit for p in pts],
                "converged": [p.converged for p in pts],
            },
            index=to_index(p.date for p in pts),
        ).astype({"variance": "float64", "vol_annualized": "float64", "realized_squared": "float64"})

    def evaluation(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"step": e.step, "n": e.n, "mse": e.mse, "qlike": e.qlike} for e in self.raw.evaluation]
        ).set_index("step")

    def plot(self, ax: Axes | None = None) -> Axes:
        """The one-step annualised volatility forecast and the realised |r| annualised."""
        ax = _axes(ax)
        frame = self.to_frame()
        ann = self.raw.annualization
        ax.plot(
            frame.index, np.sqrt(frame["realized_squared"] * ann), lw=0.6, alpha=0.5, label="realised |r|"
        )
        ax.plot(frame.index, frame["vol_annualized"], lw=1.2, label=f"forecast ({self.raw.model.label})")
        ax.set_ylabel("annualised volatility")
        ax.set_title(f"{self.raw.symbol}: rolling one-step forecasts")
        ax.legend()
        return ax


@dataclass(frozen=True)
class SelectResult(Result[G.SelectResponse]):
    def to_frame(self) -> pd.DataFrame:
        """Candidates by rank: model label, loglik, aic, bic, converged."""
        return pd.DataFrame(
            [
                {
                    "rank": c.rank,
                    "model": c.model.label,
                    "n_params": c.n_params,
                    "loglik": c.loglik,
                    "aic": c.aic,
                    "bic": c.bic,
                    "converged": c.converged,
                }
                for c in self.raw.ranking
            ]
        ).set_index("rank")

    def plot(self, ax: Axes | None = None) -> Axes:
        ax = _axes(ax)
        frame = self.to_frame()
        ax.barh(frame["model"], frame[self.raw.criterion])
        ax.set_xlabel(self.raw.criterion)
        return ax


@dataclass(frozen=True)
class SignalResult(Result[G.SignalResponse]):
    def to_frame(self) -> pd.DataFrame:
        """The signal history by date: signal, zscore, premium, forecast and realised variance."""
        frame = pd.DataFrame([s.model_dump() for s in self.raw.signals])
        return frame.set_index(to_index(frame.pop("date")))

    def plot(self, ax: Axes | None = None) -> Axes:
        ax = _axes(ax)
        frame = self.to_frame()
        ax.plot(frame.index, frame["zscore"], label="z-score")
        ax.step(frame.index, frame["signal"], where="post", label="signal")
        ax.legend()
        return ax


# --- portfolio -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizeResult(Result[P.OptimizeResponse]):
    @property
    def weights(self) -> pd.Series:
        """Weights indexed by symbol."""
        return pd.Series(self.raw.weights, name="weight", dtype="float64").rename_axis("symbol")

    def to_frame(self) -> pd.DataFrame:
        return self.weights.to_frame()

    def plot(self, ax: Axes | None = None) -> Axes:
        """A bar per symbol."""
        ax = _axes(ax)
        w = self.weights
        ax.bar(w.index, w.to_numpy())
        ax.set_ylabel("weight")
        ax.set_title(
            f"{self.raw.objective.value}: return {self.raw.expected_return:.1%}, vol {self.raw.volatility:.1%}"
        )
        return ax


@dataclass(frozen=True)
class FrontierResult(Result[P.FrontierResponse]):
    def to_frame(self) -> pd.DataFrame:
        """One row per point: target_return, expected_return, volatility, sharpe."""
        return pd.DataFrame(
            [
                {k: getattr(p, k) for k in ("target_return", "expected_return", "volatility", "sharpe")}
                for p in self.raw.data
            ]
        )

    def weights(self) -> pd.DataFrame:
        """Weights, one row per point, one column per symbol."""
        return pd.DataFrame([p.weights for p in self.raw.data]).fillna(0.0)

    def plot(self, ax: Axes | None = None) -> Axes:
        ax = _axes(ax)
        frame = self.to_frame()
        ax.plot(frame["volatility"], frame["expected_return"], marker="o", ms=3)
        ax.set_xlabel("volatility")
        ax.set_ylabel("expected return")
        ax.set_title("efficient frontier")
        return ax


@dataclass(frozen=True)
class MetricsResult(Result[P.MetricsResponse]):
    def to_series(self) -> pd.Series:
        """Scalar metrics (annualised return, volatility, Sharpe …, max drawdown value, VaR/CVaR)."""
        raw = self.raw
        out: dict[str, Any] = {
            k: getattr(raw, k)
            for k in (
                "annualised_return",
                "annualised_volatility",
                "sharpe",
                "sortino",
                "calmar",
                "skew",
                "excess_kurtosis",
            )
        }
        out["max_drawdown"] = raw.max_drawdown.value
        for t in raw.var_cvar:
            out[
                f"{t.measure}_{t.method.value if hasattr(t.method, 'value') else t.method}_{t.confidence:g}"
            ] = t.value
        if raw.benchmark is not None:
            for k in ("beta", "alpha", "tracking_error", "information_ratio", "correlation"):
                out[f"benchmark_{k}"] = getattr(raw.benchmark, k)
        return pd.Series(out, dtype="float64", name="value")

    def to_frame(self) -> pd.DataFrame:
        return self.to_series().to_frame()


@dataclass(frozen=True)
class BacktestResult(Result[P.BacktestResponse]):
    @property
    def equity(self) -> pd.Series:
        """Wealth net of costs, 1 at the first rebalance, by date (needs ``include=["equity"]``, the
        client's default; an empty series otherwise)."""
        e = self.raw.equity
        if e is None:
            return pd.Series(dtype="float64", name="equity")
        return pd.Series(e.values, index=to_index(e.dates), name="equity", dtype="float64")

    @property
    def benchmark_equity(self) -> pd.Series | None:
        b = self.raw.benchmark_equity
        return (
            None
            if b is None
            else pd.Series(b.values, index=to_index(b.dates), name="benchmark", dtype="float64")
        )

    def weights(self) -> pd.DataFrame:
        """Target weights at each rebalance date, one column per symbol (0 where not held); needs
        ``include=["rebalances"]`` (the client's default), else only the latest rebalance."""
        rows = self._rebalances()
        return pd.DataFrame([r.weights for r in rows], index=to_index(r.date for r in rows)).fillna(0.0)

    def trades(self) -> pd.DataFrame:
        """Per rebalance: turnover, cost, status (all with ``include=["rebalances"]``, else the latest)."""
        rows = self._rebalances()
        return pd.DataFrame(
            [{"turnover": r.turnover, "cost": r.cost, "status": r.status} for r in rows],
            index=to_index(r.date for r in rows),
        )

    def _rebalances(self) -> list[P.RebalanceOut]:
        if self.raw.rebalances is not None:
            return self.raw.rebalances
        return [self.raw.latest_rebalance] if self.raw.latest_rebalance is not None else []

    def metrics(self) -> pd.Series:
        return MetricsResult(
            P.MetricsResponse(**self.raw.metrics.model_dump(), source=self.raw.dataset)
        ).to_series()

    def to_frame(self) -> pd.DataFrame:
        frame = self.equity.to_frame()
        if (b := self.benchmark_equity) is not None:
            frame = frame.join(b, how="left")
        return frame

    def plot(self, ax: Axes | None = None) -> Axes:
        """The equity curve (and the benchmark's, when there is one)."""
        ax = _axes(ax)
        ax.plot(self.equity, label=self.raw.strategy.value)
        if (b := self.benchmark_equity) is not None:
            ax.plot(b, label="benchmark", alpha=0.7)
        ax.set_ylabel("wealth")
        ax.legend()
        return ax


# --- intraday --------------------------------------------------------------------------------------------
def _metrics_series(m: I.Metrics, name: str | None = None) -> pd.Series:
    return pd.Series(m.model_dump(), dtype="float64", name=name)


@dataclass(frozen=True)
class SignalsResult(Result[I.SignalsResponse]):
    def to_frame(self) -> pd.DataFrame:
        """By bar time: close, each indicator, target and position."""
        raw = self.raw
        frame = pd.DataFrame({"close": raw.close}, index=pd.DatetimeIndex(raw.datetime, name="datetime"))
        for k, v in raw.indicators.items():
            frame[k] = pd.Series(v, index=frame.index, dtype="float64")
        frame["target"] = raw.target
        frame["position"] = raw.position
        return frame

    def plot(self, ax: Axes | None = None) -> Axes:
        ax = _axes(ax)
        frame = self.to_frame()
        ax.plot(frame.index, frame["close"], lw=0.8, label="close")
        for k in self.raw.indicators:
            ax.plot(frame.index, frame[k], lw=0.8, label=k)
        ax.legend()
        return ax


@dataclass(frozen=True)
class IntradayBacktestResult(Result[I.BacktestResponse]):
    def metrics(self) -> pd.Series:
        return _metrics_series(self.raw.metrics, self.raw.strategy.value)

    @property
    def equity(self) -> pd.Series:
        """The equity curve (needs ``include=["equity"]``; an empty series otherwise)."""
        e = self.raw.equity
        if e is None:
            return pd.Series(dtype="float64", name="equity")
        return pd.Series(
            e.equity, index=pd.DatetimeIndex(e.datetime, name="datetime"), name="equity", dtype="float64"
        )

    def trades(self) -> pd.DataFrame:
        """One row per trade (needs ``include=["trades"]``), indexed by entry time."""
        rows = [t.model_dump(by_alias=True) for t in self.raw.trades or []]
        frame = pd.DataFrame(rows)
        return frame.set_index("entry_time") if not frame.empty else frame

    def to_frame(self) -> pd.DataFrame:
        return self.metrics().to_frame()

    def plot(self, ax: Axes | None = None) -> Axes:
        ax = _axes(ax)
        ax.plot(self.equity, lw=0.9, label=self.raw.strategy.value)
        ax.set_ylabel("equity")
        ax.legend()
        return ax


@dataclass(frozen=True)
class SweepResult(Result[I.SweepResponse]):
    def to_frame(self) -> pd.DataFrame:
        """One row per evaluated combination (best first): its parameters then its metrics."""
        return pd.DataFrame([{**r.params, **r.metrics.model_dump()} for r in self.raw.results])

    def plot(self, ax: Axes | None = None) -> Axes:
        """The ranking metric of each returned combination, best first."""
        ax = _axes(ax)
        frame = self.to_frame()
        names = self.raw.results[0].params if self.raw.results else {}
        params = [k for k in frame.columns if k in names and frame[k].nunique() > 1] or list(names)
        labels = [", ".join(f"{p}={row[p]}" for p in params) for _, row in frame.iterrows()]
        ax.bar(range(len(frame)), frame[self.raw.rank_by].astype("float64"))
        ax.set_xticks(range(len(frame)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel(self.raw.rank_by)
        ax.set_title(f"{self.raw.strategy.value}: top {len(frame)} of {self.raw.n_combinations}")
        return ax


@dataclass(frozen=True)
class WalkForwardResult(Result[I.WalkForwardResponse]):
    def folds(self) -> pd.DataFrame:
        """One row per fold: window bounds, chosen params, in- and out-of-sample Sharpe."""
        return pd.DataFrame(
            [
                {
                    "train_start": f.train_start,
                    "train_end": f.train_end,
                    "test_start": f.test_start,
                    "test_end": f.test_end,
                    **f.best_params,
                    "in_sample_sharpe": f.in_sample.sharpe,
                    "out_of_sample_sharpe": f.out_of_sample.sharpe,
                }
                for f in self.raw.folds
            ]
        )

    @property
    def equity(self) -> pd.Series:
        """The stitched out-of-sample curve (needs ``include=["equity"]``, the client's default)."""
        e = self.raw.equity
        if e is None:
            return pd.Series(dtype="float64", name="equity")
        return pd.Series(
            e.equity, index=pd.DatetimeIndex(e.datetime, name="datetime"), name="equity", dtype="float64"
        )

    def metrics(self) -> pd.Series:
        return _metrics_series(self.raw.metrics, "out_of_sample")

    def to_frame(self) -> pd.DataFrame:
        return self.folds()

    def plot(self, ax: Axes | None = None) -> Axes:
        ax = _axes(ax)
        ax.plot(self.equity, lw=0.9, label="out of sample")
        ax.legend()
        return ax
