"""create_app(): the ASGI application for the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from pimhub import __version__
from pimhub.admin.app import build_admin
from pimhub.api import asset_files, docs_page, inbound_route, metrics, ops
from pimhub.api import openapi as openapi_document
from pimhub.api.cors import CorsGuard
from pimhub.api.edge import EdgeGuard
from pimhub.api.errors import install_error_handlers
from pimhub.api.graphql import endpoint as graphql_endpoint
from pimhub.api.graphql.executor import GraphQLService
from pimhub.api.guard import AccessGuard
from pimhub.api.observability import RequestLogMiddleware
from pimhub.api.responses import OrjsonResponse
from pimhub.api.rest import (
    assets,
    audit,
    brokers,
    classes,
    connectors,
    datahub,
    import_profiles,
    imports,
    inbound,
    keys,
    objects,
    products,
    simple,
    webhooks,
)
from pimhub.api.security_headers import SecurityHeaders
from pimhub.assets.thumbnails import Thumbnailer, parse_presets
from pimhub.bootstrap import Hub
from pimhub.events.worker import Worker
from pimhub.storage.asset_point_reads import SqlAssetPointReads

DESCRIPTION = """
pimhub's custom REST API. Authenticate with `Authorization: Bearer <key>` or `X-API-Key`.
Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code` and a
per-field `errors` list.
"""


# Everything under /admin/ (not /admin itself: the mount's redirect to /admin/ stays FastAPI's).
ADMIN_PREFIX = "/admin/"
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class HubApp(FastAPI):
    """FastAPI, except that requests under `fast_prefixes` skip its layers (telemetry, body
    limit, exit stack, router) and go to a bare Starlette app with the same error handlers
    and request log. That is where the hottest read routes live; every layer costs a few
    microseconds on a request that otherwise costs about a hundred."""

    fast_prefixes: tuple[str, ...] = ()
    fast_app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_app
        if (
            fast is not None
            and scope["type"] == "http"
            and scope["path"].startswith(self.fast_prefixes)
        ):
            await fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(hub: Hub, *, worker: Worker | None = None) -> HubApp:
    """The hub's API; with `worker`, the webhook worker runs inside the server process (the
    demo's single-process mode)."""
    app = HubApp(
        lifespan=_running(worker) if worker else None,
        title="pimhub",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=OrjsonResponse,
        telemetry=None if hub.settings.telemetry else _NO_TELEMETRY,
        # FastAPI's pages load Swagger UI and ReDoc from a CDN; docs_page serves the package's.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.hub = hub
    app.state.metrics = metrics.build_registry(hub)  # counting from the first message on
    app.state.thumbnails = thumbnailer(hub)
    app.state.graphql = graphql_service(hub)  # shared by /graphql, REST and the admin
    admin = build_admin(hub, graphql=app.state.graphql)
    app.mount("/admin", admin, name="admin")
    install_error_handlers(app)
    docs_page.install(app)
    for module in (
        ops,
        metrics,
        classes,
        objects,
        webhooks,
        connectors,
        inbound,
        brokers,
        datahub,
        simple,
        imports,
        import_profiles,
        assets,
        audit,
        keys,
    ):
        app.include_router(module.router)
    # Added first so it runs inside the request log: refusals are logged like any answer.
    idle = hub.settings.body_idle_seconds
    app.add_middleware(AccessGuard, hub=hub)  # rate limits, allowlists: inside the edge
    app.add_middleware(EdgeGuard, body_idle_seconds=idle, settings=hub.settings)
    app.add_middleware(CorsGuard, hub=hub)  # outside: refusals carry CORS headers too
    app.add_middleware(SecurityHeaders, hsts_seconds=hub.settings.hsts_seconds)
    app.add_middleware(RequestLogMiddleware)
    fast = Starlette(
        # The admin's pages too: they have their own error pages and no FastAPI routes.
        routes=[
            *products.routes,
            *graphql_endpoint.routes,
            *asset_files.routes,
            *inbound_route.routes,
            Mount("/admin", admin),
        ],
        middleware=[
            Middleware(RequestLogMiddleware),
            Middleware(SecurityHeaders, hsts_seconds=hub.settings.hsts_seconds),
            Middleware(CorsGuard, hub=hub),
            Middleware(EdgeGuard, body_idle_seconds=idle, settings=hub.settings),
            Middleware(AccessGuard, hub=hub),
        ],
    )
    fast.state.hub = hub
    fast.state.thumbnails = app.state.thumbnails
    fast.state.asset_reads = SqlAssetPointReads(hub.engine)
    fast.state.graphql = app.state.graphql
    install_error_handlers(fast)
    app.fast_app, app.fast_prefixes = (
        fast,
        (
            products.PREFIX,
            graphql_endpoint.PREFIX,
            asset_files.PREFIX,
            inbound_route.PREFIX,
            ADMIN_PREFIX,
        ),
    )
    _document(
        app,
        {
            **products.OPENAPI_PATHS,
            **graphql_endpoint.OPENAPI_PATHS,
            **asset_files.OPENAPI_PATHS,
            **inbound_route.OPENAPI_PATHS,
        },
        graphql_endpoint.OPENAPI_SCHEMAS,
    )
    return app


def graphql_service(hub: Hub) -> GraphQLService:
    return GraphQLService(
        hub.datahub,
        hub.classes,
        hub.catalog,
        hub.graph_reads,
        default_language=hub.settings.default_language,
        introspection_default=hub.settings.profile != "production",
    )


def thumbnailer(hub: Hub) -> Thumbnailer:
    """Thumbnails of the hub's assets, in its blob store, with the configured presets."""
    settings = hub.settings
    return Thumbnailer(
        hub.assets.store,
        parse_presets(settings.assets_thumbnails),
        settings.assets_max_pixels,
        settings.assets_thumbnail_concurrency,
    )


def _running(worker: Worker) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    return lifespan


def _document(app: FastAPI, paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Adds hand-written OpenAPI path items for routes FastAPI does not know about, and the
    error responses of every operation (api/openapi.py)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document.complete(generate(), paths, schemas)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
