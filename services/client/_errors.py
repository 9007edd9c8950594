"""Typed exceptions for the services' RFC 9457 ``application/problem+json`` answers (services.core.errors)."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from services.core.errors import Problem

__all__ = [
    "ApiError",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "TransportError",
    "ValidationProblem",
    "from_response",
    "from_validation_error",
]


class ApiError(Exception):
    """A service answered with an error (or a request could not be sent, see :class:`TransportError`).

    Attributes
    ----------
    status : int or None
        HTTP status; None when the request never got an answer or failed validation before it was sent.
    problem : Problem or None
        The parsed problem body (``type``, ``title``, ``detail``, ``errors`` …).
    body : dict
        The raw JSON body, including the keys a service adds (``rows``, ``batch_command``, ``dependency``).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem: Problem | None = None,
        body: dict[str, Any] | None = None,
        service: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem
        self.body = body or {}
        self.service = service

    @property
    def detail(self) -> str | None:
        return self.problem.detail if self.problem else None

    @property
    def field(self) -> str | None:
        """The first bad field (``body.series.prices``), if the problem names one."""
        return self.fields[0] if self.fields else None

    @property
    def fields(self) -> list[str]:
        """Every field the problem's ``errors`` name."""
        return [e.field for e in (self.problem.errors or [])] if self.problem else []

    @property
    def rows(self) -> list[int] | None:
        """The rows at fault (a data problem found by an engine), if given."""
        rows = self.body.get("rows")
        return [int(r) for r in rows] if isinstance(rows, list) else None


class ValidationProblem(ApiError):
    """A 4xx answer about the request's content (400, 422): ``field``/``fields`` and ``rows`` say where.

    Also raised before sending when the request breaks the service's own schema (then ``status`` is None
    and the fields are named the way the service names them: ``body.<field>``)."""


class NotFound(ApiError):
    """404: an unknown symbol, dataset, model version or job."""


class PayloadTooLarge(ApiError):
    """413/414: too large for an interactive answer; ``batch_command`` names the batch job to run instead."""

    @property
    def batch_command(self) -> str | None:
        value = self.body.get("batch_command")
        return str(value) if value is not None else None


class ServiceUnavailable(ApiError):
    """503 (a dependency such as Ray is down; ``retry_after`` seconds), or a service that cannot be reached."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def dependency(self) -> str | None:
        value = self.body.get("dependency")
        return str(value) if value is not None else None


class TransportError(ServiceUnavailable):
    """The request failed at the transport level (connection refused, timeout) after any retries."""


class JobFailed(ApiError):
    """A job ended ``FAILED`` or ``STOPPED``; ``job`` is its last status, ``problem`` the job's problem body."""

    def __init__(self, message: str, *, job: Any, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job = job


class JobTimeout(ApiError, TimeoutError):
    """A job did not finish within the client's timeout (it keeps running: stop it with ``jobs.stop``)."""

    def __init__(self, message: str, *, job: Any) -> None:
        super().__init__(message)
        self.job = job


def _problem_of(body: Any) -> Problem | None:
    if not isinstance(body, dict) or "status" not in body or "title" not in body:
        return None
    try:
        return Problem.model_validate(body)
    except ValidationError:
        return None


def problem_error(
    body: Any, *, status: int | None, service: str | None = None, headers: Any = None
) -> ApiError:
    """The typed exception for a problem ``body`` answered with ``status``."""
    problem = _problem_of(body)
    raw = body if isinstance(body, dict) else {}
    where = f"{service}: " if service else ""
    message = f"{where}{status} {problem.title}" if problem else f"{where}HTTP {status}"
    if problem and problem.detail:
        message += f": {problem.detail}"
    elif not problem and body:
        message += f": {str(body)[:300]}"
    kwargs: dict[str, Any] = {"status": status, "problem": problem, "body": raw, "service": service}
    if status in (413, 414):
        return PayloadTooLarge(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status is not None and (status == 503 or status == 502 or status == 504):
        retry = headers.get("retry-after") if headers is not None else None
        try:
            retry_after = float(retry) if retry is not None else None
        except ValueError:
            retry_after = None
        return ServiceUnavailable(message, retry_after=retry_after, **kwargs)
    if status in (400, 422):
        return ValidationProblem(message, **kwargs)
    return ApiError(message, **kwargs)


def from_response(response: httpx.Response, service: str | None = None) -> ApiError:
    """The typed exception for an error ``response``."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    return problem_error(body, status=response.status_code, service=service, headers=response.headers)


def _loc(loc: tuple[Any, ...]) -> str:
    out = "body"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def from_validation_error(exc: ValidationError, service: str | None = None) -> ValidationProblem:
    """A request that breaks the service's schema, caught before sending: named as the service names it."""
    errors = [
        {"field": _loc(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    problem = Problem(
        title="Unprocessable Content",
        status=422,
        detail="invalid request: " + ", ".join(e["field"] for e in errors[:5]),
        errors=errors,
    )
    where = f"{service}: " if service else ""
    return ValidationProblem(
        f"{where}{problem.detail} (checked before sending)",
        status=None,
        problem=problem,
        body=problem.model_dump(exclude_none=True),
        service=service,
    )
