"""Request and response models of the GARCH service (pydantic; every number in the returns' own units)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.core.fields import Bool, Day, Int, Num, Spelled, exactly_one_of, num, nums
from services.core.routing import ComputedOn
from services.core.shapes import SeriesIn
from services.garch.engine import (
    DEFAULT_WINDOW,
    Candidate,
    Dist,
    Evaluation,
    FitResult,
    Mean,
    ModelSpec,
    RegimeSignal,
    ReturnKind,
    RollingResult,
    Vol,
)

DailyDataset = Literal["daily", "prices", "sp500"]


# --- inputs ---------------------------------------------------------------------------------------
VolIn = Annotated[Vol, Spelled(Vol, {"gjr-garch": Vol.GJR, "gjrgarch": Vol.GJR})]
"""A volatility process as the user names it: ``garch``, ``GARCH``, arch's ``GJR-GARCH``…"""
DistIn = Annotated[
    Dist,
    Spelled(
        Dist,
        {
            "gaussian": Dist.NORMAL,
            "studentst": Dist.T,
            "student-t": Dist.T,
            "skewstudent": Dist.SKEWT,
            "skew-t": Dist.SKEWT,
        },
    ),
]
"""A distribution as the user names it, arch's names included (``gaussian``, ``studentst``, ``skewstudent``)."""
MeanIn = Annotated[Mean, Spelled(Mean, {"ar": Mean.AR1})]
"""A mean model as the user names it (arch's ``Constant``, ``Zero``, ``AR`` with one lag)."""


class ModelIn(BaseModel):
    """Model specification. ``o`` defaults to 0 for GARCH and 1 for GJR/EGARCH."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"vol": "garch", "p": 1, "q": 1, "dist": "t", "mean": "constant"}]}
    )

    vol: VolIn = Field(Vol.GARCH)
    p: Int = Field(1, ge=1, le=5, description="ARCH (shock) lags")
    o: Int | None = Field(
        None, ge=0, le=5, description="asymmetric lags (GJR/EGARCH); default 0 for garch, 1 otherwise"
    )
    q: Int = Field(1, ge=0, le=5, description="GARCH (variance) lags")
    dist: DistIn = Field(Dist.T)
    mean: MeanIn = Field(Mean.CONSTANT)

    def to_spec(self) -> ModelSpec:
        o = self.o if self.o is not None else (0 if self.vol is Vol.GARCH else 1)
        return ModelSpec(vol=self.vol, p=self.p, o=o, q=self.q, dist=self.dist, mean=self.mean)


class ModelOut(BaseModel):
    vol: Vol
    p: int
    o: int
    q: int
    dist: Dist
    mean: Mean
    label: str

    @classmethod
    def of(cls, spec: ModelSpec) -> ModelOut:
        return cls(
            vol=spec.vol, p=spec.p, o=spec.o, q=spec.q, dist=spec.dist, mean=spec.mean, label=spec.label
        )


class _Source(BaseModel):
    """Where the returns come from: a dataset symbol, or an inline series."""

    dataset: DailyDataset | None = Field(
        None, description="daily dataset; default: the first of daily, prices, sp500 holding the symbol"
    )
    series: SeriesIn | None = Field(None, description="your own prices or returns instead of a symbol")
    returns: ReturnKind = Field(ReturnKind.LOG, description="how prices become returns: log | simple")
    start: Day | None = Field(None, description="first date used (inclusive)")
    end: Day | None = Field(None, description="last date used (inclusive)")
    annualization: Int | None = Field(
        None, ge=1, le=400, description="periods per year; default: detected from the dates (365 or 252)"
    )


class ForecastRequest(_Source):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"symbols": ["SIM"], "model": {"vol": "garch", "p": 1, "q": 1, "dist": "t"}, "horizon": 10}
            ],
            **exactly_one_of("symbols", "series"),
        }
    )

    symbols: list[str] | None = Field(
        None, min_length=1, max_length=500, description="symbols to fit in parallel"
    )
    model: ModelIn = Field(default_factory=ModelIn)
    horizon: Int = Field(10, ge=1, le=500, description="forecast steps")
    simulations: Int = Field(
        1000, ge=100, le=100_000, description="paths for simulation forecasts (EGARCH beyond 1 step)"
    )
    seed: Int = Field(0, ge=0, description="seed of simulation forecasts")

    @model_validator(mode="after")
    def _one_source(self) -> ForecastRequest:
        if (self.symbols is None) == (self.series is None):
            raise ValueError("send exactly one of `symbols` or `series`")
        return self


class RollingRequest(_Source):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbol": "SIM",
                    "model": {"dist": "t"},
                    "window": 180,
                    "refit_every": 1,
                    "horizon": 1,
                    "start": "2022-01-01",
                }
            ],
            **exactly_one_of("symbol", "series"),
        }
    )

    symbol: str | None = Field(None, description="a daily symbol (or send `series`)")
    model: ModelIn = Field(default_factory=ModelIn)
    window: Int = Field(DEFAULT_WINDOW, ge=20, le=20_000, description="observations per fitting window")
    refit_every: Int = Field(
        1,
        ge=1,
        le=1000,
        description="refit every n origins; between refits the last parameters filter the new window",
    )
    horizon: Int = Field(1, ge=1, le=60)
    warm_start: Bool = Field(
        False, description="start each refit from the previous one's estimates (faster; see docs/garch.md)"
    )
    simulations: Int = Field(1000, ge=100, le=100_000)
    seed: Int = Field(0, ge=0)
    mode: Literal["auto", "inline", "job"] = Field(
        "auto",
        description="auto: inline up to the interactive refit limit, else an async job (202); "
        "inline beyond the limit → 413",
    )

    @model_validator(mode="after")
    def _one_source(self) -> RollingRequest:
        if (self.symbol is None) == (self.series is None):
            raise ValueError("send exactly one of `symbol` or `series`")
        return self


class SelectRequest(_Source):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"symbol": "SIM", "criterion": "bic"}],
            **exactly_one_of("symbol", "series"),
        }
    )

    symbol: str | None = None
    grid: list[ModelIn] | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="candidates; default: 27 (GARCH/GJR/EGARCH × 3 orders × 3 dists)",
    )
    mean: MeanIn = Field(Mean.CONSTANT, description="mean model of the default grid")
    criterion: Literal["bic", "aic"] = "bic"
    horizon: Int = Field(10, ge=1, le=500)
    simulations: Int = Field(1000, ge=100, le=100_000)
    seed: Int = Field(0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> SelectRequest:
        if (self.symbol is None) == (self.series is None):
            raise ValueError("send exactly one of `symbol` or `series`")
        return self


# --- outputs --------------------------------------------------------------------------------------
class FitOut(BaseModel):
    """One fitted model and its forecast (units of the returns as sent; see docs/garch.md)."""

    symbol: str
    dataset: str | None = None
    model: ModelOut
    nobs: int
    start: str | None
    end: str | None
    params: dict[str, Num] = Field(
        description="named as arch names them: mu, omega, alpha[1], gamma[1], beta[1], nu, eta, lambda, Const, y[1]"
    )
    std_errors: dict[str, Num] = Field(description="robust (Bollerslev-Wooldridge) standard errors")
    pvalues: dict[str, Num]
    loglik: Num
    aic: Num
    bic: Num
    converged: bool
    message: str
    annualization: int
    annualization_source: str
    last_conditional_vol: Num = Field(description="per period, at the last date")
    last_conditional_vol_annualized: Num
    realized_vol_annualized: Num = Field(
        description="sample standard deviation of the fitted returns, annualised"
    )
    horizon: int
    forecast_variance: list[Num] = Field(description="variance of the return 1..H periods after `end`")
    forecast_vol_annualized: list[Num] = Field(description="sqrt(forecast_variance × annualization)")
    forecast_method: str
    simulations: int | None = None
    seed: int | None = None

    @classmethod
    def of(cls, res: FitResult, symbol: str, dataset: str | None) -> FitOut:
        return cls(
            symbol=symbol,
            dataset=dataset,
            model=ModelOut.of(res.spec),
            nobs=res.nobs,
            start=res.start,
            end=res.end,
            params={k: num(v) for k, v in res.params.items()},
            std_errors={k: num(v) for k, v in res.std_errors.items()},
            pvalues={k: num(v) for k, v in res.pvalues.items()},
            loglik=num(res.loglik),
            aic=num(res.aic),
            bic=num(res.bic),
            converged=res.converged,
            message=res.message,
            annualization=res.annualization,
            annualization_source=res.annualization_source,
            last_conditional_vol=num(res.last_conditional_vol),
            last_conditional_vol_annualized=num(res.last_conditional_vol_annualized),
            realized_vol_annualized=num(res.realized_vol_annualized),
            horizon=res.horizon,
            forecast_variance=nums(res.forecast_variance),
            forecast_vol_annualized=nums(res.forecast_vol_annualized),
            forecast_method=res.forecast_method,
            simulations=res.simulations,
            seed=res.seed,
        )


class ForecastResponse(BaseModel):
    results: list[FitOut]
    computed_on: ComputedOn = Field(
        description="in_process: the fits ran in the service process (small work, idle service); ray: as "
        "Ray tasks (large work, or other requests in flight)"
    )
    estimated_work_ms: float = Field(description="the estimate that decided it (services.core.routing)")


class MincerZarnowitzOut(BaseModel):
    alpha: Num
    beta: Num
    r2: Num


class EvaluationOut(BaseModel):
    """Accuracy of the h-step forecasts against realised squared returns (lower MSE/QLIKE is better)."""

    step: int
    n: int
    mse: Num
    qlike: Num = Field(description="mean(ln h + r² / h)")
    mincer_zarnowitz: MincerZarnowitzOut

    @classmethod
    def of(cls, ev: Evaluation) -> EvaluationOut:
        mz = ev.mincer_zarnowitz
        return cls(
            step=ev.step,
            n=ev.n,
            mse=num(ev.mse),
            qlike=num(ev.qlike),
            mincer_zarnowitz=MincerZarnowitzOut(alpha=num(mz.alpha), beta=num(mz.beta), r2=num(mz.r2)),
        )


class RollingPoint(BaseModel):
    """One forecast origin: fitted on the window ending at ``date``, forecasting the next H periods."""

    date: str
    refit: bool
    converged: bool
    variance: list[Num]
    vol_annualized: list[Num]
    realized_squared: list[Num] = Field(description="r² of the target periods (null past the data)")


class FailureOut(BaseModel):
    date: str
    message: str


class RollingResponse(BaseModel):
    symbol: str
    dataset: str | None = None
    model: ModelOut
    window: int
    refit_every: int
    horizon: int
    warm_start: bool
    annualization: int
    annualization_source: str
    n_origins: int
    n_refits: int
    n_failed: int
    param_names: list[str]
    last_params: dict[str, Num] = Field(description="parameters behind the last forecast")
    evaluation: list[EvaluationOut]
    failures: list[FailureOut]
    forecasts: list[RollingPoint]
    seconds: float

    @classmethod
    def of(
        cls,
        res: RollingResult,
        *,
        symbol: str,
        dataset: str | None,
        dates: list[str],
        returns: Any,
        annualization: int,
        annualization_source: str,
        refit_every: int,
        warm_start: bool,
        evaluation: tuple[Evaluation, ...],
        seconds: float,
    ) -> RollingResponse:
        from services.garch.engine import realized_squared

        real = realized_squared(res, returns)
        points = [
            RollingPoint(
                date=dates[int(t)],
                refit=bool(res.refit[i]),
                converged=bool(res.converged[i]),
                variance=nums(res.variance[i]),
                vol_annualized=nums((res.variance[i] * annualization) ** 0.5),
                realized_squared=nums(real[i]),
            )
            for i, t in enumerate(res.origins)
        ]
        return cls(
            symbol=symbol,
            dataset=dataset,
            model=ModelOut.of(res.spec),
            window=res.window,
            refit_every=refit_every,
            horizon=res.horizon,
            warm_start=warm_start,
            annualization=annualization,
            annualization_source=annualization_source,
            n_origins=int(res.origins.size),
            n_refits=res.n_refits,
            n_failed=len(res.messages),
            param_names=list(res.param_names),
            last_params=dict(zip(res.param_names, nums(res.params[-1]), strict=True))
            if res.origins.size
            else {},
            evaluation=[EvaluationOut.of(e) for e in evaluation],
            failures=[FailureOut(date=dates[t], message=m) for t, m in res.messages],
            forecasts=points,
            seconds=round(seconds, 3),
        )


class CandidateOut(BaseModel):
    rank: int
    model: ModelOut
    nobs: int
    n_params: int
    loglik: Num
    aic: Num
    bic: Num
    converged: bool
    message: str

    @classmethod
    def of(cls, rank: int, c: Candidate) -> CandidateOut:
        return cls(
            rank=rank,
            model=ModelOut.of(c.spec),
            nobs=c.nobs,
            n_params=c.n_params,
            loglik=num(c.loglik),
            aic=num(c.aic),
            bic=num(c.bic),
            converged=c.converged,
            message=c.message,
        )


class SelectResponse(BaseModel):
    symbol: str
    dataset: str | None = None
    criterion: str
    ranking: list[CandidateOut]
    best: FitOut


class SignalPoint(BaseModel):
    """The signal computed after the close of ``date``, for trading on ``applies_to`` (the next date)."""

    date: str
    applies_to: str
    signal: int
    zscore: Num
    premium: Num
    forecast_variance: Num
    realized_variance: Num


class SignalResponse(BaseModel):
    """The regime signal at ``date`` (see docs/garch.md for the definition)."""

    symbol: str
    dataset: str | None
    date: str
    signal: int = Field(
        description="+1: zscore > threshold (vol expected to rise), -1: < -threshold, 0 otherwise"
    )
    zscore: Num
    premium: Num = Field(description="(forecast - realized) / realized variance")
    premium_std: Num
    threshold: float
    forecast_vol_annualized: Num
    realized_vol_annualized: Num
    annualization: int
    model: ModelOut
    window: int
    realized_window: int
    std_window: int
    refit_every: int
    definition: str
    signals: list[SignalPoint] = Field(description="the last `history` days, oldest first")

    @classmethod
    def of(
        cls,
        sig: RegimeSignal,
        *,
        symbol: str,
        dataset: str | None,
        dates: list[str],
        applies_to: list[str],
        annualization: int,
        spec: ModelSpec,
        window: int,
        refit_every: int,
        history: int,
        definition: str,
    ) -> SignalResponse:
        last = -1
        hist = [
            SignalPoint(
                date=dates[int(t)],
                applies_to=applies_to[int(t)],
                signal=int(sig.signal[i]),
                zscore=num(sig.zscore[i]),
                premium=num(sig.premium[i]),
                forecast_variance=num(sig.forecast[i]),
                realized_variance=num(sig.realized[i]),
            )
            for i, t in list(enumerate(sig.origins))[-history:]
        ]
        return cls(
            symbol=symbol,
            dataset=dataset,
            date=dates[int(sig.origins[last])],
            signal=int(sig.signal[last]),
            zscore=num(sig.zscore[last]),
            premium=num(sig.premium[last]),
            premium_std=num(sig.premium_std[last]),
            threshold=sig.threshold,
            forecast_vol_annualized=num((sig.forecast[last] * annualization) ** 0.5),
            realized_vol_annualized=num((sig.realized[last] * annualization) ** 0.5),
            annualization=annualization,
            model=ModelOut.of(spec),
            window=window,
            realized_window=sig.realized_window,
            std_window=sig.std_window,
            refit_every=refit_every,
            definition=definition,
            signals=hist,
        )


class DatasetSymbols(BaseModel):
    dataset: str
    count: int
    annualization: int
    calendar: str
    start: str | None
    end: str | None
    symbols: list[str]


class SymbolsResponse(BaseModel):
    datasets: list[DatasetSymbols]


# --- seed-compatible bodies -----------------------------------------------------------------------
class LegacyPredictBody(BaseModel):
    """Either legacy body: ``{"ticker", "periods"}`` or ``{"window_size", "assets"}``."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"ticker": "AAPL", "periods": 30}, {"window_size": 180, "assets": "SIM,AAPL"}]
        },
    )

    ticker: str | None = None
    periods: Int | None = Field(None, ge=1, le=500)
    window_size: Int | None = Field(None, ge=20, le=20_000)
    assets: str | list[str] | None = None
