"""Inline request shapes take the JSON types their schema declares: no boolean or string as a number, no
number as a date (pydantic would read it as Unix seconds)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.core.shapes import BarsIn, PanelIn, SeriesIn

DATES = ["2024-01-02", "2024-01-03"]
STAMPS = ["2024-01-02T09:30:00", "2024-01-02T09:35:00"]
BARS = {
    "datetime": STAMPS,
    "open": [10, 10.5],
    "high": [11, 11],
    "low": [9.5, 10],
    "close": [10.5, 10.8],
    "volume": [100, 200],
}


def _fields(exc: ValidationError) -> set[tuple]:
    return {e["loc"] for e in exc.errors()}


def test_ints_and_floats_are_numbers_and_iso_strings_are_dates() -> None:
    assert SeriesIn.model_validate({"dates": DATES, "prices": [1, 2.5]}).prices == [1.0, 2.5]
    assert PanelIn.model_validate({"dates": DATES, "columns": ["A"], "values": [[1], [2.0]]}).values == [
        [1.0],
        [2.0],
    ]
    assert len(BarsIn.model_validate(BARS).to_frame()) == 2


@pytest.mark.parametrize(
    ("model", "body", "loc"),
    [
        (SeriesIn, {"dates": DATES, "prices": [True, 2.0]}, ("prices", 0)),
        (SeriesIn, {"dates": DATES, "returns": [0.01, "0.02"]}, ("returns", 1)),
        (SeriesIn, {"dates": [1704153600, 1704240000], "prices": [1.0, 2.0]}, ("dates", 0)),
        (PanelIn, {"dates": DATES, "columns": ["A"], "values": [[1.0], [False]]}, ("values", 1, 0)),
        (BarsIn, BARS | {"close": [10.5, True]}, ("close", 1)),
        (BarsIn, BARS | {"datetime": [1704187800, 1704188100]}, ("datetime", 0)),
    ],
)
def test_booleans_strings_and_numbers_of_the_wrong_kind_are_rejected(model, body, loc) -> None:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(body)
    assert loc in _fields(exc.value)


@pytest.mark.parametrize("value", [0, 1704153600, "0", "20240102", True, "2024-01-02T00:00:00"])
def test_a_day_is_yyyy_mm_dd_text_only(value) -> None:
    from pydantic import TypeAdapter

    from services.core.fields import Day

    with pytest.raises(ValidationError):
        TypeAdapter(Day).validate_python(value)
    assert str(TypeAdapter(Day).validate_python("2024-01-02")) == "2024-01-02"
