"""Bearer API keys for the services: one key store shared by the four, scopes ``read`` and ``jobs``.

The store is a JSON file (``RAYSVC_API_KEYS_FILE``; unset: authentication off) holding only SHA-256 hashes::

    {"keys": [{"name": "admin", "sha256": "<hex>", "scopes": ["read", "jobs"], "created": "2026-…"}]}

Keys are ``rsk_`` + 32 random bytes (``secrets.token_urlsafe``), so a plain hash is enough. The services
re-read the file when its modification time, size or inode changes (one ``stat`` per request): a key
created or revoked takes effect on the next request, without a restart — also when Kubernetes swaps a
mounted Secret.

Every route needs ``Authorization: Bearer <key>`` except :data:`OPEN_PATHS` (probes, metrics, API docs).
Scope ``read`` covers reading and computing requests answered inline, ``jobs`` anything that starts a job
(checked in :meth:`JobManager.submit <services.core.jobs.JobManager.submit>` through :func:`require_scope`,
so an ``auto`` request that turns into a job needs it too) or stops one (``DELETE``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from fastapi.responses import JSONResponse

from services.core.errors import PROBLEM_JSON, ProblemError

SCOPES = ("read", "jobs")
KEY_PREFIX = "rsk_"
#: Paths served without a key: probes, metrics and the API documents.
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
#: Where the API docs pages' own scripts, styles and icon are served from (open like the pages themselves).
DOCS_ASSETS = "/docs-assets"

#: Scopes of the key of the request being served; None: authentication is off (everything allowed).
_scopes: ContextVar[frozenset[str] | None] = ContextVar("raysvc_scopes", default=None)
#: The request's own ``Authorization`` header, passed on to the services it calls.
_authorization: ContextVar[str | None] = ContextVar("raysvc_authorization", default=None)


def hash_key(key: str) -> str:
    """The hex SHA-256 of ``key``, as the store keeps it."""
    return hashlib.sha256(key.encode()).hexdigest()


def require_scope(scope: str) -> None:
    """403 problem unless the current request's key has ``scope`` (no-op with authentication off)."""
    _forbid_unless(_scopes.get(), scope)


def _forbid_unless(scopes: frozenset[str] | None, scope: str) -> None:
    if scopes is not None and scope not in scopes:
        raise ProblemError(
            403,
            f"this API key lacks the scope {scope!r} (it has: {', '.join(sorted(scopes)) or 'none'})",
            type="https://ray-services.dev/problems/forbidden",
            scope=scope,
        )


def forwarded_headers() -> dict[str, str]:
    """``{"Authorization": …}`` of the request being served, for a call it makes to another service (the
    caller's key, so the call has the caller's rights); empty with authentication off."""
    header = _authorization.get()
    return {"Authorization": header} if header else {}


# -- the store ----------------------------------------------------------------------------------------
def _read_store(path: Path) -> dict[str, Any]:
    try:
        store = json.loads(path.read_text())
    except FileNotFoundError:
        return {"keys": []}
    if not isinstance(store, dict) or not isinstance(store.get("keys"), list):
        raise ValueError(f'{path}: expected {{"keys": [...]}}')
    return store


def _write_store(path: Path, store: dict[str, Any]) -> None:
    """Write the store atomically with mode 0600 (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(store, f, indent=2)
    os.replace(tmp, path)


def create_key(path: Path, name: str, scopes: list[str]) -> str:
    """Add a key named ``name`` with ``scopes`` to the store at ``path`` (created, mode 0600, if missing);
    return the plain key — the only time it is shown."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {list(SCOPES)}; got {scopes}")
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"key name must be letters, digits, '-', '_' or '.'; got {name!r}")
    store = _read_store(path)
    if any(k.get("name") == name for k in store["keys"]):
        raise ValueError(f"a key named {name!r} exists; revoke it first")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    store["keys"].append(
        {"name": name, "sha256": hash_key(key), "scopes": sorted(set(scopes)), "created": created}
    )
    _write_store(path, store)
    return key


def revoke_key(path: Path, name: str) -> None:
    """Remove the key named ``name`` from the store (KeyError if there is none)."""
    store = _read_store(path)
    kept = [k for k in store["keys"] if k.get("name") != name]
    if len(kept) == len(store["keys"]):
        raise KeyError(f"no key named {name!r} in {path}")
    _write_store(path, {**store, "keys": kept})


def list_keys(path: Path) -> list[dict[str, Any]]:
    """Name, scopes and creation time of each key (never the hashes)."""
    return [{k: v for k, v in key.items() if k != "sha256"} for key in _read_store(path)["keys"]]


class KeyStore:
    """The key file as the services read it: re-read when its mtime, size or inode changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keys: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _current(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise ProblemError.unavailable("API key store", f"{self.path}: {exc.strerror}") from exc
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            with self._lock:
                try:
                    keys = _read_store(self.path)["keys"]
                except (
                    OSError,
                    ValueError,
                ) as exc:  # fail closed: never fall back to keys it may have revoked
                    raise ProblemError.unavailable("API key store", f"{self.path} unreadable: {exc}") from exc
                self._keys, self._stamp = keys, stamp
        return self._keys

    def scopes_of(self, key: str) -> frozenset[str] | None:
        """The scopes of ``key``, or None if the store does not hold it (compared in constant time)."""
        digest, found = hash_key(key), None
        for entry in self._current():
            if hmac.compare_digest(str(entry.get("sha256", "")), digest):
                found = frozenset(entry.get("scopes", ()))
        return found


class BearerAuth:
    """ASGI middleware: 401 without a valid ``Authorization: Bearer`` key, 403 when the method needs a scope
    the key lacks (``DELETE``: ``jobs``; anything else: ``read``); the key's scopes go on to the route
    through :func:`require_scope`."""

    def __init__(self, app: Any, store: KeyStore) -> None:
        self.app, self.store = app, store

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in OPEN_PATHS
            or scope["path"].startswith(f"{DOCS_ASSETS}/")
        ):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", ())).get(b"authorization", b"")
        try:
            scopes = self._scopes(header)
            _forbid_unless(scopes, "jobs" if scope["method"] == "DELETE" else "read")
        except ProblemError as err:
            body = err.body(instance=scope["path"])
            response = JSONResponse(
                body, status_code=err.status, media_type=PROBLEM_JSON, headers=err.headers
            )
            await response(scope, receive, send)
            return
        tokens = _scopes.set(scopes), _authorization.set(header.decode("latin-1"))
        try:
            await self.app(scope, receive, send)
        finally:
            _scopes.reset(tokens[0])
            _authorization.reset(tokens[1])

    def _scopes(self, header: bytes) -> frozenset[str]:
        kind, _, key = header.decode("latin-1").partition(" ")
        scopes = self.store.scopes_of(key.strip()) if kind.lower() == "bearer" and key.strip() else None
        if scopes is None:
            detail = (
                "unknown or revoked API key" if header else "send an API key: Authorization: Bearer <key>"
            )
            raise ProblemError(
                401,
                detail,
                type="https://ray-services.dev/problems/unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="ray-services"'},
            )
        return scopes


# -- `raysvc keys` ------------------------------------------------------------------------------------
keys_app = typer.Typer(
    no_args_is_help=True, help="API keys of the services (the key store of RAYSVC_API_KEYS_FILE)."
)


def _store_path(path: Path | None) -> Path:
    if path is not None:
        return path
    from services.core.settings import get_settings

    configured = get_settings().api_keys_file
    if configured is None:
        raise typer.BadParameter("give --file or set RAYSVC_API_KEYS_FILE")
    return configured


FileOption = Annotated[Path | None, typer.Option("--file", help="key store (default: RAYSVC_API_KEYS_FILE)")]


@keys_app.command("create")
def create_cmd(
    name: Annotated[str, typer.Argument(help="a name for the key, e.g. the client it is for")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="read | jobs; repeat for both (default: read)")
    ] = None,
    file: FileOption = None,
) -> None:
    """Create a key and print it (shown once; the store keeps only its hash)."""
    try:
        key = create_key(_store_path(file), name, scope or ["read"])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(key)


@keys_app.command("list")
def list_cmd(file: FileOption = None) -> None:
    """Name, scopes and creation time of each key."""
    for key in list_keys(_store_path(file)):
        typer.echo(f"{key['name']}\t{','.join(key.get('scopes', []))}\t{key.get('created', '')}")


@keys_app.command("revoke")
def revoke_cmd(name: Annotated[str, typer.Argument(help="the key's name")], file: FileOption = None) -> None:
    """Remove a key: the services refuse it from their next request on."""
    try:
        revoke_key(_store_path(file), name)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from exc
    typer.echo(f"revoked {name}")
