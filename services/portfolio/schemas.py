"""Request and response models of the portfolio service (pydantic). Rates and returns are decimals
(0.05 = 5 %); annual unless named per period; losses (VaR, CVaR, drawdown) are positive."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.core.fields import Bool, Day, Float, Int, Num, exactly_one_of, not_bools, num
from services.core.routing import ComputedOn
from services.core.shapes import PanelIn, SeriesIn, thin
from services.portfolio.engine import (
    BacktestResult,
    Constraints,
    CovarianceMethod,
    Frontier,
    Objective,
    OptimizationResult,
    OptimizationSpec,
    PerformanceMetrics,
    Rebalance,
    Strategy,
    VarMethod,
)

PriceDataset = Literal["sp500", "prices"]


def iso(x: Any) -> str | None:
    """A date (Timestamp, datetime64) as ``YYYY-MM-DD``; other labels (positions) as strings."""
    if isinstance(x, np.datetime64):
        return str(x.astype("M8[D]"))
    return None if x is None else str(x.date()) if hasattr(x, "date") else str(x)


# --- inputs ---------------------------------------------------------------------------------------
class ConstraintsIn(BaseModel):
    """Weight constraints. Long-only by default; a negative ``min_weight`` allows a bounded short."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"min_weight": 0.0, "max_weight": 0.25},
                {"max_weight": {"AAPL": 0.1}, "min_weight": -0.05},
            ]
        },
    )

    min_weight: float | dict[str, float] = Field(
        0.0, description="per-asset lower bound: one number, or {symbol: bound} (others 0)"
    )
    max_weight: float | dict[str, float] = Field(
        1.0, description="per-asset upper bound: one number, or {symbol: bound} (others 1)"
    )
    budget: Float = Field(1.0, gt=0, le=10, description="sum of the weights")
    max_turnover: Float | None = Field(
        None, ge=0, le=20, description="bound on each |w_i - current_i| (needs current_weights)"
    )
    current_weights: dict[str, Float] | None = Field(
        None, description="weights held now (symbols left out: 0)"
    )

    @field_validator("min_weight", "max_weight", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return not_bools(v)

    @field_validator("min_weight", "max_weight", "current_weights")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        values = v.values() if isinstance(v, dict) else [] if v is None else [v]
        if not all(math.isfinite(x) for x in values):
            raise ValueError("must be finite")
        return v

    def to_engine(self) -> Constraints:
        return Constraints(
            min_weight=self.min_weight,
            max_weight=self.max_weight,
            budget=self.budget,
            max_turnover=self.max_turnover,
            current_weights=self.current_weights,
        )


class _Universe(BaseModel):
    """Where the returns come from: symbols of a price dataset, or an inline returns panel."""

    symbols: list[str] | None = Field(None, min_length=2, max_length=500, description="symbols of `dataset`")
    returns: PanelIn | None = Field(
        None, description="your own daily simple returns instead (rows = dates, one column per asset)"
    )
    dataset: PriceDataset | None = Field(
        None,
        description="sp500 (real, 20 stocks 1990-2022) or prices (generated, the sentiment data's 85 symbols); "
        "default: sp500 when it holds every symbol, else prices",
    )
    start: Day | None = Field(
        None, description="first date of the estimation window (default: 3 years before `end`)"
    )
    end: Day | None = Field(
        None, description="last date of the estimation window (default: the data's last date)"
    )
    periods_per_year: Int = Field(
        252, ge=1, le=400, description="observations per year (252 exchange days; 365 for 24/7 data)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> _Universe:
        if (self.symbols is None) == (self.returns is None):
            raise ValueError("send exactly one of `symbols` or `returns`")
        if self.returns is not None and self.dataset is not None:
            raise ValueError("`dataset` applies to `symbols`, not to inline `returns`")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}")
        return self


class _OptimizationIn(BaseModel):
    objective: Objective = Field(Objective.MAX_SHARPE, description=", ".join(o.value for o in Objective))
    covariance: CovarianceMethod = Field(
        CovarianceMethod.SAMPLE, description=", ".join(c.value for c in CovarianceMethod)
    )
    constraints: ConstraintsIn = Field(default_factory=ConstraintsIn)
    risk_free_rate: Float = Field(0.0, ge=-0.5, le=0.5, description="annual")
    target_volatility: Float | None = Field(
        None, gt=0, le=5, description="annual volatility cap of max_return"
    )
    cvar_confidence: Float = Field(0.95, gt=0.5, lt=1, description="confidence level of min_cvar")
    ewma_half_life: Float = Field(
        40.0, gt=0, le=10_000, description="half-life in observations of the ewma covariance"
    )

    def to_spec(self, periods_per_year: int) -> OptimizationSpec:
        return OptimizationSpec(
            objective=self.objective,
            covariance=self.covariance,
            constraints=self.constraints.to_engine(),
            risk_free_rate=self.risk_free_rate,
            target_volatility=self.target_volatility,
            cvar_confidence=self.cvar_confidence,
            ewma_half_life=self.ewma_half_life,
            periods_per_year=periods_per_year,
        )


class OptimizeRequest(_Universe, _OptimizationIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbols": ["AAPL", "JNJ", "JPM", "KO", "MSFT", "XOM"],
                    "objective": "max_sharpe",
                    "covariance": "ledoit_wolf",
                    "constraints": {"max_weight": 0.4},
                    "start": "2018-01-01",
                    "end": "2022-12-28",
                },
                {"symbols": ["AAPL", "MSFT", "KO"], "objective": "max_return", "target_volatility": 0.2},
            ],
            **exactly_one_of("symbols", "returns"),
        }
    )


class FrontierRequest(_Universe, _OptimizationIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbols": ["AAPL", "JNJ", "JPM", "KO", "MSFT", "XOM"],
                    "n_points": 50,
                    "covariance": "ledoit_wolf",
                }
            ],
            **exactly_one_of("symbols", "returns"),
        }
    )

    n_points: Int = Field(
        50, ge=2, description="frontier portfolios (more than the interactive limit → 413 and the batch job)"
    )


class MetricsRequest(BaseModel):
    """Measures of a return series: yours (``returns``), or a fixed-weight portfolio of a dataset (``weights``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"weights": {"AAPL": 0.5, "KO": 0.3, "XOM": 0.2}, "benchmark": "JNJ", "start": "2020-01-01"},
                {
                    "returns": {
                        "dates": ["2024-01-02", "2024-01-03", "2024-01-04"],
                        "returns": [0.01, -0.02, 0.005],
                    }
                },
            ],
            **exactly_one_of("weights", "returns"),
        }
    )

    weights: dict[str, Float] | None = Field(
        None, description="constant weights of dataset symbols (rebalanced daily)"
    )
    returns: SeriesIn | list[float] | None = Field(
        None, description="a dated series (prices or simple returns) or a bare list of simple returns"
    )
    benchmark: str | SeriesIn | list[float] | None = Field(
        None, description="a dataset symbol, a dated series, or a list as long as `returns`"
    )
    dataset: PriceDataset | None = Field(
        None, description="for `weights` and a benchmark symbol; default as in /optimize"
    )
    start: Day | None = None
    end: Day | None = None
    risk_free_rate: Float = Field(0.0, ge=-0.5, le=0.5, description="annual")
    periods_per_year: Int | None = Field(
        None, ge=1, le=400, description="default: 252 (365 for a dated series with weekend dates)"
    )

    @field_validator("returns", "benchmark", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return not_bools(v)

    @model_validator(mode="after")
    def _one_source(self) -> MetricsRequest:
        if (self.weights is None) == (self.returns is None):
            raise ValueError("send exactly one of `weights` or `returns`")
        if isinstance(self.returns, list) and not all(math.isfinite(x) for x in self.returns):
            raise ValueError("returns must be finite")
        if self.weights is not None and (
            not self.weights or not all(math.isfinite(x) for x in self.weights.values())
        ):
            raise ValueError("weights must be a non-empty map of finite numbers")
        return self


class BacktestRequest(_OptimizationIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "strategy": "optimized",
                    "symbols": ["AAPL", "JNJ", "JPM", "KO", "MSFT", "PG", "XOM"],
                    "objective": "max_sharpe",
                    "rebalance": "M",
                    "lookback": 252,
                    "costs_bps": 10,
                    "start": "2015-01-01",
                    "end": "2022-12-28",
                    "benchmark": "equal_weight",
                },
                {
                    "strategy": "sentiment_top_n",
                    "top_n": 5,
                    "rebalance": "M",
                    "dataset": "prices",
                    "benchmark": "equal_weight",
                },
            ]
        }
    )

    strategy: Strategy = Field(Strategy.OPTIMIZED, description="optimized | equal_weight | sentiment_top_n")
    symbols: list[str] | None = Field(
        None, min_length=1, max_length=500, description="the universe (default: every symbol of the dataset)"
    )
    dataset: PriceDataset | None = Field(
        None,
        description="which prices price the backtest; "
        "default: sp500 when it holds every symbol (prices for sentiment_top_n)",
    )
    rebalance: Rebalance = Field(Rebalance.MONTHLY, description="M | W | Q (or monthly | weekly | quarterly)")
    lookback: Int = Field(252, ge=20, le=5000, description="trading days of history behind each decision")
    top_n: Int = Field(5, ge=1, le=100, description="sentiment_top_n: symbols held")
    optimize_picks: Bool = Field(
        False, description="sentiment_top_n: optimise among the picks instead of equal weights"
    )
    min_likes: Float = Field(
        20, ge=0, description="sentiment_top_n: ranking filter passed to the sentiment service"
    )
    min_comments: Float = Field(
        10, ge=0, description="sentiment_top_n: ranking filter passed to the sentiment service"
    )
    costs_bps: Float = Field(10.0, ge=0, le=1000, description="cost per unit of turnover, basis points")
    start: Day | None = Field(None, description="first date of the out-of-sample period")
    end: Day | None = Field(None, description="last date of the out-of-sample period")
    include: list[Literal["equity", "rebalances"]] = Field(
        default_factory=list,
        max_length=2,
        description="long series added to the summary (metrics, turnover, the latest rebalance): the equity "
        "curves (the strategy's and the benchmark's, downsampled by equity_points) and every rebalance's "
        "weights. Default none: about 2 KB, where both for 8 years of monthly rebalances are about 160 KB",
    )
    equity_points: Int | None = Field(
        None, ge=2, le=100_000, description="with include=equity: about this many points per curve (plotting)"
    )
    benchmark: str | None = Field(
        "equal_weight",
        description="a dataset symbol, `equal_weight` (of the universe, rebalanced daily) or null",
    )

    @field_validator("rebalance", mode="before")
    @classmethod
    def _rebalance(cls, v: Any) -> Any:
        return Rebalance(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _checks(self) -> BacktestRequest:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}")
        if self.constraints.max_turnover is not None:
            raise ValueError(
                "constraints.max_turnover is not available in backtests (each date is optimised independently)"
            )
        return self


# --- outputs --------------------------------------------------------------------------------------
class _Window(BaseModel):
    dataset: str = Field(description="`sp500`, `prices` or `inline`")
    start: str | None
    end: str | None
    n_observations: int
    periods_per_year: int


class OptimizeResponse(_Window):
    weights: dict[str, float] = Field(description="sum to the budget within 1e-9")
    expected_return: Num = Field(description="annual, from the window's sample mean")
    volatility: Num = Field(description="annual, from the chosen covariance")
    sharpe: Num
    status: str = Field(description="solver status (optimal, optimal_inaccurate) or closed_form")
    objective: Objective
    covariance: CovarianceMethod
    risk_free_rate: float
    turnover: Num = Field(None, description="sum |w - current| when current weights were given")

    @classmethod
    def of(cls, r: OptimizationResult, dataset: str, ppy: int, rf: float) -> OptimizeResponse:
        return cls(
            dataset=dataset,
            start=iso(r.start),
            end=iso(r.end),
            n_observations=r.n_observations,
            periods_per_year=ppy,
            weights=r.weights,
            expected_return=num(r.expected_return),
            volatility=num(r.volatility),
            sharpe=num(r.sharpe),
            status=r.status,
            objective=r.objective,
            covariance=r.covariance,
            risk_free_rate=rf,
            turnover=None if r.turnover is None else num(r.turnover),
        )


class FrontierPointOut(BaseModel):
    target_return: float
    expected_return: Num
    volatility: Num
    sharpe: Num
    weights: dict[str, float]


class FrontierResponse(_Window):
    data: list[FrontierPointOut] = Field(description="portfolios by increasing target return")
    count: int
    covariance: str
    computed_on: ComputedOn = Field(description="ray: blocks of points ran as Ray tasks")

    @classmethod
    def of(cls, f: Frontier, dataset: str, ppy: int, on_ray: bool) -> FrontierResponse:
        pts = [
            FrontierPointOut(
                target_return=p.target_return,
                expected_return=num(p.expected_return),
                volatility=num(p.volatility),
                sharpe=num(p.sharpe),
                weights=p.weights,
            )
            for p in f.points
        ]
        return cls(
            dataset=dataset,
            start=iso(f.start),
            end=iso(f.end),
            n_observations=f.n_observations,
            periods_per_year=ppy,
            data=pts,
            count=len(pts),
            covariance=f.covariance,
            computed_on="ray" if on_ray else "in_process",
        )


class DrawdownOut(BaseModel):
    value: float = Field(description="largest peak-to-trough fall, a positive fraction")
    peak: str | None = Field(description="date (or observation index) of the peak; null: the starting wealth")
    trough: str | None
    recovery: str | None = Field(description="first date back at the peak; null if never")


class TailRiskOut(BaseModel):
    measure: Literal["var", "cvar"]
    method: VarMethod
    confidence: float
    value: Num = Field(description="one-period loss, positive")


class BenchmarkOut(BaseModel):
    name: str
    beta: Num
    alpha: Num = Field(description="annual Jensen alpha")
    tracking_error: Num
    information_ratio: Num
    correlation: Num


class MetricsOut(BaseModel):
    n_observations: int
    periods_per_year: int
    start: str | None = None
    end: str | None = None
    annualised_return: Num = Field(description="compound annual growth rate")
    annualised_volatility: Num
    sharpe: Num
    sortino: Num
    max_drawdown: DrawdownOut
    calmar: Num
    skew: Num
    excess_kurtosis: Num
    var_cvar: list[TailRiskOut] = Field(
        description="historical, gaussian and cornish_fisher at 95 % and 99 %"
    )
    benchmark: BenchmarkOut | None = None

    @classmethod
    def of(
        cls,
        m: PerformanceMetrics,
        benchmark: str | None = None,
        start: Any = None,
        end: Any = None,
        **extra: Any,
    ):
        b = m.benchmark
        return cls(
            **extra,
            n_observations=m.n_observations,
            periods_per_year=m.periods_per_year,
            start=iso(start),
            end=iso(end),
            annualised_return=num(m.annualised_return),
            annualised_volatility=num(m.annualised_volatility),
            sharpe=num(m.sharpe),
            sortino=num(m.sortino),
            max_drawdown=DrawdownOut(
                value=m.max_drawdown.max_drawdown,
                peak=iso(m.max_drawdown.peak),
                trough=iso(m.max_drawdown.trough),
                recovery=iso(m.max_drawdown.recovery),
            ),
            calmar=num(m.calmar),
            skew=num(m.skew),
            excess_kurtosis=num(m.excess_kurtosis),
            var_cvar=[
                TailRiskOut(measure=t.measure, method=t.method, confidence=t.confidence, value=num(t.value))
                for t in m.risk
            ],
            benchmark=None
            if b is None
            else BenchmarkOut(
                name=benchmark or "benchmark",
                beta=num(b.beta),
                alpha=num(b.alpha),
                tracking_error=num(b.tracking_error),
                information_ratio=num(b.information_ratio),
                correlation=num(b.correlation),
            ),
        )


class MetricsResponse(MetricsOut):
    source: str = Field(description="`inline`, or the dataset the weights were priced on")


class RebalanceOut(BaseModel):
    date: str
    weights: dict[str, float]
    turnover: float = Field(description="sum |target - drifted| traded")
    cost: float = Field(description="fraction of wealth paid")
    status: str
    picks: list[str] = Field(
        default_factory=list, description="sentiment_top_n: symbols picked from the ranking"
    )
    skipped: list[str] = Field(
        default_factory=list, description="sentiment_top_n: ranked symbols without prices"
    )


class CurveOut(BaseModel):
    dates: list[str]
    values: list[float]


class BacktestResponse(BaseModel):
    strategy: Strategy
    dataset: str = Field(description="the dataset that priced the backtest")
    dataset_description: str
    rebalance: Rebalance
    lookback: int
    costs_bps: float
    universe: list[str]
    equity: CurveOut | None = Field(
        None, description='with include=["equity"]: net of costs, 1 at the first rebalance close'
    )
    benchmark_equity: CurveOut | None = Field(None, description='with include=["equity"] and a benchmark')
    rebalances: list[RebalanceOut] | None = Field(None, description='with include=["rebalances"]: every one')
    n_rebalances: int
    latest_rebalance: RebalanceOut | None = Field(description="the last rebalance: the portfolio held now")
    total_turnover: float
    metrics: MetricsOut
    computed_on: ComputedOn = Field(description="ray: blocks of rebalance dates ran as Ray tasks")
    sentiment_source: str | None = Field(None, description="sentiment_top_n: the rankings endpoint read")

    @classmethod
    def of(
        cls,
        r: BacktestResult,
        req: BacktestRequest,
        *,
        dataset: str,
        description: str,
        universe: list[str],
        benchmark: str | None,
        on_ray: bool,
        sentiment_source: str | None = None,
    ) -> BacktestResponse:
        def curve(s: Any) -> CurveOut:
            s = s.iloc[thin(len(s), req.equity_points)]
            return CurveOut(dates=[iso(d) or "" for d in s.index], values=[float(v) for v in s.to_numpy()])

        def rebalance(x: Any) -> RebalanceOut:
            return RebalanceOut(
                date=iso(x.date) or "",
                weights=x.weights,
                turnover=x.turnover,
                cost=x.cost,
                status=x.status,
                picks=list(x.picks),
                skipped=list(x.skipped),
            )

        equity = "equity" in req.include

        return cls(
            strategy=req.strategy,
            dataset=dataset,
            dataset_description=description,
            rebalance=req.rebalance,
            lookback=req.lookback,
            costs_bps=req.costs_bps,
            universe=universe,
            equity=curve(r.equity) if equity else None,
            benchmark_equity=None if r.benchmark_equity is None or not equity else curve(r.benchmark_equity),
            rebalances=[rebalance(x) for x in r.rebalances] if "rebalances" in req.include else None,
            n_rebalances=len(r.rebalances),
            latest_rebalance=rebalance(r.rebalances[-1]) if r.rebalances else None,
            total_turnover=r.total_turnover,
            metrics=MetricsOut.of(r.metrics, benchmark, r.returns.index[0], r.returns.index[-1]),
            computed_on="ray" if on_ray else "in_process",
            sentiment_source=sentiment_source,
        )


# --- seed-compatible ------------------------------------------------------------------------------
class LegacyMetricsRequest(BaseModel):
    """Legacy body: parallel lists of tickers and weights."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tickers": ["AAPL", "MSFT", "KO"], "weights": [0.4, 0.4, 0.2]}]}
    )

    tickers: list[str] = Field(min_length=1, max_length=500)
    weights: list[Float] = Field(min_length=1, max_length=500)
    risk_free_rate: Float = Field(0.02, ge=-0.5, le=0.5)
    dataset: PriceDataset | None = None

    @model_validator(mode="after")
    def _lengths(self) -> LegacyMetricsRequest:
        if len(self.tickers) != len(self.weights):
            raise ValueError(f"tickers has {len(self.tickers)} entries but weights has {len(self.weights)}")
        if len(set(self.tickers)) != len(self.tickers):
            raise ValueError("tickers contains duplicates")
        if not all(math.isfinite(w) for w in self.weights):
            raise ValueError("weights must be finite")
        return self


class LegacyOptimizeRequest(BaseModel):
    """Legacy body: assets and an optional target return (annual)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"assets": ["AAPL", "MSFT", "KO", "XOM"], "target_return": 0.12}]}
    )

    assets: list[str] = Field(min_length=2, max_length=500)
    target_return: Float | None = Field(
        None, ge=-1, le=5, description="annual; omitted: the maximum-Sharpe portfolio"
    )
    dataset: PriceDataset | None = None
