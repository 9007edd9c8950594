"""The sentiment HTTP API under TestClient (lifespan on, the session's embedded Ray, generated data)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from services.sentiment.engine import load_scorer, monthly_rankings, symbol_aggregates
from tests.utils.apps import app_client, problem, wait_for_job

HEADLINES = [
    "$AAPL beats estimates and raises guidance",
    "Bank cut to sell at Goldman on weak outlook",
    "Fed minutes due at 2pm",
    "Shares plunge 12% after profit warning",
    "Company announces record quarterly revenue, stock soars",
    "Analysts keep neutral rating on utility",
]


client = app_client("services.sentiment.app")


@pytest.mark.parametrize(
    "model", ["ml:fast", "lexicon", "lexicon:vader"], ids=["ml-fast", "textblob", "vader"]
)
def test_score_on_ray_keeps_order_across_chunks(client, model):
    """Enough texts for several Ray chunks (≥ 50 ms of estimated work: on Ray however idle the service);
    every row equals the engine's score of that text."""
    n = {"ml:fast": 8_000, "lexicon": 1_500, "lexicon:vader": 3_000}[model]
    texts = [f"{HEADLINES[i % len(HEADLINES)]} #{i}" for i in range(n)]
    assert len(texts) <= client.app.state.platform.settings.max_texts
    r = client.post("/v1/sentiment/score", json={"texts": texts, "model": model})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == model and body["count"] == len(texts) and body["version"] == "builtin"
    assert body["computed_on"] == "ray" and body["estimated_work_ms"] >= 50
    ref = load_scorer(model).score(texts)
    got_scores = np.array([x["score"] for x in body["results"]])
    assert_allclose(got_scores, ref.scores, atol=1e-6)  # the API rounds to 6 decimals
    assert [x["label"] for x in body["results"]] == ref.label_names()
    p = np.array(
        [[x["probabilities"][k] for k in ("negative", "neutral", "positive")] for x in body["results"]]
    )
    assert_allclose(p, ref.probabilities, atol=1e-6)


def test_score_default_ml_model(client):
    r = client.post("/v1/sentiment/score", json={"texts": HEADLINES * 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "ml"
    assert body["computed_on"] == "in_process"  # ~3.6 ms of work, idle service
    assert body["estimated_work_ms"] == pytest.approx(0.5 + 18 * 0.17, abs=0.01)
    ref = load_scorer("ml").score(HEADLINES)
    got = np.array([x["score"] for x in body["results"]]).reshape(3, -1)
    for row in got:
        assert_allclose(row, ref.scores, atol=1e-5)
    labels = [x["label"] for x in body["results"][: len(HEADLINES)]]
    assert labels[0] == "positive" and labels[1] == "negative" and labels[3] == "negative"


def test_a_busy_service_scores_on_ray_with_the_same_numbers(client):
    """≥ 5 ms of work while other requests are in flight goes to Ray (services.core.routing): the same
    scores as in-process."""
    from services.core.metrics import REQUEST_STATS

    texts = [f"{HEADLINES[i % len(HEADLINES)]} #{i}" for i in range(40)]  # ml: ~7 ms
    idle = client.post("/v1/sentiment/score", json={"texts": texts}).json()
    REQUEST_STATS.in_flight["sentiment"] += 3  # three other requests being served
    try:
        busy = client.post("/v1/sentiment/score", json={"texts": texts}).json()
    finally:
        REQUEST_STATS.in_flight["sentiment"] -= 3
    assert (idle["computed_on"], busy["computed_on"]) == ("in_process", "ray")
    assert_allclose([x["score"] for x in busy["results"]], [x["score"] for x in idle["results"]], atol=1e-6)
    assert [x["label"] for x in busy["results"]] == [x["label"] for x in idle["results"]]


@pytest.mark.parametrize(
    ("texts", "field"),
    [
        (["ok", ""], "body.texts[1]"),
        (["ok", "   "], "body.texts[1]"),
        (["ok", 3], "body.texts[1]"),
        ([None], "body.texts[0]"),
        (["x" * 5001], "body.texts[0]"),
    ],
    ids=["empty", "blank", "number", "null", "too-long"],
)
def test_score_rejects_bad_texts(client, texts, field):
    problem(client.post("/v1/sentiment/score", json={"texts": texts, "model": "ml:fast"}), 422, field)


def test_score_too_many_texts_is_413_with_batch_pointer(client):
    limit = client.app.state.platform.settings.max_texts
    body = problem(
        client.post("/v1/sentiment/score", json={"texts": ["a"] * (limit + 1), "model": "ml:fast"}), 413
    )
    assert "raysvc job sentiment score" in body["detail"] and "batch_command" in body


def test_score_unknown_model_and_version(client):
    problem(client.post("/v1/sentiment/score", json={"texts": ["a"], "model": "bert"}), 422, "body.model")
    problem(
        client.post("/v1/sentiment/score", json={"texts": ["a"], "model": "ml:fast", "version": "nope"}), 404
    )


@pytest.mark.parametrize(
    "version",
    ["v" * 10_000, "../ml", "a b", "-x", "ok\n"],
    ids=["10k-chars", "dots-slash", "space", "dash-first", "newline"],
)
def test_score_malformed_version_is_422(client, version):
    problem(
        client.post("/v1/sentiment/score", json={"texts": ["a"], "model": "ml:fast", "version": version}),
        422,
        "body.version",
    )


def test_models_lists_builtin_versions_with_metrics(client):
    body = client.get("/v1/sentiment/models").json()
    by = {(m["model"], m["version"]): m for m in body["data"]}
    assert body["default_model"] == "ml"
    assert {
        ("ml", "builtin"),
        ("ml:fast", "builtin"),
        ("lexicon", "builtin"),
        ("lexicon:vader", "builtin"),
    } <= set(by)
    assert by[("ml", "builtin")]["metrics"]["holdout_accuracy"] >= 0.86
    assert by[("ml:fast", "builtin")]["metrics"]["holdout_accuracy"] >= 0.84


def test_symbols_and_detail_match_engine(client):
    from services.core.app import get_platform
    from services.sentiment import service as svc

    frame = svc.social_frame(get_platform().catalog)
    body = client.get("/v1/sentiment/symbols").json()
    assert body["count"] == frame["symbol"].nunique() and sum(r["rows"] for r in body["data"]) == len(frame)
    sym = body["data"][0]["symbol"]
    detail = client.get(
        f"/v1/sentiment/symbols/{sym.lower()}", params={"start": "2022-02-01", "end": "2022-03-31"}
    )
    assert detail.status_code == 200, detail.text
    d = detail.json()
    ref = symbol_aggregates(frame, sym, "2022-02-01", "2022-03-31")
    assert [m["month"] for m in d["monthly"]] == ref.monthly["month"].tolist()
    assert_allclose([m["likes"] for m in d["monthly"]], ref.monthly["likes"], rtol=1e-12)
    assert len(d["daily"]) == len(ref.daily)
    problem(client.get("/v1/sentiment/symbols/NOPE"), 404)
    problem(client.get(f"/v1/sentiment/symbols/{sym}", params={"start": "bad"}), 422, "query.start")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2022-02-01T10:30:00"}, "query.start"),
        ({"start": ""}, "query.start"),
        ({"end": "now"}, "query.end"),
        ({"end": "2999-01-01"}, "query.end"),
        ({"start": "2022-03-01", "end": "2022-02-01"}, "query.start"),
    ],
    ids=["with-time", "empty", "now", "after-pandas-range", "start-after-end"],
)
def test_symbol_detail_bad_dates_are_422(client, params, field):
    sym = client.get("/v1/sentiment/symbols").json()["data"][0]["symbol"]
    problem(client.get(f"/v1/sentiment/symbols/{sym}", params=params), 422, field)


def test_symbol_detail_dates_are_yyyy_mm_dd(client):
    """A time with an offset was a 500 (tz-aware against naive dates), a number a Unix time: both are 422."""
    sym = client.get("/v1/sentiment/symbols").json()["data"][0]["symbol"]
    for start in ("2022-02-01T00:00:00+05:00", "0", "20220201"):
        problem(client.get(f"/v1/sentiment/symbols/{sym}", params={"start": start}), 422, "query.start")
    r = client.get(f"/v1/sentiment/symbols/{sym}", params={"start": "2022-02-01", "end": "2022-02-03"})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["start"] == "2022-02-01" and [d["date"] for d in r.json()["daily"]] == [
        "2022-02-01",
        "2022-02-02",
        "2022-02-03",
    ]


def test_rankings(client):
    from services.core.app import get_platform
    from services.sentiment import service as svc

    frame = svc.social_frame(get_platform().catalog)
    month = sorted(frame["month"].unique())[3]
    r = client.get(
        "/v1/sentiment/rankings", params={"month": month, "top": 5, "min_likes": 20, "min_comments": 10}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    ref = monthly_rankings(frame, month, 5, 20, 10)
    assert [x["symbol"] for x in body["data"]] == ref["symbol"].tolist() and body["count"] <= 5
    assert_allclose([x["engagement_ratio"] for x in body["data"]], ref["engagement_ratio"], rtol=1e-12)
    assert [x["rank"] for x in body["data"]] == list(range(1, body["count"] + 1))
    problem(client.get("/v1/sentiment/rankings", params={"month": "2022-13"}), 422, "query.month")
    problem(client.get("/v1/sentiment/rankings", params={"top": 0}), 422, "query.top")


def test_seed_compatible_endpoints(client):
    status = client.get("/status").json()
    assert status["service"] == "sentiment" and "ml" in status["details"]["models"]
    r = client.post("/analyze-sentiment", json={"texts": HEADLINES[:2]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["text"] for x in res] == HEADLINES[:2] and res[0]["sentiment"] == "positive"
    assert all(0 < x["confidence"] <= 1 for x in res)
    tickers = client.get("/available-tickers").json()
    assert tickers["count"] == len(tickers["tickers"]) > 0
    first = tickers["tickers"][0]
    r = client.post("/analyze-tickers", json={"tickers": [first, "NOPE"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unknown"] == ["NOPE"] and body["ticker_analysis"][first]["days"] > 0
    problem(client.post("/analyze-tickers", json={"tickers": ["NOPE"]}), 404)


@pytest.mark.slow
def test_train_through_the_job_api_then_score_with_the_new_version(client, twitter_train):
    """POST /train answers 202 + Location; the job (same entrypoint as the CLI) saves a version that
    GET /models lists and /score can name."""
    sample = twitter_train.groupby("label", group_keys=False).sample(n=60, random_state=11)
    req = {
        "kind": "ml:fast",
        "texts": sample["text"].tolist(),
        "labels": sample["label"].tolist(),
        "C": [10],
        "class_weight": [None],
        "folds": 3,
        "version": "api-test",
    }
    r = client.post("/v1/sentiment/train", json=req)
    assert r.status_code == 202, r.text
    url = r.headers["location"]
    info = wait_for_job(client, url)
    assert info["status"] == "SUCCEEDED", info
    result = info["result"]
    assert result["version"] == "api-test" and result["n_train"] + result["n_holdout"] == len(sample)
    assert np.array(result["confusion_matrix"]).sum() == result["n_holdout"]
    models = client.get("/v1/sentiment/models").json()["data"]
    mine = [m for m in models if m["model"] == "ml:fast" and m["version"] == "api-test"]
    assert len(mine) == 1 and not mine[0]["builtin"]
    assert mine[0]["metrics"]["holdout_accuracy"] == result["metrics"]["holdout_accuracy"]
    scored = client.post(
        "/v1/sentiment/score", json={"texts": HEADLINES, "model": "ml:fast", "version": "api-test"}
    )
    assert scored.status_code == 200 and scored.json()["version"] == "api-test"


@pytest.mark.parametrize(
    ("req", "field"),
    [
        ({"kind": "ml:fast"}, "body.data"),
        ({"data": "../../etc/passwd"}, "body.data"),
        ({"texts": ["a", "b"], "labels": [0]}, "body.labels"),
        ({"data": "sentiment_data.csv", "C": [-1]}, None),
    ],
    ids=["no-data", "outside-data-dir", "label-count", "negative-C"],
)
def test_train_rejects_bad_requests(client, req, field):
    r = client.post("/v1/sentiment/train", json=req)
    problem(r, 422, field)


def _tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.is_dir() else set()


TEN_EACH = {"texts": [f"headline {i}" for i in range(30)], "labels": [0, 1, 2] * 10, "folds": 2}


@pytest.mark.parametrize(
    ("req", "field"),
    [
        ({**TEN_EACH, "C": [float("inf")]}, "body.C[0]"),
        ({**TEN_EACH, "embed_C": [float("nan")]}, "body.embed_C[0]"),
        ({**TEN_EACH, "texts": ["", *TEN_EACH["texts"][1:]]}, "body.texts[0]"),
        ({**TEN_EACH, "texts": [*TEN_EACH["texts"][:-1], " \t "]}, "body.texts[29]"),
        ({"texts": [], "labels": []}, "body.labels"),
        ({**TEN_EACH, "labels": [0, 1] * 15}, "body.labels"),
        ({**TEN_EACH, "folds": 9}, "body.labels"),  # 8 training rows a class after the 20 % hold-out
        ({**TEN_EACH, "labels": [0, 1, "meh"] * 10}, "body.labels"),
        ({**TEN_EACH, "labels": [True, False, 2] * 10}, "body.labels"),
        ({**TEN_EACH, "version": "builtin"}, "body.version"),
        ({**TEN_EACH, "version": "v" * 10_000}, "body.version"),
        ({**TEN_EACH, "seed": False}, "body.seed"),
        ({**TEN_EACH, "folds": True}, "body.folds"),
        ({**TEN_EACH, "C": [True]}, "body.C[0]"),
        ({**TEN_EACH, "nb_base": True}, "body.nb_base"),  # kind defaults to ml:fast
        ({**TEN_EACH, "kind": "ml:fast", "tfidf": True}, "body.tfidf"),
    ],
    ids=[
        "C-inf",
        "embed-C-nan",
        "empty-text",
        "blank-text",
        "no-rows",
        "missing-class",
        "class-below-folds",
        "bad-label",
        "boolean-labels",
        "builtin-version",
        "10k-version",
        "seed-false",
        "folds-true",
        "C-true",
        "nb-base-not-ml",
        "tfidf-not-ml",
    ],
)
def test_train_rejects_before_any_job_exists(client, req, field):
    """Each of these failed only inside the job (or with a 500) before; now 422 at submission, and the
    results directory (where jobs keep their folders) gains nothing."""
    root = client.app.state.platform.settings.results_dir
    from pathlib import Path

    before = _tree(Path(root))
    r = client.post(
        "/v1/sentiment/train",
        content=__import__("json")
        .dumps(req)
        .encode(),  # json.dumps writes Infinity and NaN, as the fuzzer sends them
        headers={"content-type": "application/json"},
    )
    body = problem(r, 422, field)
    if field == "body.labels" and req.get("texts"):
        assert "labels" in body["detail"]
    assert _tree(Path(root)) == before
