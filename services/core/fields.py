"""Field types of the services' request models: the JSON types their schema declares, no coercion.

pydantic's lax mode reads ``true`` as 1, ``"1"`` as a number and a number (or a numeric string) as Unix
seconds for a date; a request that relies on any of that is a mistake the caller should hear about.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

FIRST_DAY, LAST_DAY = date(1678, 1, 1), date(2262, 4, 11)
"""The range of dates pandas' timestamps hold (later or earlier ones cannot match any data)."""
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


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
IsoDate = Annotated[date, BeforeValidator(iso_day)]
"""A date input, YYYY-MM-DD (for query parameters, bounded by ``Query(ge=FIRST_DAY, le=LAST_DAY)``)."""
Day = Annotated[IsoDate, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A date input, YYYY-MM-DD, within the range pandas' timestamps hold."""
