"""Train the shipped default sentiment models (``ml:fast`` and ``ml``) and write them with model cards.

Thin wrapper over :func:`services.sentiment.engine.train_model`::

    python scripts/train_sentiment.py --kind ml:fast --kind ml \\
        --train ../shared/data/twitter_financial_news/sent_train.csv \\
        --valid ../shared/data/twitter_financial_news/sent_valid.csv \\
        --out services/sentiment/models --embedding-cache /tmp/e5-cache

The grids are the ones the shipped models were chosen from; ``--embedding-cache`` keeps the
(slow, ~20-80 texts/s per core) e5 embeddings of a file between runs, outside the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.sentiment.engine import (
    ModelName,
    NgramSpec,
    TrainSpec,
    embedder_info,
    get_embedder,
    model_card,
    save_model,
    train_model,
)

GRIDS = {
    "ml:fast": TrainSpec(
        kind="ml:fast",
        ngrams=(NgramSpec((1, 2), log2_features=20),),
        C=(10.0, 30.0),
        class_weight=(None, "balanced"),
    ),
    "ml": TrainSpec(
        kind="ml",
        ngrams=(NgramSpec((1, 2), (3, 5)),),
        C=(10.0,),
        class_weight=(None, "balanced"),
        embed_C=(1.0, 4.0),
        meta_C=(0.3, 3.0),
    ),
}
DATA = {
    "source": "Twitter Financial News Sentiment (zeroshot/twitter-financial-news-sentiment), sent_train.csv",
    "licence": "MIT",
    "holdout": "sent_valid.csv of the same dataset (2,388 rows)",
}


def _embed_cached(texts: list[str], cache: Path | None) -> np.ndarray:
    if cache is None:
        return get_embedder().embed(texts)
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:24]
    path = cache / f"e5-{key}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    out = get_embedder().embed(texts)
    np.save(path, out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", action="append", choices=sorted(GRIDS), required=True)
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--valid", type=Path, required=True)
    p.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "services/sentiment/models"
    )
    p.add_argument("--version", default="builtin")
    p.add_argument("--embedding-cache", type=Path, default=None)
    args = p.parse_args(argv)
    train, valid = pd.read_csv(args.train), pd.read_csv(args.valid)
    tr_text, va_text = train["text"].astype(str).tolist(), valid["text"].astype(str).tolist()
    for kind in args.kind:
        spec = GRIDS[kind]
        embeddings = None
        if kind == "ml" and spec.use_embeddings:
            embeddings = (
                _embed_cached(tr_text, args.embedding_cache),
                _embed_cached(va_text, args.embedding_cache),
            )
        result = train_model(tr_text, train["label"], spec, (va_text, valid["label"]), embeddings=embeddings)
        card = model_card(
            result,
            version=args.version,
            data=DATA,
            embedder=embedder_info() if embeddings is not None else None,
        )
        folder = save_model(result.model, args.out / ModelName(kind).slug, card)
        print(f"{kind}: {result.metrics()} params={result.params} -> {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
