"""The bench protocol adapter: services' workload objects (dataclasses or dicts) become one shape."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from services.bench import protocol
from services.bench.protocol import ProtocolError, adapt, is_peer_unavailable


def _variants():
    return {"sequential": lambda x: x, "ray": lambda x: x, "peer": lambda x: x}


@dataclass(frozen=True)
class _DataclassWorkload:
    name: str
    build: object
    variants: dict
    same_result: object
    tolerance: dict = field(default_factory=lambda: {"rtol": 1e-9})
    units: object = None


class PeerUnavailable(RuntimeError):
    pass


def _same(a, b):
    """Exactly equal.

    More words."""
    return a == b


@pytest.mark.parametrize(
    "raw",
    [
        _DataclassWorkload("w", lambda s: s, _variants(), lambda a, b: a == b, units=lambda i: 3),
        {
            "build": lambda s: s,
            "variants": _variants(),
            "same_result": lambda a, b: a == b,
            "tolerance": "exact",
            "units": lambda i: 3,
            "unit": "texts",
        },
        SimpleNamespace(
            build=lambda s: s,
            variants=_variants(),
            same_result=_same,
            units=lambda i: 3,
            description="d",
            tolerance=None,
        ),
    ],
    ids=["dataclass", "dict", "namespace"],
)
def test_adapt_accepts_each_shape(raw):
    w = adapt("intraday", "w", raw, SimpleNamespace(PeerUnavailable=PeerUnavailable))
    assert w.key == "intraday/w"
    assert set(w.variants) == {"sequential", "ray", "peer"}
    assert w.units("x") == 3
    assert w.unit in ("backtests", "texts")  # the service default unless the workload names one
    assert w.tolerance  # given, or the first paragraph of same_result's docstring
    assert w.peer_error is PeerUnavailable


def test_adapt_formats_tolerance_dicts():
    w = adapt(
        "garch",
        "w",
        {
            "build": id,
            "variants": {"sequential": id},
            "same_result": id,
            "tolerance": {"rtol": 1e-6, "exact_trades": True},
        },
    )
    assert w.tolerance == "rtol=1e-06, exact_trades=True"
    assert w.unit == "refits"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"variants": {"sequential": id}, "same_result": id}, "missing build"),
        ({"build": id, "variants": {"ray": id}, "same_result": id}, "at least 'sequential'"),
        ({"build": id, "variants": {"sequential": id, "gpu": id}, "same_result": id}, "unknown variant kind"),
        ({"build": id, "variants": {"sequential": id}}, "missing same_result"),
        (
            {"build": id, "variants": {"sequential": id}, "same_result": id, "description": {"rtol": 1e-6}},
            "description must be text",
        ),
    ],
    ids=["no-build", "no-sequential", "unknown-kind", "no-check", "swapped-description"],
)
def test_adapt_rejects_what_the_protocol_does_not_allow(raw, message):
    with pytest.raises(ProtocolError, match=message):
        adapt("portfolio", "w", raw)


def test_peer_names_with_suffix_are_peers():
    w = adapt(
        "sentiment",
        "w",
        {
            "build": id,
            "variants": {"sequential": id, "peer:vader": id, "ray:actors": id},
            "same_result": id,
            "not_comparable": {"peer:vader": "a different model"},
        },
    )
    assert w.not_comparable == {"peer:vader": "a different model"}


def test_peer_unavailable_recognised():
    w = adapt(
        "intraday",
        "w",
        {"build": id, "variants": {"sequential": id}, "same_result": id},
        SimpleNamespace(PeerUnavailable=PeerUnavailable),
    )
    assert is_peer_unavailable(PeerUnavailable("no vectorbt"), w)
    assert is_peer_unavailable(ModuleNotFoundError("pypfopt"), w)
    assert not is_peer_unavailable(ValueError("bad"), w)


def test_missing_module_is_skipped_with_a_reason(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "services.garch.bench" else real(name, *a),
    )
    found, why = protocol.load_service("garch")
    assert found == [] and "does not exist yet" in why
    workloads, skipped = protocol.discover(["garch"])
    assert workloads == [] and "garch" in skipped


def test_unknown_service_rejected():
    with pytest.raises(ProtocolError, match="unknown service"):
        protocol.discover(["nope"])
