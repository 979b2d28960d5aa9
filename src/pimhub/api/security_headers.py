"""Security headers on every answer of the hub, added where the route did not set its own
(the admin's pages and the asset files keep theirs, Content-Security-Policy included):

- X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, X-Frame-Options: DENY;
- Cache-Control: no-store on JSON answers to a request that carried credentials (an API
  key, a bearer token or a cookie), so that no shared cache keeps one caller's data;
- Strict-Transport-Security: max-age=hsts_seconds on requests that came over HTTPS (the
  scheme uvicorn reports, from X-Forwarded-Proto behind a trusted proxy), when set.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
NO_STORE = (b"cache-control", b"no-store")
_CREDENTIALS = frozenset({b"authorization", b"x-api-key", b"cookie"})
_OURS = frozenset({name for name, _ in ALWAYS} | {b"cache-control", b"strict-transport-security"})


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers to the response's start message only."""

    def __init__(self, app: ASGIApp, hsts_seconds: int = 0) -> None:
        self.app = app
        self.hsts = (
            (b"strict-transport-security", f"max-age={hsts_seconds}".encode())
            if hsts_seconds > 0
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hsts = self.hsts if scope.get("scheme") == "https" else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = secured(scope, list(message.get("headers", ())), hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secured(
    scope: Scope, headers: list[tuple[bytes, bytes]], hsts: tuple[bytes, bytes] | None
) -> list[tuple[bytes, bytes]]:
    """`headers` with the security headers the response does not set itself."""
    # Plain loops: on every answer, generator expressions here cost microseconds.
    content_type = b""
    own = False  # the route set one of ours (the admin's pages, asset files, docs)
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name in _OURS:
            own = True
    if not own:
        headers += ALWAYS
        json = content_type.startswith(b"application/") and b"json" in content_type
        if json and _credentialed(scope):
            headers.append(NO_STORE)
        if hsts is not None:
            headers.append(hsts)
        return headers
    present = {name for name, _ in headers}
    for header in ALWAYS:
        if header[0] not in present:
            headers.append(header)
    if b"cache-control" not in present and b"json" in content_type and _credentialed(scope):
        headers.append(NO_STORE)
    if hsts is not None and hsts[0] not in present:
        headers.append(hsts)
    return headers


def _credentialed(scope: Scope) -> bool:
    """Whether the request carried a key, a token or a cookie."""
    if b"apikey=" in scope.get("query_string", b""):
        return True
    return not _CREDENTIALS.isdisjoint([name for name, _ in scope["headers"]])
