"""The API docs pages in a real browser with the network cut: Debian's Chromium, driven by Playwright, opens
``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) of a running service; every request that leaves the service is
blocked and recorded. Each page must render every operation of the service's OpenAPI document, log no console
error, ask for nothing outside the service, and its screenshot must be a full-size, non-blank picture.

FastAPI's defaults load both UIs from a CDN: on a network without egress (these machines, many firms'
networks) the pages stayed blank. The services serve the files of the fastapi-offline wheel instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.browser import assert_a_real_picture, launch, open_offline, serve


@pytest.fixture(scope="module")
def service_url(ray_local, data_dir) -> Iterator[str]:
    """The garch service on a free loopback port (uvicorn in a thread, the session's embedded Ray)."""
    from services.garch.app import app

    with serve(app, ready_path=None) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with launch() as b:
        yield b


def _operations(service_url: str) -> list[tuple[str, str, dict]]:
    import httpx

    spec = httpx.get(f"{service_url}/openapi.json").json()
    return [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


@pytest.mark.slow
def test_swagger_ui_renders_every_operation_offline(browser, service_url: str, tmp_path: Path) -> None:
    page, seen = open_offline(browser, f"{service_url}/docs", ".swagger-ui .opblock", tmp_path)
    ops = _operations(service_url)
    shown = {
        (
            b.locator(".opblock-summary-method").inner_text().strip(),
            b.locator(".opblock-summary-path").inner_text().strip(),
        )
        for b in page.locator(".opblock").all()
    }
    shown = {
        (m, p.replace("\u200b", "")) for m, p in shown
    }  # Swagger UI breaks long paths with zero-width spaces
    assert {(m, p) for m, p, _ in ops} == shown
    assert seen["blocked"] == [] and seen["console_errors"] == [] and seen["page_errors"] == [], seen
    assert seen["failed"] == [], seen["failed"]
    assert_a_real_picture(seen["screenshot"])


@pytest.mark.slow
def test_redoc_renders_every_operation_offline(browser, service_url: str, tmp_path: Path) -> None:
    page, seen = open_offline(browser, f"{service_url}/redoc", "[data-section-id^='operation/']", tmp_path)
    ops = _operations(service_url)
    sections = page.locator("[data-section-id^='operation/']").all()
    ids = {s.get_attribute("data-section-id").removeprefix("operation/") for s in sections}
    assert ids == {op["operationId"] for _, _, op in ops}
    assert seen["blocked"] == [] and seen["console_errors"] == [] and seen["page_errors"] == [], seen
    assert seen["failed"] == [], seen["failed"]
    assert_a_real_picture(seen["screenshot"])


def test_the_docs_pages_name_no_other_host(service_url: str) -> None:
    """Without a browser too: the two pages' own markup refers only to the service's paths."""
    import re

    import httpx

    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{service_url}{page}").text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", html)
        refs = [u for pair in urls for u in pair if u]
        assert refs and all(r.startswith("/") for r in refs), refs
        for ref in refs:
            assert httpx.get(f"{service_url}{ref}").status_code == 200, ref
