"""Prometheus metrics of a service (services/core/metrics.py), read from the real ``/metrics`` endpoint and
parsed with prometheus-client's own text parser: requests by route template, bounded labels, where the work
ran, texts scored, datasets, Ray connection, build and model info; off with ``RAYSVC_METRICS=false``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.core.app import get_platform
from services.core.metrics import LATENCY_BUCKETS
from tests.utils.apps import app_client

client = app_client("services.sentiment.app")


def scrape(client: TestClient) -> dict[tuple[str, frozenset], float]:
    """``/metrics`` as {(sample name, labels): value}."""
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text[:200]
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: dict, name: str) -> list[dict[str, str]]:
    return [dict(labels) for n, labels in samples if n == name]


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    before = scrape(client)
    for sym in ("AAPL", "MSFT", "NOPE"):
        client.get(f"/v1/sentiment/symbols/{sym}")
    client.post("/v1/sentiment/score", json={"texts": ["x"], "model": "nope"})  # 422
    after = scrape(client)
    route = "/v1/sentiment/symbols/{symbol}"
    key = {"service": "sentiment", "method": "GET", "route": route}
    assert (
        value(after, "raysvc_http_requests_total", **key, status="200")
        - value(before, "raysvc_http_requests_total", **key, status="200")
        == 2
    )
    assert (
        value(after, "raysvc_http_requests_total", **key, status="404")
        - value(before, "raysvc_http_requests_total", **key, status="404")
        == 1
    )
    score = {"service": "sentiment", "method": "POST", "route": "/v1/sentiment/score", "status": "422"}
    assert (
        value(after, "raysvc_http_requests_total", **score)
        - value(before, "raysvc_http_requests_total", **score)
        == 1
    )
    # the latency histogram: every bucket the module declares, cumulative, its count = the requests
    buckets = {
        float(labels["le"]): v
        for (n, labels_set), v in after.items()
        if n == "raysvc_http_request_duration_seconds_bucket"
        for labels in [dict(labels_set)]
        if labels["route"] == route and labels["method"] == "GET"
    }
    assert sorted(buckets) == [*LATENCY_BUCKETS, float("inf")]
    counts = [buckets[b] for b in sorted(buckets)]
    assert counts == sorted(counts)
    assert counts[-1] == value(after, "raysvc_http_request_duration_seconds_count", **key) >= 3
    assert value(after, "raysvc_http_requests_in_flight", service="sentiment") == 1  # the scrape itself


@pytest.mark.slow
def test_ten_thousand_distinct_ids_symbols_and_paths_add_no_series(client: TestClient) -> None:
    """Job ids, symbols, unknown paths and odd methods come from clients: none may become a label value."""
    client.get("/metrics")
    base = len(scrape(client))
    for i in range(2_500):
        client.get(f"/v1/jobs/raysvc-sentiment-train-{uuid.uuid4().hex[:12]}")
        client.get(f"/v1/sentiment/symbols/S{i}")
        client.get(f"/no/such/path/{i}")
        client.request("PURGE" if i % 2 else f"M{i}", "/v1/sentiment/models")
    samples = scrape(client)
    routes = {s["route"] for s in series(samples, "raysvc_http_requests_total")}
    methods = {s["method"] for s in series(samples, "raysvc_http_requests_total")}
    assert "<unmatched>" in routes and not any(r.startswith("/no/such") for r in routes), routes
    assert methods <= {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods
    # 10,000 requests added a handful of series (new route/status pairs and their histograms), not thousands
    assert len(samples) - base < 80, len(samples) - base


def test_where_the_work_ran_and_texts_scored_by_model(client: TestClient) -> None:
    texts = [f"Quarterly profit rose {i} percent" for i in range(20)]
    before = scrape(client)
    assert client.post("/v1/sentiment/score", json={"texts": texts, "model": "ml:fast"}).status_code == 200
    many = texts * 15  # 300: over ml's in-process limit of 256
    assert client.post("/v1/sentiment/score", json={"texts": many, "model": "ml"}).status_code == 200
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    op = {"service": "sentiment", "operation": "/v1/sentiment/score"}
    # an idle service scores ~3,500 ml:fast texts in-process, ~290 ml (services/sentiment/service.py SCORE_MS)
    assert delta("raysvc_computations_total", **op, computed_on="in_process") == 1
    assert delta("raysvc_computations_total", **op, computed_on="ray") == 1
    assert delta("raysvc_texts_scored_total", service="sentiment", model="ml:fast") == 20
    assert delta("raysvc_texts_scored_total", service="sentiment", model="ml") == 300


def test_ray_datasets_build_and_models_are_exported(client: TestClient) -> None:
    import ray

    import services

    samples = scrape(client)
    status = client.get("/status").json()
    assert value(samples, "raysvc_ray_connected", service="sentiment") == 1
    assert (
        value(samples, "raysvc_ray_connects_total", service="sentiment") == get_platform().ray.state.connects
    )
    assert value(samples, "raysvc_ray_cluster_cpus", service="sentiment") == status["ray"]["cpus"]
    rows = {d["name"]: d["rows"] for d in status["datasets"]}
    assert (
        rows
        and {
            s["dataset"]: value(samples, "raysvc_dataset_rows", **s)
            for s in series(samples, "raysvc_dataset_rows")
        }
        == rows
    )
    assert all(
        value(samples, "raysvc_dataset_load_seconds", **s) > 0 for s in series(samples, "raysvc_dataset_rows")
    )
    build = [
        s for s in series(samples, "raysvc_build_info") if s["service"] == "sentiment"
    ]  # other apps ran too
    assert {
        "service": "sentiment",
        "version": services.__version__,
        "ray_version": ray.__version__,
    }.items() <= build[0].items()
    models = {s["model"] for s in series(samples, "raysvc_model_info") if s["service"] == "sentiment"}
    assert models == {"lexicon", "lexicon:vader", "ml", "ml:fast"}
    assert value(samples, "process_resident_memory_bytes") > 0  # the process collector


@pytest.fixture
def metrics_off(monkeypatch: pytest.MonkeyPatch, ray_local, data_dir) -> Iterator[TestClient]:
    from services.core.app import create_app
    from services.core.settings import Settings

    monkeypatch.setenv("RAYSVC_METRICS", "false")
    app = create_app("demo", settings=Settings())
    with TestClient(app) as c:
        yield c


def test_metrics_can_be_turned_off(metrics_off: TestClient) -> None:
    assert metrics_off.get("/healthz").status_code == 200
    assert metrics_off.get("/metrics").status_code == 404
    assert "/metrics" not in metrics_off.get("/openapi.json").json()["paths"]
