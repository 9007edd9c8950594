"""One error model for every service: RFC 9457 ``application/problem+json`` bodies.

Raise :class:`ProblemError` (or one of its constructors) anywhere below a route; the handlers installed by
:func:`install_error_handlers` turn it, FastAPI's validation errors, ``HTTPException`` and anything
unexpected into a problem body with ``type``, ``title``, ``status``, ``detail`` and, for validation
errors, ``errors``: a list of ``{"field", "message", "type"}`` naming each bad field.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core.exceptions import DomainError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://ray-services.dev/problems/"
#: ``Retry-After`` (seconds) of a 503: about the time a service needs to notice a cluster that came back.
RETRY_AFTER_S = 5
#: A route's ``responses=``: status code → OpenAPI response object (FastAPI's own type).
Responses = dict[int | str, dict[str, Any]]
__all__ = [
    "DomainError",
    "FieldError",
    "Problem",
    "ProblemError",
    "Responses",
    "document_problems",
    "install_error_handlers",
    "problem_response",
]
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
        """422 from an engine's :class:`DomainError`. Raised in a Ray task, it arrives as Ray's error that is
        also a ``DomainError``, whose text carries the remote traceback: the message is the cause's."""
        cause = getattr(exc, "cause", None)
        message = str(cause) if isinstance(cause, DomainError) else str(exc)
        field = f"{prefix}.{exc.field}" if exc.field else prefix
        extra = {"rows": exc.rows} if exc.rows is not None else {}
        return cls.invalid(field, message, **extra)

    @classmethod
    def not_found(cls, what: str, name: str, **extra: Any) -> ProblemError:
        """404 for an unknown symbol, dataset, job, model version…"""
        return cls(404, f"unknown {what}: {name!r}", type=f"{TYPE_BASE}not-found", **extra)

    @classmethod
    def uri_too_long(cls, size: int, limit: int) -> ProblemError:
        """414 for a URL (path and query) longer than ``limit`` bytes."""
        return cls(
            414,
            f"the URL's path and query take {size:,} bytes, more than {limit:,}: send long inputs in a "
            "POST body, or run the batch job (raysvc job <service> --help)",
            title="URI Too Long",
            type=f"{TYPE_BASE}too-large",
        )

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
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names the methods of one route; the path may have several
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        return problem_response(request, ProblemError(exc.status_code, detail, headers=headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, ProblemError(500, f"internal error ({type(exc).__name__}); see the service log")
        )


def _allowed_methods(request: Request) -> set[str]:
    """Every method the app's OpenAPI document declares at the request's path."""
    methods: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {m.upper() for m in item}
    return methods


#: Errors documented on operations beyond those a route declares itself (all answer problem+json).
COMMON_ERRORS = {
    "400": ("body", "malformed request: a body that is not JSON, or not in the declared media type"),
    "401": ("auth", "no API key, or an unknown one (`Authorization: Bearer <key>`; with API keys on)"),
    "403": ("auth", "the API key lacks the scope this request needs (with API keys on)"),
    "404": ("any", "an unknown symbol, dataset, model version or job"),
    "413": ("body", "the request is too large for an interactive answer: its batch job is named"),
    "414": ("any", "the URL is longer than 8 KiB: send long inputs in a POST body"),
    "422": ("input", "a request that breaks the schema or the data's rules; `errors` names each field"),
    "503": (
        "any",
        "a dependency (the Ray cluster, another service, the key store) is unavailable; retry after "
        "`Retry-After` seconds",
    ),
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


_NUMBER_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_LENGTHS = {
    "array": {"min_length": "minItems", "max_length": "maxItems"},
    "string": {"min_length": "minLength", "max_length": "maxLength"},
}


def json_schema_bounds(node: Any) -> Any:
    """Restate in JSON Schema the bounds pydantic leaves under its own names (``ge``, ``max_length``…): it
    does so for a constrained type with a before-validator inside a union (``Float | None = Field(ge=1)``),
    which a client or fuzzer then ignores. Dates lose ``ge``/``le``: their pattern states the years."""
    if isinstance(node, list):
        for item in node:
            json_schema_bounds(item)
    elif isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str):  # a schema, not a map of properties (one may be named "ge")
            for key, keyword in {**_NUMBER_BOUNDS, **_LENGTHS.get(kind, {})}.items():
                if key in node:
                    value = node.pop(key)
                    if kind in ("number", "integer") or key not in _NUMBER_BOUNDS:
                        node[keyword] = value
        for value in node.values():
            json_schema_bounds(value)
    return node


def document_problems(app: FastAPI, *, open_paths: frozenset[str], auth: bool) -> None:
    """Declare in ``app``'s OpenAPI document what its errors really are: ``application/problem+json``
    :class:`Problem` bodies, with the statuses any operation may answer (a route's own declarations keep
    their descriptions). Probes (``open_paths``) answer only what they declare."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = json_schema_bounds(make())
        _, defs = models_json_schema(
            [(Problem, "serialization")], ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs["$defs"])
        for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, never sent
            components.pop(name, None)
        for path, item in schema.get("paths", {}).items():
            for op in item.values():
                responses = op.setdefault("responses", {})
                has_input = bool(op.get("parameters") or op.get("requestBody"))
                for code, (when, description) in COMMON_ERRORS.items():
                    wanted = code in responses or (
                        path not in open_paths
                        and (
                            when == "any"
                            or (when == "auth" and auth)
                            or (when == "input" and has_input)
                            or (when == "body" and "requestBody" in op)
                        )
                    )
                    if wanted:
                        entry = responses.setdefault(code, {"description": description})
                        entry["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
