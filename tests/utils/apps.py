"""Test clients of the service apps, and the assertion on their problem+json answers."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


@contextmanager
def ready_client(app: FastAPI, timeout_s: float = 120.0, **kwargs) -> Iterator[TestClient]:
    """A ``TestClient`` over ``app`` (lifespan running) once its ``/readyz`` answers 200."""
    with TestClient(app, **kwargs) as client:
        deadline = time.monotonic() + timeout_s
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        yield client


def app_client(module: str) -> Callable[..., Iterator[TestClient]]:
    """A module-scoped ``client`` fixture: :func:`ready_client` over ``module``'s ``app`` on the session's
    embedded Ray and generated data. In a test module: ``client = app_client("services.garch.app")``."""

    @pytest.fixture(scope="module")
    def client(ray_local, data_dir) -> Iterator[TestClient]:
        with ready_client(importlib.import_module(module).app) as c:
            yield c

    return client


def problem(r: httpx.Response, status: int, field: str | None = None) -> dict:
    """Assert that ``r`` is an RFC 9457 ``application/problem+json`` answer with ``status`` (and, if given, an
    entry of its ``errors`` naming exactly ``field``); return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    if field is not None:
        assert any(e["field"] == field for e in body.get("errors", [])), body
    return body


FINISHED = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


def wait_for_job(client: TestClient, url: str, timeout_s: float = 480.0) -> dict:
    """Poll a job's status URL until it finishes (a job starts its own driver process: slow on a busy
    machine); return its last status body."""
    deadline = time.monotonic() + timeout_s
    info: dict = {}
    while time.monotonic() < deadline:
        info = client.get(url).json()
        if info["status"] in FINISHED:
            break
        time.sleep(1.0)
    return info
