"""The one shape a service's ``bench.py`` declares its workloads in (see the package docstring)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Workload:
    """One benchmark workload of a service.

    ``build(size)`` makes the inputs for a size (``tiny|small|medium|large``); ``variants`` maps
    ``sequential`` / ``ray`` / ``peer[:name]`` to callables of those inputs; ``same_result(a, b)`` checks two
    variants' outputs within ``tolerance``; ``units(inputs)`` counts the items done (texts, refits…) in ``unit``
    for throughput; ``not_comparable`` names peers that do comparable work with another model (not checked).
    """

    name: str
    build: Callable[[str], Any]
    variants: Mapping[str, Callable[..., Any]] = field(repr=False)
    same_result: Callable[[Any, Any], bool] = field(repr=False)
    description: str = ""
    tolerance: dict[str, Any] = field(default_factory=dict)
    units: Callable[[Any], int] | None = field(default=None, repr=False)
    unit: str = "items"
    not_comparable: dict[str, str] = field(default_factory=dict)
    warm_up: Callable[[], Any] | None = field(default=None, repr=False)


def shared_file(*parts: str) -> Path | None:
    """A file of the read-only ``../shared`` folder beside the repository (``$RAYSVC_SHARED_DIR`` if set),
    or ``None`` where it is absent (benchmarks then build stand-in data)."""
    repo = Path(__file__).resolve().parents[2]
    path = Path(os.environ.get("RAYSVC_SHARED_DIR", repo.parent / "shared")).joinpath(*parts)
    return path if path.is_file() else None
