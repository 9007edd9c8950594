"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) that need no network beyond the service.

FastAPI's default pages load both UIs from a CDN, so they are blank where the network has no egress (these
machines, many firms' networks). The UIs' files come from the fastapi-offline wheel, served under
:data:`~services.core.auth.DOCS_ASSETS`; Swagger UI's validator badge and ReDoc's web fonts are off. ReDoc's
bundle draws the Redocly logo from ``cdn.redoc.ly`` in its menu whatever its options: it is served with that
address pointed at the local icon, so opening the docs asks nothing of another host.
``tests/core/test_docs_browser.py`` opens both pages in Chromium with every other host blocked.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from services.core.auth import DOCS_ASSETS

ASSETS = Path(str(files("fastapi_offline") / "static"))
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_bundle(root: str) -> bytes:
    js = (ASSETS / "redoc.standalone.js").read_text(encoding="utf-8")
    return js.replace(REDOC_LOGO, f"{root}{DOCS_ASSETS}/favicon.png").encode()


def install_docs(app: FastAPI) -> None:
    """Add the two pages, the OAuth2 redirect page and the assets to ``app`` (made with ``docs_url=None,
    redoc_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    @app.get(f"{DOCS_ASSETS}/redoc.js", include_in_schema=False)
    async def redoc_js(request: Request) -> Response:
        body = _redoc_bundle(request.scope.get("root_path", ""))
        return Response(
            body, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    app.mount(DOCS_ASSETS, StaticFiles(directory=ASSETS), name="docs-assets")
