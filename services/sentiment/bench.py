"""Benchmark workloads of the sentiment service (called by the ``raysvc bench`` harness).

Shape (the same for every workload in :data:`WORKLOADS`, see :mod:`services.bench`)::

    WORKLOADS: dict[str, Workload]
    Workload.build(size) -> Texts               # size in SIZES; builds the texts, starts nothing
    Workload.variants[name](texts) -> Scores    # name in {"sequential", "ray", "peer:vader", "peer:textblob"}
    Workload.same_result(a, b) -> bool          # labels equal and scores within 1e-9

Workloads (one per scorer; throughput in texts/s):

* ``ml_fast`` — the ``ml:fast`` model (hashed word n-grams); target >= 50,000 texts/s on 2 cores (``ray``);
* ``ml`` — the default stacked model (three TF-IDF n-gram models and an NB-weighted binary one + finance
  lexicon + direction x quantity features); target >= 1,000 texts/s on 2 cores, ``ray`` >= 85 % efficient
  with the number of CPUs;
* ``vader`` / ``textblob`` — the lexicon scorers; here ``peer`` is the library called directly
  (``SentimentIntensityAnalyzer().polarity_scores``, ``TextBlob(t).sentiment.polarity``), so it is checked.

Variants: ``sequential`` the engine in this process; ``ray`` the service's Ray path
(:func:`services.sentiment.tasks.score_ray`: chunks of texts against the scorer put once into the object
store); ``peer:vader`` / ``peer:textblob`` the libraries on the same texts (for ``ml_fast``/``ml`` they are
a different model: timed, reported as not comparable). Texts: the shared Twitter Financial News valid split
repeated to size (or, without ``../shared``, templated headlines).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.bench.spec import Workload, shared_file

SIZES = ("tiny", "small", "medium", "large")
_N = {
    "ml:fast": {"tiny": 2_000, "small": 50_000, "medium": 300_000, "large": 1_000_000},
    "ml": {"tiny": 500, "small": 5_000, "medium": 30_000, "large": 100_000},
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
    path = shared_file("data", "twitter_financial_news", "sent_valid.csv")
    if path is not None:
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
    """Load every scorer in the Ray workers so the timed runs measure scoring only."""
    from services.sentiment.tasks import score_ray

    for model in _N:
        score_ray(_texts(256), _scorer_ref(model), model)


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
        "ml", "ml", "score texts with ml (TF-IDF n-grams + finance lexicon + direction x quantity, stacked)"
    ),
    "vader": _workload("vader", "lexicon:vader", "score texts with VADER (service path vs the library)"),
    "textblob": _workload("textblob", "lexicon", "score texts with TextBlob (service path vs the library)"),
}


# --- candidate models side by side: accuracy on both checks and speed (`raysvc bench sentiment-models`) ---

#: The formal-news fixture written for the project (``tests/sentiment/data/FORMAL_NEWS.md``).
FORMAL_NEWS = Path(__file__).resolve().parents[2] / "tests" / "sentiment" / "data"


@dataclass(frozen=True)
class Check:
    """A labelled evaluation set: raw texts and class indices."""

    name: str
    texts: list[str]
    labels: np.ndarray


def model_checks() -> list[Check]:
    """Twitter Financial News valid split (when ``../shared`` is there) and the formal-news dev/test files."""
    import pandas as pd

    from services.sentiment.engine import map_labels

    out = []
    files = [("twitter valid", shared_file("data", "twitter_financial_news", "sent_valid.csv"))] + [
        (f"formal {s}", FORMAL_NEWS / f"formal_news_{s}.csv") for s in ("dev", "test")
    ]
    for name, path in files:
        if path is not None and path.is_file():
            df = pd.read_csv(path)
            out.append(Check(name, df["text"].astype(str).tolist(), map_labels(df["label"].tolist())))
    return out


def compare_models(candidates: dict[str, Any], checks: list[Check], repeat: int = 3) -> list[dict]:
    """Accuracy and macro-F1 of each candidate on each check, and its single-process texts/s.

    ``candidates`` maps a name to a :class:`~services.sentiment.engine.Scorer`. Speed is the best of
    ``repeat`` rounds over all the checks' texts in one call per check (one process, one core for the
    Python parts), the candidates alternated within each round. The Brier score (multi-class, lower is
    better) of the first check says how usable the probabilities are; the lexicons' are polarity splits,
    not probabilities. On that check every candidate after the first is also paired with the first
    (:func:`paired_accuracy`): is its accuracy different beyond chance?
    """
    import time

    from sklearn.metrics import accuracy_score, f1_score

    from services.sentiment.engine._calibration import calibration_report

    rows: dict[str, dict] = {name: {"model": name} for name in candidates}
    best: dict[str, float] = {name: float("inf") for name in candidates}
    preds: dict[str, np.ndarray] = {}
    n_texts = sum(len(c.texts) for c in checks)
    for _ in range(repeat):
        for name, scorer in candidates.items():
            start = time.perf_counter()
            batches = [scorer.score(c.texts) for c in checks]
            best[name] = min(best[name], time.perf_counter() - start)
            for check, batch in zip(checks, batches, strict=True):
                pred = batch.labels
                rows[name][f"{check.name} accuracy"] = float(accuracy_score(check.labels, pred))
                rows[name][f"{check.name} macro-F1"] = float(f1_score(check.labels, pred, average="macro"))
            if checks:  # calibration on the first check (the Twitter valid split when present)
                rows[name][f"{checks[0].name} Brier"] = calibration_report(
                    checks[0].labels, batches[0].probabilities
                )["brier"]
                preds[name] = batches[0].labels
    names = list(candidates)
    for name in names:
        if checks and name != names[0]:
            rows[name] |= {
                f"{k} vs {names[0]}": v
                for k, v in paired_accuracy(checks[0].labels, preds[names[0]], preds[name]).items()
            }
        rows[name]["texts/s (1 process)"] = n_texts / best[name]
    return list(rows.values())


def paired_accuracy(y: np.ndarray, reference: np.ndarray, candidate: np.ndarray, seed: int = 0) -> dict:
    """Accuracy of ``candidate`` minus ``reference``'s on the same texts, with its uncertainty.

    ``Δ acc``; ``95% CI``: paired bootstrap percentile interval (texts resampled, both models' results
    kept together; scipy); ``McNemar p``: exact McNemar test, the two-sided binomial test of the texts
    only one of the two gets right (scipy ``binomtest``).
    """
    from scipy.stats import binomtest, bootstrap

    a, b = (np.asarray(reference) == y).astype(float), (np.asarray(candidate) == y).astype(float)
    only_b, discordant = int(((b == 1) & (a == 0)).sum()), int((a != b).sum())
    ci = bootstrap(
        (a, b),
        lambda ra, rb, axis: rb.mean(axis=axis) - ra.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return {
        "Δ acc": float(b.mean() - a.mean()),
        "95% CI": (float(ci.low), float(ci.high)),
        "McNemar p": float(binomtest(only_b, discordant).pvalue) if discordant else 1.0,
    }


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "—"
    if key.startswith("texts/s"):
        return f"{v:,.0f}"
    if isinstance(v, tuple):
        return f"[{v[0]:+.3f}, {v[1]:+.3f}]"
    if key.startswith("Δ"):
        return f"{v:+.3f}"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def run_model_comparison(argv: list[str]) -> int:
    """``raysvc bench sentiment-models [--candidate NAME=FOLDER ...] [--repeat N] [--out DIR]``."""
    import argparse
    import json

    from rich.console import Console
    from rich.table import Table

    from services.sentiment.engine import load_scorer

    p = argparse.ArgumentParser(
        prog="raysvc bench sentiment-models",
        description="Candidate sentiment models side by side: accuracy and macro-F1 on the Twitter valid split "
        "and the formal-news fixture, and texts/s in one process. The shipped ml, ml:fast and VADER always run.",
    )
    p.add_argument(
        "--candidate", action="append", default=[], help="NAME=FOLDER of a saved model (repeatable)"
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(".raysvc/bench"))
    args = p.parse_args(argv)
    candidates: dict[str, Any] = {"ml": load_scorer("ml"), "ml:fast": load_scorer("ml:fast")}
    candidates["lexicon:vader"] = load_scorer("lexicon:vader")
    for item in args.candidate:
        name, _, folder = item.partition("=")
        card = json.loads((Path(folder) / "card.json").read_text())
        candidates[name] = load_scorer(card["kind"], Path(folder))
    checks = model_checks()
    rows = compare_models(candidates, checks, args.repeat)
    table = Table(title="sentiment models side by side")
    # one column per model, one row per measure: readable in a terminal of 100 columns for 5 models
    table.add_column("measure", justify="left")
    for row in rows:
        table.add_column(row["model"], justify="right")
    for key in dict.fromkeys(k for row in rows for k in row if k != "model"):
        table.add_row(key, *(_cell(key, row.get(key)) for row in rows))
    Console().print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sentiment-models.json").write_text(
        json.dumps({"checks": [c.name for c in checks], "rows": rows}, indent=2)
    )
    return 0
