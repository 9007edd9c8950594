"""Field types of the services' request models: the JSON types their schema declares, no coercion.

pydantic's lax mode reads ``true`` as 1, ``"1"`` as a number and a number (or a numeric string) as Unix
seconds for a date; a request that relies on any of that is a mistake the caller should hear about.
"""

from __future__ import annotations

import math
import re
from datetime import date
from enum import Enum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, WithJsonSchema

FIRST_DAY, LAST_DAY = date(1678, 1, 1), date(2261, 12, 31)
"""The whole years within the range pandas' timestamps hold (later or earlier dates cannot match any data);
whole years, so the OpenAPI document can state the range as a pattern."""
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
DAY_PATTERN = r"^(167[89]|16[89]\d|1[7-9]\d\d|2[01]\d\d|22[0-5]\d|226[01])-\d{2}-\d{2}$"
"""YYYY-MM-DD with a year from FIRST_DAY's to LAST_DAY's."""


def not_bool(x: Any) -> Any:
    """Reject JSON ``true``/``false`` where a number is due."""
    if isinstance(x, bool):
        raise ValueError("must be a number, not a boolean")
    return x


def not_bools(x: Any) -> Any:
    """:func:`not_bool` for a number, or each number of a list or a map (fields that are unions, where a
    per-item type would name the union's branch in the error's location)."""
    for v in x.values() if isinstance(x, dict) else x if isinstance(x, list) else [x]:
        not_bool(v)
    return x


def iso_day(x: Any) -> Any:
    """Only ``YYYY-MM-DD`` text (or a date) is a date: not a number, not a numeric string."""
    if isinstance(x, (bool, int, float)) or (isinstance(x, str) and not _ISO_DAY.fullmatch(x)):
        raise ValueError("must be a date as YYYY-MM-DD")
    return x


Int = Annotated[int, BeforeValidator(not_bool)]
"""An integer input: ints (and whole floats), never booleans."""
Float = Annotated[float, BeforeValidator(not_bool), Field(allow_inf_nan=False)]
"""A number input: finite ints and floats, never booleans."""
Bool = StrictBool
"""A boolean input: ``true``/``false`` only, never 0/1 or a string."""
IsoDate = Annotated[date, BeforeValidator(iso_day), Field(json_schema_extra={"pattern": DAY_PATTERN})]
"""A date input, YYYY-MM-DD (its pattern limits the year; ``Day`` adds the exact bounds)."""
Day = Annotated[IsoDate, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A date input, YYYY-MM-DD, within the range pandas' timestamps hold."""


def exactly_one_of(*names: str) -> dict[str, Any]:
    """The JSON Schema of "send exactly one of these fields (not null)", for a model's ``json_schema_extra``:
    the rule its validator checks, stated in the OpenAPI document too."""
    return {"oneOf": [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in names]}


def _any_case(word: str) -> str:
    """A regex matching ``word`` in any letter case (JSON Schema patterns have no case-insensitive flag)."""
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.isalpha() else f"\\{c}" if c in r".^$*+?()[]{}|\\" else c
        for c in word
    )


class Spelled:
    """Metadata for ``Annotated[enum, Spelled(enum, aliases)]``: ``enum`` as an input that takes its values in
    any letter case, and ``aliases`` (other libraries' names, e.g. arch's ``GJR-GARCH`` or ``studentst``),
    answering with the canonical value. The OpenAPI document lists the canonical values and states the
    other spellings as a pattern."""

    def __init__(self, enum: type[Enum], aliases: dict[str, Enum] | None = None) -> None:
        self.validator, self.schema = _spellings(enum, aliases)

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        return self.validator.__get_pydantic_core_schema__(source, handler)

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        return self.schema.__get_pydantic_json_schema__(core_schema, handler)


def _spellings(enum: type[Enum], aliases: dict[str, Enum] | None) -> tuple[BeforeValidator, WithJsonSchema]:
    names = {str(m.value).lower(): m for m in enum} | {k.lower(): v for k, v in (aliases or {}).items()}

    def canonical(x: Any) -> Any:
        return names.get(x.lower(), x) if isinstance(x, str) else x

    pattern = "^(?:" + "|".join(_any_case(n) for n in sorted(names)) + ")$"
    schema = {
        "anyOf": [
            {"type": "string", "enum": [m.value for m in enum]},
            {"type": "string", "pattern": pattern},
        ],
        "description": f"{' | '.join(str(m.value) for m in enum)} (any letter case"
        + (f"; also {', '.join(sorted(aliases))}" if aliases else "")
        + ")",
    }
    return BeforeValidator(canonical), WithJsonSchema(schema)


Num = float | None
"""An output number, or null where it is undefined (a failed fit, a Sharpe ratio of a flat series…)."""


def num(x: Any) -> Num:
    """``x`` as a float, None when NaN/inf (JSON has no NaN)."""
    v = float(x)
    return v if math.isfinite(v) else None


def nums(xs: Any) -> list[Num]:
    """:func:`num` of each of ``xs``."""
    return [num(x) for x in xs]
