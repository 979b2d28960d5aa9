"""create_app(): the ASGI application for the hub."""

from __future__ import annotations

from fastapi import FastAPI

from pimhub import __version__
from pimhub.api import ops
from pimhub.api.errors import install_error_handlers
from pimhub.api.observability import RequestLogMiddleware
from pimhub.api.responses import OrjsonResponse
from pimhub.api.rest import classes, objects, products
from pimhub.bootstrap import Hub

DESCRIPTION = """
pimhub's custom REST API. Authenticate with `Authorization: Bearer <key>` or `X-API-Key`.
Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code` and a
per-field `errors` list.
"""


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="pimhub",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=OrjsonResponse,
    )
    app.state.hub = hub
    install_error_handlers(app)
    for module in (ops, classes, objects, products):
        app.include_router(module.router)
    app.add_middleware(RequestLogMiddleware)
    return app
