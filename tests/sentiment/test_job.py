"""The batch job: streaming CSV/Parquet scoring in blocks on Ray, and training a version from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from services.sentiment.engine import load_model, load_scorer, map_labels
from services.sentiment.job import main


@pytest.fixture(scope="module")
def texts_csv(tmp_path_factory, twitter_valid):
    frame = twitter_valid.iloc[:2_000].reset_index(drop=True).copy()
    frame.insert(0, "id", np.arange(len(frame)))
    frame.loc[5, "text"] = ""  # blank text: kept as a row, not scored
    frame.loc[7, "text"] = 'multi-line, "quoted"\ntext, shares fall'
    path = tmp_path_factory.mktemp("score") / "texts.csv"
    frame.to_csv(path, index=False)
    return path, frame


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".parquet"], ids=["csv", "parquet"])
def test_score_job_streams_blocks_and_equals_engine(ray_local, data_dir, tmp_path, texts_csv, suffix):
    src, frame = texts_csv
    out, res = tmp_path / f"scored{suffix}", tmp_path / "result.json"
    argv = [
        "score",
        "--input",
        str(src),
        "--output",
        str(out),
        "--text-col",
        "text",
        "--model",
        "ml:fast",
        "--block-rows",
        "700",
        "--result-json",
        str(res),
    ]
    assert main(argv) == 0
    got = (
        pd.read_csv(out, keep_default_na=False, na_values=[""]) if suffix == ".csv" else pd.read_parquet(out)
    )
    result = json.loads(res.read_text())
    assert result["rows"] == len(frame) == len(got) and result["model"] == "ml:fast"
    assert got["id"].tolist() == frame["id"].tolist()  # order kept across blocks and chunks
    assert got.loc[5, "label"] in ("", None) or pd.isna(got.loc[5, "label"])
    assert np.isnan(got.loc[5, "score"])
    keep = frame["text"].str.strip() != ""
    ref = load_scorer("ml:fast").score(frame.loc[keep, "text"].tolist())
    assert_allclose(got.loc[keep, "score"].to_numpy(float), ref.scores, atol=1e-9)
    assert got.loc[keep, "label"].tolist() == ref.label_names()
    assert_allclose(
        got.loc[keep, ["p_negative", "p_neutral", "p_positive"]].to_numpy(float), ref.probabilities, atol=1e-9
    )
    assert sum(result["labels"].values()) == int(keep.sum())


@pytest.mark.slow
def test_score_job_bad_column_writes_a_problem(ray_local, data_dir, tmp_path, texts_csv):
    src, _ = texts_csv
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "params": {
                    "input": str(src),
                    "output": str(tmp_path / "o.csv"),
                    "text_col": "tweet",
                    "model": "ml:fast",
                }
            }
        )
    )
    assert main(["score", "--params-file", str(spec), "--job-dir", str(tmp_path / "job")]) != 0
    problem = json.loads((tmp_path / "job" / "error.json").read_text())
    assert problem["status"] == 422 and problem["errors"][0]["field"] == "params.text_col"
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.slow
def test_train_job_from_the_cli(ray_local, data_dir, tmp_path, twitter_train):
    sample = twitter_train.groupby("label", group_keys=False).sample(n=120, random_state=5)
    data = tmp_path / "train.csv"
    sample.rename(columns={"text": "tweet", "label": "y"}).to_csv(data, index=False)
    res = tmp_path / "result.json"
    argv = [
        "train",
        "--data",
        str(data),
        "--text-col",
        "tweet",
        "--label-col",
        "y",
        "--kind",
        "ml:fast",
        "--word-ngrams",
        "1,1",
        "--word-ngrams",
        "1,2",
        "--C",
        "3",
        "--C",
        "30",
        "--folds",
        "3",
        "--version",
        "cli-test",
        "--result-json",
        str(res),
    ]
    assert main(argv) == 0
    body = json.loads(res.read_text())
    assert body["version"] == "cli-test" and body["model"] == "ml:fast"
    assert len(body["grid"]) == 2 * 2 * 2  # ngram settings x C x class weights
    assert body["n_train"] + body["n_holdout"] == len(sample)
    cm = np.array(body["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == body["n_holdout"]
    assert_allclose(np.trace(cm) / cm.sum(), body["metrics"]["holdout_accuracy"], atol=1e-12)
    model, card = load_model(body["path"])
    assert card["version"] == "cli-test" and card["data"]["source"] == "train.csv"
    # the saved model reproduces the CV winner's predictions on its own training rows (sanity: it learned)
    acc = (model.predict_proba(sample["text"].tolist()).argmax(1) == map_labels(sample["label"])).mean()
    assert acc > 0.8
    assert main(argv) != 0  # the same version twice is refused
