"""One interface over every scorer: label, class probabilities and a score in [-1, 1] per text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from ._labels import CLASSES
from ._lexicon import labels_from_polarity, polarity_split, textblob_polarity, vader_compound
from ._models import FastModel, StackedModel, load_model

__all__ = ["BUILTIN_MODEL_DIR", "ModelName", "ScoreBatch", "Scorer", "builtin_model_folder", "load_scorer"]

#: Folder of the default models shipped inside the package.
BUILTIN_MODEL_DIR = Path(__file__).resolve().parents[1] / "models"


class ModelName(StrEnum):
    """Scorer names accepted by the API (``ml`` is the default)."""

    ml = "ml"
    ml_fast = "ml:fast"
    lexicon = "lexicon"
    lexicon_vader = "lexicon:vader"

    @property
    def slug(self) -> str:
        """File-system (and package) name of the model family (``ml:fast`` -> ``ml_fast``)."""
        return self.value.replace(":", "_")


@dataclass(frozen=True, eq=False)
class ScoreBatch:
    """Scores of a batch of texts, in input order.

    Attributes
    ----------
    model
        Scorer name (``ml``, ``ml:fast``, ``lexicon``, ``lexicon:vader``).
    labels
        ``(n,)`` class indices into :data:`~._labels.CLASSES`.
    probabilities
        ``(n, 3)`` class probabilities (negative, neutral, positive); rows sum to 1.
    scores
        ``(n,)`` ``P(positive) - P(negative)``, in [-1, 1].
    """

    model: str
    labels: np.ndarray
    probabilities: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_probabilities(cls, model: str, probabilities: np.ndarray) -> ScoreBatch:
        """Arg-max labels and ``P(pos) - P(neg)`` scores from a probability matrix."""
        p = np.asarray(probabilities, dtype=float).reshape(-1, len(CLASSES))
        return cls(model, p.argmax(axis=1), p, np.clip(p[:, 2] - p[:, 0], -1.0, 1.0))

    @classmethod
    def concat(cls, batches: Sequence[ScoreBatch]) -> ScoreBatch:
        """Join chunk results back into one batch (order of ``batches`` kept)."""
        if not batches:
            raise ValueError("nothing to concatenate")
        return cls(
            batches[0].model,
            np.concatenate([b.labels for b in batches]),
            np.concatenate([b.probabilities for b in batches]),
            np.concatenate([b.scores for b in batches]),
        )

    def label_names(self) -> list[str]:
        """Labels as strings."""
        return [CLASSES[i] for i in self.labels]

    def records(self, digits: int = 6) -> list[dict]:
        """``[{"label", "score", "probabilities": {class: p}}]`` rounded to ``digits``."""
        p = np.round(self.probabilities, digits)
        s = np.round(self.scores, digits)
        return [
            {
                "label": CLASSES[k],
                "score": float(s[i]),
                "probabilities": dict(zip(CLASSES, map(float, p[i]), strict=True)),
            }
            for i, k in enumerate(self.labels)
        ]


class Scorer:
    """Scores texts with one model; picklable, so one instance can sit in Ray's object store or an actor.

    Parameters
    ----------
    name
        A :class:`ModelName`.
    model
        The fitted model for ``ml``/``ml:fast`` (ignored by the lexicons).
    card
        The model card (version, metrics) for ``ml``/``ml:fast``.
    """

    def __init__(
        self, name: ModelName | str, model: FastModel | StackedModel | None = None, card: dict | None = None
    ) -> None:
        self.name = ModelName(name)
        if self.name in (ModelName.ml, ModelName.ml_fast) and model is None:
            raise ValueError(f"scorer {self.name.value!r} needs a fitted model")
        self.model = model
        self.card = card or {}

    @property
    def embeds(self) -> bool:
        """Whether scoring runs the e5 embedder (a trained ``ml`` version with embeddings: ~40 texts/s)."""
        return bool(getattr(self.model, "uses_embeddings", False))

    @property
    def version(self) -> str:
        """Model version (``builtin`` lexicons have no training)."""
        return str(self.card.get("version", "builtin"))

    def score(self, texts: Sequence[str]) -> ScoreBatch:
        """Score ``texts``; see :class:`ScoreBatch`."""
        texts = list(texts)
        if self.name in (ModelName.lexicon, ModelName.lexicon_vader):
            polarity = textblob_polarity(texts) if self.name is ModelName.lexicon else vader_compound(texts)
            return ScoreBatch(
                self.name.value,
                labels_from_polarity(polarity),
                polarity_split(polarity),
                np.clip(polarity, -1.0, 1.0),
            )
        if not texts:
            return ScoreBatch(self.name.value, np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0))
        assert self.model is not None  # every trained scorer is built with its model
        return ScoreBatch.from_probabilities(self.name.value, self.model.predict_proba(texts))


def builtin_model_folder(name: ModelName | str) -> Path:
    """Folder of the shipped default model of ``ml`` or ``ml:fast``."""
    return BUILTIN_MODEL_DIR / ModelName(name).slug


def load_scorer(name: ModelName | str = ModelName.ml, folder: Path | None = None) -> Scorer:
    """Load a ready :class:`Scorer`: lexicons directly, ML models from ``folder`` (default: the shipped one)."""
    name = ModelName(name)
    if name in (ModelName.lexicon, ModelName.lexicon_vader):
        return Scorer(name)
    model, card = load_model(folder or builtin_model_folder(name))
    if model.kind != name.value:
        raise ValueError(f"{folder}: holds a {model.kind!r} model, not {name.value!r}")
    return Scorer(name, model, card)
