"""The four OpenAPI documents state the rules the services check, in JSON Schema a client or a fuzzer reads:
bounds under their JSON Schema names, date ranges as patterns, "exactly one of" as ``oneOf``, booleans strict."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services import SERVICES
from services.core.errors import json_schema_bounds
from services.core.fields import DAY_PATTERN, FIRST_DAY, LAST_DAY

PYDANTIC_ONLY = {"ge", "le", "gt", "lt", "min_length", "max_length", "multiple_of", "allow_inf_nan"}


def _document(service: str) -> dict[str, Any]:
    return importlib.import_module(f"services.{service}.app").app.openapi()


def _schemas(node: Any, path: str = ""):
    """Every (path, schema) of a document: dicts with a string ``type``."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield path, node
        for key, value in node.items():
            yield from _schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas(value, f"{path}/{i}")


@pytest.mark.parametrize("service", list(SERVICES))
def test_bounds_use_json_schema_keywords(service: str) -> None:
    leftovers = [
        f"{path}: {sorted(PYDANTIC_ONLY & set(s))}"
        for path, s in _schemas(_document(service))
        if PYDANTIC_ONLY & set(s)
    ]
    assert not leftovers, leftovers


def test_optional_bounded_numbers_keep_their_bounds() -> None:
    garch = _document("garch")["components"]["schemas"]
    annualization = garch["ForecastRequest"]["properties"]["annualization"]["anyOf"][0]
    assert annualization == {"type": "number", "minimum": 1, "maximum": 400} | {
        k: v for k, v in annualization.items() if k not in ("minimum", "maximum")
    }
    c = _document("sentiment")["components"]["schemas"]["TrainRequest"]["properties"]["C"]
    assert c["items"]["exclusiveMinimum"] == 0 and c["minItems"] == 1


def test_bounds_translation_leaves_properties_named_like_keywords() -> None:
    doc = {
        "type": "object",
        "properties": {"ge": {"type": "integer", "ge": 2}, "le": {"type": "string", "max_length": 3}},
    }
    assert json_schema_bounds(doc) == {
        "type": "object",
        "properties": {"ge": {"type": "integer", "minimum": 2}, "le": {"type": "string", "maxLength": 3}},
    }


def test_the_date_pattern_states_the_accepted_years() -> None:
    pattern = re.compile(DAY_PATTERN)
    years = [y for y in range(1000, 3000) if pattern.match(f"{y:04d}-06-30")]
    assert (years[0], years[-1], len(years)) == (
        FIRST_DAY.year,
        LAST_DAY.year,
        LAST_DAY.year - FIRST_DAY.year + 1,
    )
    start = _document("garch")["components"]["schemas"]["ForecastRequest"]["properties"]["start"]["anyOf"][0]
    assert start["pattern"] == DAY_PATTERN


@pytest.mark.parametrize(
    ("service", "model", "fields"),
    [
        ("garch", "ForecastRequest", ["symbols", "series"]),
        ("garch", "RollingRequest", ["symbol", "series"]),
        ("garch", "SelectRequest", ["symbol", "series"]),
        ("portfolio", "OptimizeRequest", ["symbols", "returns"]),
        ("portfolio", "FrontierRequest", ["symbols", "returns"]),
        ("portfolio", "MetricsRequest", ["weights", "returns"]),
    ],
)
def test_exactly_one_source_is_a_one_of(service: str, model: str, fields: list[str]) -> None:
    schema = _document(service)["components"]["schemas"][model]
    assert [branch["required"] for branch in schema["oneOf"]] == [[f] for f in fields]


def test_a_number_is_not_a_boolean_and_the_server_says_so(data_dir) -> None:
    from services.garch.app import app

    with TestClient(app) as client:
        r = client.post(
            "/v1/volatility/rolling",
            json={"symbol": "SIM", "window": 180, "start": "2023-09-01", "warm_start": 0},
        )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.warm_start", r.text
    props = _document("garch")["components"]["schemas"]["RollingRequest"]["properties"]
    assert props["warm_start"]["type"] == "boolean"


@pytest.mark.parametrize("service", list(SERVICES))
def test_descriptions_speak_of_the_api_not_of_its_history(service: str) -> None:
    """Users read the documents without knowing the project this grew from: its paths are the `legacy` tag."""
    text = json.dumps(_document(service))
    assert not re.findall(r".{40}\b(?:the seed|seed's|seed-compatible|the original|original's)\b.{20}", text)
    tags = {
        t for item in _document(service)["paths"].values() for op in item.values() for t in op.get("tags", [])
    }
    assert "legacy" in tags
