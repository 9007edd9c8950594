"""The gate itself: it fails on a deliberate 500, on a response that breaks its schema and on invalid input
accepted, names each with a reproducer, and passes an app that keeps its contract."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tests.fuzz.gate import fuzz
from tests.utils.cluster import free_port


class Item(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(min_length=1, max_length=20)
    qty: int = Field(ge=0, le=100)


class Total(BaseModel):
    total: int


class Accepted(BaseModel):
    job_id: str


def sound_app() -> FastAPI:
    app = FastAPI()

    @app.post("/items", responses={400: {"description": "the body is not JSON"}})
    def create(item: Item) -> Item:
        return item

    return app


def broken_app() -> FastAPI:
    app = sound_app()

    @app.get("/divide", responses={400: {"description": "not a divisor"}})
    def divide(by: Annotated[int, Query(ge=0, le=10)]) -> Total:
        return Total(total=100 // by)  # by=0: ZeroDivisionError, a 500

    @app.get("/total")
    def total() -> Total:
        return JSONResponse({"total": "many"})  # not the declared schema

    return app


def stricter_app() -> FastAPI:
    """Rejects a quantity its document allows: valid input rejected (ST202), reported but not gating."""
    app = FastAPI()

    @app.post("/items", responses={400: {"description": "the body is not JSON"}})
    def create(item: Item) -> Item:
        if item.qty == 0:
            raise HTTPException(
                422, [{"loc": ["body", "qty"], "msg": "must be positive", "type": "value_error"}]
            )
        return item

    return app


class LaxItem(BaseModel):
    """Its document allows at most 100 of an item; the server takes any number."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(min_length=1, max_length=20)
    qty: int = Field(ge=0, json_schema_extra={"maximum": 100})


def laxer_app() -> FastAPI:
    """Accepts a quantity its document forbids: invalid input accepted (ST201), which fails the gate."""
    app = FastAPI()

    @app.post("/items", responses={400: {"description": "the body is not JSON"}})
    def create(item: LaxItem) -> LaxItem:
        return item

    return app


def job_app(started: list[str], stopped: list[str]) -> FastAPI:
    """Each POST starts a "job" (202); the gate's hook must stop every one through DELETE /v1/jobs/{id}."""
    app = FastAPI()

    @app.post("/run", status_code=202)
    def run() -> Accepted:
        started.append(f"job-{len(started)}")
        return Accepted(job_id=started[-1])

    @app.delete("/v1/jobs/{job_id}", include_in_schema=False)
    def stop(job_id: str) -> Accepted:
        stopped.append(job_id)
        return Accepted(job_id=job_id)

    return app


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(f"{url}/openapi.json", timeout=5).status_code == 200
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.slow
def test_gate_fails_on_a_server_error_and_a_schema_violation_with_reproducers(tmp_path) -> None:
    with serving(broken_app()) as url:
        result = fuzz("broken", url, tmp_path, max_examples=5)
    assert not result.passed
    by_op = {f.operation: f for f in result.findings}
    crash = by_op["GET /divide"]
    assert "ST101" in crash.codes and crash.status == 500
    assert crash.curl.startswith("curl -X GET") and "/divide?by=0" in crash.curl
    violation = by_op["GET /total"]
    assert "ST108" in violation.codes and violation.status == 200
    assert violation.curl == f"curl -X GET {url}/total"
    message = result.message()
    assert "GET /divide  [500]  ST101" in message and crash.curl in message
    assert "POST /items" not in by_op  # the sound operation is not blamed


@pytest.mark.slow
def test_gate_passes_an_app_that_keeps_its_contract(tmp_path) -> None:
    with serving(sound_app()) as url:
        result = fuzz("sound", url, tmp_path, max_examples=5)
    assert result.passed, result.message()
    assert result.report["operations"]["tested"] == 1
    assert result.report["test_cases"]["generated"] > 5


@pytest.mark.slow
def test_input_strictness_findings_are_reported_not_gating(tmp_path) -> None:
    with serving(stricter_app()) as url:
        result = fuzz("stricter", url, tmp_path, max_examples=5)
    assert result.passed, result.message()
    (finding,) = {f.operation: f for f in result.reported}.values()
    assert finding.codes == {"ST202"} and finding.status == 422
    assert "reported, not gating" in result.message() and finding.curl in result.message()


@pytest.mark.slow
def test_gate_fails_on_invalid_input_accepted(tmp_path) -> None:
    with serving(laxer_app()) as url:
        result = fuzz("laxer", url, tmp_path, max_examples=5)
    assert not result.passed
    (finding,) = {f.operation: f for f in result.findings}.values()
    assert "ST201" in finding.codes and finding.status == 200 and finding.operation == "POST /items"


@pytest.mark.slow
def test_every_job_the_run_starts_is_stopped(tmp_path) -> None:
    started: list[str] = []
    stopped: list[str] = []
    with serving(job_app(started, stopped)) as url:
        fuzz("jobs", url, tmp_path, max_examples=3)
    assert started and stopped == started
