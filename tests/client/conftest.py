"""The four services on free loopback ports (uvicorn in threads, the session's embedded Ray and generated
data), for the client to talk to over real HTTP."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from services import SERVICES
from tests.utils.cluster import free_port


@pytest.fixture(scope="package")
def live_urls(ray_local, data_dir) -> Iterator[dict[str, str]]:
    """Service name → base URL of the running app."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    urls: dict[str, str] = {}
    try:
        for name in SERVICES:
            app = importlib.import_module(f"services.{name}.app").app
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True, name=f"uvicorn-{name}")
            thread.start()
            servers.append((server, thread))
            urls[name] = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        pending = set(urls)
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                try:
                    if httpx.get(f"{urls[name]}/readyz", timeout=5).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        assert not pending, f"not ready: {sorted(pending)}"
        yield urls
    finally:
        for server, _ in servers:
            server.should_exit = True
        for _, thread in servers:
            thread.join(timeout=15)
