"""Test clients of the service apps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

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
