"""Pages of a running service in a real browser with the network cut: Debian's Chromium driven headless by
Playwright. Used by the docs pages' test (tests/core/test_docs_browser.py) and the reports' (tests/reports/).

* :func:`serve` runs an app with uvicorn in a thread on a free loopback port (the session's embedded Ray);
* :func:`launch` starts the browser, or skips — and in CI (``CI`` set) fails: a skip there would be a check
  that never runs (``.ci/run`` installs Chromium; the dev extra has Playwright);
* :func:`open_offline` opens a page with every request to another host aborted and recorded, optionally
  sending the navigation as a POST with a JSON body (the reports of POST routes);
* :func:`assert_a_real_picture` checks that a screenshot is of the expected size and not blank.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 900}


def has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401

        return True
    except ImportError:
        return False


def browser_or_skip() -> None:
    """Skip when Chromium or Playwright is missing; fail instead in CI."""
    missing = [
        what
        for what, ok in (("chromium", Path(CHROMIUM).exists()), ("playwright", has_playwright()))
        if not ok
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing in CI: {missing} (apt-get install chromium; the dev extra has playwright)")
        pytest.skip(f"missing: {missing}")


@contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium (see :func:`browser_or_skip`)."""
    browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@contextmanager
def serve(app: Any, *, ready_path: str | None = "/readyz", timeout_s: float = 120.0) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL once started (and,
    with ``ready_path``, once that answers 200)."""
    import httpx
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.started
    url = f"http://127.0.0.1:{port}"
    if ready_path is not None:
        while httpx.get(url + ready_path).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert httpx.get(url + ready_path).status_code == 200
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def open_offline(
    browser: Any,
    url: str,
    ready_selector: str,
    tmp_path: Path,
    *,
    post_json: Any = None,
    viewport: dict[str, int] = VIEWPORT,
    name: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Open ``url`` with every request to another host aborted; wait for ``ready_selector``. With
    ``post_json`` the page itself is requested as ``POST`` with that JSON body. Returns the page and what
    happened: blocked URLs, console errors, page errors, failed requests, every URL asked for (``urls``), the
    main response's status, and the screenshot's path."""
    own = urlsplit(url).netloc
    seen: dict[str, Any] = {
        "blocked": [],
        "console_errors": [],
        "page_errors": [],
        "failed": [],
        "requests": 0,
        "urls": [],
    }
    context = browser.new_context(viewport=viewport)
    page = context.new_page()

    def route(r: Any) -> None:
        seen["requests"] += 1
        seen["urls"].append(r.request.url)
        if urlsplit(r.request.url).netloc == own or r.request.url.startswith(("data:", "blob:")):
            if post_json is not None and r.request.url == url and r.request.is_navigation_request():
                r.continue_(
                    method="POST",
                    post_data=json.dumps(post_json),
                    headers={"content-type": "application/json"},
                )
            else:
                r.continue_()
        else:
            seen["blocked"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and seen["console_errors"].append(m.text))
    page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url}: {r.failure}"))
    response = page.goto(url, wait_until="networkidle")
    seen["status"] = response.status if response is not None else None
    page.wait_for_selector(ready_selector, timeout=60_000)
    shot = tmp_path / f"{name or urlsplit(url).path.strip('/').replace('/', '_')}.png"
    page.screenshot(path=str(shot))
    seen["screenshot"] = shot
    return page, seen


def assert_a_real_picture(path: Path, size: dict[str, int] = VIEWPORT) -> None:
    """The screenshot at ``path`` is ``size`` and not blank (many distinct shades, spread out)."""
    from PIL import Image

    img = Image.open(io.BytesIO(path.read_bytes())).convert("L")
    assert img.size == (size["width"], size["height"])
    pixels = np.asarray(img, dtype=float)
    # a blank page is one colour; a rendered one has text and boxes: many distinct shades, spread out
    assert pixels.std() > 10 and len(np.unique(pixels)) > 20, (pixels.std(), len(np.unique(pixels)))
