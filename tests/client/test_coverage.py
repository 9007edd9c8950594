"""Every route of every service's OpenAPI document has a client method, on both clients; the generated
blocking client is current; base URLs come from the services' own settings."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
from fastapi import FastAPI

from services import SERVICES
from services.client import AsyncClient, Client, method_for, service_urls
from services.client._unasync import TARGET, generate
from services.core.settings import Settings

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def uncovered(service: str, app: FastAPI, client: Any) -> list[str]:
    """The routes of ``app`` the client has no method for (``METHOD path``)."""
    missing = []
    for path, item in app.openapi()["paths"].items():
        for method in set(item) & HTTP_METHODS:
            name = method_for(service, method, path)
            target: Any = client
            for part in (name or "").split("."):
                target = getattr(target, part, None) if name else None
            if not callable(target):
                missing.append(f"{method.upper()} {path}" + (f" (maps to missing {name})" if name else ""))
    return missing


@pytest.fixture(scope="module")
def clients():
    with Client() as sync:
        yield sync, AsyncClient()


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_route_has_a_client_method(service: str, clients) -> None:
    app = importlib.import_module(f"services.{service}.app").app
    for client in clients:
        assert uncovered(service, app, client) == []


def test_async_methods_are_coroutines(clients) -> None:
    _, aclient = clients
    assert inspect.iscoroutinefunction(aclient.garch.forecast)
    assert inspect.iscoroutinefunction(aclient.jobs.report)
    assert not inspect.iscoroutinefunction(clients[0].garch.forecast)


def test_a_new_route_without_a_method_is_reported(clients) -> None:
    app = importlib.import_module("services.garch.app").app
    probe = FastAPI()
    probe.router.routes.extend(app.router.routes)

    @probe.post("/v1/volatility/brand-new")
    async def brand_new() -> dict[str, str]:
        return {}

    assert uncovered("garch", probe, clients[0]) == ["POST /v1/volatility/brand-new"]


def test_the_generated_sync_client_is_current() -> None:
    assert TARGET.read_text() == generate(), "run: python -m services.client._unasync"


def test_base_urls_follow_the_services_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVICES:
        monkeypatch.delenv(f"RAYSVC_{name.upper()}_URL", raising=False)
        monkeypatch.delenv(f"RAYSVC_{name.upper()}_PORT", raising=False)
    monkeypatch.delenv("RAYSVC_HOST", raising=False)
    assert service_urls() == {n: f"http://127.0.0.1:{p}" for n, p in SERVICES.items()}
    monkeypatch.setenv("RAYSVC_HOST", "10.1.2.3")
    monkeypatch.setenv("RAYSVC_PORTFOLIO_PORT", "9107")
    monkeypatch.setenv("RAYSVC_GARCH_URL", "http://garch.internal:80/")  # how portfolio/intraday reach garch
    urls = service_urls()
    assert urls["portfolio"] == "http://10.1.2.3:9107"
    assert urls["garch"] == "http://garch.internal:80"
    assert urls["sentiment"] == f"http://10.1.2.3:{SERVICES['sentiment']}"
    assert Client({"intraday": "http://other:1"}).urls["intraday"] == "http://other:1"
    assert service_urls(settings=Settings(host="0.0.0.0"))["garch"] == "http://garch.internal:80"
    with pytest.raises(ValueError, match="unknown services"):
        service_urls({"garhc": "http://x"})
