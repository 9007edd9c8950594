"""Calls between services (portfolio → sentiment rankings, intraday → GARCH signal).

A dependency that is down or answers with an error becomes a 503 problem naming it — never made-up data.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from services.core.auth import forwarded_headers
from services.core.errors import ProblemError
from services.core.logs import REQUEST_ID_HEADER, request_id_var
from services.core.settings import get_settings

log = logging.getLogger("services.clients")
_shared: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None


def _client() -> httpx.AsyncClient:
    """The process's pooled client for its event loop. Creating one builds a TLS context: 20-60 ms of CPU
    on the loop per call when each call made its own (tests/core/test_event_loop.py caught it)."""
    global _shared
    loop = asyncio.get_running_loop()
    if _shared is None or _shared[0] is not loop or _shared[1].is_closed:
        _shared = (loop, httpx.AsyncClient(timeout=get_settings().http_timeout_s))
    return _shared[1]


async def close_client() -> None:
    """Close the pooled client (the app's shutdown)."""
    global _shared
    if _shared is not None and _shared[0] is asyncio.get_running_loop():
        await _shared[1].aclose()
    _shared = None


async def get_json(service: str, base_url: str, path: str, params: dict[str, Any] | None = None) -> Any:
    """``GET base_url + path`` and return the JSON body; 503 problem naming ``service`` on failure.

    4xx answers of the other service are passed on with their status (the caller asked for something
    that service rejects, e.g. an unknown symbol).
    """
    url = base_url.rstrip("/") + path
    # the caller's key goes along, so the call has the caller's rights (nothing with authentication off)
    headers = {REQUEST_ID_HEADER: request_id_var.get(), **forwarded_headers()}
    try:
        response = await _client().get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("%s unreachable at %s: %s", service, url, exc)
        raise ProblemError.unavailable(f"{service} service", f"{url}: {type(exc).__name__}: {exc}") from exc
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:500]}
        raise ProblemError(
            response.status_code,
            f"{service} service rejected the request: {body.get('detail', body)}",
            upstream=body,
        )
    if response.status_code >= 500:
        raise ProblemError.unavailable(f"{service} service", f"{url} answered {response.status_code}")
    return response.json()
