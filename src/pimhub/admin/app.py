"""build_admin(): the admin UI as an ASGI app, mounted at /admin by api/app.py.

Three layers wrap every page: security headers (a Content-Security-Policy of 'self', so no
inline script or style runs and nothing loads from elsewhere), the session (who is signed
in; pages answer a sign-in redirect to anyone else), and error pages (a domain error becomes
an HTML page with the API's status, never a 500 or a JSON body).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pimhub.access.audit import acting_as
from pimhub.access.keys import Action, ApiKey
from pimhub.admin import (
    audit_views,
    auth_views,
    broker_views,
    class_views,
    dashboard,
    datahub_views,
    delivery_views,
    editor,
    grid,
    history,
    import_views,
    inbound_audit_views,
    inbound_views,
    key_views,
    user_views,
    webhook_views,
)
from pimhub.admin.web import PREFIX, SESSION_COOKIE, render
from pimhub.api.auth import point_read
from pimhub.api.errors import status_for
from pimhub.api.graphql.executor import GraphQLService
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import CatalogError

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Pages anyone may open: the sign-in form and the static files it needs.
PUBLIC = ("/login", "/static/")


def build_admin(hub: Hub, *, graphql: GraphQLService) -> Starlette:
    """The admin app; `graphql` is the API's GraphQL service, whose cached schemas the
    datahub pages show."""
    routes: list[BaseRoute] = [
        *auth_views.routes,
        *dashboard.routes,
        *grid.routes,
        *editor.routes,
        *history.routes,
        *class_views.routes,
        *datahub_views.routes,
        *key_views.routes,
        *user_views.routes,
        *webhook_views.routes,
        *delivery_views.routes,
        *import_views.routes,
        *inbound_audit_views.routes,
        *inbound_views.routes,
        *broker_views.routes,
        *audit_views.routes,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(SignedIn)],
        exception_handlers={CatalogError: _domain_error, HTTPException: _http_error},
    )
    app.state.hub = hub
    app.state.graphql = graphql
    app.state.templates = templates()
    return app


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates belong to the code that renders them: read once, like the code, so an
        # upgrade under a running server cannot pair new templates with old handlers.
        auto_reload=False,
    )
    env.globals["may"] = may
    return env


def may(key: ApiKey | None, action: str, class_name: str | None = None) -> bool:
    """For templates: whether the signed-in user holds `action` (on `class_name`), to show
    only the buttons they can use (the handlers check again)."""
    return key is not None and key.allows(Action(action), class_name)


class SecurityHeaders:
    """CSP and friends on every answer; pages (not static files) are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(PREFIX + "/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                if not static:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


class SignedIn:
    """Finds the session behind the cookie and puts its user, session and principal (the
    user's role as scopes) into the request state. Without one, a page answers a redirect
    to the sign-in form (htmx: an HX-Redirect), anything else a 403."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"][len(PREFIX) :] if scope["path"].startswith(PREFIX) else scope["path"]
        if path.startswith("/static/"):  # the same files for everyone: no session lookup
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        hub: Hub = scope["app"].state.hub
        token = request.cookies.get(SESSION_COOKIE)
        # A point read (memoized on SQLite): on the loop there, cheaper than a thread hop.
        # The write it may call for (a touch once a minute, ending an expired session) runs
        # in the thread pool: it can wait on another writer's lock, which must not stall
        # every request.
        lookup = await point_read(hub, lambda: hub.users.look_up(token))
        if lookup.due:
            await run_in_threadpool(hub.users.settle, lookup)
        found = lookup.found
        if found is not None:
            session, user = found
            state.update(session=session, user=user, principal=user.principal())
            # Each user's own bucket (api.guard limited the address already).
            take = hub.limiter.take_principal
            bucket = f"user:{user.username}"
            wait = await run_in_threadpool(take, bucket) if hub.limiter.blocking else take(bucket)
            if wait:
                await _too_many(wait)(scope, receive, send)
                return
            # The audit log names changes made through the admin after the signed-in user.
            with acting_as(f"user:{user.username}"):
                await self.app(scope, receive, send)
            return
        if not path.startswith(PUBLIC):
            await _sign_in_first(request, path)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _too_many(wait: float) -> Response:
    seconds = max(1, math.ceil(wait))
    return Response(
        f"Too many requests; try again in {seconds} s.",
        status_code=429,
        headers={"Retry-After": str(seconds)},
        media_type="text/plain; charset=utf-8",
    )


def _sign_in_first(request: Request, path: str) -> Response:
    target = PREFIX + "/login"
    if request.method in ("GET", "HEAD"):
        wanted = path + (f"?{request.url.query}" if request.url.query else "")
        if wanted not in ("", "/"):
            target += "?next=" + quote(wanted, safe="")
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    return Response(
        "Your session has ended; sign in again.",
        status_code=403,
        media_type="text/plain; charset=utf-8",
    )


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CatalogError)
    status = status_for(exc)
    return render(
        request,
        "error.html",
        {"status": status, "title": exc.title, "detail": exc.detail, "errors": exc.errors},
        status=status,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
    return render(
        request,
        "error.html",
        {"status": exc.status_code, "title": title, "detail": str(exc.detail), "errors": []},
        status=exc.status_code,
    )
