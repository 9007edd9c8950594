from __future__ import annotations

import pytest

from services.core.settings import Settings


@pytest.mark.parametrize(
    ("address", "mode"),
    [
        (None, "embedded"),
        ("", "embedded"),
        ("local", "embedded"),
        ("ray://head:10001", "client"),
        ("auto", "driver"),
        ("10.0.0.1:6379", "driver"),
    ],
    ids=["unset", "blank", "local", "client", "auto", "host-port"],
)
def test_ray_mode_follows_ray_address(
    monkeypatch: pytest.MonkeyPatch, address: str | None, mode: str
) -> None:
    if address is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", address)
    assert Settings().ray_mode == mode


def test_env_prefix_and_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYSVC_MAX_TEXTS", "12")
    monkeypatch.setenv("RAYSVC_GARCH_PORT", "9006")
    s = Settings()
    assert s.max_texts == 12 and s.port_of("garch") == 9006 and s.port_of("sentiment") == 8005
