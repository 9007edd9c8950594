"""Batch entrypoint of the sentiment service: ``python -m services.sentiment.job {score,train} ...``.

``raysvc job sentiment ...`` and ``ray job submit -- python -m services.sentiment.job ...`` land here, and
so do the async HTTP training jobs (``POST /v1/sentiment/train``), which pass the request as
``--params-file``::

    raysvc job sentiment score --input texts.csv --text-col text --output scored.csv [--model ml:fast]
    raysvc job sentiment train --data sent_train.csv --text-col text --label-col label --kind ml

``score`` streams the input in blocks of ``--block-rows`` rows: each block is cut into chunks scored in
parallel on Ray against the scorer put once into the object store, then appended to the output (CSV or
Parquet by suffix), so millions of rows never sit in one process's memory at once. Output: the input
columns plus ``label, score, p_negative, p_neutral, p_positive`` (empty label and NaN for blank texts).
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray

from services.core.errors import DomainError
from services.core.jobrun import JobCommand, JobContext, job_main
from services.core.settings import get_settings
from services.sentiment import schemas as S
from services.sentiment import service as svc
from services.sentiment import tasks
from services.sentiment.engine import (
    CLASSES,
    ModelName,
    NgramSpec,
    TrainSpec,
    embedder_info,
    formal_news_examples,
    model_card,
    save_model,
    train_model,
)

log = logging.getLogger("services.sentiment")
DEFAULT_BLOCK_ROWS = 200_000


# --- score ----------------------------------------------------------------------------------------
def run_score(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Score the ``text_col`` of a CSV block by block on Ray and write the scored rows to ``output``."""
    settings = get_settings()
    for name in ("input", "output"):
        if not params.get(name):
            raise DomainError(f"--{name} is required", field=name)
    src, dst = Path(params["input"]), Path(params["output"])
    if not src.is_file():
        raise DomainError(f"input file {str(src)!r} not found", field="input")
    if dst.suffix.lower() not in (".csv", ".parquet"):
        raise DomainError(f"output must end in .csv or .parquet, got {str(dst)!r}", field="output")
    model = ModelName(params.get("model") or "ml")
    version = params.get("version") or svc.BUILTIN
    text_col = params.get("text_col") or "text"
    block_rows = int(params.get("block_rows") or DEFAULT_BLOCK_ROWS)
    if block_rows < 1:
        raise DomainError(f"block_rows must be >= 1, got {block_rows}", field="block_rows")
    scorer = svc.get_scorer(settings, model, version)
    scorer_ref = ray.put(scorer)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.partial")
    size = max(src.stat().st_size, 1)
    start = time.perf_counter()
    rows, counts, writer = 0, np.zeros(len(CLASSES), dtype=np.int64), None
    try:
        with src.open("rb") as fh:
            for block in pd.read_csv(
                fh, chunksize=block_rows, dtype={text_col: "string"}, keep_default_na=False
            ):
                if text_col not in block.columns:
                    raise DomainError(
                        f"input has no column {text_col!r}; columns: {list(block.columns)}", field="text_col"
                    )
                texts = block[text_col].fillna("").astype(str).tolist()
                present = np.array([bool(t.strip()) for t in texts])
                batch = tasks.score_ray(
                    [t for t, ok in zip(texts, present, strict=True) if ok],
                    scorer_ref,
                    model.value,
                    chunk=tasks.chunk_texts(scorer),
                )
                out = block.copy()
                labels = np.full(len(texts), "", dtype=object)
                labels[present] = batch.label_names()
                scores = np.full(len(texts), np.nan)
                scores[present] = batch.scores
                probs = np.full((len(texts), len(CLASSES)), np.nan)
                probs[present] = batch.probabilities
                out["label"], out["score"] = labels, scores
                for j, name in enumerate(CLASSES):
                    out[f"p_{name}"] = probs[:, j]
                writer = _write_block(out, tmp, dst.suffix.lower(), writer)
                rows += len(out)
                counts += np.bincount(batch.labels, minlength=len(CLASSES))
                ctx.progress(min(fh.tell() / size, 0.999), f"{rows:,} rows scored")
        if writer is not None and writer is not True:
            writer.close()
        if writer is None:  # empty input: still write the header
            pd.DataFrame(columns=[text_col, "label", "score", *[f"p_{c}" for c in CLASSES]]).to_csv(
                tmp, index=False
            )
        tmp.replace(dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    seconds = time.perf_counter() - start
    return {
        "input": str(src),
        "output": str(dst),
        "model": model.value,
        "version": scorer.version,
        "rows": rows,
        "labels": dict(zip(CLASSES, counts.tolist(), strict=True)),
        "seconds": round(seconds, 3),
        "texts_per_s": round(rows / seconds, 1) if seconds > 0 else None,
    }


def _write_block(frame: pd.DataFrame, path: Path, suffix: str, writer: Any) -> Any:
    if suffix == ".csv":
        frame.to_csv(path, mode="a" if writer else "w", header=not writer, index=False)
        return True
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema)
    writer.write_table(table.cast(writer.schema))
    return writer


def _score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=Path, help="CSV with a text column (required)")
    p.add_argument("--output", type=Path, help="scored rows, .csv or .parquet (required)")
    p.add_argument("--text-col", default="text")
    p.add_argument("--model", default="ml", choices=[m.value for m in ModelName])
    p.add_argument("--version", default=None, help="model version (default: builtin)")
    p.add_argument(
        "--block-rows", type=int, default=DEFAULT_BLOCK_ROWS, help="rows read and written per block"
    )


def _score_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "input": args.input and str(args.input),
        "output": args.output and str(args.output),
        "text_col": args.text_col,
        "model": args.model,
        "version": args.version,
        "block_rows": args.block_rows,
    }


# --- train ----------------------------------------------------------------------------------------
def _read_labelled(path: str, text_col: str, label_col: str, field: str) -> tuple[list[str], list[Any]]:
    frame = pd.read_csv(path)
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise DomainError(f"{path}: no column(s) {missing}; columns: {list(frame.columns)}", field=field)
    frame = frame.dropna(subset=[text_col, label_col])
    return frame[text_col].astype(str).tolist(), frame[label_col].tolist()


def run_train(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Grid search (cells as Ray tasks), refit, hold-out metrics; save a new version with its model card."""
    settings = get_settings()
    req = S.TrainRequest.model_validate(params)
    start = time.perf_counter()
    if req.texts is not None:
        if req.labels is None or len(req.labels) != len(req.texts):
            raise DomainError("labels must be given, one per text", field="labels")
        texts, labels, source = req.texts, req.labels, f"inline ({len(req.texts)} rows)"
    elif req.data is not None:
        texts, labels = _read_labelled(req.data, req.text_col, req.label_col, "data")
        source = Path(req.data).name
    else:
        raise DomainError("give data (a CSV) or texts + labels", field="data")
    holdout = None
    if req.holdout_data is not None:
        holdout = _read_labelled(req.holdout_data, req.text_col, req.label_col, "holdout_data")
    spec = TrainSpec(
        kind=req.kind,
        ngrams=tuple(
            NgramSpec(
                (w[0], w[1]),
                None if req.char_ngrams is None else (req.char_ngrams[0], req.char_ngrams[1]),
                req.log2_features,
                req.tfidf,
            )
            for w in req.word_ngrams
        )
        + (
            (NgramSpec((1, max(w[1] for w in req.word_ngrams)), None, req.log2_features, binary=True),)
            if req.nb_base
            else ()
        ),
        C=tuple(req.C),
        class_weight=tuple(req.class_weight),
        embed_C=tuple(req.embed_C),
        meta_C=tuple(req.meta_C),
        use_embeddings=req.use_embeddings,
        folds=req.folds,
        holdout_fraction=req.holdout_fraction,
        metric=req.metric,
        seed=req.seed,
    )
    if req.synthetic:
        generated = formal_news_examples(req.synthetic, seed=req.seed)
        texts = [*texts, *generated["text"]]
        labels = [*labels, *generated["label"]]
        source += f" + {len(generated):,} generated formal-news sentences"
    ctx.progress(0.05, f"training {req.kind} on {len(texts):,} rows")
    uses_embed = req.kind == "ml" and req.use_embeddings
    result = train_model(
        texts,
        labels,
        spec,
        holdout,
        run_cells=tasks.run_cells_ray,
        embed=tasks.embed_ray if uses_embed else None,
    )
    ctx.progress(0.95, "saving")
    version = req.version or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    model = ModelName(req.kind)
    folder = svc.models_dir(settings) / model.slug / version
    if folder.exists():
        raise DomainError(f"version {version!r} of {model.value} already exists", field="version")
    data = {
        "source": source,
        "licence": "as of the training data",
        "holdout": req.holdout_data or f"stratified {req.holdout_fraction:.0%} split (seed {req.seed})",
        "text_col": req.text_col,
        "label_col": req.label_col,
    }
    card = model_card(result, version=version, data=data, embedder=embedder_info() if uses_embed else None)
    save_model(result.model, folder, card)
    log.info("saved sentiment %s version %s: %s", model.value, version, result.metrics())
    return S.TrainResponse(
        model=model,
        version=version,
        path=str(folder),
        metrics=result.metrics(),
        confusion_matrix=result.confusion_matrix.tolist(),
        params=result.params,
        grid=result.grid,
        n_train=result.n_train,
        n_holdout=result.n_holdout,
        seconds=round(time.perf_counter() - start, 3),
    ).model_dump(mode="json")


def _pair(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition(",")
    return int(lo), int(hi or lo)


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="training CSV (required)")
    p.add_argument("--holdout-data", default=None, help="hold-out CSV (default: a stratified split)")
    p.add_argument("--text-col", default="text")
    p.add_argument("--label-col", default="label")
    p.add_argument("--kind", default="ml:fast", choices=["ml:fast", "ml"])
    p.add_argument("--word-ngrams", type=_pair, action="append", help="min,max (repeatable; default 1,2)")
    p.add_argument("--char-ngrams", type=_pair, default=None, help="min,max of char n-grams (default: none)")
    p.add_argument("--C", type=float, action="append", help="inverse L2 strength (repeatable)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--holdout-fraction", type=float, default=0.2)
    p.add_argument("--embeddings", action="store_true", help="ml with the e5 base model (slow to score)")
    p.add_argument("--tfidf", action="store_true", help="ml: sublinear TF-IDF n-gram blocks")
    p.add_argument("--nb-base", action="store_true", help="ml: add the NB-weighted binary n-gram base")
    p.add_argument("--synthetic", type=int, default=0, help="generated formal-news rows added to training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--version", default=None)


def _train_params(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "data": args.data and str(Path(args.data).resolve()),
        "text_col": args.text_col,
        "label_col": args.label_col,
        "kind": args.kind,
        "folds": args.folds,
        "holdout_fraction": args.holdout_fraction,
        "seed": args.seed,
        "use_embeddings": args.embeddings,
        "tfidf": args.tfidf,
        "nb_base": args.nb_base,
        "synthetic": args.synthetic,
        "char_ngrams": args.char_ngrams,
        "version": args.version,
    }
    if args.holdout_data:
        out["holdout_data"] = str(Path(args.holdout_data).resolve())
    if args.word_ngrams:
        out["word_ngrams"] = args.word_ngrams
    if args.C:
        out["C"] = args.C
    return out


COMMANDS = [
    JobCommand(
        "score", "score a CSV column of texts in chunks on Ray", run_score, _score_args, _score_params
    ),
    JobCommand(
        "train",
        "train a new ml / ml:fast version (grid x k-fold CV as Ray tasks)",
        run_train,
        _train_args,
        _train_params,
    ),
]


def main(argv: list[str] | None = None) -> int:
    return job_main("sentiment", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
