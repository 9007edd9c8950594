"""The HTTP load tool against a small local server (uvicorn in a thread): counts, errors, bounds, preflight."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from services.bench.httpload import (
    LoadOptions,
    Target,
    engine_seconds,
    is_loopback,
    legacy_targets,
    percentile,
    run_load,
)
from services.core.metrics import RequestMetrics, engine_timer, exposition

app = FastAPI()
app.add_middleware(
    RequestMetrics, service="intraday"
)  # the services' own middleware: /echo counts as computed
hits = {"flaky": 0}


@app.get("/metrics")
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/echo")
async def echo(body: dict) -> dict:
    return body


@app.get("/engine")
def engine() -> dict[str, str]:
    """2 ms of "engine" work in a worker thread, as the services time theirs (Server-Timing)."""
    with engine_timer():
        time.sleep(0.002)
    return {"ok": "yes"}


@app.get("/flaky")
async def flaky(response: Response) -> dict[str, int]:
    hits["flaky"] += 1
    if hits["flaky"] > 1 and hits["flaky"] % 2:  # the first (preflight) succeeds, then every other one fails
        response.status_code = 503
    return {"n": hits["flaky"]}


@app.get("/bad")
async def bad(response: Response) -> dict[str, str]:
    response.status_code = 422
    return {"detail": "no such thing"}


@app.get("/keyed")
async def keyed(request: Request, response: Response) -> dict[str, str]:
    if request.headers.get("authorization") != "Bearer rsk_test":
        response.status_code = 401
    return {"auth": request.headers.get("authorization", "")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def results(server_url):
    targets = [
        Target("health", "*", "GET", "/healthz", light=True),
        Target("echo", "intraday", "POST", "/echo", {"texts": ["a", "b"]}, light=True),
        Target("engine", "intraday", "GET", "/engine"),
        Target("flaky", "intraday", "GET", "/flaky"),
        Target("rejected", "intraday", "GET", "/bad"),
        Target("down", "garch", "GET", "/healthz"),
    ]
    urls = {"intraday": server_url, "garch": "http://127.0.0.1:9"}  # port 9 (discard): nothing listens
    opts = LoadOptions(concurrency=(1, 4), requests=40, duration_s=5.0, timeout_s=5.0, warmup=0)
    return asyncio.run(run_load(urls, opts, target_list=targets))


def _target(results, name):
    return next(t for t in results["targets"] if t["name"].startswith(name))


def test_levels_bounded_by_requests_and_counted(results):
    for name in ("health", "echo"):
        t = _target(results, name)
        assert [lv["concurrency"] for lv in t["levels"]] == [1, 4]
        for lv in t["levels"]:
            assert lv["requests"] == 40 and lv["ok"] == 40 and lv["errors"] == 0
            assert lv["stopped_by"] == "requests"
            assert 0 < lv["p50_s"] <= lv["p95_s"] <= lv["p99_s"] <= lv["max_s"]
            assert lv["rps"] == pytest.approx(lv["ok"] / lv["wall_s"])
    assert _target(results, "health")["name"] == "health (intraday)"  # the first live service


def test_response_bytes_and_where_the_work_ran_are_reported(results):
    import json

    echo = _target(results, "echo")
    size = len(json.dumps(echo["body"], separators=(",", ":")))  # FastAPI's compact JSON
    for lv in echo["levels"]:
        assert lv["bytes_mean"] == size
        # the service's own counter moved by exactly the level's successful requests (and its warm-ups: 0 here)
        assert lv["computed_on"] == {"in_process": lv["ok"]}
    assert all(
        lv["computed_on"] == {} for lv in _target(results, "health")["levels"]
    )  # a probe computes nothing


def test_legacy_targets_are_routes_of_the_services_and_their_bodies_valid():
    """The original project's paths, as ``--paths legacy`` loads them: each is an operation of its service's
    OpenAPI document and its body valid against that operation's request schema (a 422 would make the
    comparison measure the error path)."""
    import importlib

    import jsonschema

    targets = legacy_targets()
    assert len(targets) == 14 and len({t.path for t in targets}) == 14
    for t in targets:
        spec = importlib.import_module(f"services.{t.service}.app").app.openapi()
        op = spec["paths"][t.path][t.method.lower()]
        if t.body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            jsonschema.validate(t.body, {**schema, "components": spec["components"]})
        else:
            assert all(not p.get("required") for p in op.get("parameters", [])), t


def test_error_statuses_are_counted_not_timed(results):
    levels = _target(results, "flaky")["levels"]
    assert sum(lv["errors"] for lv in levels) > 0
    for lv in levels:
        assert lv["ok"] + lv["errors"] == lv["requests"]
        assert set(lv["error_kinds"]) <= {"HTTP 503"}


def test_rejected_request_and_unreachable_service_are_skipped_with_reasons(results):
    rejected = _target(results, "rejected")
    assert rejected["levels"] == [] and "preflight answered HTTP 422" in rejected["skipped"]
    assert "no such thing" in rejected["skipped"]
    assert "not reachable" in _target(results, "down")["skipped"]
    assert "garch" in results["skipped_services"]


def test_engine_time_and_overhead_from_server_timing(results):
    """The engine's time comes from the service's Server-Timing; overhead = latency − engine, per request."""
    for lv in _target(results, "engine")["levels"]:
        assert 0.002 <= lv["engine_p50_s"] < 0.02  # a 2 ms sleep, timed in the service
        assert lv["overhead_p50_s"] > 0
        assert lv["engine_p50_s"] + lv["overhead_p50_s"] == pytest.approx(lv["p50_s"], abs=0.003)
    for lv in _target(results, "health")["levels"]:  # no engine ran: nothing to subtract, none reported
        assert lv["engine_p50_s"] is None and lv["overhead_p50_s"] is None
    s = results["summary"]
    assert set(s["overhead_p50_at_1"]) == {"engine"}
    assert s["overhead_within_budget_at_1"] == (s["overhead_p50_at_1"]["engine"] <= 0.003)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("app;dur=8.25, engine;dur=1.45", 0.00145),
        ('engine;desc="fit";dur=12', 0.012),
        ("app;dur=0.4", None),
        (None, None),
    ],
)
def test_engine_seconds_parses_server_timing(header, seconds):
    assert engine_seconds(header) == (pytest.approx(seconds) if seconds is not None else None)


def test_summary_checks_the_issue_targets(results):
    s = results["summary"]
    assert s["measured"] == 4
    assert s["errors_at_max_concurrency"]["health (intraday)"] == 0
    assert s["zero_errors_at_max_concurrency"] is False  # the flaky endpoint
    assert set(s["skipped"]) == {"rejected", "down"}


def test_duration_bounds_a_level(server_url):
    opts = LoadOptions(concurrency=(2,), requests=1_000_000, duration_s=0.5, warmup=0)
    res = asyncio.run(
        run_load({"intraday": server_url}, opts, target_list=[Target("h", "intraday", "GET", "/healthz")])
    )
    (lv,) = res["targets"][0]["levels"]
    assert lv["stopped_by"] == "duration" and lv["wall_s"] < 5.0 and lv["requests"] < 1_000_000


def test_the_api_key_goes_with_every_request(server_url):
    target = [Target("k", "intraday", "GET", "/keyed")]
    opts = LoadOptions(concurrency=(2,), requests=20, duration_s=5.0, warmup=2, api_key="rsk_test")
    (keyed,) = asyncio.run(run_load({"intraday": server_url}, opts, target_list=target))["targets"]
    assert "skipped" not in keyed and keyed["levels"][0]["ok"] == 20, keyed
    opts = LoadOptions(concurrency=(2,), requests=20, duration_s=5.0, warmup=0)
    (bare,) = asyncio.run(run_load({"intraday": server_url}, opts, target_list=target))["targets"]
    assert "HTTP 401" in bare["skipped"]


@pytest.mark.parametrize(
    ("url", "loop"),
    [
        ("http://127.0.0.1:8005", True),
        ("http://localhost:1", True),
        ("http://[::1]:80", True),
        ("http://10.0.0.1:8005", False),
        ("http://example.com", False),
    ],
    ids=["v4", "localhost", "v6", "lan", "dns"],
)
def test_loopback_detection(url, loop):
    assert is_loopback(url) is loop


def test_bounds_validated():
    with pytest.raises(ValueError, match="concurrency"):
        LoadOptions(concurrency=(0,))
    with pytest.raises(ValueError, match="duration"):
        LoadOptions(duration_s=10_000)
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0 and percentile([], 50) is None
