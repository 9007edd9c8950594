"""The API docs pages in a real browser with the network cut: Debian's Chromium, driven by Playwright, opens
``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) of a running service; every request that leaves the service is
blocked and recorded. Each page must render every operation of the service's OpenAPI document, log no console
error, ask for nothing outside the service, and its screenshot must be a full-size, non-blank picture.

FastAPI's defaults load both UIs from a CDN: on a network without egress (these machines, many firms'
networks) the pages stayed blank. The services serve the files of the fastapi-offline wheel instead.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import uvicorn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 900}


def _browser_or_skip() -> None:
    """In CI the browser must be there (``.ci/run`` installs it): a skip would be a check that never runs."""
    missing = [
        what
        for what, ok in (("chromium", Path(CHROMIUM).exists()), ("playwright", _has_playwright()))
        if not ok
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing in CI: {missing} (apt-get install chromium; the dev extra has playwright)")
        pytest.skip(f"missing: {missing}")


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401

        return True
    except ImportError:
        return False


@pytest.fixture(scope="module")
def service_url(ray_local, data_dir) -> Iterator[str]:
    """The garch service on a free loopback port (uvicorn in a thread, the session's embedded Ray)."""
    from services.garch.app import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _open_offline(browser, url: str, ready_selector: str, tmp_path: Path) -> tuple[object, dict]:
    """Open ``url`` with every request to another host aborted; wait for ``ready_selector``. Returns the page
    and what happened: blocked URLs, console errors, page errors, failed requests, the screenshot's path."""
    own = urlsplit(url).netloc
    seen: dict = {"blocked": [], "console_errors": [], "page_errors": [], "failed": [], "requests": 0}
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()

    def route(r) -> None:
        seen["requests"] += 1
        if urlsplit(r.request.url).netloc == own or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            seen["blocked"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and seen["console_errors"].append(m.text))
    page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url}: {r.failure}"))
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(ready_selector, timeout=60_000)
    shot = tmp_path / f"{urlsplit(url).path.strip('/')}.png"
    page.screenshot(path=str(shot))
    seen["screenshot"] = shot
    return page, seen


def _assert_a_real_picture(path: Path) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(path.read_bytes())).convert("L")
    assert img.size == (VIEWPORT["width"], VIEWPORT["height"])
    pixels = np.asarray(img, dtype=float)
    # a blank page is one colour; a rendered one has text and boxes: many distinct shades, spread out
    assert pixels.std() > 10 and len(np.unique(pixels)) > 20, (pixels.std(), len(np.unique(pixels)))


def _operations(service_url: str) -> list[tuple[str, str, dict]]:
    import httpx

    spec = httpx.get(f"{service_url}/openapi.json").json()
    return [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


@pytest.mark.slow
def test_swagger_ui_renders_every_operation_offline(browser, service_url: str, tmp_path: Path) -> None:
    page, seen = _open_offline(browser, f"{service_url}/docs", ".swagger-ui .opblock", tmp_path)
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
    _assert_a_real_picture(seen["screenshot"])


@pytest.mark.slow
def test_redoc_renders_every_operation_offline(browser, service_url: str, tmp_path: Path) -> None:
    page, seen = _open_offline(browser, f"{service_url}/redoc", "[data-section-id^='operation/']", tmp_path)
    ops = _operations(service_url)
    sections = page.locator("[data-section-id^='operation/']").all()
    ids = {s.get_attribute("data-section-id").removeprefix("operation/") for s in sections}
    assert ids == {op["operationId"] for _, _, op in ops}
    assert seen["blocked"] == [] and seen["console_errors"] == [] and seen["page_errors"] == [], seen
    assert seen["failed"] == [], seen["failed"]
    _assert_a_real_picture(seen["screenshot"])


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
