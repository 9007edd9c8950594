"""HTTP routes of the sentiment service: ``router`` (``/v1/sentiment/...``) and ``legacy_router`` (seed)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request, Response

from services.core.app import get_platform, require_ray, run_blocking
from services.core.errors import DomainError, ProblemError, Responses
from services.core.fields import Day, num
from services.core.jobs import JobAccepted, accepted
from services.core.metrics import TEXTS_SCORED, engine_timed, engine_timer
from services.core.names import Dataset
from services.core.reports import ReportFlag, html_responses, report_answer
from services.core.routing import Route, route
from services.sentiment import report as R
from services.sentiment import schemas as S
from services.sentiment import service as svc
from services.sentiment import tasks
from services.sentiment.engine import (
    MONTH_PATTERN,
    ModelName,
    ScoreBatch,
    TrainSpec,
    UnknownSymbolError,
    check_training_labels,
    monthly_rankings,
    parse_month,
    symbol_aggregates,
)

log = logging.getLogger("services.sentiment")
router = APIRouter(prefix="/v1/sentiment", tags=["sentiment"])
legacy_router = APIRouter(tags=["legacy"])
INVALID: Responses = {422: {"description": "invalid input; the problem body names the field (and index)"}}
TOO_LARGE: Responses = {
    413: {"description": "more texts than RAYSVC_MAX_TEXTS; use the batch job named in the body"}
}


async def score_texts(
    texts: list[str], model: ModelName, version: str | None
) -> tuple[ScoreBatch, str, Route]:
    """Check and score ``texts``: in-process, or in chunks on Ray when the work is large or the service is
    busy (``services.core.routing``)."""
    p = get_platform()
    svc.check_texts(texts, p.settings)
    scorer = svc.loaded_scorer(model, version)
    if scorer is None:
        scorer = await asyncio.to_thread(svc.get_scorer, p.settings, model, version)
    where = route(svc.score_work_ms(scorer, len(texts)))
    if not where.on_ray:
        batch = await run_blocking(engine_timed(scorer.score), texts, on_loop=svc.score_on_loop(texts, model))
    else:
        require_ray()
        ref = await asyncio.to_thread(svc.scorer_ref, p.catalog, p.settings, model, version)
        batch = await tasks.score_ray_async(texts, ref, model.value, tasks.chunk_texts(scorer))
    TEXTS_SCORED.labels(p.service, model.value).inc(len(texts))
    return batch, scorer.version, where


@router.post("/score", response_model=S.ScoreResponse, responses={**INVALID, **TOO_LARGE})
async def score(req: S.ScoreRequest) -> S.ScoreResponse:
    """Score texts: label, class probabilities and ``P(pos) - P(neg)`` per text, in input order.

    ``ml`` (default) is the stacked model (four n-gram models + finance lexicon + direction x
    financial-quantity features; ~3,000 texts/s per core, large requests spread over Ray); ``ml:fast``
    hashed n-grams (tens of thousands of texts/s); ``lexicon``
    (TextBlob) and ``lexicon:vader`` are general-purpose baselines. Beyond ``RAYSVC_MAX_TEXTS`` texts: 413,
    use ``raysvc job sentiment score``.
    """
    batch, version, where = await score_texts(req.texts, req.model, req.version)
    # one validation of the whole body (in pydantic-core) rather than a model per text
    return S.ScoreResponse.model_validate(
        {
            "model": req.model,
            "version": version,
            "count": len(batch),
            "results": batch.records(),
            "computed_on": where.computed_on,
            "estimated_work_ms": round(where.work_ms, 2),
        }
    )


@router.get("/models", response_model=S.ModelsResponse)
async def models() -> S.ModelsResponse:
    """Scorer versions with their hold-out metrics: the shipped ``builtin`` ones and trained versions."""
    data = await asyncio.to_thread(svc.list_models, get_platform().settings)
    return S.ModelsResponse(data=data, count=len(data))


@router.post("/train", response_model=JobAccepted, status_code=202, responses=INVALID)
async def train(req: S.TrainRequest, request: Request, response: Response) -> JobAccepted:
    """Train a new ``ml:fast`` / ``ml`` version as an async job (202; poll ``GET /v1/jobs/{id}``).

    Hyper-parameter grid (n-gram ranges x C x class weights, plus the embedding and meta C for ``ml``)
    evaluated by stratified k-fold CV as parallel Ray tasks; the best cell is refitted and scored on the
    hold-out set; the job result holds CV and hold-out accuracy and macro-F1 and the confusion matrix.
    """
    p = require_ray()
    params = req.model_dump(mode="json")
    if req.texts is not None:
        if req.data is not None:
            raise ProblemError.invalid("body.data", "give either data or texts, not both")
        if req.labels is None or len(req.labels) != len(req.texts):
            raise ProblemError.invalid("body.labels", "give one label per text")
        svc.check_texts(req.texts, p.settings)
        spec = TrainSpec(folds=req.folds, holdout_fraction=req.holdout_fraction, seed=req.seed)
        await run_blocking(check_training_labels, req.labels, spec, req.holdout_data is None)
    elif req.data is None:
        raise ProblemError.invalid(
            "body.data", "give data (a CSV under the data directory) or texts + labels"
        )
    else:
        params["data"] = str(svc.resolve_data_path(p.settings, req.data, "body.data"))
    if req.holdout_data is not None:
        params["holdout_data"] = str(svc.resolve_data_path(p.settings, req.holdout_data, "body.holdout_data"))
    n_cells = len(req.word_ngrams) * len(req.C) * len(req.class_weight)
    if n_cells > p.settings.max_grid:
        raise ProblemError.invalid(
            "body.C", f"{n_cells} grid cells exceed RAYSVC_MAX_GRID={p.settings.max_grid}"
        )
    job = await asyncio.to_thread(p.jobs.submit, "train", params)
    return accepted(response, request, job)


@router.get("/symbols", response_model=S.SymbolsResponse)
async def symbols() -> S.SymbolsResponse:
    """Symbols of the social-media dataset with row counts and date ranges."""
    rows = await asyncio.to_thread(svc.symbol_rows, get_platform().catalog)
    return S.SymbolsResponse(dataset=Dataset.SENTIMENT, data=rows, count=len(rows))


@router.get(
    "/symbols/{symbol}",
    response_model=S.SymbolDetail,
    responses={404: {"description": "unknown symbol"}, **INVALID},
)
async def symbol_detail(
    symbol: str,
    start: Day | None = Query(None, description="first date, YYYY-MM-DD"),
    end: Day | None = Query(None, description="last date, YYYY-MM-DD"),
) -> Response:
    """Daily and monthly posts, comments, likes, impressions, mean sentiment (blanks excluded and counted)
    and engagement ratio (comments / likes) of one symbol."""
    first, last = (None if d is None else d.isoformat() for d in (start, end))
    catalog = get_platform().catalog

    def body() -> Response:  # hundreds of daily rows: aggregated, validated and serialized in one thread hop
        frame = svc.social_frame(catalog)
        with engine_timer():
            agg = symbol_aggregates(frame, symbol, first, last)
        detail = S.SymbolDetail(
            symbol=agg.symbol, start=first, end=last, daily=_rows(agg.daily), monthly=_rows(agg.monthly)
        )
        return Response(detail.model_dump_json(by_alias=True), media_type="application/json")

    try:
        return await asyncio.to_thread(body)
    except UnknownSymbolError:
        raise ProblemError.not_found("symbol", symbol) from None
    except DomainError as exc:
        raise ProblemError.from_domain(exc, prefix="query") from None


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records of ``frame`` with NaN as None, built column-wise (a tenth of ``astype(object).where``)."""
    cols = {c: frame[c].tolist() for c in frame.columns}
    for c in cols:
        if frame[c].hasnans:
            cols[c] = [None if v != v else v for v in cols[c]]  # NaN is the one value unequal to itself
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


@router.get(
    "/rankings",
    response_model=S.RankingsResponse,
    responses={**html_responses("the ranking as a bar chart and a table"), **INVALID},
)
async def rankings(
    request: Request,
    month: str | None = Query(
        None, description="YYYY-MM; default: every month", json_schema_extra={"pattern": MONTH_PATTERN}
    ),
    top: int | None = Query(None, ge=1, le=1000, description="best N per month"),
    min_likes: float = Query(20, ge=0, description="keep days with likes > min_likes"),
    min_comments: float = Query(10, ge=0, description="keep days with comments > min_comments"),
    report: ReportFlag = False,
) -> S.RankingsResponse | Response:
    """Per month, symbols ranked by mean daily engagement ratio (comments / likes) over the days that pass
    the likes/comments filters: the selection rule of the portfolio service's sentiment strategy."""
    if month is not None:
        try:
            parse_month(month)
        except DomainError as exc:
            raise ProblemError.from_domain(exc, prefix="query") from None
    frame = await asyncio.to_thread(svc.social_frame, get_platform().catalog)
    rows = await asyncio.to_thread(
        lambda: monthly_rankings(frame, month, top, min_likes, min_comments).to_dict(orient="records")
    )
    res = S.RankingsResponse(
        min_likes=min_likes, min_comments=min_comments, top=top, month=month, data=rows, count=len(rows)
    )
    return await report_answer(request, R.rankings_report, res) if report else res


# --- seed-compatible paths ------------------------------------------------------------------------
@legacy_router.post("/analyze-sentiment", responses={**INVALID, **TOO_LARGE})
async def analyze_sentiment(req: S.AnalyzeSentimentRequest) -> dict[str, Any]:
    """The legacy scoring path, with the default ``ml`` model: per text ``text, sentiment, score,
    confidence`` (confidence = probability of the predicted label)."""
    start = time.perf_counter()
    batch, version, _ = await score_texts(req.texts, ModelName.ml, None)
    top = batch.probabilities.max(axis=1) if len(batch) else np.zeros(0)
    results = [
        {"text": t, "sentiment": lab, "score": round(float(s), 6), "confidence": round(float(c), 6)}
        for t, lab, s, c in zip(req.texts, batch.label_names(), batch.scores, top, strict=True)
    ]
    return {
        "message": f"sentiment analysis completed for {len(req.texts)} texts",
        "model": "ml",
        "version": version,
        "results": results,
        "processing_time": round(time.perf_counter() - start, 4),
    }


@legacy_router.post(
    "/analyze-tickers", responses={**INVALID, 404: {"description": "none of the tickers is known"}}
)
async def analyze_tickers(req: S.AnalyzeTickersRequest) -> dict[str, Any]:
    """The legacy per-ticker summary on the real social data: ``avg_sentiment`` and ``sentiment_volatility``
    (mean and sample std of twitterSentiment, blanks excluded), ``total_engagement`` (sum of daily
    comments / likes, the legacy engagement ratio, summed), ``total_tweets`` (sum of twitterPosts),
    ``days``. Unknown tickers are listed in ``unknown``."""
    start = time.perf_counter()
    frame = await asyncio.to_thread(svc.social_frame, get_platform().catalog)
    wanted = [t.strip().upper() for t in req.tickers]

    def summarise() -> tuple[pd.DataFrame, dict[str, Any]]:  # pandas work: off the event loop
        sub = frame[frame["symbol"].isin(wanted)]
        analysis: dict[str, Any] = {}
        for sym, g in sub.groupby("symbol", sort=False):
            ratio = (g["comments"] / g["likes"].where(g["likes"] > 0)).dropna()
            analysis[sym] = {
                "avg_sentiment": num(g["sentiment"].mean()),
                "sentiment_volatility": num(g["sentiment"].std()),
                "total_engagement": num(ratio.sum()),
                "total_tweets": num(g["posts"].sum()),
                "days": len(g),
                "sentiment_missing": int(g["sentiment"].isna().sum()),
            }
        return sub, analysis

    sub, analysis = await asyncio.to_thread(summarise)
    unknown = [t for t in dict.fromkeys(wanted) if t not in analysis]
    if not analysis:
        raise ProblemError.not_found("tickers", ", ".join(unknown))
    return {
        "message": f"analysis completed for {len(analysis)} tickers",
        "ticker_analysis": analysis,
        "unknown": unknown,
        "total_records_processed": len(sub),
        "processing_time": round(time.perf_counter() - start, 4),
    }


@legacy_router.get("/available-tickers")
async def available_tickers() -> dict[str, Any]:
    """Symbols of the social-media dataset."""
    tickers = await asyncio.to_thread(svc.tickers, get_platform().catalog)
    return {"tickers": tickers, "count": len(tickers)}
