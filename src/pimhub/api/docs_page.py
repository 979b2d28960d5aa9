"""/docs: Swagger UI over /openapi.json, from files the package ships (api/static/swagger/,
Apache-2.0, see its README), so that the page works offline and loads nothing from elsewhere.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script; this one
starts it from api/static/docs.js, so its Content-Security-Policy can allow the hub's own
origin only.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

PATH = "/docs"
ASSETS = "/docs/assets"
STATIC = Path(__file__).parent / "static"
# data: for the icons swagger-ui.css embeds; connect-src for /openapi.json and "Try it out".
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class _Assets(StaticFiles):
    """The shipped files, each with a type a browser must not second-guess: the licence
    files have no extension a type could be guessed from, and are text."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if not Path(full_path).suffix:
            response.headers["content-type"] = "text/plain; charset=utf-8"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def page(title: str, openapi_url: str) -> str:
    """The HTML of /docs: same-origin links only, no inline script or style."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{ASSETS}/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}/swagger/favicon-32x32.png">
</head>
<body data-openapi-url="{escape(openapi_url)}">
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/docs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serves /docs and its assets on `app` (created with docs_url=None, redoc_url=None: the
    ReDoc page would load its script from a CDN too)."""
    html = page(f"{app.title} API", app.openapi_url or "/openapi.json")
    router = APIRouter(include_in_schema=False)

    @router.get(PATH)
    def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})

    app.include_router(router)
    app.mount(ASSETS, _Assets(directory=STATIC), name="docs-assets")
