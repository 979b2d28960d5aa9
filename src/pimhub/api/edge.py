"""Refusals at the edge, before any route runs: a request whose path, query or header values
hold a NUL character (U+0000) gets a 400 problem `nul-character`; a body larger than its
route takes (api/body.py ROUTE_LIMITS) a 413 problem `payload-too-large`, from its
Content-Length before anything is read, or as soon as a chunked body passes the limit.

One rule for all text input: no NUL anywhere. PostgreSQL cannot store it in text, so left to
the routes it would surface as a 500 from deep inside a query; SQLite would store it and the
two backends would disagree. JSON bodies and form fields are checked after parsing
(api/body.py), GraphQL variables and string literals in api/graphql, and object values in
catalog validation (so an import refuses only the row).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pimhub.api.body import BodyLimit, route_limit, too_large
from pimhub.api.errors import problem
from pimhub.catalog.errors import BodyTimeout, FieldError, NulCharacter, PayloadTooLarge
from pimhub.catalog.validation import NUL
from pimhub.catalog.validation import spell_nul as shown
from pimhub.settings import Settings

# Methods whose bodies no route reads: their requests skip the size checks (the hot reads).
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def nul_in_query(query_string: bytes) -> str | None:
    """The name of the first query parameter whose name or value holds a NUL, else None."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    text = query_string.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        if NUL in name or NUL in value:
            return name
    return None


class EdgeGuard:
    """Pure ASGI middleware (no body buffering); a few substring tests per request. It also
    gives a request body `body_idle_seconds` between chunks: a client that announces a body
    and stops sending would otherwise hold a connection and a worker until it hangs up.
    Bodies are held to their route's limit, read from `settings` on each request: the
    settings are required, so no app is built with bodies unlimited."""

    def __init__(
        self, app: ASGIApp, body_idle_seconds: float = 30.0, *, settings: Settings
    ) -> None:
        self.app = app
        self.body_idle_seconds = body_idle_seconds
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # On every request, the hottest included: the common case is three substring tests
        # and a loop, inline; naming what holds the NUL is left to _refusal.
        if scope["type"] == "http" and (
            NUL in scope["path"]
            or b"%00" in (query := scope.get("query_string", b""))
            or b"\x00" in query
            or _header_holds_nul(scope["headers"])
        ):
            refusal = _refusal(scope)
            if refusal is not None:
                field, detail = refusal
                response = problem(
                    400,
                    NulCharacter.code,
                    NulCharacter.title,
                    detail,
                    [{"field": field, "code": NulCharacter.code, "message": detail}],
                    instance=shown(scope["path"]),
                )
                await response(scope, receive, send)
                return
        if scope["type"] == "http":
            rule, limit = None, 0
            if scope["method"] not in _BODILESS:
                rule = route_limit(scope["method"], scope["path"])
                limit = rule.limit(self.settings) or 0
                declared = _declared_length(scope["headers"]) if limit else None
                if declared is not None and declared > limit:
                    too_big = too_large(limit, rule.what, rule.hint)
                    await refuse_too_large(too_big, scope, receive, send)
                    return
            cap = rule if rule is not None and limit else None
            receive = _with_idle_deadline(receive, self.body_idle_seconds, cap, limit)
        await self.app(scope, receive, send)


async def refuse_too_large(
    refusal: PayloadTooLarge, scope: Scope, receive: Receive, send: Send
) -> None:
    """The 413 problem payload-too-large; also the GraphQL endpoint's for a chunked body."""
    response = problem(
        413,
        refusal.code,
        refusal.title,
        refusal.detail,
        [e.as_dict() for e in refusal.errors],
        instance=shown(scope["path"]),
    )
    await response(scope, receive, send)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """Content-Length as a number; None when absent or not plain ASCII digits (then the
    streaming cap applies, and the server refuses what it cannot frame)."""
    for name, value in headers:
        if name == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() and len(text) <= 20 else None
    return None


def _with_idle_deadline(
    receive: Receive, seconds: float, cap: BodyLimit | None = None, limit: int = 0
) -> Receive:
    """`receive` that raises BodyTimeout when a body chunk takes longer than `seconds`, and
    with a `cap`, PayloadTooLarge (413) as soon as the body passes `limit` bytes: a chunked
    body is never read further. Once the body is complete it waits without a deadline:
    after that a receive only listens for the client hanging up (while a response
    streams), which may take any time."""
    complete = False
    size = 0

    async def receive_within_deadline() -> Message:
        nonlocal complete, size
        if complete:
            return await receive()
        try:
            async with asyncio.timeout(seconds):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout(
                f"the request body stopped arriving: nothing came for {seconds:g} seconds",
                [FieldError("body", "incomplete", "request-timeout")],
            ) from None
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        if cap is not None and message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise too_large(limit, cap.what, cap.hint)
        return message

    return receive_within_deadline


def _header_holds_nul(headers: list[tuple[bytes, bytes]]) -> bool:
    # One search of the joined values measures about twice as fast as a loop over them.
    return b"\x00" in b"".join([value for _, value in headers])


def _refusal(scope: Scope) -> tuple[str, str] | None:
    path: str = scope["path"]
    if NUL in path:
        return "path", f"the path '{shown(path)}' holds a NUL character (U+0000)"
    query: bytes = scope.get("query_string", b"")
    if query:
        name = nul_in_query(query)
        if name is not None:
            return (
                shown(name),
                f"the query parameter '{shown(name)}' holds a NUL character (U+0000)",
            )
    for header, value in scope["headers"]:
        if b"\x00" in value:
            name = header.decode("latin-1")
            return name, f"the header {name!r} holds a NUL character (U+0000)"
    return None
