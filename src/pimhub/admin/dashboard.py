"""The dashboard: (being built: see issue 18)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.admin.web import render


async def dashboard(request: Request) -> Response:
    return render(request, "dashboard.html", {})


routes: list[BaseRoute] = [Route("/", dashboard, methods=["GET"])]
