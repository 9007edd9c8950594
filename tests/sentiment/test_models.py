"""The shipped default models: load, score consistently, reproduce their cards, beat the lexicons."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import accuracy_score, f1_score

from services.sentiment.engine import (
    BUILTIN_MODEL_DIR,
    ModelName,
    ScoreBatch,
    load_model,
    load_scorer,
    map_labels,
    save_model,
)
from tests.utils.shared import require_shared


def _real_valid(why: str) -> pd.DataFrame:
    """The real valid split, or skip: ``why`` holds of it, not of a generated stand-in."""
    return pd.read_csv(require_shared("data", "twitter_financial_news", "sent_valid.csv", why=why))


@pytest.fixture(scope="module")
def fast():
    return load_scorer("ml:fast")


@pytest.fixture(scope="module")
def stacked():
    return load_scorer("ml")


@pytest.fixture(scope="module")
def valid_sample():
    """A fixed stratified sample of the valid split."""
    valid = _real_valid("asserts that the shipped models beat the lexicons on it by 0.1 accuracy")
    return valid.groupby("label", group_keys=False).sample(frac=0.12, random_state=7)


@pytest.mark.parametrize("name", ["ml", "ml:fast"], ids=["ml", "ml-fast"])
def test_cards_and_artifacts(name):
    folder = BUILTIN_MODEL_DIR / ModelName(name).slug
    _model, card = load_model(folder)
    assert card["kind"] == name and card["data"]["licence"] == "MIT"
    assert {"cv_accuracy", "holdout_accuracy", "holdout_macro_f1"} <= set(card["metrics"])
    assert (folder / "MODEL_CARD.md").is_file()
    assert sum(p.stat().st_size for p in folder.iterdir()) < 8_000_000  # coefficients only, a few MB


def test_fast_reproduces_its_card_on_the_valid_split(fast):
    valid = _real_valid("asserts the accuracy and macro F1 the shipped ml:fast model's card records on it")
    y = map_labels(valid["label"])
    batch = fast.score(valid["text"].tolist())
    assert_allclose(accuracy_score(y, batch.labels), fast.card["metrics"]["holdout_accuracy"], atol=1e-9)
    assert_allclose(
        f1_score(y, batch.labels, average="macro"), fast.card["metrics"]["holdout_macro_f1"], atol=1e-9
    )


def test_ml_reproduces_its_card_and_calibration_on_the_valid_split(stacked):
    valid = _real_valid("asserts the accuracy, macro F1 and Brier score the shipped ml model's card records")
    y = map_labels(valid["label"])
    batch = stacked.score(valid["text"].tolist())
    metrics, calib = stacked.card["metrics"], stacked.card["calibration"]["holdout"]
    assert_allclose(accuracy_score(y, batch.labels), metrics["holdout_accuracy"], atol=1e-9)
    assert_allclose(f1_score(y, batch.labels, average="macro"), metrics["holdout_macro_f1"], atol=1e-9)
    brier = ((batch.probabilities - np.eye(3)[y]) ** 2).sum(axis=1).mean()
    assert_allclose(brier, calib["brier"], rtol=1e-6)
    assert calib["ece"] < 0.05  # temperature-scaled: usable as probabilities
    assert not stacked.model.uses_embeddings  # ~1,500 texts/s per core, no e5 (raysvc bench sentiment-models)


@pytest.mark.parametrize(("split", "min_accuracy", "min_f1"), [("dev", 0.85, 0.80), ("test", 0.85, 0.80)])
def test_ml_reads_formal_news(stacked, fast, split, min_accuracy, min_f1):
    """The hand-written formal-news fixture (tests/sentiment/data/FORMAL_NEWS.md): #18's bar, on each split.

    The dev split was used while writing the direction rules and choosing the recipe; the test split
    was only scored at the end.
    """
    data = pd.read_csv(Path(__file__).parent / "data" / f"formal_news_{split}.csv")
    y = map_labels(data["label"])
    pred = stacked.score(data["text"].tolist()).labels
    assert accuracy_score(y, pred) >= min_accuracy
    assert f1_score(y, pred, average="macro") >= min_f1
    assert accuracy_score(y, pred) > accuracy_score(y, fast.score(data["text"].tolist()).labels)


@pytest.mark.slow
@pytest.mark.parametrize("lexicon", ["lexicon", "lexicon:vader"], ids=["textblob", "vader"])
def test_ml_models_beat_the_lexicons(fast, stacked, valid_sample, lexicon):
    texts, y = valid_sample["text"].tolist(), map_labels(valid_sample["label"])
    lex_acc = accuracy_score(y, load_scorer(lexicon).score(texts).labels)
    fast_acc = accuracy_score(y, fast.score(texts).labels)
    ml_acc = accuracy_score(y, stacked.score(texts).labels)
    assert lex_acc < 0.7  # general-purpose lexicons are weak on financial text
    assert fast_acc > lex_acc + 0.1
    assert ml_acc > lex_acc + 0.1


def test_score_batch_invariants(fast):
    texts = ["$TSLA soars after record deliveries", "Bank cut to sell at Goldman", "Fed minutes due at 2pm"]
    batch = fast.score(texts)
    assert len(batch) == 3
    assert_allclose(batch.probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert_allclose(batch.scores, batch.probabilities[:, 2] - batch.probabilities[:, 0], atol=1e-12)
    assert np.array_equal(batch.labels, batch.probabilities.argmax(axis=1))
    assert batch.label_names() == ["positive", "negative", "neutral"]
    # chunking does not change results
    parts = ScoreBatch.concat([fast.score(texts[:1]), fast.score(texts[1:])])
    assert_allclose(parts.probabilities, batch.probabilities, atol=1e-12)
    assert len(fast.score([])) == 0


def test_small_batch_path_equals_sklearns_hashing_vectorizer(fast, twitter_valid):
    """``NgramSpec.nonzeros`` (the path of requests of up to SMALL_BATCH texts) against sklearn's
    ``HashingVectorizer`` + sparse product on every text of the valid split: identical bits."""
    from services.sentiment.engine._models import SMALL_BATCH
    from services.sentiment.engine._text import normalize_texts

    model = fast.model
    texts = normalize_texts([*twitter_valid["text"].tolist(), "", "$$$", "ünïcode façade — 日本"])
    reference = model.head.logits(model.ngrams.transform(texts))
    ours = model.head.logits_of_nonzeros(len(texts), *model.ngrams.nonzeros(texts))
    assert np.array_equal(ours, reference)
    # and through the scorer: a small batch (own path) equals the same texts inside a large one (sklearn)
    small = texts[:SMALL_BATCH]
    assert np.array_equal(model.predict_proba(small), model.predict_proba(texts)[:SMALL_BATCH])


def test_save_load_roundtrip(fast, tmp_path):
    folder = save_model(fast.model, tmp_path / "m", {"version": "t", "data": {}, "metrics": {}})
    model, card = load_model(folder)
    texts = ["Shares rise 5% on upbeat guidance", "Profit warning sends stock lower"]
    assert_allclose(model.predict_proba(texts), fast.model.predict_proba(texts), atol=1e-7)
    assert card["version"] == "t" and card["kind"] == "ml:fast"
