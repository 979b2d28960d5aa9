"""POST /inbound/{source}: verified, de-duplicated and stored before the 2xx (inbound.service).
On the fast path (no FastAPI layers): senders post at high rates.

A bare ASGI endpoint: the body limit is the source's own (from the service's cache), checked
against Content-Length before anything is read and again while the body streams in, so an
oversized or endless body costs at most `maxBytes` of memory. A small message of a cached
source is checked on the event loop (tens of microseconds) and stored with the messages that
arrived in the same turn of the loop in one transaction (on SQLite by the loop itself when the
write lock is free, else by the inbox's writer thread): a thread hop per request cost more
than the rest of the request. Anything else (a large body, an API key to look up, a source not
cached) runs on a worker thread. Refusals are domain errors that propagate to the app's
problem handlers like everywhere else."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pimhub.access.keys import ApiKey
from pimhub.api.auth import authentication_of
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import BodyTimeout, Unavailable
from pimhub.inbound.errors import SourceNotFound
from pimhub.inbound.messages import Outcome, Receipt
from pimhub.inbound.service import InboundService

PREFIX = "/inbound/"
PATH = PREFIX + "{source}"
_JSON = [(b"content-type", b"application/json")]
# Longer than the inbox's own wait for a commit (storage.inbound.WRITE_WAIT_SECONDS), so that
# the inbox's 503 comes first when it is the writer that hangs.
RECEIVE_WAIT_SECONDS = 35.0


class InboundEndpoint:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub: Hub = scope["app"].state.hub
        service = hub.inbound
        name: str = scope["path_params"]["source"]
        client = scope.get("client")
        remote = client[0] if client else None
        limit = service.known_max_bytes(name)
        if limit is None:  # not cached (or no such source): read it off the event loop
            limit = await run_in_threadpool(service.max_bytes, name)
            if limit is None:
                raise SourceNotFound(f"no inbound source named '{name}'")
        headers = _headers(scope["headers"])
        repeated = _repeated(scope["headers"])
        if repeated is not None:
            await run_in_threadpool(service.refuse_repeated_header, name, repeated, remote)
        declared = _declared_length(headers.get("content-length"))
        if declared is not None and declared > limit:
            await run_in_threadpool(service.refuse_too_large, name, declared, remote)
        body = await _read(receive, limit, service, name, remote)
        # An api-key source reads the credentials the guard authenticated (Authorization,
        # X-API-Key): it takes the guard's key, allowlist and rate limit applied, never
        # authenticating it again (or its 401, or the 503 of a pool or OIDC issuer out of reach).
        caller = authentication_of(scope)

        def principal(_token: str | None) -> ApiKey:
            return caller.principal()

        if service.receives_inline(name, len(body)):
            work = service.receive_async(name, headers, body, remote, principal)
        else:
            work = run_in_threadpool(service.receive, name, headers, body, remote, principal)
        try:
            # Bounded: a writer that stopped answering must not hold the sender for ever.
            receipt = await asyncio.wait_for(work, RECEIVE_WAIT_SECONDS)
        except TimeoutError:
            raise _late() from None
        await _answer(send, receipt)


def _late() -> Unavailable:
    late = Unavailable(
        f"the message was not stored within {RECEIVE_WAIT_SECONDS:g} s; send it again later "
        "(a copy that was stored meanwhile is answered as a duplicate)"
    )
    late.retry_after = 5
    return late


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names (ASGI servers give them so); the first of repeated headers wins."""
    headers: dict[str, str] = {}
    for name, value in raw:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


# Headers the checks read: a second copy is refused, not ignored (which one did the sender
# mean?). webhook-signature may hold several signatures, space-separated, in ONE header.
_SINGLE = frozenset(
    {
        b"x-webhook-secret",
        b"webhook-id",
        b"webhook-timestamp",
        b"webhook-signature",
        b"x-magento-signature",
        b"content-type",
        b"idempotency-key",
        b"authorization",
        b"x-api-key",
    }
)


def _repeated(raw: list[tuple[bytes, bytes]]) -> str | None:
    """The first checked header sent more than once, or None."""
    seen: set[bytes] = set()
    for name, _ in raw:
        lowered = name.lower()
        if lowered in _SINGLE:
            if lowered in seen:
                return lowered.decode("latin-1")
            seen.add(lowered)
    return None


def _declared_length(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    # ASCII digits only; anything else is left to the streaming cap.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 20 else None


async def _read(
    receive: Receive, limit: int, service: InboundService, name: str, remote: str | None
) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            message = await receive()
        except BodyTimeout as stalled:  # audited: a stalled sender leaves a trace
            await run_in_threadpool(service.refuse_incomplete, name, size, remote, stalled)
        if message["type"] == "http.disconnect":
            # The client went away before the body was complete: nothing to process, and
            # nobody to answer (499 in the log).
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            # Stop reading at once: a chunked body without a Content-Length ends here.
            await run_in_threadpool(service.refuse_too_large, name, size, remote)
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _answer(send: Send, receipt: Receipt) -> None:
    body = orjson.dumps(receipt.to_dict())
    status = 202 if receipt.outcome is Outcome.ACCEPTED else 200
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


routes = [Route(PATH, InboundEndpoint(), methods=["POST"], name="receive_inbound")]


_RECEIPT = {
    "type": "object",
    "required": ["status", "message", "eventId", "duplicateOf"],
    "properties": {
        "status": {"type": "string", "enum": ["accepted", "duplicate"]},
        "message": {"type": "integer", "description": "The audit row of this request"},
        "eventId": {
            "type": "string",
            "description": "The outbox event (for a duplicate: the original's)",
        },
        "duplicateOf": {
            "type": ["integer", "null"],
            "description": "For a duplicate: the audit row of the accepted original",
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    PATH: {
        "post": {
            "tags": ["inbound"],
            "summary": "Receive an event from an inbound source (verified, stored, then routed)",
            "description": (
                "The sender proves itself by the source's scheme: Standard Webhooks headers "
                "(webhook-id, webhook-timestamp, webhook-signature), x-magento-signature (hex "
                "HMAC-SHA256 of the body, Mage-OS async events), the source's secret header "
                "(shared-secret), or a hub API key with scope `inbound` or `inbound:<source>` "
                "(api-key). The body (application/json or application/*+json) is stored with "
                "its outbox event before the answer; a message id the source accepted before "
                "is answered 200 with the original's event. Refusals: 404 unknown source, 503 "
                "(Retry-After) disabled source, 413 over the source's maxBytes, 401 not "
                "verified, 415 wrong Content-Type, 400 not UTF-8 JSON (NUL, lone surrogates, "
                "nesting over 64, integers beyond 64 bits), 422 no message id or type, a type "
                "the source does not take, or a JSON Schema violation (errors by JSON pointer)."
            ),
            "operationId": "receive_inbound",
            "security": [],
            "parameters": [
                {
                    "name": "source",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,29}$"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {}}},
            },
            "responses": {
                "202": {
                    "description": "Accepted: stored and routed",
                    "content": {"application/json": {"schema": _RECEIPT}},
                },
                "200": {
                    "description": "A duplicate of a message accepted before; nothing stored",
                    "content": {"application/json": {"schema": _RECEIPT}},
                },
                # The errors are added with every other operation's (api/openapi.py).
            },
        }
    }
}
