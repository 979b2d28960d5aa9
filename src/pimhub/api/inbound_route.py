"""POST /inbound/{source}: verified, de-duplicated and stored before the 2xx (inbound.service).
On the fast path (no FastAPI layers): senders post at high rates. (stub: inbound helper)"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

PREFIX = "/inbound/"
routes: list[Route] = []
OPENAPI_PATHS: dict[str, Any] = {}
