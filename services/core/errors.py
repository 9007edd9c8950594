"""One error model for every service: RFC 9457 ``application/problem+json`` bodies.

Raise :class:`ProblemError` (or one of its constructors) anywhere below a route; the handlers installed by
:func:`install_error_handlers` turn it, FastAPI's validation errors, ``HTTPException`` and anything
unexpected into a problem body with ``type``, ``title``, ``status``, ``detail`` and, for validation
errors, ``errors``: a list of ``{"field", "message", "type"}`` naming each bad field.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core.exceptions import DomainError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://ray-services.dev/problems/"
#: ``Retry-After`` (seconds) of a 503: about the time a service needs to notice a cluster that came back.
RETRY_AFTER_S = 5
__all__ = ["DomainError", "FieldError", "Problem", "ProblemError", "install_error_handlers", "problem_response"]
log = logging.getLogger("services.errors")


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="location, e.g. `body.texts[3]` or `query.month`")
    message: str
    type: str = "value_error"


class Problem(BaseModel):
    """An RFC 9457 problem body."""

    type: str = Field(default="about:blank", description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = None


class ProblemError(Exception):
    """An error that becomes a problem+json response."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.headers = headers or {}
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = type or f"{TYPE_BASE}{self.title.lower().replace(' ', '-')}"
        self.errors = errors
        self.extra = extra

    # Constructors for the cases every service meets ----------------------------------------------
    @classmethod
    def invalid(cls, field: str, message: str, **extra: Any) -> ProblemError:
        """422 naming one bad field."""
        return cls(
            422,
            f"{field}: {message}",
            title="Unprocessable Content",
            type=f"{TYPE_BASE}validation-error",
            errors=[{"field": field, "message": message, "type": "value_error"}],
            **extra,
        )

    @classmethod
    def from_domain(cls, exc: DomainError, prefix: str = "body") -> ProblemError:
        """422 from an engine's :class:`DomainError`."""
        field = f"{prefix}.{exc.field}" if exc.field else prefix
        extra = {"rows": exc.rows} if exc.rows is not None else {}
        return cls.invalid(field, str(exc), **extra)

    @classmethod
    def not_found(cls, what: str, name: str, **extra: Any) -> ProblemError:
        """404 for an unknown symbol, dataset, job, model version…"""
        return cls(404, f"unknown {what}: {name!r}", type=f"{TYPE_BASE}not-found", **extra)

    @classmethod
    def too_large(cls, detail: str, *, batch_command: str) -> ProblemError:
        """413 pointing the caller at the batch job that handles large inputs."""
        return cls(
            413,
            f"{detail}; run it as a batch job instead: {batch_command}",
            title="Content Too Large",
            type=f"{TYPE_BASE}too-large",
            batch_command=batch_command,
        )

    @classmethod
    def unavailable(cls, dependency: str, detail: str) -> ProblemError:
        """503 naming the dependency (Ray, another service) that is down, with ``Retry-After``."""
        return cls(
            503,
            f"{dependency} is unavailable: {detail}",
            title="Service Unavailable",
            type=f"{TYPE_BASE}dependency-unavailable",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            dependency=dependency,
        )

    def body(self, request_id: str | None = None, instance: str | None = None) -> dict[str, Any]:
        """The JSON body."""
        body = Problem(
            type=self.type,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            errors=[FieldError(**e) for e in self.errors] if self.errors else None,
            request_id=request_id,
        ).model_dump(exclude_none=True)
        body.update(self.extra)
        return body


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "texts", 3)`` → ``body.texts[3]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problem_response(request: Request, exc: ProblemError) -> JSONResponse:
    """Render ``exc`` for ``request``."""
    rid = getattr(request.state, "request_id", None)
    return JSONResponse(
        exc.body(request_id=rid, instance=str(request.url.path)),
        status_code=exc.status,
        media_type=PROBLEM_JSON,
        headers=exc.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(request, ProblemError.from_domain(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _loc(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors[:5])
        more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
        err = ProblemError(
            422,
            f"invalid request: {fields}{more}",
            title="Unprocessable Content",
            type=f"{TYPE_BASE}validation-error",
            errors=errors,
        )
        return problem_response(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(request, ProblemError(exc.status_code, detail, headers=exc.headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, ProblemError(500, f"internal error ({type(exc).__name__}); see the service log")
        )
