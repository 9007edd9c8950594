"""Benchmark workloads of the sentiment service (called by the ``raysvc bench`` harness).

Shape (the same for every workload in :data:`WORKLOADS`, see :mod:`services.bench`)::

    WORKLOADS: dict[str, Workload]
    Workload.build(size) -> Texts               # size in SIZES; builds the texts, starts nothing
    Workload.variants[name](texts) -> Scores    # name in {"sequential", "ray", "peer:vader", "peer:textblob"}
    Workload.same_result(a, b) -> bool          # labels equal and scores within 1e-9

Workloads (one per scorer; throughput in texts/s):

* ``ml_fast`` — the ``ml:fast`` model (hashed word n-grams); target >= 50,000 texts/s on 2 cores (``ray``);
* ``ml`` — the default stacked model (n-grams + e5-small embeddings + finance lexicon); the e5 embeddings
  dominate (~20-80 texts/s per core); target: ``ray`` >= 85 % efficient with the number of CPUs;
* ``vader`` / ``textblob`` — the lexicon scorers; here ``peer`` is the library called directly
  (``SentimentIntensityAnalyzer().polarity_scores``, ``TextBlob(t).sentiment.polarity``), so it is checked.

Variants: ``sequential`` the engine in this process; ``ray`` the service's Ray path
(:func:`services.sentiment.tasks.score_ray`: chunks of texts against the scorer put once into the object
store); ``peer:vader`` / ``peer:textblob`` the libraries on the same texts (for ``ml_fast``/``ml`` they are
a different model: timed, reported as not comparable). Texts: the shared Twitter Financial News valid split
repeated to size (or, without ``../shared``, templated headlines).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.bench.spec import Workload

SIZES = ("tiny", "small", "medium", "large")
_N = {
    "ml:fast": {"tiny": 2_000, "small": 50_000, "medium": 300_000, "large": 1_000_000},
    "ml": {"tiny": 32, "small": 256, "medium": 1_024, "large": 4_096},
    "lexicon:vader": {"tiny": 500, "small": 5_000, "medium": 30_000, "large": 100_000},
    "lexicon": {"tiny": 200, "small": 2_000, "medium": 10_000, "large": 40_000},
}
TOLERANCE = {"labels": "equal", "score_atol": 1e-9}


class PeerUnavailable(RuntimeError):
    """The peer library is not installed."""


@dataclass(frozen=True)
class Scores:
    """Labels (class indices; lexicons: thresholded polarity) and scores in [-1, 1]."""

    labels: np.ndarray
    scores: np.ndarray


def _texts(n: int) -> list[str]:
    repo = Path(__file__).resolve().parents[2]
    shared = Path(os.environ.get("RAYSVC_SHARED_DIR", repo.parent / "shared"))
    path = shared / "data" / "twitter_financial_news" / "sent_valid.csv"
    if path.is_file():
        import pandas as pd

        base = pd.read_csv(path)["text"].astype(str).tolist()
    else:
        subjects = ["$AAPL", "Shares of Tesla", "The bank", "Oil prices", "Nasdaq futures", "Company X"]
        verbs = [
            "rise 3% after upbeat guidance",
            "fall 5% on weak outlook",
            "are unchanged ahead of CPI data",
            "beat estimates, raise forecast",
            "cut to sell at a broker",
            "hold steady",
        ]
        base = [f"{s} {v}" for s in subjects for v in verbs]
    reps = -(-n // len(base))
    return (base * reps)[:n]


def _scorer(model: str):
    from services.sentiment.engine import load_scorer

    return _SCORERS.setdefault(model, load_scorer(model))


_SCORERS: dict[str, Any] = {}
_REFS: dict[tuple[str, str], Any] = {}


def _scorer_ref(model: str) -> Any:
    """The scorer in the object store, put once per Ray session."""
    import ray

    key = (model, ray.get_runtime_context().get_node_id())
    if key not in _REFS:
        _REFS[key] = ray.put(_scorer(model))
    return _REFS[key]


def _sequential(model: str) -> Callable[[list[str]], Scores]:
    def run(texts: list[str]) -> Scores:
        batch = _scorer(model).score(texts)
        return Scores(batch.labels, batch.scores)

    return run


def _ray(model: str) -> Callable[[list[str]], Scores]:
    def run(texts: list[str]) -> Scores:
        from services.sentiment.tasks import score_ray

        batch = score_ray(texts, _scorer_ref(model), model)
        return Scores(batch.labels, batch.scores)

    return run


def _peer_vader(texts: list[str]) -> Scores:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # pragma: no cover
        raise PeerUnavailable("vaderSentiment is not installed") from exc
    from services.sentiment.engine import labels_from_polarity

    analyzer = SentimentIntensityAnalyzer()
    s = np.array([analyzer.polarity_scores(t)["compound"] for t in texts])
    return Scores(labels_from_polarity(s), s)


def _peer_textblob(texts: list[str]) -> Scores:
    try:
        from textblob import TextBlob
    except ImportError as exc:  # pragma: no cover
        raise PeerUnavailable("textblob is not installed") from exc
    from services.sentiment.engine import labels_from_polarity

    s = np.array([TextBlob(t).sentiment.polarity for t in texts])
    return Scores(labels_from_polarity(s), s)


def same_result(a: Scores, b: Scores) -> bool:
    """Labels equal and scores within 1e-9 absolute."""
    return (
        a.labels.shape == b.labels.shape
        and bool(np.array_equal(a.labels, b.labels))
        and bool(np.allclose(a.scores, b.scores, rtol=0, atol=1e-9))
    )


def warm_up() -> None:
    """Load every scorer in the Ray workers (e5 included) so the timed runs measure scoring only."""
    from services.sentiment.tasks import score_ray

    for model in _N:
        score_ray(_texts(256 if model != "ml" else 8), _scorer_ref(model), model)


def _workload(name: str, model: str, description: str) -> Workload:
    variants = {
        "sequential": _sequential(model),
        "ray": _ray(model),
        "peer:vader": _peer_vader,
        "peer:textblob": _peer_textblob,
    }
    other = "a general-purpose lexicon, not the same model: timed on the same texts, not checked"
    not_comparable = {}
    if model in ("ml", "ml:fast"):
        not_comparable = {"peer:vader": other, "peer:textblob": other}
    elif model == "lexicon:vader":
        variants.pop("peer:textblob")
    else:
        variants.pop("peer:vader")
    return Workload(
        name=name,
        build=lambda size: _texts(_N[model][size]),
        variants=variants,
        same_result=same_result,
        description=description,
        tolerance=dict(TOLERANCE),
        units=len,
        unit="texts",
        not_comparable=not_comparable,
    )


WORKLOADS: dict[str, Workload] = {
    "ml_fast": _workload(
        "ml_fast", "ml:fast", "score texts with ml:fast (hashed n-grams + logistic regression)"
    ),
    "ml": _workload(
        "ml", "ml", "score texts with ml (n-grams + e5-small embeddings + finance lexicon, stacked)"
    ),
    "vader": _workload("vader", "lexicon:vader", "score texts with VADER (service path vs the library)"),
    "textblob": _workload("textblob", "lexicon", "score texts with TextBlob (service path vs the library)"),
}
