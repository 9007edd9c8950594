"""Load the services' ``bench.py`` modules and adapt each workload to one shape (see the package docs)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from services import SERVICES

log = logging.getLogger("services.bench")

DEFAULT_UNIT = {"sentiment": "texts", "garch": "refits", "portfolio": "portfolios", "intraday": "backtests"}
"""Unit names used when a workload gives ``units`` without ``unit``."""


class ProtocolError(ValueError):
    """A service's ``bench.py`` does not follow the protocol (the message says what is missing)."""


@dataclass(frozen=True)
class Workload:
    """One workload of one service, in the harness's shape."""

    service: str
    name: str
    build: Callable[[str], Any]
    variants: dict[str, Callable[[Any], Any]]
    same_result: Callable[[Any, Any], bool]
    description: str = ""
    tolerance: str = ""
    units: Callable[[Any], int] | None = None
    unit: str = "items"
    not_comparable: dict[str, str] = field(default_factory=dict)
    peer_error: type[BaseException] | None = None  # the module's PeerUnavailable, if any
    warm_up: Callable[[], Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _tolerance_text(tol: Any) -> str:
    if tol is None:
        return ""
    if isinstance(tol, Mapping):
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in tol.items())
    return str(tol)


def _first_line(doc: str | None) -> str:
    """The first sentence of a docstring (a ``same_result`` docstring usually states its tolerance)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split()).replace("``", "`").rstrip(".")


def adapt(service: str, key: str, raw: Any, module: ModuleType | None = None) -> Workload:
    """Turn one entry of a service's ``WORKLOADS`` into a :class:`Workload` (or raise :class:`ProtocolError`)."""
    build = _get(raw, "build")
    variants = _get(raw, "variants")
    same = _get(raw, "same_result")
    if same is None and module is not None:
        same = getattr(module, "same_result", None)
    missing = [n for n, v in (("build", build), ("variants", variants), ("same_result", same)) if v is None]
    if missing:
        raise ProtocolError(f"{service}/{key}: missing {', '.join(missing)}")
    if not callable(build) or not callable(same):
        raise ProtocolError(f"{service}/{key}: build and same_result must be callable")
    if not isinstance(variants, Mapping) or "sequential" not in variants:
        raise ProtocolError(f"{service}/{key}: variants must be a dict with at least 'sequential'")
    bad = [v for v in variants if v.split(":")[0] not in ("sequential", "ray", "peer")]
    if bad:
        raise ProtocolError(
            f"{service}/{key}: unknown variant kind(s) {bad}; use sequential, ray[:x], peer[:x]"
        )
    if not isinstance(_get(raw, "description", "") or "", str):
        raise ProtocolError(f"{service}/{key}: description must be text (tolerance takes the dict)")
    units = _get(raw, "units")
    return Workload(
        service=service,
        name=str(_get(raw, "name", key) or key),
        build=build,
        variants=dict(variants),
        same_result=same,
        description=str(_get(raw, "description", "") or ""),
        tolerance=_tolerance_text(_get(raw, "tolerance")) or _first_line(getattr(same, "__doc__", None)),
        units=units if callable(units) else None,
        unit=str(_get(raw, "unit", None) or DEFAULT_UNIT.get(service, "items")),
        not_comparable=dict(_get(raw, "not_comparable", None) or {}),
        peer_error=getattr(module, "PeerUnavailable", None) if module is not None else None,
        warm_up=getattr(module, "warm_up", None) if module is not None else None,
    )


def load_service(service: str) -> tuple[list[Workload], str | None]:
    """The workloads of ``service``, or ``([], reason)`` when it offers none yet or its module is broken."""
    modname = f"services.{service}.bench"
    try:
        found = importlib.util.find_spec(modname) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return [], f"services/{service}/bench.py does not exist yet"
    try:
        module = importlib.import_module(modname)
    except Exception as exc:  # noqa: BLE001 - one broken service must not stop the others
        return [], f"importing {modname} failed: {type(exc).__name__}: {exc}"
    raw = getattr(module, "WORKLOADS", None)
    if callable(raw):
        raw = raw()
    if not isinstance(raw, Mapping) or not raw:
        return [], f"{modname} has no WORKLOADS dict (see services/bench/__init__.py for the protocol)"
    out = []
    for key, entry in raw.items():
        try:
            out.append(adapt(service, str(key), entry, module))
        except ProtocolError as exc:
            return [], str(exc)
    return out, None


def discover(services: list[str] | None = None) -> tuple[list[Workload], dict[str, str]]:
    """Workloads of the named services (default: all four) and, per skipped service, why."""
    names = services or list(SERVICES)
    workloads: list[Workload] = []
    skipped: dict[str, str] = {}
    for name in names:
        if name not in SERVICES:
            raise ProtocolError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
        found, reason = load_service(name)
        if reason:
            skipped[name] = reason
        workloads.extend(found)
    return workloads, skipped


def is_peer_unavailable(exc: BaseException, workload: Workload) -> bool:
    """Whether ``exc`` (raised by a peer variant) means "the peer library is not installed"."""
    if workload.peer_error is not None and isinstance(exc, workload.peer_error):
        return True
    return isinstance(exc, ImportError) or type(exc).__name__ == "PeerUnavailable"
