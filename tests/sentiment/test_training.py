"""Training on a small sample: grid x k-fold CV, hold-out metrics, refit, and the grid-cell contract."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from services.core.exceptions import DomainError
from services.sentiment.engine import (
    Cell,
    FastModel,
    NgramSpec,
    StackedModel,
    TrainSpec,
    cross_validate_cell,
    map_labels,
    model_card,
    normalize_texts,
    train_model,
)


@pytest.fixture(scope="module")
def sample(twitter_train):
    rows = twitter_train.groupby("label", group_keys=False).sample(n=150, random_state=1)
    return rows.sample(frac=1.0, random_state=2)  # shuffled: the explicit hold-out test slices it


@pytest.fixture(scope="module")
def fast_result(sample):
    spec = TrainSpec(
        kind="ml:fast",
        ngrams=(NgramSpec((1, 1)), NgramSpec((1, 2))),
        C=(1.0, 10.0),
        class_weight=(None,),
        folds=3,
        holdout_fraction=0.25,
        seed=3,
    )
    return train_model(sample["text"], sample["label"], spec)


def test_fast_training_result(fast_result, sample):
    r = fast_result
    assert isinstance(r.model, FastModel)
    assert r.n_train + r.n_holdout == len(sample) and r.n_holdout == math.ceil(
        0.25 * len(sample)
    )  # sklearn rounds the test share up
    assert len(r.grid) == 4 and {g["block"] for g in r.grid} == {"ngram0", "ngram1"}
    best = max(r.grid, key=lambda g: (g["cv_accuracy"], g["cv_macro_f1"]))
    assert r.cv_accuracy == best["cv_accuracy"] and r.params["C"] == best["C"]
    assert r.confusion_matrix.shape == (3, 3) and r.confusion_matrix.sum() == r.n_holdout
    acc = np.trace(r.confusion_matrix) / r.n_holdout
    assert_allclose(r.holdout_accuracy, acc, atol=1e-12)
    assert r.holdout_accuracy > 0.45  # balanced 3-class sample: chance is 1/3
    card = model_card(r, version="v-test", data={"source": "sample", "licence": "MIT"})
    assert card["metrics"]["holdout_macro_f1"] == r.holdout_macro_f1 and card["data"]["n_train"] == r.n_train


def test_cross_validate_cell_matches_a_reference_loop(sample):
    texts, y = normalize_texts(sample["text"]), map_labels(sample["label"])
    X = NgramSpec((1, 2)).transform(texts)
    folds = np.arange(len(y)) % 3
    got = cross_validate_cell(Cell("x", 5.0, None), X, y, folds)
    pred = np.empty(len(y), dtype=int)
    for k in range(3):
        est = LogisticRegression(C=5.0, solver="saga", tol=1e-3, max_iter=1000).fit(
            X[folds != k], y[folds != k]
        )
        pred[folds == k] = est.predict(X[folds == k])
    assert_allclose(
        got.accuracy, accuracy_score(y, pred), atol=0.02
    )  # same solver, same data; saga tolerance
    assert_allclose(got.macro_f1, f1_score(y, got.oof_proba.argmax(1), average="macro"), atol=1e-12)
    assert_allclose(got.oof_proba.sum(axis=1), 1.0, atol=1e-9)


def test_stacked_training_without_embeddings(sample):
    """``ml`` with the lexicon + n-gram stack (the e5 stage is exercised by the shipped model's tests)."""
    spec = TrainSpec(
        kind="ml",
        ngrams=(NgramSpec((1, 2)),),
        C=(10.0,),
        class_weight=(None,),
        meta_C=(0.3, 3.0),
        use_embeddings=False,
        folds=3,
        seed=0,
    )
    r = train_model(sample["text"], sample["label"], spec)
    assert isinstance(r.model, StackedModel) and not r.model.uses_embeddings
    assert [g["block"] for g in r.grid] == ["ngram0", "meta", "meta"]
    assert r.params["meta_C"] in (0.3, 3.0)
    y_pred = r.model.predict_proba(["Stock plunges after profit warning"]).argmax(1)
    assert y_pred.shape == (1,)
    cm = r.confusion_matrix
    assert cm.sum() == r.n_holdout and np.all(cm >= 0)


def test_explicit_holdout_and_string_labels(sample):
    words = sample["label"].map({0: "bearish", 1: "bullish", 2: "neutral"})
    spec = TrainSpec(
        kind="ml:fast", ngrams=(NgramSpec((1, 1)),), C=(10.0,), class_weight=("balanced",), folds=3
    )
    r = train_model(sample["text"][:300], words[:300], spec, holdout=(sample["text"][300:], words[300:]))
    assert r.n_train == 300 and r.n_holdout == len(sample) - 300
    y_ho = map_labels(words[300:])
    pred = r.model.predict_proba(sample["text"][300:].tolist()).argmax(1)
    assert_allclose(r.holdout_accuracy, accuracy_score(y_ho, pred), atol=1e-12)
    assert np.array_equal(r.confusion_matrix, confusion_matrix(y_ho, pred, labels=[0, 1, 2]))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "bert"}, "kind"),
        ({"folds": 1}, "folds"),
        ({"C": (0.0,)}, "C"),
        ({"class_weight": ("heavy",)}, "class_weight"),
        ({"metric": "auc"}, "metric"),
    ],
    ids=["kind", "folds", "C", "class-weight", "metric"],
)
def test_train_spec_validation(kwargs, field):
    with pytest.raises(DomainError) as info:
        TrainSpec(**kwargs)
    assert info.value.field == field


def test_too_few_rows_per_class():
    with pytest.raises(DomainError, match="at least"):
        train_model(["up", "down", "flat"] * 2, [1, 0, 2] * 2, TrainSpec(folds=3, holdout_fraction=0.5))


def test_tfidf_block_equals_sklearns_tfidf_transformer(sample):
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    texts = normalize_texts(sample["text"])
    spec = NgramSpec((1, 2), (3, 4), 16, tfidf=True)
    counts = [
        HashingVectorizer(
            analyzer=a, ngram_range=r, n_features=1 << 16, alternate_sign=False, norm=None, **kw
        )
        for a, r, kw in (("word", (1, 2), {"token_pattern": r"(?u)\b\w+\b"}), ("char_wb", (3, 4), {}))
    ]
    import scipy.sparse as sp

    raw = sp.hstack([v.transform(texts) for v in counts], format="csr")
    ref = TfidfTransformer(sublinear_tf=True).fit(raw[:300])
    idf = spec.fit_idf(texts[:300])
    assert_allclose(idf, ref.idf_, rtol=1e-6)
    assert_allclose(spec.transform(texts[300:], idf).toarray(), ref.transform(raw[300:]).toarray(), atol=1e-6)
    with pytest.raises(ValueError, match="idf"):
        spec.transform(texts)


def test_binary_block_equals_sklearns_binary_hashing(sample):
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = normalize_texts(sample["text"])
    ref = HashingVectorizer(
        ngram_range=(1, 3), n_features=1 << 16, alternate_sign=False, norm=None, binary=True,
        token_pattern=r"(?u)\b\w+\b",
    )  # fmt: skip
    got = NgramSpec((1, 3), None, 16, binary=True).transform(texts)
    assert (got != ref.transform(texts)).nnz == 0 and set(got.data) == {1.0}
    with pytest.raises(ValueError, match="not both"):
        NgramSpec(tfidf=True, binary=True)


def test_nb_head_matches_a_reference_nbsvm(sample):
    """fit_nb_head against the NBSVM recipe written out densely: ratios, scaled columns, one-vs-rest fits."""
    from services.sentiment.engine import fit_nb_head

    X = NgramSpec((1, 2), None, 12, binary=True).transform(normalize_texts(sample["text"]))
    y = map_labels(sample["label"])
    head = fit_nb_head(X, y, 3.0, None)
    dense = X.toarray()
    for c in range(3):
        p, q = dense[y == c].sum(axis=0) + 1, dense[y != c].sum(axis=0) + 1
        r = np.log(p / p.sum() / (q / q.sum()))
        ref = LogisticRegression(C=3.0, solver="liblinear", random_state=0).fit(dense * r, y == c)
        assert_allclose(head.logits(X)[:, c], ref.decision_function(dense * r), atol=1e-4)
    # a cell with nb=True cross-validates through the same head
    got = cross_validate_cell(Cell("x", 3.0, None, nb=True), X, y, np.arange(len(y)) % 3)
    assert got.row()["learner"] == "nb_logistic" and 0.4 < got.accuracy <= 1.0


def test_stacked_training_with_three_bases_and_calibration_round_trips(sample, tmp_path):
    from services.sentiment.engine import load_model, save_model

    spec = TrainSpec(
        kind="ml",
        ngrams=(
            NgramSpec((1, 2), tfidf=True),
            NgramSpec((1, 1), (3, 4), 16),
            NgramSpec((1, 2), None, 18, binary=True),  # hashes like the first: they share the counts
        ),
        C=(10.0,),
        class_weight=(None,),
        meta_C=(1.0,),
        use_embeddings=False,
        folds=3,
    )
    r = train_model(sample["text"], sample["label"], spec)
    assert [g["block"] for g in r.grid] == ["ngram0", "ngram1", "ngram2", "meta"]
    assert [g.get("learner") for g in r.grid] == [None, None, "nb_logistic", None]
    assert len(r.model.bases) == 3 and r.model.bases[0].idf is not None and r.model.bases[1].idf is None
    assert [b["ngrams"]["tfidf"] for b in r.params["bases"]] == [True, False, False]
    assert r.model.bases[2].spec.binary and r.params["bases"][2]["learner"] == "nb_logistic"
    # shared counts change nothing: the stack recomputed base by base, each hashing on its own
    from services.sentiment.engine._finance_lexicon import lexicon_features
    from services.sentiment.engine._models import stack_features

    texts, m = sample["text"].tolist()[:40], r.model
    norm = normalize_texts(texts)
    lex = (lexicon_features(texts, norm, m.lexicon_names) - m.lexicon_mean) / m.lexicon_scale
    alone = m.meta_head.predict_proba(stack_features([b.predict_proba(norm) for b in m.bases], lex))
    assert_allclose(m.predict_proba(texts), alone, atol=1e-12)
    assert 0.05 <= r.temperature <= 20 and {"brier", "nll", "ece", "reliability"} <= set(r.calibration)
    card = model_card(r, version="v-test", data={"source": "sample", "licence": "MIT"})
    folder = save_model(r.model, tmp_path / "m", card)
    loaded, saved = load_model(folder)
    texts = sample["text"].tolist()[:60]
    assert_allclose(loaded.predict_proba(texts), r.model.predict_proba(texts), atol=1e-6)
    assert saved["calibration"]["temperature"] == r.temperature
    assert (folder / "reliability.png").stat().st_size > 2_000
    assert "## Calibration (hold-out)" in (folder / "MODEL_CARD.md").read_text()
