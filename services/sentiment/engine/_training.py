"""Hyper-parameter search with k-fold CV, hold-out evaluation and the final fit of ``ml:fast``/``ml``.

The grid is a flat list of independent :class:`Cell` s, each scored by :func:`cross_validate_cell` on
a feature block; :func:`train_model` takes a ``run_cells`` callable so the Ray layer can evaluate the
cells as parallel tasks against blocks placed once in the object store (the sequential default is
:func:`run_cells_sequential`).

``ml`` is trained in two stages: (1) grid over the base models (hashed n-grams, a binary block with the
NB-weighted regression of :func:`fit_nb_head`; e5 embeddings), whose
out-of-fold (OOF) probabilities of the best cells become, with the standardised lexicon features,
the inputs of (2) a grid over the meta logistic regression, cross-validated on those OOF inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from services.core.exceptions import DomainError

from ._calibration import calibration_report, fit_temperature
from ._finance_lexicon import DEFAULT_LEXICON, LEXICON_FEATURES, lexicon_features
from ._labels import CLASSES, map_labels
from ._linear import LinearHead
from ._models import FastModel, NgramBase, StackedModel, stack_features
from ._ngrams import NgramSpec
from ._text import normalize_texts

__all__ = [
    "Cell",
    "CellResult",
    "TrainResult",
    "TrainSpec",
    "cross_validate_cell",
    "fit_head",
    "fit_nb_head",
    "grid_cells",
    "model_card",
    "run_cells_sequential",
    "train_model",
]

RunCells = Callable[[Sequence["Cell"], Mapping[str, object], np.ndarray, np.ndarray], list["CellResult"]]
EmbedFn = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class TrainSpec:
    """What to search and how to validate.

    Parameters
    ----------
    kind
        ``"ml:fast"`` (n-grams only) or ``"ml"`` (stacked n-grams + embeddings + lexicon features).
    ngrams
        Candidate n-gram settings (each one feature block).
    C
        Inverse L2 strengths of the n-gram logistic regression.
    class_weight
        ``None`` and/or ``"balanced"``.
    embed_C, meta_C
        Inverse L2 strengths of the embedding and meta regressions (``ml`` only).
    use_embeddings
        ``ml`` without the e5 base model (lexicon + n-grams only) when ``False``.
    lexicon
        Names of the lexicon features of ``ml`` (:data:`~._finance_lexicon.LEXICON_FEATURES`).
    folds
        k of the stratified k-fold CV.
    holdout_fraction
        Stratified share kept out of the search when no explicit hold-out set is given.
    metric
        ``"accuracy"`` or ``"macro_f1"``: what picks the best cell.
    seed
        Seeds the fold and hold-out splits.
    """

    kind: str = "ml:fast"
    ngrams: tuple[NgramSpec, ...] = (NgramSpec((1, 2)), NgramSpec((1, 3)))
    C: tuple[float, ...] = (5.0, 10.0, 20.0)
    class_weight: tuple[str | None, ...] = (None, "balanced")
    embed_C: tuple[float, ...] = (1.0, 4.0, 16.0)
    meta_C: tuple[float, ...] = (0.1, 1.0, 10.0)
    use_embeddings: bool = True
    lexicon: tuple[str, ...] = DEFAULT_LEXICON
    folds: int = 5
    holdout_fraction: float = 0.2
    metric: str = "accuracy"
    seed: int = 0
    max_iter: int = 1000

    def __post_init__(self) -> None:
        if self.kind not in ("ml:fast", "ml"):
            raise DomainError(field="kind", message=f"kind must be 'ml:fast' or 'ml', got {self.kind!r}")
        if not 2 <= self.folds <= 20:
            raise DomainError(field="folds", message=f"folds must be in [2, 20], got {self.folds!r}")
        if not 0.0 < self.holdout_fraction < 0.9:
            raise DomainError(
                f"holdout_fraction must be in (0, 0.9), got {self.holdout_fraction!r}",
                field="holdout_fraction",
            )
        if self.metric not in ("accuracy", "macro_f1"):
            raise DomainError(f"metric must be 'accuracy' or 'macro_f1', got {self.metric!r}", field="metric")
        for name in ("C", "embed_C", "meta_C"):
            values = getattr(self, name)
            if not values or any(not np.isfinite(c) or c <= 0 for c in values):
                raise DomainError(
                    f"{name} must be a non-empty list of positive numbers, got {values!r}", field=name
                )
        if not self.lexicon or not set(self.lexicon) <= set(LEXICON_FEATURES):
            raise DomainError(
                f"lexicon must name features among {list(LEXICON_FEATURES)}, got {list(self.lexicon)!r}",
                field="lexicon",
            )
        if not self.ngrams:
            raise DomainError("ngrams must name at least one n-gram setting", field="ngrams")
        if not self.class_weight or any(cw not in (None, "balanced") for cw in self.class_weight):
            raise DomainError(
                f"class_weight entries must be None or 'balanced', got {self.class_weight!r}",
                field="class_weight",
            )


@dataclass(frozen=True)
class Cell:
    """One grid point: a logistic regression (``C``, ``class_weight``) on one feature ``block``.

    ``nb``: the NB-weighted one-vs-rest regression of :func:`fit_nb_head` (binary n-gram blocks).
    """

    block: str
    C: float
    class_weight: str | None
    nb: bool = False

    def fit(self, X, y: np.ndarray, max_iter: int = 1000) -> LinearHead:
        """Fit this cell's head on ``X, y``."""
        fit = fit_nb_head if self.nb else fit_head
        return fit(X, y, self.C, self.class_weight, max_iter)


@dataclass(frozen=True, eq=False)
class CellResult:
    """CV scores of a :class:`Cell` and its out-of-fold probabilities ``(n, 3)``."""

    cell: Cell
    accuracy: float
    macro_f1: float
    oof_proba: np.ndarray = field(repr=False)

    def row(self) -> dict:
        """JSON-ready summary (no OOF matrix)."""
        return {
            "block": self.cell.block,
            "C": self.cell.C,
            "class_weight": self.cell.class_weight,
            **({"learner": "nb_logistic"} if self.cell.nb else {}),
            "cv_accuracy": self.accuracy,
            "cv_macro_f1": self.macro_f1,
        }


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Outcome of :func:`train_model`: the refitted model and how it scored."""

    kind: str
    model: FastModel | StackedModel
    params: dict
    cv_accuracy: float
    cv_macro_f1: float
    holdout_accuracy: float
    holdout_macro_f1: float
    confusion_matrix: np.ndarray
    grid: list[dict]
    n_train: int
    n_holdout: int
    temperature: float = 1.0
    calibration: dict = field(default_factory=dict)

    def metrics(self) -> dict:
        """Return the four headline numbers."""
        return {
            "cv_accuracy": self.cv_accuracy,
            "cv_macro_f1": self.cv_macro_f1,
            "holdout_accuracy": self.holdout_accuracy,
            "holdout_macro_f1": self.holdout_macro_f1,
        }


def fit_head(X, y: np.ndarray, C: float, class_weight: str | None, max_iter: int = 1000) -> LinearHead:
    """Fit a multinomial L2 logistic regression and freeze its coefficients."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # saga is ~10x faster than lbfgs on the wide sparse n-gram blocks; lbfgs suits the dense ones.
        solver = "saga" if sp.issparse(X) else "lbfgs"
        est = LogisticRegression(
            C=C,
            class_weight=class_weight,
            solver=solver,
            max_iter=max_iter,
            tol=1e-3 if solver == "saga" else 1e-4,
            random_state=0,  # saga visits rows in a random order: fixed, so a refit gives the same model
        )
        est.fit(X, y)
    if list(est.classes_) != list(range(len(CLASSES))):
        raise ValueError(f"training labels must contain all of {CLASSES}, got classes {list(est.classes_)}")
    return LinearHead.from_estimator(est)


def fit_nb_head(
    X: sp.csr_matrix, y: np.ndarray, C: float, class_weight: str | None, max_iter: int = 1000
) -> LinearHead:
    """NB-weighted logistic regression (NBSVM; Wang & Manning, 2012) on binary n-gram presence ``X``.

    For each class ``c`` against the rest, the log-count ratio ``r_c = log(p_c / |p_c|) - log(q_c / |q_c|)``
    (``p_c``, ``q_c``: per-feature presence counts + 1 in and outside the class) scales the columns,
    and a binary L2 logistic regression is fitted on ``X * r_c``. Its weights ``w_c * r_c`` act on
    ``X`` itself, so the three one-vs-rest scores are a plain :class:`LinearHead` (softmax of the three
    scores). Not in scikit-learn; as a fourth base of ``ml`` it adds +0.3 point of Twitter accuracy and
    +1 point on the formal-news test split (docs/sentiment.md).
    """
    X = sp.csr_matrix(X)
    coef = np.zeros((X.shape[1], len(CLASSES)), dtype=np.float32)
    intercept = np.zeros(len(CLASSES), dtype=np.float32)
    for c in range(len(CLASSES)):
        inside = y == c
        if not inside.any() or inside.all():
            raise ValueError(f"training labels must contain all of {CLASSES} and not only one")
        p = np.asarray(X[inside].sum(axis=0)).ravel() + 1.0
        q = np.asarray(X[~inside].sum(axis=0)).ravel() + 1.0
        r = np.log(p / p.sum()) - np.log(q / q.sum())
        est = LogisticRegression(
            C=C, class_weight=class_weight, solver="liblinear", max_iter=max_iter, random_state=0
        )
        est.fit(X @ sp.diags(r), inside.astype(np.int64))
        coef[:, c] = est.coef_[0] * r
        intercept[c] = est.intercept_[0]
    return LinearHead(coef, intercept)


def cross_validate_cell(cell: Cell, X, y: np.ndarray, folds: np.ndarray, max_iter: int = 1000) -> CellResult:
    """k-fold CV of one cell; ``folds[i]`` is the fold of row ``i``."""
    oof = np.zeros((len(y), len(CLASSES)))
    for k in np.unique(folds):
        test = folds == k
        head = cell.fit(X[~test], y[~test], max_iter)
        oof[test] = head.predict_proba(X[test])
    pred = oof.argmax(axis=1)
    return CellResult(cell, float(accuracy_score(y, pred)), float(f1_score(y, pred, average="macro")), oof)


def run_cells_sequential(
    cells: Sequence[Cell],
    blocks: Mapping[str, object],
    y: np.ndarray,
    folds: np.ndarray,
    max_iter: int = 1000,
) -> list[CellResult]:
    """Evaluate cells one after the other in this process (the Ray layer runs them as tasks)."""
    return [cross_validate_cell(c, blocks[c.block], y, folds, max_iter) for c in cells]


def grid_cells(
    blocks: Sequence[str],
    C: Sequence[float],
    class_weight: Sequence[str | None],
    nb_blocks: Sequence[str] = (),
) -> list[Cell]:
    """Cartesian product of blocks, C values and class weights (``nb_blocks`` get :func:`fit_nb_head`)."""
    return [Cell(b, float(c), cw, b in nb_blocks) for b in blocks for c in C for cw in class_weight]


def _best(results: Sequence[CellResult], metric: str) -> CellResult:
    return max(results, key=lambda r: (getattr(r, metric), r.macro_f1, r.accuracy))


def holdout_split(y: np.ndarray, spec: TrainSpec) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ``(train, hold-out)`` of the stratified ``spec.holdout_fraction`` split of labels ``y``."""
    try:
        return train_test_split(
            np.arange(len(y)), test_size=spec.holdout_fraction, random_state=spec.seed, stratify=y
        )
    except ValueError as exc:  # too few rows, or a class with a single row
        raise DomainError(
            f"{len(y)} labelled rows cannot be split into training and hold-out: {exc}", field="labels"
        ) from None


def _check_class_counts(y: np.ndarray, folds: int) -> None:
    counts = np.bincount(y, minlength=len(CLASSES))
    if counts.min() < folds:
        raise DomainError(
            field="labels",
            message=f"every class needs at least {folds} training rows, got "
            f"{dict(zip(CLASSES, counts.tolist(), strict=True))}",
        )


def check_training_labels(labels: Sequence[object], spec: TrainSpec, split: bool = True) -> None:
    """Run the checks :func:`train_model` makes on the labels before any fitting.

    Running them first lets a request fail at once: each label must be readable, and every class needs
    ``spec.folds`` training rows after the hold-out split (``split=False``: an explicit hold-out set is
    given).
    """
    y = map_labels(labels)
    _check_class_counts(y[holdout_split(y, spec)[0]] if split else y, spec.folds)


def train_model(
    texts: Sequence[str],
    labels: Sequence[object],
    spec: TrainSpec = TrainSpec(),
    holdout: tuple[Sequence[str], Sequence[object]] | None = None,
    *,
    run_cells: RunCells | None = None,
    embed: EmbedFn | None = None,
    embeddings: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainResult:
    """Search the grid of ``spec`` by k-fold CV, refit the best cell on all training rows, score the hold-out.

    Parameters
    ----------
    texts, labels
        Training data; labels as accepted by :func:`~._labels.map_labels`.
    spec
        Grid and validation settings.
    holdout
        Explicit hold-out ``(texts, labels)``; otherwise a stratified ``spec.holdout_fraction`` split.
    run_cells
        ``run_cells(cells, blocks, y, folds) -> results`` in cell order (default sequential).
    embed
        ``embed(texts) -> (n, 384)`` for ``ml`` (default: the in-process e5 embedder).
    embeddings
        Precomputed ``(train, holdout)`` embeddings in row order (skips ``embed``).
    """
    texts = [str(t) for t in texts]
    y = map_labels(labels)
    if len(texts) != len(y):
        raise DomainError(f"{len(texts)} texts but {len(y)} labels", field="labels")
    if holdout is None:
        if embeddings is not None:
            raise ValueError("precomputed embeddings need an explicit holdout set")
        idx_tr, idx_ho = holdout_split(y, spec)
        ho_texts, y_ho = [texts[i] for i in idx_ho], y[idx_ho]
        texts, y = [texts[i] for i in idx_tr], y[idx_tr]
    else:
        ho_texts, y_ho = [str(t) for t in holdout[0]], map_labels(holdout[1])
    _check_class_counts(y, spec.folds)
    run_cells = run_cells or (lambda c, b, yy, f: run_cells_sequential(c, b, yy, f, spec.max_iter))
    folds = np.empty(len(y), dtype=np.int64)
    for k, (_, test) in enumerate(
        StratifiedKFold(spec.folds, shuffle=True, random_state=spec.seed).split(y, y)
    ):
        folds[test] = k

    normalized = normalize_texts(texts)
    idfs = [ng.fit_idf(normalized) if ng.tfidf else None for ng in spec.ngrams]
    blocks: dict[str, object] = {
        f"ngram{i}": ng.transform(normalized, idf)
        for i, (ng, idf) in enumerate(zip(spec.ngrams, idfs, strict=True))
    }
    nb_blocks = [f"ngram{i}" for i, ng in enumerate(spec.ngrams) if ng.binary]
    cells = grid_cells(list(blocks), spec.C, spec.class_weight, nb_blocks)
    use_embed = spec.kind == "ml" and spec.use_embeddings
    E_tr = E_ho = None
    if use_embed:
        if embeddings is not None:
            E_tr, E_ho = (np.asarray(e, dtype=np.float32) for e in embeddings)
        else:
            if embed is None:
                from ._embeddings import get_embedder

                embed = get_embedder().embed
            E_tr, E_ho = embed(texts), embed(ho_texts)
        if E_tr.shape[0] != len(texts) or E_ho.shape[0] != len(ho_texts):
            raise ValueError("embeddings do not match the number of training/hold-out texts")
        blocks["embed"] = E_tr
        cells += grid_cells(["embed"], spec.embed_C, spec.class_weight)
    stage1 = run_cells(cells, blocks, y, folds)
    ngram_best = _best([r for r in stage1 if r.cell.block.startswith("ngram")], spec.metric)
    ngram_spec = spec.ngrams[int(ngram_best.cell.block[5:])]
    ngram_head = ngram_best.cell.fit(blocks[ngram_best.cell.block], y, spec.max_iter)
    grid = [r.row() for r in stage1]
    params = {
        "ngrams": ngram_spec.to_dict(),
        "C": ngram_best.cell.C,
        "class_weight": ngram_best.cell.class_weight,
    }

    if spec.kind == "ml:fast":
        if ngram_spec.tfidf or ngram_spec.binary:
            raise DomainError(
                "ml:fast uses L2-normalised counts; tfidf and binary n-gram blocks are for ml", field="ngrams"
            )
        final = ngram_best
        temperature = fit_temperature(final.oof_proba, y)
        model: FastModel | StackedModel = FastModel(ngram_spec, ngram_head.scaled(1.0 / temperature))
        p_ho = model.predict_proba(ho_texts)
    else:
        lex = lexicon_features(texts, normalized, spec.lexicon)
        mean, scale = lex.mean(axis=0), lex.std(axis=0)
        scale[scale == 0] = 1.0
        lex_std = (lex - mean) / scale
        embed_best = embed_head = None
        if use_embed:
            embed_best = _best([r for r in stage1 if r.cell.block == "embed"], spec.metric)
            embed_head = fit_head(E_tr, y, embed_best.cell.C, embed_best.cell.class_weight, spec.max_iter)
            params["embed_C"], params["embed_class_weight"] = embed_best.cell.C, embed_best.cell.class_weight
        # every n-gram block is a base of ml, each with its own best cell
        block_best = [
            _best([r for r in stage1 if r.cell.block == f"ngram{i}"], spec.metric)
            for i in range(len(spec.ngrams))
        ]
        bases = [
            NgramBase(
                ng,
                ngram_head if r is ngram_best else r.cell.fit(blocks[r.cell.block], y, spec.max_iter),
                idf,
            )
            for ng, idf, r in zip(spec.ngrams, idfs, block_best, strict=True)
        ]
        params["bases"] = [
            {"ngrams": ng.to_dict(), "C": r.cell.C, "class_weight": r.cell.class_weight}
            | ({"learner": "nb_logistic"} if r.cell.nb else {})
            for ng, r in zip(spec.ngrams, block_best, strict=True)
        ]
        oof = [r.oof_proba for r in block_best] + ([] if embed_best is None else [embed_best.oof_proba])
        Z = stack_features(oof, lex_std)
        stage2 = run_cells(grid_cells(["meta"], spec.meta_C, spec.class_weight), {"meta": Z}, y, folds)
        final = _best(stage2, spec.metric)
        temperature = fit_temperature(final.oof_proba, y)
        meta_head = fit_head(Z, y, final.cell.C, final.cell.class_weight, spec.max_iter).scaled(
            1.0 / temperature
        )
        params["meta_C"], params["meta_class_weight"] = final.cell.C, final.cell.class_weight
        grid += [r.row() for r in stage2]
        model = StackedModel(tuple(bases), embed_head, meta_head, mean, scale, spec.lexicon)
        p_ho = model.predict_proba(ho_texts, embeddings=E_ho)

    pred = p_ho.argmax(axis=1)
    return TrainResult(
        kind=spec.kind,
        model=model,
        params=params,
        cv_accuracy=final.accuracy,
        cv_macro_f1=final.macro_f1,
        holdout_accuracy=float(accuracy_score(y_ho, pred)),
        holdout_macro_f1=float(f1_score(y_ho, pred, average="macro")),
        confusion_matrix=confusion_matrix(y_ho, pred, labels=list(range(len(CLASSES)))),
        grid=grid,
        n_train=len(y),
        n_holdout=len(y_ho),
        temperature=temperature,
        calibration=calibration_report(y_ho, p_ho),
    )


def model_card(
    result: TrainResult, *, version: str, data: dict, created: str | None = None, embedder: dict | None = None
) -> dict:
    """Model-card fields of a training result (``save_model`` adds kind and feature settings).

    Parameters
    ----------
    data
        ``source``, ``licence``, ``holdout`` descriptions (no text).
    created
        ISO timestamp (default: now, UTC).
    """
    card = {
        "version": version,
        "created": created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {**data, "n_train": result.n_train, "n_holdout": result.n_holdout},
        "metrics": result.metrics(),
        "confusion_matrix": result.confusion_matrix.tolist(),
        "params": result.params,
        "grid": result.grid,
        "classes": list(CLASSES),
        "label_mapping": {"0": "negative (bearish)", "1": "positive (bullish)", "2": "neutral"},
        "calibration": {"temperature": result.temperature, "holdout": result.calibration},
    }
    if embedder is not None:
        card["embedder"] = embedder
    return card
