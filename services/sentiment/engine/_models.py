"""The two trained text classifiers as frozen, picklable arrays: ``ml:fast`` and the stacked ``ml``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._finance_lexicon import LEXICON_FEATURES, lexicon_features
from ._linear import LinearHead, softmax
from ._ngrams import NgramSpec
from ._text import normalize_texts

__all__ = ["FastModel", "NgramBase", "StackedModel", "load_model", "save_model", "stack_features"]

_EPS = 1e-6
#: Up to this many texts ``ml:fast`` skips the sparse matrix (:meth:`NgramSpec.nonzeros`): the same
#: numbers at a fifth of the fixed cost, which is what a request scoring a handful of texts pays.
SMALL_BATCH = 256


@dataclass(frozen=True, eq=False)
class FastModel:
    """``ml:fast``: multinomial logistic regression on hashed n-grams of normalised text."""

    ngrams: NgramSpec
    head: LinearHead
    kind: str = field(default="ml:fast", init=False)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, 3)`` probabilities in :data:`~._labels.CLASSES` order."""
        normalized = normalize_texts(texts)
        if len(normalized) <= SMALL_BATCH and self.ngrams.char_ngrams is None:
            return softmax(self.head.logits_of_nonzeros(len(normalized), *self.ngrams.nonzeros(normalized)))
        return self.head.predict_proba(self.ngrams.transform(normalized))


def stack_features(probas: Sequence[np.ndarray], lexicon: np.ndarray) -> np.ndarray:
    """Meta-level inputs: log-probabilities of each base model, then the lexicon features."""
    return np.column_stack([np.log(np.clip(p, _EPS, 1.0)) for p in probas] + [lexicon])


@dataclass(frozen=True, eq=False)
class NgramBase:
    """One n-gram base model of ``ml``: hashed n-grams (counts or TF-IDF) and its logistic head."""

    spec: NgramSpec
    head: LinearHead
    idf: np.ndarray | None = None

    def predict_proba(self, normalized: Sequence[str], counts: sp.csr_matrix | None = None) -> np.ndarray:
        """``(n, 3)`` probabilities of normalised texts (``counts``: their ``spec.counts`` if known)."""
        return self.head.predict_proba(self.spec.transform(normalized, self.idf, counts))


@dataclass(frozen=True, eq=False)
class StackedModel:
    """``ml``: n-gram (and optionally sentence-embedding) base models stacked with lexicon features.

    ``P = softmax(meta([log p_base_1, …, log p_base_k, (lexicon - mean) / scale]))`` where the bases
    are multinomial logistic regressions (hashed n-gram blocks; e5-small embeddings when
    ``embedding_head`` is set) and ``meta`` is a multinomial logistic regression fitted on out-of-fold
    base predictions.
    """

    bases: tuple[NgramBase, ...]
    embedding_head: LinearHead | None
    meta_head: LinearHead
    lexicon_mean: np.ndarray
    lexicon_scale: np.ndarray
    lexicon_names: tuple[str, ...] = LEXICON_FEATURES[:7]  # the features of models saved before 2026-12-07
    kind: str = field(default="ml", init=False)

    @property
    def ngrams(self) -> NgramSpec:
        """Settings of the first n-gram base."""
        return self.bases[0].spec

    @property
    def uses_embeddings(self) -> bool:
        """Whether scoring needs the e5-small embedder."""
        return self.embedding_head is not None

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """``(n, 3)`` probabilities; ``embeddings`` (from :class:`~._embeddings.Embedder`) if precomputed."""
        texts = list(texts)
        normalized = normalize_texts(texts)
        counts: dict[tuple, sp.csr_matrix] = {}  # bases hashing alike (TF-IDF and binary) share the counts
        for base in self.bases:
            if (base.spec.tfidf or base.spec.binary) and base.spec.hashing not in counts:
                counts[base.spec.hashing] = base.spec.counts(normalized)
        probas = [base.predict_proba(normalized, counts.get(base.spec.hashing)) for base in self.bases]
        if self.embedding_head is not None:
            if embeddings is None:
                from ._embeddings import get_embedder

                embeddings = get_embedder().embed(texts)
            probas.append(self.embedding_head.predict_proba(embeddings))
        lex = (
            lexicon_features(texts, normalized, self.lexicon_names) - self.lexicon_mean
        ) / self.lexicon_scale
        return self.meta_head.predict_proba(stack_features(probas, lex))


def _base_prefix(i: int) -> str:
    return "ngram" if i == 0 else f"ngram{i}"


def save_model(model: FastModel | StackedModel, folder: Path, card: dict) -> Path:
    """Write ``model.npz`` (coefficients only), ``card.json`` and ``MODEL_CARD.md`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {}
    if isinstance(model, FastModel):
        arrays.update(model.head.sparse_arrays("ngram"))
    else:
        for i, base in enumerate(model.bases):
            arrays.update(base.head.sparse_arrays(_base_prefix(i)))
            if base.idf is not None:  # columns never seen in training share the largest idf
                seen = np.flatnonzero(base.idf < base.idf.max()).astype(np.int32)
                arrays[f"{_base_prefix(i)}_idf_cols"] = seen
                arrays[f"{_base_prefix(i)}_idf_values"] = base.idf[seen]
                arrays[f"{_base_prefix(i)}_idf_max"] = np.float32(base.idf.max())
        arrays.update(model.meta_head.sparse_arrays("meta"))
        if model.embedding_head is not None:
            arrays.update(model.embedding_head.sparse_arrays("embed"))
        arrays["lexicon_mean"] = model.lexicon_mean
        arrays["lexicon_scale"] = model.lexicon_scale
    np.savez_compressed(folder / "model.npz", **arrays)
    card = {**card, "kind": model.kind, "ngrams": model.ngrams.to_dict()}
    if isinstance(model, StackedModel):
        card["ngram_bases"] = [base.spec.to_dict() for base in model.bases]
        card["lexicon_features"] = list(model.lexicon_names)
        card["uses_embeddings"] = model.uses_embeddings
    (folder / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (folder / "MODEL_CARD.md").write_text(_card_markdown(card))
    if card.get("calibration", {}).get("holdout"):
        from ._calibration import reliability_plot

        reliability_plot(
            card["calibration"]["holdout"], folder / "reliability.png", f"{model.kind} (hold-out)"
        )
    return folder


def load_model(folder: Path) -> tuple[FastModel | StackedModel, dict]:
    """Read a model folder written by :func:`save_model`; returns the model and its card."""
    folder = Path(folder)
    card = json.loads((folder / "card.json").read_text())
    ngrams = NgramSpec.from_dict(card["ngrams"])
    with np.load(folder / "model.npz") as arrays:
        ngram_head = LinearHead.from_sparse_arrays(arrays, "ngram")
        if card["kind"] == "ml:fast":
            return FastModel(ngrams, ngram_head), card
        if card["kind"] != "ml":
            raise ValueError(f"{folder}: unknown model kind {card['kind']!r}")
        embed = LinearHead.from_sparse_arrays(arrays, "embed") if "embed_rows" in arrays else None
        bases = []
        for i, d in enumerate(card.get("ngram_bases", [card["ngrams"]])):
            spec, prefix, idf = NgramSpec.from_dict(d), _base_prefix(i), None
            if f"{prefix}_idf_cols" in arrays:
                idf = np.full(spec.n_features, arrays[f"{prefix}_idf_max"], dtype=np.float32)
                idf[arrays[f"{prefix}_idf_cols"]] = arrays[f"{prefix}_idf_values"]
            bases.append(NgramBase(spec, LinearHead.from_sparse_arrays(arrays, prefix), idf))
        model = StackedModel(
            tuple(bases),
            embed,
            LinearHead.from_sparse_arrays(arrays, "meta"),
            arrays["lexicon_mean"].copy(),
            arrays["lexicon_scale"].copy(),
            tuple(card.get("lexicon_features", LEXICON_FEATURES[:7])),
        )
    return model, card


def _card_markdown(card: dict) -> str:
    metrics = card.get("metrics", {})
    lines = [f"# Model card: sentiment `{card['kind']}` version `{card.get('version', '?')}`", ""]
    lines += [
        f"- **Created**: {card.get('created', '?')}",
        f"- **Training data**: {card.get('data', {}).get('source', '?')} "
        f"({card.get('data', {}).get('licence', '?')}), {card.get('data', {}).get('n_train', '?')} rows",
        f"- **Hold-out**: {card.get('data', {}).get('holdout', '?')}",
        "- **Artifact**: fitted coefficients only (hashed features: no vocabulary, no training text)",
        f"- **Features**: {json.dumps(card.get('ngrams'))}"
        + (f"; lexicon {card['lexicon_features']}" if "lexicon_features" in card else "")
        + (f"; embeddings {json.dumps(card['embedder'])}" if card.get("embedder") else ""),
        f"- **Chosen hyper-parameters**: {json.dumps(card.get('params', {}), sort_keys=True)}",
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
    if "confusion_matrix" in card:
        lines += [
            "",
            "Hold-out confusion matrix (rows true, columns predicted; negative, neutral, positive):",
            "",
        ]
        lines += ["    " + " ".join(f"{v:6d}" for v in row) for row in card["confusion_matrix"]]
    calib = card.get("calibration", {}).get("holdout")
    if calib:
        lines += [
            "",
            "## Calibration (hold-out)",
            "",
            f"Temperature-scaled (T = {card['calibration']['temperature']:.3f}, fitted on the training CV's "
            f"out-of-fold probabilities). Brier score {calib['brier']:.4f} (multi-class, 0 best, 2 worst), "
            f"NLL {calib['nll']:.4f}, top-label ECE {calib['ece']:.4f}. Reliability (`reliability.png`):",
            "",
            "| confidence bin | mean confidence | accuracy | texts |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['bin'][0]:.1f}–{r['bin'][1]:.1f} | {r['confidence']:.3f} | {r['accuracy']:.3f} | {r['count']} |"
            for r in calib["reliability"]
        ]
    lines += [
        "",
        "Labels: 0 bearish -> negative, 1 bullish -> positive, 2 -> neutral. Licence of the model: MIT "
        "(trained on MIT-licensed data).",
        "",
    ]
    return "\n".join(lines)
