"""Cross-origin requests (CORS) to /graphql/{config} and /simple-rest/{config}/..., allowed
per datahub configuration: its `cors.origins` (exact match) may call it from a browser.

- A preflight (OPTIONS with Access-Control-Request-Method) from a listed origin is answered
  204 with the allowed methods and headers; from any other origin 403 `origin-not-allowed`
  without CORS headers; for a configuration that does not exist 404.
- Any other request with an Origin header goes on to its route; the answer carries
  Access-Control-Allow-Origin only when the configuration lists the origin, and
  `Vary: Origin` always, so that no cache hands one origin's answer to another.

Every other path, and requests without an Origin header, pass untouched.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pimhub.api.auth import point_read
from pimhub.api.errors import POOL_RETRY_AFTER_SECONDS, problem
from pimhub.bootstrap import Hub
from pimhub.catalog.validation import spell_nul as shown
from pimhub.datahub.config import CONFIG_NAME_PATTERN, Cors
from pimhub.datahub.service import UnknownDatahubConfig

# The routes a configuration governs, and the methods a browser may use on them.
ROUTES: tuple[tuple[str, bytes], ...] = (("/graphql/", b"GET, POST"), ("/simple-rest/", b"GET"))
ALLOWED_HEADERS = b"Authorization, Content-Type, X-API-Key"
# Answer headers a script may read besides the CORS-safelisted ones.
EXPOSED_HEADERS = (
    b"ETag, Location, Retry-After, Pimhub-Key-Expires, "
    b"RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
)
_VARY = (b"vary", b"Origin")
_UNKNOWN = object()  # no such configuration


class CorsPolicies:
    """Each configuration's Cors section by name, read again only when the configuration
    changed (its fingerprint, one small statement, memoized on SQLite)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cache: dict[str, tuple[Any, Cors | None]] = {}

    def lookup(self, name: str) -> Cors | object | None:
        """The configuration's Cors (None: it allows no other origin), or _UNKNOWN."""
        if CONFIG_NAME_PATTERN.match(name) is None:
            return _UNKNOWN  # no configuration has this name: not worth a database read
        fingerprint = self.hub.graph_reads.fingerprint(name)
        if fingerprint is None:
            self._cache.pop(name, None)
            return _UNKNOWN
        cached = self._cache.get(name)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        config = self.hub.datahub.find(name)
        if config is None:
            return _UNKNOWN
        self._cache[name] = (fingerprint, config.cors)
        return config.cors


class CorsGuard:
    """Pure ASGI middleware; a prefix test on paths it does not govern."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub
        self.policies = CorsPolicies(hub)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/graphql/", "/simple-rest/")):
            await self.app(scope, receive, send)
            return
        route = _governed(scope["path"])
        origin = _header(scope, b"origin")
        if route is None or origin is None or _same_origin(scope, origin):
            await self.app(scope, receive, send)
            return
        name, methods = route
        text_origin = origin.decode("latin-1")
        preflight = scope["method"] == "OPTIONS" and _header(
            scope, b"access-control-request-method"
        )
        try:
            cors = await point_read(self.hub, partial(self.policies.lookup, name))
        except PoolTimeout:
            # No free connection (this runs outside the routes' error handlers, which answer
            # it 503): a preflight gets that 503 here; any other request goes on to its
            # route, which answers for itself, without CORS headers.
            if preflight:
                await _no_connection(scope, receive, send)
                return
            cors = None
        if preflight:
            await _preflight(scope, receive, send, name, text_origin, cors, methods)
            return
        allowed = isinstance(cors, Cors) and cors.allows(text_origin)
        extra = [*_allow(origin, cors), (b"access-control-expose-headers", EXPOSED_HEADERS)]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append(_VARY)
                if allowed:
                    headers.extend(extra)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(
    scope: Scope,
    receive: Receive,
    send: Send,
    name: str,
    origin: str,
    cors: Cors | object | None,
    methods: bytes,
) -> None:
    path = shown(scope["path"])
    if cors is _UNKNOWN:
        response = problem(
            404,
            "unknown-datahub-config",
            "Unknown datahub configuration",
            UnknownDatahubConfig.named(name).detail,
            instance=path,
        )
    elif not isinstance(cors, Cors) or not cors.allows(origin):
        listed = "lists no origins" if not isinstance(cors, Cors) else "does not list it"
        response = problem(
            403,
            "origin-not-allowed",
            "Origin not allowed",
            f"the origin '{shown(origin)}' may not call datahub configuration '{name}' from a "
            f"browser: its cors.origins {listed}",
            [{"field": "Origin", "code": "origin-not-allowed", "message": shown(origin)}],
            instance=path,
        )
    else:
        headers = [
            *_allow(origin.encode("latin-1"), cors),
            (b"access-control-allow-methods", methods),
            (b"access-control-allow-headers", ALLOWED_HEADERS),
            (b"access-control-max-age", str(cors.max_age).encode()),
            _VARY,
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    response.headers.append("Vary", "Origin")
    await response(scope, receive, send)


async def _no_connection(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(
        503,
        "service-unavailable",
        "Service unavailable",
        f"the server has no free database connection now; retry after {POOL_RETRY_AFTER_SECONDS} s",
        instance=shown(scope["path"]),
    )
    response.headers["Retry-After"] = str(POOL_RETRY_AFTER_SECONDS)
    response.headers.append("Vary", "Origin")
    await response(scope, receive, send)


def _allow(origin: bytes, cors: Cors | object | None) -> list[tuple[bytes, bytes]]:
    # The origin itself, never `*`: an answer with `*` could not carry credentials, and
    # echoing the one origin asked for tells no origin about the others.
    headers = [(b"access-control-allow-origin", origin)]
    if isinstance(cors, Cors) and cors.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    return headers


def _governed(path: str) -> tuple[str, bytes] | None:
    """(configuration name, allowed methods) of a governed path, else None."""
    for prefix, methods in ROUTES:
        if path.startswith(prefix):
            name = path[len(prefix) :].partition("/")[0]
            if not name or (prefix == "/graphql/" and "/" in path[len(prefix) :]):
                return None
            if "\x00" in name:
                return None  # the edge refuses it (400 nul-character); a lookup would fail
            return name, methods
    return None


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


def _same_origin(scope: Scope, origin: bytes) -> bool:
    """Whether the request comes from a page of the hub itself (its explorer): browsers send
    Origin on its POSTs too, and nothing needs checking."""
    host = _header(scope, b"host")
    scheme = scope.get("scheme", "http").encode()
    return host is not None and origin == scheme + b"://" + host
