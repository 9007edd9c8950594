"""Calls between services (portfolio → sentiment rankings, intraday → GARCH signal).

A dependency that is down or answers with an error becomes a 503 problem naming it — never made-up data.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from services.core.auth import forwarded_headers
from services.core.errors import ProblemError
from services.core.logs import REQUEST_ID_HEADER, request_id_var
from services.core.settings import get_settings

log = logging.getLogger("services.clients")


async def get_json(service: str, base_url: str, path: str, params: dict[str, Any] | None = None) -> Any:
    """``GET base_url + path`` and return the JSON body; 503 problem naming ``service`` on failure.

    4xx answers of the other service are passed on with their status (the caller asked for something
    that service rejects, e.g. an unknown symbol).
    """
    settings = get_settings()
    url = base_url.rstrip("/") + path
    # the caller's key goes along, so the call has the caller's rights (nothing with authentication off)
    headers = {REQUEST_ID_HEADER: request_id_var.get(), **forwarded_headers()}
    try:
        async with httpx.AsyncClient(timeout=settings.http_timeout_s) as client:
            response = await client.get(url, params=params, headers=headers)
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
