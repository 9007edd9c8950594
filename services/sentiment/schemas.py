"""Request and response models of the sentiment service (pydantic)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator

from services.core.fields import Bool, Float, Int, Num
from services.core.routing import ComputedOn
from services.sentiment.engine import Label, ModelName

PositiveFinite = Annotated[Float, Field(gt=0)]
BUILTIN = "builtin"
"""The version name of the shipped models (reserved: a trained version cannot take it)."""
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Model version names: 1-64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit (a folder name)."""
Version = Annotated[str, Field(max_length=64, pattern=VERSION_PATTERN)]


# --- scoring --------------------------------------------------------------------------------------
Text = Annotated[StrictStr, Field(json_schema_extra={"pattern": r"\S"})]
"""A text to score or learn from: not blank (the pattern states it in the OpenAPI document)."""


class ScoreRequest(BaseModel):
    """Texts to score (up to ``RAYSVC_MAX_TEXTS``, each non-empty and at most ``RAYSVC_MAX_TEXT_CHARS``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "texts": ["$AAPL beats estimates, raises guidance", "Bank cut to sell at Goldman"],
                    "model": "ml",
                }
            ]
        }
    )

    texts: list[Text] = Field(description="texts in the order results come back")
    model: ModelName = Field(
        ModelName.ml, description="ml (default, most accurate) | ml:fast | lexicon | lexicon:vader"
    )
    version: Version | None = Field(
        None, description="model version (GET /v1/sentiment/models); default: builtin"
    )


class Probabilities(BaseModel):
    negative: float = Field(ge=0, le=1)
    neutral: float = Field(ge=0, le=1)
    positive: float = Field(ge=0, le=1)


class ScoreOut(BaseModel):
    label: Label
    score: float = Field(ge=-1, le=1, description="P(positive) - P(negative); the polarity for lexicons")
    probabilities: Probabilities


class ScoreResponse(BaseModel):
    model: ModelName
    version: str
    count: int
    results: list[ScoreOut]
    computed_on: ComputedOn = Field(
        description="in_process: scored in the service; ray: chunked Ray tasks (large work, or a busy "
        "service: services.core.routing)"
    )
    estimated_work_ms: float = Field(description="the estimate that decided it (one core)")


# --- models and training -------------------------------------------------------------------------
class ModelInfo(BaseModel):
    """One scorer version and how it measured on its hold-out set."""

    model: ModelName
    version: str
    builtin: bool
    created: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class ModelsResponse(BaseModel):
    default_model: ModelName = ModelName.ml
    data: list[ModelInfo]
    count: int


class TrainRequest(BaseModel):
    """Train a new ``ml:fast`` or ``ml`` version: grid search with k-fold CV as parallel Ray tasks.

    Data: ``data`` (a CSV under the service's data directory) with ``text_col`` and ``label_col``, or
    inline ``texts`` + ``labels``. Labels: strings (negative/neutral/positive, bearish/bullish) or the
    Twitter Financial News coding 0 bearish -> negative, 1 bullish -> positive, 2 -> neutral.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": "sent_train.csv",
                    "text_col": "text",
                    "label_col": "label",
                    "kind": "ml:fast",
                    "C": [10, 30],
                    "folds": 5,
                }
            ]
        }
    )

    kind: Literal["ml:fast", "ml"] = "ml:fast"
    data: str | None = Field(None, description="CSV path relative to the data directory")
    holdout_data: str | None = Field(
        None, description="optional hold-out CSV (same columns); default: a stratified holdout_fraction split"
    )
    text_col: str = "text"
    label_col: str = "label"
    texts: list[Text] | None = Field(None, description="inline training texts (instead of data)")
    labels: list[int | str] | None = Field(None, description="inline labels, one per text")
    word_ngrams: list[tuple[Int, Int]] = Field([(1, 2)], min_length=1, max_length=6)
    char_ngrams: tuple[Int, Int] | None = Field(
        None, description="e.g. [3, 5]; slower (~10k texts/s per core)"
    )
    log2_features: Int = Field(20, ge=10, le=22)
    C: list[PositiveFinite] = Field([10.0, 30.0], min_length=1, max_length=12)
    class_weight: list[Literal["balanced"] | None] = Field([None, "balanced"], min_length=1, max_length=2)
    embed_C: list[PositiveFinite] = Field([1.0, 4.0], min_length=1, max_length=8, description="ml only")
    meta_C: list[PositiveFinite] = Field([0.3, 3.0], min_length=1, max_length=8, description="ml only")
    use_embeddings: Bool = Field(
        False,
        description="ml only: include the e5 sentence-embedding base model (~40 texts/s per core to score, "
        "against ~3,000 without)",
    )
    tfidf: Bool = Field(
        False,
        description="ml only: sublinear TF-IDF n-gram blocks (the shipped ml's), else L2-normalised counts",
    )
    nb_base: Bool = Field(
        False,
        description="ml only: one more base, an NB-weighted logistic regression on binary word n-grams "
        "(the widest word_ngrams range; the shipped ml has one)",
    )
    synthetic: Int = Field(
        0,
        ge=0,
        le=20_000,
        description="generated formal-news sentences added to the training rows (the shipped models use 2,000)",
    )
    folds: Int = Field(5, ge=2, le=20)
    holdout_fraction: Float = Field(0.2, gt=0, lt=0.9)
    metric: Literal["accuracy", "macro_f1"] = "accuracy"
    seed: Int = 0
    version: Version | None = Field(
        None,
        description=f"name of the new version (default: UTC timestamp; not `{BUILTIN}`, the shipped models' name)",
    )

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_not_bools(cls, v: Any) -> Any:
        for i, x in enumerate(v if isinstance(v, list) else []):
            if isinstance(x, bool):
                raise ValueError(f"label at index {i} is {x}: expected 0/1/2 or a class name, not a boolean")
        return v

    @field_validator("version")
    @classmethod
    def _not_builtin(cls, v: str | None) -> str | None:
        if v is not None and v.lower() == BUILTIN:
            raise ValueError(f"`{BUILTIN}` names the shipped models; choose another version name")
        return v

    @field_validator("use_embeddings", "tfidf", "nb_base")
    @classmethod
    def _ml_only(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("kind") != "ml":
            raise ValueError(f"{info.field_name} is an option of kind 'ml', not {info.data.get('kind')!r}")
        return v

    @field_validator("word_ngrams", "char_ngrams")
    @classmethod
    def _ngram_range(cls, v: Any) -> Any:
        for lo, hi in [v] if isinstance(v, tuple) else (v or []):
            if not 1 <= lo <= hi <= 8:
                raise ValueError(f"n-gram range must satisfy 1 <= min <= max <= 8, got [{lo}, {hi}]")
        return v


class TrainResponse(BaseModel):
    """Result of a training job (served by ``GET /v1/jobs/{id}``)."""

    model: ModelName
    version: str
    path: str
    metrics: dict[str, float]
    confusion_matrix: list[list[int]]
    params: dict[str, Any]
    grid: list[dict[str, Any]]
    n_train: int
    n_holdout: int
    seconds: float


# --- social analytics ----------------------------------------------------------------------------
class SymbolRow(BaseModel):
    symbol: str
    rows: int
    start: str
    end: str


class SymbolsResponse(BaseModel):
    dataset: str
    data: list[SymbolRow]
    count: int


class DailyRow(BaseModel):
    date: str
    month: str
    posts: Num
    comments: Num
    likes: Num
    impressions: Num
    sentiment: Num = Field(description="twitterSentiment (null when blank)")
    sentiment_missing: int
    engagement_ratio: Num = Field(description="comments / likes (null when likes are 0)")


class MonthlyRow(BaseModel):
    month: str
    days: int
    posts: Num
    comments: Num
    likes: Num
    impressions: Num
    sentiment: Num = Field(description="mean twitterSentiment over days where it is present")
    sentiment_missing: int = Field(description="days with a blank twitterSentiment")
    engagement_ratio: Num = Field(description="mean of the daily comments / likes")


class SymbolDetail(BaseModel):
    symbol: str
    start: str | None
    end: str | None
    daily: list[DailyRow]
    monthly: list[MonthlyRow]


class RankingRow(BaseModel):
    month: str
    rank: int
    symbol: str
    engagement_ratio: float
    days: int
    mean_comments: float
    mean_likes: float


class RankingsResponse(BaseModel):
    """Symbols ranked per month by mean daily comments/likes, over days with likes > min_likes and
    comments > min_comments (rank 1 = most engaged)."""

    min_likes: float
    min_comments: float
    top: int | None
    month: str | None
    data: list[RankingRow]
    count: int


# --- seed-compatible ------------------------------------------------------------------------------
class AnalyzeSentimentRequest(BaseModel):
    texts: list[Text]


class AnalyzeTickersRequest(BaseModel):
    tickers: list[StrictStr] = Field(min_length=1)
