"""Request and response models of the intraday API (converted to engine objects at the router edge)."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services.core.fields import Bool
from services.core.routing import ComputedOn
from services.core.shapes import BarsIn
from services.intraday.engine import METRICS, Calendar, StrategyName

RankBy = Literal[METRICS]  # type: ignore[valid-type]
Dataset = Literal["intraday", "daily", "prices", "sp500"]


def _not_bool(v: Any) -> Any:
    # pydantic reads true/false as 1/0 for numbers and int literals; a boolean here is a caller's mistake
    if isinstance(v, bool):
        raise ValueError("a number is required, not a boolean")
    return v


def _iso_text(v: Any) -> Any:
    # pydantic would read a number as Unix seconds (a time of day: seconds after midnight, UTC)
    if isinstance(v, int | float):
        raise ValueError("give an ISO 8601 string, not a number")
    return v


def _after(end: datetime | None, start: datetime | None, name: str) -> datetime | None:
    """``end`` unless it is not after ``start`` (aware stamps compare in UTC with naive ones, as the cut
    does)."""

    def utc(t: datetime) -> pd.Timestamp:
        return pd.Timestamp(t).tz_convert(None) if t.tzinfo is not None else pd.Timestamp(t)

    if end is not None and start is not None and utc(end) <= utc(start):
        raise ValueError(f"must be after `{name}`")
    return end


# the JSON types the schema declares, no coercion (a boolean is no number, a number no flag or date)
NotBool = BeforeValidator(_not_bool)
Number = Annotated[float, Strict()]
Count = Annotated[int, Strict()]
ParamValue = Annotated[int | float | str, NotBool]
SignalValue = Annotated[Literal[-1, 0, 1], NotBool]
When = Annotated[datetime, BeforeValidator(_iso_text)]
WALL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"
WallTime = Annotated[
    time,
    BeforeValidator(_iso_text),
    # a local clock time: JSON Schema's `time` format requires an offset, which this field refuses
    WithJsonSchema({"type": "string", "pattern": WALL_TIME_PATTERN, "examples": ["09:30"]}),
]

LOCAL_STAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"
Stamp = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_STAMP_PATTERN,
            "description": (
                "ISO 8601 bar time: with its UTC offset when the bars carry a timezone (`calendar=session`, "
                "or aware input stamps), else the bars' own wall-clock time without one (e.g. SIM)"
            ),
        }
    ),
]
"""A bar timestamp in a response: not RFC 3339 `date-time`, since naive input bars have no offset to give."""
TZ_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")


class CostsIn(BaseModel):
    """Trading costs in basis points of traded value."""

    commission_bps: Number = Field(default=1.0, ge=0, le=1000, description="commission per fill, bps")
    slippage_bps: Number = Field(default=1.0, ge=0, le=1000, description="adverse price move per fill, bps")


class ExecutionIn(BaseModel):
    """Exit rules on top of the signal."""

    stop_loss: Number | None = Field(
        default=None, gt=0, lt=1, description="fraction of the entry fill, e.g. 0.01"
    )
    take_profit: Number | None = Field(default=None, gt=0, lt=1, description="fraction of the entry fill")
    flat_at_session_end: Bool = Field(
        default=False, description="close positions at each session's last close"
    )


class DailySignalIn(BaseModel):
    """A daily direction series in {-1, 0, 1}: the value for date D applies to the bars of D."""

    dates: list[When] = Field(min_length=1)
    signal: list[SignalValue]

    @field_validator("dates")
    @classmethod
    def _pandas_dates(cls, v: list[datetime]) -> list[datetime]:
        try:  # pandas' nanosecond range (1677–2262), all naive or all aware
            pd.DatetimeIndex(v)
        except (ValueError, TypeError) as exc:
            raise ValueError(str(exc)) from None
        return v

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
    start: When | None = None
    end: When | None = None
    calendar: Calendar = Field(
        default=Calendar.continuous, description="`continuous` (24/7, 365 days) or `session`"
    )
    timezone: str = Field(
        default="America/New_York",
        max_length=64,
        description="exchange timezone (an IANA name) for `calendar=session`",
    )
    session_open: WallTime = Field(
        default=time(9, 30), description="wall-clock time in `timezone`, no offset"
    )
    session_close: WallTime = Field(
        default=time(16, 0), description="wall-clock time in `timezone`, no offset"
    )
    daily_signal: DailySignalIn | None = Field(
        default=None,
        description="garch_rsi_bb only: the daily signal; omitted → fetched from the GARCH service",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        # a name only: never dateutil's file paths (``dateutil/...``), which pandas would open
        try:
            if not TZ_NAME.fullmatch(v) or v.lower().startswith("dateutil/"):
                raise ValueError
            pd.Timestamp(0).tz_localize(v)
        except (ValueError, KeyError, OSError, TypeError):
            raise ValueError(f"unknown timezone {v!r}; use an IANA name such as America/New_York") from None
        return v

    @field_validator("session_open", "session_close")
    @classmethod
    def _wall_clock(cls, v: time) -> time:
        # an offset cannot be honoured: the session follows `timezone` through DST, an offset would not
        if v.tzinfo is not None:
            raise ValueError(f"{v.isoformat()}: give the local time in `timezone` without an offset or Z")
        return v

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after(v, info.data.get("start"), "start")

    @field_validator("bars")
    @classmethod
    def _one_source(cls, v: BarsIn | None, info: ValidationInfo) -> BarsIn | None:
        if v is not None and info.data.get("symbol") is not None:
            raise ValueError("send either `symbol` or `bars`, not both")
        return v


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
    include: list[Literal["equity", "trades"]] = Field(
        default_factory=list,
        max_length=2,
        description="long series added to the summary: the equity curve (downsampled by equity_points) and "
        "the trades. Default none: about 1 KB, where both on the full 5-minute SIM series are about 10 MB",
    )
    equity_points: Count | None = Field(
        default=None,
        ge=2,
        le=100_000,
        description="with include=equity: downsample the curve to about this many points (for plotting)",
    )

    include_trades: Any = Field(
        None,
        deprecated=True,
        description='removed: the summary is the default; include: ["trades"] adds them',
    )

    @field_validator("include_trades")
    @classmethod
    def _include_trades_removed(cls, v: Any) -> None:
        if v is not None:
            raise ValueError(
                'include_trades was replaced by include: ["trades"] (the default is the summary)'
            )
        return None


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
    top: Count = Field(default=10, ge=1, le=10_000)
    mode: Literal["auto", "sync", "job"] = Field(
        default="auto", description="`auto`: a job (202) when the grid is large, `job`: always a job"
    )


class WalkForwardRequest(SweepRequest):
    model_config = ConfigDict(
        json_schema_extra={  # its own: the sweep's example lacks the window lengths (a 422 in the docs)
            "examples": [
                {
                    "symbol": "SIM",
                    "start": "2023-06-01",
                    "end": "2023-08-31",
                    "strategy": "sma_cross",
                    "grid": {"fast": [5, 10, 20], "slow": [40, 80, 160]},
                    "train_days": 20,
                    "test_days": 10,
                    "include": ["equity"],
                    "equity_points": 500,
                }
            ]
        }
    )

    train_days: Count = Field(ge=1, le=10_000, description="sessions in each in-sample window")
    test_days: Count = Field(ge=1, le=10_000, description="sessions in each out-of-sample window")
    include: list[Literal["equity"]] = Field(
        default_factory=list,
        max_length=1,
        description="long series added to the summary (each fold's parameters and metrics, the stitched "
        "metrics): the stitched out-of-sample equity curve, downsampled by equity_points. Default none",
    )
    equity_points: Count | None = Field(
        default=None, ge=2, le=100_000, description="with include=equity: about this many points (plotting)"
    )


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
    entry_time: Stamp
    exit_time: Stamp
    side: Literal["long", "short"]
    entry_price: float
    exit_price: float
    return_: float = Field(alias="return", serialization_alias="return")
    pnl: float
    bars_held: int
    exit_reason: Literal["signal", "stop_loss", "take_profit", "session_end", "open"]

    model_config = ConfigDict(populate_by_name=True)


class EquityCurve(BaseModel):
    datetime: list[Stamp]
    equity: list[float]


class DataInfo(BaseModel):
    source: str
    n_bars: int
    start: Stamp
    end: Stamp
    calendar: Calendar
    bar_minutes: float
    periods_per_year: float


class SignalsResponse(BaseModel):
    strategy: StrategyName
    params: dict[str, Any]
    data: DataInfo
    datetime: list[Stamp]
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
    trades: list[Trade] | None = Field(None, description='with include=["trades"]')
    equity: EquityCurve | None = Field(None, description='with include=["equity"]')


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
    computed_on: ComputedOn = Field(
        "ray",
        description="in_process: evaluated in the service (small work, idle service); ray: chunks of the grid "
        "as Ray tasks (large work, a busy service, or a job): services.core.routing",
    )
    estimated_work_ms: float | None = Field(None, description="the estimate that decided it (one core)")


class FoldOut(BaseModel):
    train_start: Stamp
    train_end: Stamp
    test_start: Stamp
    test_end: Stamp
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
    equity: EquityCurve | None = Field(None, description='with include=["equity"]')
    seconds: float
    computed_on: ComputedOn = Field(
        "ray",
        description="in_process: evaluated in the service (small work, idle service); ray: chunks of the grid "
        "as Ray tasks (large work, a busy service, or a job): services.core.routing",
    )
    estimated_work_ms: float | None = Field(None, description="the estimate that decided it (one core)")


class StrategyInfo(BaseModel):
    name: StrategyName
    description: str
    params: dict[str, Any]
    flat_at_session_end: bool


# --- seed-compatible shapes ----------------------------------------------------------------------------
LEGACY_NAMES = {"momentum": "momentum", "mean_reversion": "bollinger_reversion", "breakout": "breakout"}
"""The original project's strategy names, and the strategies that stand for them."""
LEGACY_CHOICES = sorted(set(LEGACY_NAMES) | {s.value for s in StrategyName} - {"garch_rsi_bb"})
LegacyStrategy = Annotated[str, Field(json_schema_extra={"enum": LEGACY_CHOICES})]
"""A strategy name of the seed-compatible paths (checked by the route, which names the choices)."""


class LegacyIntradaySignalsRequest(BaseModel):
    daily_signal: SignalValue = 1


class LegacyStrategiesRequest(BaseModel):
    strategies: list[LegacyStrategy] = Field(min_length=1, max_length=20)
    symbols: list[str] | None = Field(default=None, max_length=200)


class LegacySignalRequest(BaseModel):
    symbols: list[str] = Field(min_length=1, max_length=200)
    strategy_type: LegacyStrategy = "momentum"


class LegacyBacktestRequest(BaseModel):
    strategy_name: LegacyStrategy
    symbol: str
    start_date: When | None = Field(default=None, description="first bar (inclusive), e.g. 2023-08-01")
    end_date: When | None = Field(default=None, description="end (exclusive)")

    @field_validator("end_date")
    @classmethod
    def _after_start(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after(v, info.data.get("start_date"), "start_date")
