"""Calls between services carry the caller's API key (and request id), and nothing with authentication off."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request

from services.core import auth
from services.core.clients import get_json


@pytest.fixture(scope="module")
def echo_url():
    """A real HTTP server answering with the headers it received."""
    app = FastAPI()

    @app.get("/echo")
    async def echo(request: Request) -> dict[str, str | None]:
        return {"authorization": request.headers.get("authorization")}

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_a_call_to_another_service_carries_the_callers_key(echo_url):
    async def call(header):
        token = auth._authorization.set(header)
        try:
            return await get_json("echo", echo_url, "/echo")
        finally:
            auth._authorization.reset(token)

    assert asyncio.run(call("Bearer rsk_abc"))["authorization"] == "Bearer rsk_abc"
    assert asyncio.run(call(None))["authorization"] is None
