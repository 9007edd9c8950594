"""Request handling shared by the HTTP routes and the batch job: model registry, input checks, social data.

Model versions: the shipped defaults (``builtin``, inside the package) and the versions that training
jobs write to ``<models dir>/<ml|ml_fast>/<version>/`` where the models dir is ``RAYSVC_MODELS_DIR``, or
``<RAYSVC_RESULTS_DIR>/sentiment-models`` (shared by the service and the cluster's job drivers).
A scorer is loaded once per process and put into Ray's object store once per version.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from services.core.catalog import Catalog
from services.core.errors import TYPE_BASE, ProblemError
from services.core.names import Dataset
from services.core.settings import Settings
from services.sentiment import schemas as S
from services.sentiment.engine import (
    ModelName,
    Scorer,
    builtin_model_folder,
    load_scorer,
    prepare_social,
    symbols_summary,
)

BUILTIN = S.BUILTIN
VERSION_NAME = re.compile(S.VERSION_PATTERN)
SCORE_MS = {
    "ml": (0.5, 0.17),
    "ml:fast": (0.05, 0.014),
    "lexicon": (0.05, 0.07),
    "lexicon:vader": (0.05, 0.021),
}
"""Milliseconds to score texts on one core, fixed + per text, measured on 400 Twitter headlines with one BLAS
thread (docs/bench.md, "Routing costs"); a trained ``ml`` version with e5 embeddings adds
:data:`EMBED_MS_PER_TEXT`."""
EMBED_MS_PER_TEXT = 25.0


def score_work_ms(scorer: Scorer, n_texts: int) -> float:
    """Estimated milliseconds of scoring ``n_texts`` with ``scorer`` on one core (the routing input:
    ``services.core.routing.route``). In-process when idle up to ~290 texts of ``ml``, ~3,500 of
    ``ml:fast``; on Ray from 27 ``ml`` texts when the service is busy."""
    fixed, per_text = SCORE_MS[scorer.name.value]
    return fixed + n_texts * (per_text + (EMBED_MS_PER_TEXT if scorer.embeds else 0.0))


ON_LOOP_TEXTS, ON_LOOP_CHARS = {"ml:fast": 64}, 20_000
"""Requests up to this many texts, and characters in all, are scored on the event loop itself (well under a
millisecond of work, see ``services.core.app.run_blocking``)."""
SCORE_BATCH = "raysvc job sentiment score --input texts.csv --text-col text --output scored.csv"


def score_on_loop(texts: Sequence[str], model: ModelName) -> bool:
    """Whether scoring ``texts`` is light enough for the event loop (:data:`ON_LOOP_TEXTS`)."""
    return len(texts) <= ON_LOOP_TEXTS.get(model.value, 0) and sum(map(len, texts)) <= ON_LOOP_CHARS


_lock = threading.Lock()
_scorers: dict[tuple[str, str], Scorer] = {}


def _describe(card: dict) -> str:
    """One line on what a stacked ``ml`` version is made of, from its card."""
    bases = card.get("ngram_bases", [card.get("ngrams", {})])
    kinds = [
        "TF-IDF" if b.get("tfidf") else "binary, NB-weighted" if b.get("binary") else "counts" for b in bases
    ]
    parts = [f"{len(bases)} hashed n-gram model(s) ({', '.join(kinds)})"]
    if card.get("embedder"):
        parts.append("e5-small embeddings")
    parts.append("finance lexicon")
    if "dq_net" in card.get("lexicon_features", []):
        parts.append("direction x financial-quantity features")
    return "stacked: " + " + ".join(parts)


def models_dir(settings: Settings) -> Path:
    """Where trained versions live (created on demand)."""
    return Path(settings.models_dir or Path(settings.results_dir) / "sentiment-models").expanduser().resolve()


def version_folder(settings: Settings, model: ModelName, version: str) -> Path:
    """Folder of ``model``/``version`` (404 problem when unknown)."""
    if version == BUILTIN:
        return builtin_model_folder(model)
    if not VERSION_NAME.fullmatch(version):  # no such folder can exist (a 10,000-character name: OSError)
        raise ProblemError.not_found("model version", f"{model.value}@{version[:100]}")
    folder = models_dir(settings) / model.slug / version
    if not (folder / "card.json").is_file():
        raise ProblemError.not_found("model version", f"{model.value}@{version}")
    return folder


def loaded_scorers() -> list[str]:
    """``model@version`` of every scorer this process has loaded."""
    return sorted(f"{m}@{v}" for m, v in _scorers)


def loaded_scorer(model: ModelName | str, version: str | None = None) -> Scorer | None:
    """The scorer of ``model``/``version`` if this process has loaded it already (no I/O, no lock)."""
    return _scorers.get((ModelName(model).value, version or BUILTIN))


def get_scorer(settings: Settings, model: ModelName | str, version: str | None = None) -> Scorer:
    """The scorer of ``model``/``version``, loaded once per process."""
    model = ModelName(model)
    version = version or BUILTIN
    if model in (ModelName.lexicon, ModelName.lexicon_vader):
        if version != BUILTIN:
            raise ProblemError.not_found("model version", f"{model.value}@{version}")
    key = (model.value, version)
    with _lock:
        if key not in _scorers:
            if model in (ModelName.lexicon, ModelName.lexicon_vader):
                _scorers[key] = load_scorer(model)
            else:
                _scorers[key] = load_scorer(model, version_folder(settings, model, version))
        return _scorers[key]


def scorer_ref(
    catalog: Catalog, settings: Settings, model: ModelName | str, version: str | None = None
) -> Any:
    """Object-store ref of :func:`get_scorer` (put once per Ray connection)."""
    model, version = ModelName(model), version or BUILTIN
    return catalog.put(
        f"sentiment:scorer:{model.value}:{version}", lambda: get_scorer(settings, model, version)
    )


def list_models(settings: Settings) -> list[S.ModelInfo]:
    """Every scorer version: lexicons, shipped defaults, trained versions (newest first per model)."""
    out = [
        S.ModelInfo(
            model=ModelName.lexicon,
            version=BUILTIN,
            builtin=True,
            description="TextBlob polarity; neutral band |s| < 0.05",
        ),
        S.ModelInfo(
            model=ModelName.lexicon_vader,
            version=BUILTIN,
            builtin=True,
            description="VADER compound; neutral band |s| < 0.05",
        ),
    ]
    for model in (ModelName.ml, ModelName.ml_fast):
        cards = [(True, json.loads((builtin_model_folder(model) / "card.json").read_text()))]
        root = models_dir(settings) / model.slug
        if root.is_dir():
            trained = [
                json.loads((d / "card.json").read_text())
                for d in root.iterdir()
                if (d / "card.json").is_file()
            ]
            cards += [(False, c) for c in sorted(trained, key=lambda c: c.get("created", ""), reverse=True)]
        for builtin, card in cards:
            out.append(
                S.ModelInfo(
                    model=model,
                    version=BUILTIN if builtin else str(card.get("version")),
                    builtin=builtin,
                    created=card.get("created"),
                    metrics=card.get("metrics", {}),
                    params=card.get("params", {}),
                    data=card.get("data", {}),
                    description=_describe(card)
                    if model is ModelName.ml
                    else "hashed word n-grams, logistic regression",
                )
            )
    return out


def check_texts(texts: Sequence[Any], settings: Settings, field: str = "texts") -> None:
    """413 beyond ``max_texts``; 422 naming the first indices of empty or over-long texts."""
    if len(texts) > settings.max_texts:
        raise ProblemError.too_large(
            f"{len(texts):,} texts exceed the limit of {settings.max_texts:,} per request",
            batch_command=SCORE_BATCH,
        )
    bad = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            bad.append({"field": f"body.{field}[{i}]", "message": "must be a string", "type": "string_type"})
        elif not t.strip():
            bad.append({"field": f"body.{field}[{i}]", "message": "empty text", "type": "value_error"})
        elif len(t) > settings.max_text_chars:
            bad.append(
                {
                    "field": f"body.{field}[{i}]",
                    "type": "value_error",
                    "message": f"{len(t):,} characters exceed the limit of {settings.max_text_chars:,}",
                }
            )
        if len(bad) >= 20:
            break
    if bad:
        raise ProblemError(
            422,
            f"{len(bad)} invalid text(s); first at {bad[0]['field']}: {bad[0]['message']}",
            title="Unprocessable Content",
            type=f"{TYPE_BASE}validation-error",
            errors=bad,
        )


def social_frame(catalog: Catalog) -> pd.DataFrame:
    """The ``sentiment`` dataset prepared for analytics (once per process, kept by the catalog)."""
    return catalog.derived(
        "sentiment:social", Dataset.SENTIMENT, lambda: prepare_social(catalog.frame(Dataset.SENTIMENT))
    )


def symbol_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """``symbol, rows, start, end`` of every symbol of the social data (once per process)."""
    return catalog.derived(
        "sentiment:symbols",
        Dataset.SENTIMENT,
        lambda: symbols_summary(social_frame(catalog)).to_dict(orient="records"),
    )


def tickers(catalog: Catalog) -> list[str]:
    """The social data's symbols, sorted (once per process)."""
    return catalog.derived(
        "sentiment:tickers",
        Dataset.SENTIMENT,
        lambda: sorted(social_frame(catalog)["symbol"].unique().tolist()),
    )


def resolve_data_path(settings: Settings, name: str, field: str) -> Path:
    """A CSV under the data directory (422 for paths outside it or missing files)."""
    root = Path(settings.data_dir).expanduser().resolve()
    path = (root / name).resolve()
    if root not in path.parents and path != root:
        raise ProblemError.invalid(field, f"{name!r} is outside the data directory")
    if not path.is_file():
        raise ProblemError.invalid(field, f"{name!r} not found in the data directory {root}")
    return path
