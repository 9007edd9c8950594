"""Every request example in the services' OpenAPI documents (what /docs offers to "Try it out", and what
``scripts/payload_sizes.py`` measures) is a request the service accepts: sent as is to the real app, it is
answered 200 (or 202 where the operation runs it as a job, not sent here: training). The walk-forward
request used to inherit the sweep's example, which lacks the window lengths: a 422 from the docs."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services import SERVICES
from tests.utils.apps import ready_client

SENT_AS_JOBS = {"/v1/sentiment/train"}  # answered 202 with a job: checked against the model, not sent


def examples(spec: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """``(method, path, body)`` of the first example of every operation with a JSON body."""
    schemas = spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = content.get("schema", {}).get("$ref", "")
            found = schemas.get(ref.rsplit("/", 1)[-1], {}).get("examples") if ref else None
            if found:
                yield method, path, found[0]


@pytest.fixture(scope="module")
def apps(ray_local, data_dir) -> Iterator[dict[str, TestClient]]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield {
            name: stack.enter_context(ready_client(importlib.import_module(f"services.{name}.app").app))
            for name in SERVICES
        }


@pytest.mark.parametrize("service", SERVICES)
def test_every_documented_request_example_is_accepted(apps, service):
    client = apps[service]
    found = list(examples(client.get("/openapi.json").json()))
    assert found, f"{service} documents no request example"
    for method, path, body in found:
        if path in SENT_AS_JOBS:
            continue
        r = client.request(method.upper(), path, json=body)
        assert r.status_code == 200, f"{method.upper()} {path} with its documented example: {r.text[:500]}"
