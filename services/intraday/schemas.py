"""Request and response models of the intraday API (converted to engine objects at the router edge)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.core.shapes import BarsIn
from services.intraday.engine import METRICS, Calendar, StrategyName

RankBy = Literal[METRICS]  # type: ignore[valid-type]
Dataset = Literal["intraday", "daily", "prices", "sp500"]
ParamValue = int | float | str


class CostsIn(BaseModel):
    """Trading costs in basis points of traded value."""

    commission_bps: float = Field(default=1.0, ge=0, le=1000, description="commission per fill, bps")
    slippage_bps: float = Field(default=1.0, ge=0, le=1000, description="adverse price move per fill, bps")


class ExecutionIn(BaseModel):
    """Exit rules on top of the signal."""

    stop_loss: float | None = Field(
        default=None, gt=0, lt=1, description="fraction of the entry fill, e.g. 0.01"
    )
    take_profit: float | None = Field(default=None, gt=0, lt=1, description="fraction of the entry fill")
    flat_at_session_end: bool = Field(
        default=False, description="close positions at each session's last close"
    )


class DailySignalIn(BaseModel):
    """A daily direction series in {-1, 0, 1}: the value for date D applies to the bars of D."""

    dates: list[datetime] = Field(min_length=1)
    signal: list[Literal[-1, 0, 1]]

    @model_validator(mode="after")
    def _lengths(self) -> DailySignalIn:
        if len(self.dates) != len(self.signal):
            raise ValueError(f"signal has {len(self.signal)} values but dates has {len(self.dates)}")
        return self


class StrategyIn(BaseModel):
    """A strategy and its parameters (defaults where omitted; see `GET /v1/intraday/strategies`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "sma_cross", "params": {"fast": 10, "slow": 30}}]}
    )

    name: StrategyName
    params: dict[str, ParamValue] = Field(default_factory=dict)


class DataIn(BaseModel):
    """Which bars: a catalog symbol, or the caller's own bars inline; optionally a date range."""

    symbol: str | None = Field(default=None, description="`SIM` (5-minute bars) or a symbol of `dataset`")
    dataset: Dataset = Field(
        default="intraday", description="catalog dataset of `symbol`; daily sets give close-only bars"
    )
    bars: BarsIn | None = Field(default=None, description="inline OHLCV bars instead of a symbol")
    start: datetime | None = None
    end: datetime | None = None
    calendar: Calendar = Field(
        default=Calendar.continuous, description="`continuous` (24/7, 365 days) or `session`"
    )
    timezone: str = Field(default="America/New_York", description="exchange timezone for `calendar=session`")
    session_open: time = time(9, 30)
    session_close: time = time(16, 0)
    daily_signal: DailySignalIn | None = Field(
        default=None,
        description="garch_rsi_bb only: the daily signal; omitted → fetched from the GARCH service",
    )

    @model_validator(mode="after")
    def _source(self) -> DataIn:
        if self.symbol is not None and self.bars is not None:
            raise ValueError("send either `symbol` or `bars`, not both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        return self


class SignalsRequest(DataIn):
    strategy: StrategyIn


class BacktestRequest(DataIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbol": "SIM",
                    "strategy": {"name": "sma_cross", "params": {"fast": 12, "slow": 48}},
                    "costs": {"commission_bps": 1, "slippage_bps": 1},
                    "start": "2023-06-01",
                    "end": "2023-09-01",
                }
            ]
        }
    )

    strategy: StrategyIn
    costs: CostsIn = Field(default_factory=CostsIn)
    execution: ExecutionIn = Field(default_factory=ExecutionIn)
    equity_points: int | None = Field(
        default=None, ge=2, le=100_000, description="downsample the equity curve to about this many points"
    )
    include_trades: bool = True


class SweepRequest(DataIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbol": "SIM",
                    "strategy": "sma_cross",
                    "grid": {"fast": list(range(5, 51, 5)), "slow": list(range(20, 201, 20))},
                    "rank_by": "sharpe",
                    "top": 10,
                }
            ]
        }
    )

    strategy: StrategyName
    grid: dict[str, list[ParamValue]] = Field(description="parameter → values; all combinations are run")
    fixed: dict[str, ParamValue] = Field(
        default_factory=dict, description="parameters held fixed for every combination"
    )
    costs: CostsIn = Field(default_factory=CostsIn)
    execution: ExecutionIn = Field(default_factory=ExecutionIn)
    rank_by: RankBy = "sharpe"
    top: int = Field(default=10, ge=1, le=10_000)
    mode: Literal["auto", "sync", "job"] = Field(
        default="auto", description="`auto`: a job (202) when the grid is large, `job`: always a job"
    )


class WalkForwardRequest(SweepRequest):
    train_days: int = Field(ge=1, le=10_000, description="sessions in each in-sample window")
    test_days: int = Field(ge=1, le=10_000, description="sessions in each out-of-sample window")
    equity_points: int | None = Field(default=None, ge=2, le=100_000)


class Metrics(BaseModel):
    """Performance measures (null where undefined, e.g. no closed trade); see docs/intraday.md."""

    total_return: float | None
    annual_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    calmar: float | None
    win_rate: float | None
    profit_factor: float | None
    avg_trade: float | None
    exposure: float | None
    n_trades: int


class Trade(BaseModel):
    entry_time: datetime
    exit_time: datetime
    side: Literal["long", "short"]
    entry_price: float
    exit_price: float
    return_: float = Field(alias="return", serialization_alias="return")
    pnl: float
    bars_held: int
    exit_reason: Literal["signal", "stop_loss", "take_profit", "session_end", "open"]

    model_config = ConfigDict(populate_by_name=True)


class EquityCurve(BaseModel):
    datetime: list[datetime]
    equity: list[float]


class DataInfo(BaseModel):
    source: str
    n_bars: int
    start: datetime
    end: datetime
    calendar: Calendar
    bar_minutes: float
    periods_per_year: float


class SignalsResponse(BaseModel):
    strategy: StrategyName
    params: dict[str, Any]
    data: DataInfo
    datetime: list[datetime]
    close: list[float]
    indicators: dict[str, list[float | None]]
    target: list[int] = Field(description="desired position decided at each close")
    position: list[int] = Field(description="position held at each close (after execution rules)")


class BacktestResponse(BaseModel):
    strategy: StrategyName
    params: dict[str, Any]
    data: DataInfo
    costs: CostsIn
    execution: ExecutionIn
    metrics: Metrics
    trades: list[Trade]
    equity: EquityCurve


class SweepRow(BaseModel):
    params: dict[str, Any]
    metrics: Metrics


class SweepResponse(BaseModel):
    strategy: StrategyName
    data: DataInfo
    rank_by: str
    n_combinations: int
    n_evaluated: int
    n_skipped: int
    skipped_examples: list[str]
    n_chunks: int | None = None
    seconds: float
    results: list[SweepRow]


class FoldOut(BaseModel):
    train_start: datetime
    train_end: datetime
    test_start: datetime
    test_end: datetime
    best_params: dict[str, Any]
    in_sample: Metrics
    out_of_sample: Metrics


class WalkForwardResponse(BaseModel):
    strategy: StrategyName
    data: DataInfo
    rank_by: str
    n_combinations: int
    n_skipped: int
    folds: list[FoldOut]
    metrics: Metrics
    n_trades: int
    equity: EquityCurve
    seconds: float


class StrategyInfo(BaseModel):
    name: StrategyName
    description: str
    params: dict[str, Any]
    flat_at_session_end: bool


# --- seed-compatible shapes ----------------------------------------------------------------------------
class LegacyIntradaySignalsRequest(BaseModel):
    daily_signal: Literal[-1, 0, 1] = 1


class LegacyStrategiesRequest(BaseModel):
    strategies: list[str] = Field(min_length=1, max_length=20)
    symbols: list[str] | None = Field(default=None, max_length=200)


class LegacySignalRequest(BaseModel):
    symbols: list[str] = Field(min_length=1, max_length=200)
    strategy_type: str = "momentum"


class LegacyBacktestRequest(BaseModel):
    strategy_name: str
    symbol: str
    start_date: str | None = None
    end_date: str | None = None
