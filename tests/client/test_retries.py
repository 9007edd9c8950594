"""Retry policy: idempotent calls (GET, DELETE) are retried after transport faults; a POST only when its
connection failed before it was sent, never after. The faults are injected at the transport; every request
that gets through goes to the real services."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.client import AsyncClient, Client, NotFound, ServiceUnavailable, TransportError

pytestmark = pytest.mark.slow


class Faulty(httpx.BaseTransport):
    """Raises ``faults`` (one per attempt) before passing requests on to a real transport."""

    def __init__(self, *faults: type[httpx.TransportError] | int) -> None:
        self.faults = list(faults)
        self.attempts: list[str] = []
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts.append(request.method)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, int):  # a proxy in the way answering this status
                return httpx.Response(
                    fault, headers={"Retry-After": "0"}, json={"status": fault, "title": "x"}
                )
            raise fault("injected", request=request)
        return self.real.handle_request(request)


def client_over(live_urls: dict[str, str], transport: httpx.BaseTransport) -> Client:
    return Client(live_urls, transport=transport, retries=3, backoff=0.01, progress=False)


def test_get_is_retried_after_a_read_error(live_urls) -> None:
    t = Faulty(httpx.ReadError, httpx.ReadTimeout)
    with client_over(live_urls, t) as c:
        assert c.health("garch") == {"status": "ok", "service": "garch"}
    assert t.attempts == ["GET"] * 3


def test_get_is_retried_after_a_503(live_urls) -> None:
    t = Faulty(503)
    with client_over(live_urls, t) as c:
        assert len(c.garch.symbols()) > 0
    assert t.attempts == ["GET"] * 2


def test_delete_is_retried(live_urls) -> None:
    t = Faulty(httpx.RemoteProtocolError)
    with client_over(live_urls, t) as c, pytest.raises(NotFound) as exc:
        c.jobs.stop("raysvc-garch-rolling-000000000000")  # no such job: the real service's 404
    assert exc.value.status == 404
    assert t.attempts == ["DELETE"] * 2


def test_a_sent_post_is_never_retried(live_urls) -> None:
    t = Faulty(httpx.ReadError)
    with client_over(live_urls, t) as c, pytest.raises(TransportError):
        c.sentiment.score(["good news"], model="lexicon")
    assert t.attempts == ["POST"]
    t = Faulty(503)
    with client_over(live_urls, t) as c, pytest.raises(ServiceUnavailable) as exc:
        c.sentiment.score(["good news"], model="lexicon")
    assert exc.value.status == 503 and exc.value.retry_after == 0 and t.attempts == ["POST"]


def test_a_post_whose_connection_failed_is_retried(live_urls) -> None:
    t = Faulty(httpx.ConnectError, httpx.ConnectTimeout)
    with client_over(live_urls, t) as c:
        assert c.sentiment.score(["good news"], model="lexicon").raw.count == 1
    assert t.attempts == ["POST"] * 3


def test_retries_run_out(live_urls) -> None:
    t = Faulty(*[httpx.ConnectError] * 4)
    with client_over(live_urls, t) as c, pytest.raises(TransportError):
        c.health("garch")
    assert len(t.attempts) == 4  # the first try and 3 retries


def test_async_client_has_the_same_policy(live_urls) -> None:
    class AsyncFaulty(httpx.AsyncBaseTransport):
        def __init__(self, *faults: type[httpx.TransportError]) -> None:
            self.faults, self.attempts = list(faults), []
            self.real = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.attempts.append(request.method)
            if self.faults:
                raise self.faults.pop(0)("injected", request=request)
            return await self.real.handle_async_request(request)

    async def run() -> tuple[list[str], list[str]]:
        get, post = AsyncFaulty(httpx.ReadError), AsyncFaulty(httpx.ReadError)
        async with AsyncClient(live_urls, transport=get, backoff=0.01) as c:
            await c.ready("portfolio")
        async with AsyncClient(live_urls, transport=post, backoff=0.01) as c:
            with pytest.raises(TransportError):
                await c.sentiment.score(["x"], model="lexicon")
        return get.attempts, post.attempts

    assert asyncio.run(run()) == (["GET", "GET"], ["POST"])
